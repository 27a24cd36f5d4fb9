// hardrun lint: table-driven tests of hardened and insecure configurations in every source format, including
// the OCI runtime-spec fixtures.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "hardrun/support/error.hpp"
#include "hardrun/cli/lint/lint.hpp"

using namespace hardrun;

namespace {

const std::string kLint = std::string(HARDRUN_TEST_DATA) + "/lint/";
const std::string kOci = std::string(HARDRUN_TEST_DATA) + "/oci/test-config/";

std::set<std::string> rules_of(const std::vector<lint::Subject>& subjects) {
    std::set<std::string> out;
    for (const auto& s : subjects)
        for (const auto& f : lint::check(s)) out.insert(f.rule);
    return out;
}

std::set<std::string> rules_at_or_above(const std::vector<lint::Subject>& subjects, lint::Severity min) {
    std::set<std::string> out;
    for (const auto& s : subjects)
        for (const auto& f : lint::check(s))
            if (f.severity >= min) out.insert(f.rule);
    return out;
}

}  // namespace

TEST_CASE("lint: hardrun flags, table-driven") {
    struct Row {
        std::vector<std::string> flags;
        std::set<std::string> expect;  // exactly these rules (at or above low)
    };
    const std::vector<Row> table = {
        {{"--memory", "512m", "--pids-limit", "100"}, {}},
        {{}, {"limits.memory", "limits.pids"}},
        {{"--memory", "512m", "--pids-limit", "100", "--user", "0"}, {"user.root"}},
        {{"--memory", "512m", "--pids-limit", "100", "-u", "65534:65534"}, {"user.nobody"}},
        {{"--memory", "512m", "--pids-limit", "100", "--read-write"}, {"fs.writable-root"}},
        {{"--memory", "512m", "--pids-limit", "100", "--read-write=image"}, {"fs.writable-root", "fs.writes-image"}},
        {{"--memory", "512m", "--pids-limit", "100", "--tmpfs", "/srv:uid=101,gid=104,mode=0700,tmpcopyup"}, {}},
        {{"--memory", "512m", "--pids-limit", "100", "--cap-add", "NET_BIND_SERVICE"}, {"caps.added"}},
        {{"--memory", "512m", "--pids-limit", "100", "--security-opt", "no-new-privileges=false"}, {"nnp.off"}},
        {{"--memory", "512m", "--pids-limit", "100", "--security-opt", "seccomp=unconfined"}, {"seccomp.unconfined"}},
        {{"--memory", "512m", "--pids-limit", "100", "--security-opt", "apparmor=unconfined"}, {"apparmor.unconfined"}},
        {{"--memory", "512m", "--pids-limit", "100", "--network", "host"}, {"ns.host-network"}},
        {{"--memory", "512m", "--pids-limit", "100", "--tmpfs", "/data:exec"}, {"tmpfs.exec"}},
        {{"--memory", "512m", "--pids-limit", "100", "--tmpfs", "/data"}, {}},  // noexec by default
        {{"--memory", "512m", "--pids-limit", "100", "-v", "/srv/app:/data:rw,exec"}, {"volume.exec"}},
        {{"--memory", "512m", "--pids-limit", "100", "-v", "/srv/app:/data"}, {}},  // noexec by default
        {{"--memory", "512m", "--pids-limit", "100", "-v", "/srv/app:/app:ro,exec"}, {}},
        {{"--memory", "512m", "--pids-limit", "100", "--tmpfs", "/data:noexec"}, {}},
        {{"--memory", "512m", "--pids-limit", "100", "-e", "API_KEY=0123456789abcdef"}, {"env.secret"}},
        {{"--memory", "512m", "--pids-limit", "100", "-e", "LOG_LEVEL=debug"}, {}},
        {{"--memory", "512m", "--pids-limit", "100", "--landlock", "off"}, {"landlock.off"}},
        {{"--memory", "512m", "--pids-limit", "100", "-v", "/var/run/docker.sock:/var/run/docker.sock"}, {"mounts.host-path"}},
        {{"--memory", "512m", "--pids-limit", "100", "-v", "/srv/data:/data"}, {}},
        {{"--memory", "512m", "--pids-limit", "100", "-v", "/dev/sda:/dev/sda"}, {"devices.privileged", "mounts.host-path"}},
        {{"--memory", "512m", "--pids-limit", "100", "--sd-notify=hardrun", "--verbose"}, {}},
    };
    for (const auto& row : table) {
        std::string joined;
        for (const auto& w : row.flags) joined += w + " ";
        INFO("flags: " << joined);
        auto s = lint::from_flags(row.flags, "flags");
        CHECK(rules_at_or_above({s}, lint::Severity::Low) == row.expect);
    }
    CHECK_THROWS_AS(lint::from_flags({"--no-such-flag"}, "flags"), UsageError);
    // severities follow the capability
    auto crit = lint::check(lint::from_flags({"--cap-add", "SYS_ADMIN", "--memory", "1g", "--pids-limit", "9"}, "flags"));
    REQUIRE(crit.size() == 1);
    CHECK(crit[0].severity == lint::Severity::Critical);
    auto low = lint::check(lint::from_flags({"--cap-add", "NET_BIND_SERVICE", "--memory", "1g", "--pids-limit", "9"}, "flags"));
    REQUIRE(low.size() == 1);
    CHECK(low[0].severity == lint::Severity::Low);
    CHECK(low[0].fix.find("listen on a port above 1023") != std::string::npos);
}

TEST_CASE("lint: OCI config.json, including the runtime-spec fixtures") {
    struct Row {
        std::string file;
        std::set<std::string> must, must_not;
    };
    const std::vector<Row> table = {
        {kLint + "oci-hardened.json", {}, {"user.root", "fs.writable-root", "caps.added", "nnp.off", "seccomp.unset", "limits.memory",
                                           "limits.pids", "masked.off", "ns.host-network", "tmpfs.exec"}},
        {kLint + "oci-insecure.json",
         {"user.root", "fs.writable-root", "caps.added", "nnp.off", "seccomp.unconfined", "apparmor.unconfined", "ns.host-network",
          "ns.host-pid", "devices.privileged", "mounts.host-path", "masked.off", "limits.memory", "limits.pids", "tmpfs.exec",
          "env.secret"},
         {"ns.host-ipc", "seccomp.unset"}},
        {kOci + "good/minimal.json", {"user.root", "nnp.off", "ns.host-network", "ns.host-pid", "ns.host-ipc", "seccomp.unset",
                                      "masked.off", "limits.memory", "limits.pids", "fs.writable-root"}, {"caps.added"}},
        {kOci + "good/minimal-for-start.json", {"user.root", "nnp.off", "seccomp.unset"}, {}},
        {kOci + "good/spec-example.json", {"devices.privileged", "caps.added"}, {"user.root", "ns.host-network", "masked.off"}},
        {kOci + "good/linux-netdevice.json", {"user.root"}, {}},
        {kOci + "good/linux-rdma.json", {"user.root"}, {}},
    };
    for (const auto& row : table) {
        INFO(row.file);
        auto subjects = lint::load_file(row.file);
        REQUIRE(subjects.size() == 1);
        CHECK(subjects[0].kind == "oci");
        auto got = rules_of(subjects);
        for (const auto& r : row.must) CHECK_MESSAGE(got.count(r), "missing " << r);
        for (const auto& r : row.must_not) CHECK_MESSAGE(!got.count(r), "unexpected " << r);
    }
    // the hardened config passes the gate
    auto hardened = lint::evaluate(lint::load_file(kLint + "oci-hardened.json"), lint::Severity::Info);
    CHECK(hardened.findings.empty());
    CHECK(hardened.exit_code == 0);
    // the bad fixtures are refused, naming the problem
    for (const char* bad : {"invalid-json.json", "linux-hugepage.json", "linux-netdevice.json", "linux-rdma.json"}) {
        INFO(bad);
        CHECK_THROWS_AS(lint::load_file(kOci + "bad/" + bad), Error);
    }
    try {
        lint::load_file(kOci + "bad/linux-hugepage.json");
    } catch (const Error& e) {
        CHECK(std::string(e.what()).find("hugepageLimits") != std::string::npos);
    }
}

TEST_CASE("lint: Kubernetes manifests") {
    auto hardened = lint::load_file(kLint + "k8s-hardened-deployment.yaml");
    REQUIRE(hardened.size() == 1);
    CHECK(hardened[0].name == "Deployment/web container app");
    CHECK(rules_at_or_above(hardened, lint::Severity::Low).empty());
    CHECK(lint::evaluate(hardened, lint::Severity::Low).exit_code == 0);

    auto bad = lint::load_file(kLint + "k8s-insecure-pod.yaml");
    REQUIRE(bad.size() == 1);
    auto got = rules_of(bad);
    for (const char* r : {"user.root", "fs.writable-root", "caps.added", "caps.not-dropped", "nnp.off", "seccomp.unconfined",
                          "apparmor.unconfined", "ns.host-network", "ns.host-pid", "ns.host-ipc", "devices.privileged",
                          "mounts.host-path", "limits.memory", "env.secret"})
        CHECK_MESSAGE(got.count(r), "missing " << r);
    // findings point at the field's line
    for (const auto& f : lint::check(bad[0])) {
        if (f.rule == "ns.host-network") CHECK(f.line == 9);
        // the unconfined AppArmor comes from the annotation (line 7), not from the securityContext
        if (f.rule == "apparmor.unconfined") {
            CHECK(f.line == 7);
            CHECK(f.where == "metadata.annotations[container.apparmor.security.beta.kubernetes.io/app]");
        }
        if (f.rule == "user.root") CHECK(f.where == "spec.containers[0].securityContext.runAsUser");
    }
    // a Deployment's containers are at spec.template.spec.containers (and that is what SARIF shows)
    for (const auto& f : lint::check(hardened[0]))
        if (!f.where.empty()) CHECK(f.where.starts_with("spec.template.spec."));
    const auto deploy = lint::from_kubernetes(R"(kind: Deployment
metadata: {name: d}
spec:
  template:
    metadata:
      annotations: {container.apparmor.security.beta.kubernetes.io/c: unconfined}
    spec:
      hostPID: true
      containers:
        - name: c
          securityContext: {runAsUser: 0}
)", "d.yaml");
    REQUIRE(deploy.size() == 1);
    std::map<std::string, std::string> where;
    for (const auto& f : lint::check(deploy[0])) where[f.rule] = f.where;
    CHECK(where["user.root"] == "spec.template.spec.containers[0].securityContext.runAsUser");
    CHECK(where["ns.host-pid"] == "spec.template.spec.hostPID");
    CHECK(where["apparmor.unconfined"] == "spec.template.metadata.annotations[container.apparmor.security.beta.kubernetes.io/c]");

    auto multi = lint::load_file(kLint + "k8s-privileged-daemonset.yaml");
    REQUIRE(multi.size() == 2);  // the DaemonSet and the CronJob; the Service is not a workload
    CHECK(rules_of({multi[0]}).count("privileged"));
    auto cron = rules_of({multi[1]});
    for (const char* r : {"user.unknown", "caps.not-dropped", "nnp.off", "seccomp.unset", "fs.writable-root"}) CHECK(cron.count(r));

    // inline documents: pod-level securityContext applies, the container overrides it
    const std::string yaml = R"(apiVersion: batch/v1
kind: Job
metadata: {name: j}
spec:
  template:
    spec:
      securityContext: {runAsUser: 0, seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: a
          securityContext: {runAsUser: 1000, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true,
                            capabilities: {drop: [all]}}
          resources: {limits: {memory: 1Gi}}
        - name: b
          securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]},
                            seccompProfile: {type: Unconfined}}
          resources: {limits: {memory: 500M}}
)";
    auto job = lint::from_kubernetes(yaml, "job.yaml");
    REQUIRE(job.size() == 2);
    CHECK(job[0].uid == 1000);
    CHECK(job[0].memory_limit == (1ULL << 30));
    CHECK(rules_at_or_above({job[0]}, lint::Severity::Low).empty());
    CHECK(job[1].uid == 0);
    CHECK(job[1].memory_limit == 500000000ULL);
    CHECK(rules_at_or_above({job[1]}, lint::Severity::Low) == std::set<std::string>{"user.root", "seccomp.unconfined"});
    CHECK_THROWS_AS(lint::from_kubernetes("kind: Service\napiVersion: v1\nmetadata: {name: s}\n", "s.yaml"), Error);
    CHECK_THROWS_AS(lint::from_kubernetes("a: [b\n", "broken.yaml"), Error);
}

TEST_CASE("lint: systemd units that run hardrun") {
    auto good = lint::load_file(kLint + "hardrun-hardened.service");
    REQUIRE(good.size() == 1);
    CHECK(good[0].kind == "systemd");
    CHECK(good[0].start_line == 7);
    CHECK(rules_of(good).empty());
    auto bad = lint::load_file(kLint + "hardrun-insecure.service");
    REQUIRE(bad.size() == 1);
    CHECK(rules_of(bad) == std::set<std::string>{"user.root", "fs.writable-root", "caps.added", "nnp.off", "seccomp.unconfined",
                                                 "ns.host-network", "limits.memory", "limits.pids", "tmpfs.exec", "env.secret"});
    // -e NAME takes its value from the unit's Environment=
    bool secret = false;
    for (const auto& e : bad[0].env) secret |= e.name == "DB_PASSWORD" && e.value == "hunter2";
    CHECK(secret);
    CHECK_THROWS_AS(lint::from_systemd_unit("[Service]\nExecStart=/usr/bin/nginx\n", "nginx.service"), Error);
    auto reset = lint::from_systemd_unit("[Service]\nExecStart=/bin/true\nExecStart=\nExecStart=/usr/bin/hardrun run --user 0 -- /x\n", "u.service");
    REQUIRE(reset.size() == 1);
    CHECK(rules_of(reset).count("user.root"));
}

TEST_CASE("lint: command lines, secrets, scores, SARIF") {
    CHECK(lint::split_command_line("-/usr/bin/hardrun run -e 'A=b c' \"--x=\\\"q\\\"\"") ==
          std::vector<std::string>{"/usr/bin/hardrun", "run", "-e", "A=b c", "--x=\"q\""});
    CHECK(lint::split_command_line("@/usr/bin/hardrun argv0 run") == std::vector<std::string>{"/usr/bin/hardrun", "run"});
    struct S {
        const char *name, *value;
        bool secret;
    };
    for (const auto& s : std::vector<S>{{"DB_PASSWORD", "x1", true},    {"API_KEY", "abc", true},       {"GITHUB_TOKEN", "t", true},
                                        {"PASSWORD_FILE", "/run/secrets/db", false}, {"PWD", "/app", false},
                                        {"LOG_LEVEL", "debug", false},  {"SECRET", "", false},         {"X", "AKIAIOSFODNN7EXAMPLE", true},
                                        {"CERT", "-----BEGIN PRIVATE KEY-----", true}, {"KEYBOARD", "us", false},
                                        {"AWS_SECRET_ACCESS_KEY", "wJalr", true}}) {
        INFO(s.name);
        CHECK(lint::looks_secret(s.name, s.value) == s.secret);
    }
    // the score grows with the findings
    auto none = lint::score({});
    CHECK(none.exposure == 0);
    CHECK(none.label == "SAFE");
    auto insecure = lint::load_file(kLint + "oci-insecure.json");
    auto sc = lint::score(lint::check(insecure[0]));
    CHECK(sc.exposure == 10.0);
    CHECK(sc.label == "UNSAFE");
    // --fail-on: exit 1 only at or above
    auto flags = std::vector<lint::Subject>{lint::from_flags({"--memory", "1g", "--pids-limit", "9", "--tmpfs", "/x:exec"}, "flags")};
    CHECK(lint::evaluate(flags, lint::Severity::Low).exit_code == 1);
    CHECK(lint::evaluate(flags, lint::Severity::Medium).exit_code == 0);
    CHECK(lint::parse_severity("HIGH") == lint::Severity::High);
    CHECK_FALSE(lint::parse_severity("urgent").has_value());
    // SARIF: one result per finding, each rule known, levels mapped
    auto r = lint::evaluate(insecure, lint::Severity::Low);
    auto sarif = lint::render_sarif(r);
    CHECK(sarif["version"] == "2.1.0");
    const auto& run = sarif["runs"][0];
    CHECK(run["results"].size() == r.findings.size());
    std::set<std::string> rule_ids;
    for (const auto& rule : run["tool"]["driver"]["rules"]) rule_ids.insert(rule["id"].get<std::string>());
    for (const auto& res : run["results"]) {
        CHECK(rule_ids.count(res["ruleId"].get<std::string>()));
        CHECK(res["locations"][0]["physicalLocation"]["region"]["startLine"].get<int>() >= 1);
        const std::string level = res["level"];
        CHECK((level == "error" || level == "warning" || level == "note"));
    }
    auto j = lint::render_json(r);
    CHECK(j["subjects"][0]["label"] == "UNSAFE");
    CHECK(lint::render_human(r, false).find("FAIL") != std::string::npos);
}

TEST_CASE("lint: a seccomp profile that allows clone3 (its flags are in memory: CLONE_NEW* cannot be refused)") {
    // which profiles allow clone3 to a process without capabilities
    CHECK(lint::allows_clone3(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "clone3"], "action": "SCMP_ACT_ALLOW"}]})"));
    CHECK(lint::allows_clone3(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []})"));
    CHECK(lint::allows_clone3(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "clone3", "action": "SCMP_ACT_LOG"}]})"));
    // arguments cannot make it safe: clone3's first argument is a pointer
    CHECK(lint::allows_clone3(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["clone3"], "action": "SCMP_ACT_ALLOW",
                                   "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_NE"}]}]})"));
    // hardrun's and docker's: ENOSYS, and an allow only for CAP_SYS_ADMIN (that capability is its own finding)
    CHECK_FALSE(lint::allows_clone3(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["clone3"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "excludes": {"caps": ["CAP_SYS_ADMIN"]}}]})"));
    CHECK_FALSE(lint::allows_clone3(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]})"));
    CHECK_FALSE(lint::allows_clone3(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]})"));
    CHECK_FALSE(lint::allows_clone3("not json"));
    for (const char* p : {"/../../profiles/seccomp/default.json", "/../../profiles/seccomp/strict.json", "/seccomp/docker-default.json"}) {
        INFO(p);
        std::ifstream in(std::string(HARDRUN_TEST_DATA) + p);
        REQUIRE(in);
        std::stringstream text;
        text << in.rdbuf();
        CHECK_FALSE(lint::allows_clone3(text.str()));
    }
    // an OCI config's linux.seccomp: a finding, high, with a fix in the source's own terms
    std::ifstream in(kLint + "oci-hardened.json");
    nlohmann::json cfg = nlohmann::json::parse(in);
    for (auto& r : cfg["linux"]["seccomp"]["syscalls"])
        if (r["names"] == nlohmann::json::array({"clone3"})) r = {{"names", {"clone3"}}, {"action", "SCMP_ACT_ALLOW"}};
    auto subjects = lint::from_oci(cfg, "config.json", cfg.dump(2));
    REQUIRE(subjects.size() == 1);
    auto findings = lint::check(subjects[0]);
    auto it = std::find_if(findings.begin(), findings.end(), [](const lint::Finding& f) { return f.rule == "seccomp.clone3"; });
    REQUIRE(it != findings.end());
    CHECK(it->severity == lint::Severity::High);
    CHECK(it->fix.find("errnoRet 38") != std::string::npos);
    CHECK(it->message.find("CLONE_NEWUSER") != std::string::npos);
    CHECK(it->message.find('\n') == std::string::npos);
    CHECK(rules_of(lint::load_file(kLint + "oci-hardened.json")).count("seccomp.clone3") == 0);
}

TEST_CASE("lint: docker compose services, with docker's defaults where a field is absent") {
    const std::string bare = "services:\n  app:\n    image: debian\n";
    auto s = lint::from_compose(bare, "compose.yaml");
    REQUIRE(s.size() == 1);
    CHECK(s[0].name == "service app");
    CHECK(s[0].kind == "compose");
    // docker's defaults: the image's user, a writable root, its capability set, no no_new_privs, no limits
    CHECK(rules_of(s) == std::set<std::string>{"user.unknown", "fs.writable-root", "caps.not-dropped", "nnp.off",
                                               "limits.memory", "limits.pids"});
    const std::string hardened =
        "services:\n"
        "  web:\n"
        "    image: nginx\n"
        "    user: \"10001:10001\"\n"
        "    read_only: true\n"
        "    cap_drop: [ALL]\n"
        "    security_opt: [\"no-new-privileges:true\"]\n"
        "    tmpfs: [\"/run:noexec,size=16m\"]\n"
        "    volumes:\n"
        "      - ./html:/srv:ro\n"
        "      - {type: tmpfs, target: /cache}\n"
        "    deploy: {resources: {limits: {memory: 256M, pids: 64}}}\n";
    s = lint::from_compose(hardened, "compose.yaml");
    REQUIRE(s.size() == 1);
    CHECK(s[0].uid == 10001);
    CHECK(s[0].memory_limit == (256ULL << 20));
    CHECK(s[0].pids_limit == 64);
    CHECK(rules_of(s) == std::set<std::string>{"tmpfs.exec"});  // the long-syntax tmpfs: docker's are exec-able
    const std::string weak =
        "services:\n"
        "  db:\n"
        "    image: postgres\n"
        "    user: root\n"
        "    network_mode: host\n"
        "    pid: host\n"
        "    cap_add: [SYS_ADMIN]\n"
        "    security_opt: [\"seccomp:unconfined\", \"apparmor=unconfined\"]\n"
        "    mem_limit: 1g\n"
        "    pids_limit: -1\n"
        "    environment: [\"API_TOKEN=0123456789abcdef0123\"]\n"
        "    volumes: [\"/var/run/docker.sock:/var/run/docker.sock\", \"pgdata:/var/lib/postgresql/data\"]\n"
        "    devices: [\"/dev/sda:/dev/sda\"]\n";
    s = lint::from_compose(weak, "compose.yaml");
    auto got = rules_of(s);
    for (const char* r : {"user.root", "ns.host-network", "ns.host-pid", "caps.added", "caps.not-dropped",
                          "seccomp.unconfined", "apparmor.unconfined", "limits.pids", "env.secret", "mounts.host-path",
                          "volume.exec", "devices.privileged", "nnp.off", "fs.writable-root"})
        CHECK_MESSAGE(got.count(r), r);
    CHECK_FALSE(got.count("limits.memory"));
    // each fix speaks compose
    for (const auto& f : lint::check(s[0]))
        if (f.rule == "limits.pids") CHECK(f.fix.find("pids_limit:") != std::string::npos);
    // ports: without an address are on every interface (docker's default); 127.0.0.1:... is not a finding
    auto ports = lint::from_compose("services:\n  w:\n    ports: [\"8080:80\", \"127.0.0.1:9090:90\", \"0.0.0.0:443:8443\"]\n", "c.yaml");
    REQUIRE(ports.size() == 1);
    CHECK(ports[0].published_everywhere == std::vector<std::string>{"8080:80", "443:8443"});
    for (const auto& f : lint::check(ports[0]))
        if (f.rule == "net.publish-all") CHECK(f.fix.find("127.0.0.1:") != std::string::npos);
    CHECK(lint::is_compose(bare));
    CHECK_FALSE(lint::is_compose("apiVersion: v1\nkind: Pod\n"));
}

TEST_CASE("lint: a unit running hardrun run --bundle gets config.json fixes, which run --bundle accepts") {
    auto s = lint::from_systemd_unit("[Service]\nExecStart=/usr/bin/hardrun run --bundle /nonexistent/%i\n", "hardrun@.service");
    REQUIRE_FALSE(s.empty());
    for (const auto& f : lint::check(s[0])) {
        CHECK_MESSAGE(f.fix.find("--memory") == std::string::npos, f.fix);
        CHECK_MESSAGE(f.fix.find("--pids-limit") == std::string::npos, f.fix);
        if (f.rule == "limits.memory") CHECK(f.fix.find("linux.resources.memory.limit") != std::string::npos);
    }
}
