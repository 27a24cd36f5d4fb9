// hardrun seccomp compile|show|record: export a profile's BPF, print its resolved table and instruction
// costs, and record a minimal profile from a real run.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "hardrun/layers/apparmor.hpp"
#include "hardrun/cli/commands.hpp"
#include "hardrun/support/data_file.hpp"
#include "hardrun/support/error.hpp"
#include "hardrun/support/files.hpp"
#include "hardrun/support/json_text.hpp"
#include "hardrun/config/flags.hpp"
#include "hardrun/launch/launch.hpp"
#include "hardrun/support/log.hpp"
#include "hardrun/plan/parse.hpp"
#include "hardrun/cli/run_front.hpp"
#include "hardrun/layers/seccomp/seccomp_bpf.hpp"
#include "hardrun/launch/seccomp_notify.hpp"
#include "hardrun/layers/seccomp/seccomp_profile.hpp"

namespace hardrun::commands {

namespace {

struct ProfileOptions {
    std::string profile;
    std::vector<std::string> cap_add;
    std::string kernel;
    bool strict = false;
};

void add_profile_options(CLI::App& sub, ProfileOptions& o) {
    sub.add_option("profile", o.profile, "Profile file (Docker or OCI JSON), or 'default' / 'strict' for hardrun's own")
        ->required();
    sub.add_option("--cap-add", o.cap_add, "Resolve for a workload holding this capability (default: none)")
        ->allow_extra_args(false);
    sub.add_option("--kernel", o.kernel, "Resolve minKernel conditions for this kernel version (default: running)");
    sub.add_flag("--strict-profile", o.strict, "Unknown syscall names are errors");
}

std::string profile_file(const std::string& p) {
    if ((p == "default" || p == "strict") && ::access(p.c_str(), F_OK) != 0) return data_file("seccomp/" + p + ".json");
    return p;
}

seccomp::Target target_of(const ProfileOptions& o) {
    seccomp::Target t;
    t.native = &seccomp::native_arch();
    for (const auto& c : o.cap_add) {
        int cap = parse::capability("--cap-add", c);
        if (cap < 0)
            for (int i = 0; i <= parse::last_capability(); ++i) t.caps.add(i);
        else t.caps.add(cap);
    }
    t.kernel = seccomp::running_kernel();
    if (!o.kernel.empty()) {
        auto v = seccomp::parse_kernel_version(o.kernel);
        if (!v) throw UsageError("--kernel", "'" + o.kernel + "' is not a kernel version (e.g. 6.1)");
        t.kernel = *v;
    }
    t.available = seccomp::kernel_actions();
    t.strict = o.strict;
    return t;
}

seccomp::Resolved resolve_file(const ProfileOptions& o) {
    seccomp::Profile p = seccomp::load_profile(profile_file(o.profile));
    seccomp::Resolved r = seccomp::resolve(p, target_of(o));
    for (const auto& w : r.warnings) log::warning("seccomp: " + r.source + ": " + w);
    return r;
}

std::string caps_text(const CapSet& caps) {
    std::string s;
    for (int c = 0; c <= parse::last_capability(); ++c)
        if (caps.has(c)) s += (s.empty() ? "" : ",") + parse::capability_name(c);
    return s.empty() ? "none" : s;
}

std::uint64_t number(const std::string& option, const std::string& text) {
    try {
        std::size_t used = 0;
        std::uint64_t v = std::stoull(text, &used, 0);
        if (used == text.size()) return v;
    } catch (...) {
    }
    throw UsageError(option, "'" + text + "' is not a number");
}

void register_compile(CLI::App& parent) {
    struct Opts {
        ProfileOptions p;
        std::string output;
        std::string format = "bpf";
    };
    auto o = std::make_shared<Opts>();
    CLI::App* sub = parent.add_subcommand("compile", "Compile a profile to the classic BPF program hardrun loads");
    add_profile_options(*sub, o->p);
    sub->add_option("-o,--output", o->output, "Where to write the program ('-' for stdout)")->required();
    sub->add_option("--format", o->format, "bpf (raw struct sock_filter array, as seccomp(2) takes it) or text")
        ->check(CLI::IsMember({"bpf", "text"}));
    sub->callback([o] {
        seccomp::Resolved r = resolve_file(o->p);
        seccomp::Compiled c = seccomp::compile(r);
        std::string bytes;
        if (o->format == "text") bytes = seccomp::disassemble(c.program);
        else bytes.assign(reinterpret_cast<const char*>(c.program.data()), c.program.size() * sizeof(sock_filter));
        if (o->output == "-") std::cout.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        else files::write_atomic(o->output, bytes, "seccomp compile");
        if (o->output != "-")
            log::info(r.source + ": " + std::to_string(c.program.size()) + " BPF instructions (" +
                      std::to_string(c.stub_length) + " for the ENOSYS rule) written to " + o->output);
    });
}

void register_show(CLI::App& parent) {
    struct Opts {
        ProfileOptions p;
        std::vector<std::string> cost;
        std::string arch;
        bool bpf = false;
    };
    auto o = std::make_shared<Opts>();
    CLI::App* sub = parent.add_subcommand("show", "Print a profile's resolved allow/deny table for this arch and capability set");
    add_profile_options(*sub, o->p);
    sub->add_option("--cost", o->cost,
                    "Run the compiled program for these syscalls (NAME[:ARG0[:ARG1...]], comma separated) and print "
                    "the action and the BPF instructions executed")
        ->delimiter(',')
        ->allow_extra_args(false);
    sub->add_option("--arch", o->arch, "ABI for --cost and the table (default: native; e.g. x86 for i386 int 0x80)");
    sub->add_flag("--bpf", o->bpf, "Also print the compiled program");
    sub->callback([o] {
        seccomp::Resolved r = resolve_file(o->p);
        seccomp::Compiled c = seccomp::compile(r);
        const seccomp::ArchInfo* arch = &seccomp::native_arch();
        if (!o->arch.empty()) {
            arch = seccomp::find_arch(o->arch);
            if (!arch) throw UsageError("--arch", "'" + o->arch + "' is not an architecture libseccomp knows");
        }
        seccomp::Target t = target_of(o->p);
        std::ostream& out = std::cout;
        const bool arch_in_filter = std::find(r.arches.begin(), r.arches.end(), arch) != r.arches.end();
        if (!o->cost.empty()) {
            for (const auto& item : o->cost) {
                std::vector<std::string> parts;
                std::stringstream ss(item);
                for (std::string part; std::getline(ss, part, ':');) parts.push_back(part);
                if (parts.empty() || parts[0].empty()) throw UsageError("--cost", "empty syscall name");
                int nr = seccomp::syscall_number(*arch, parts[0]);
                if (nr < 0) {
                    bool numeric = !parts[0].empty() && std::isdigit(static_cast<unsigned char>(parts[0][0]));
                    if (!numeric) throw UsageError("--cost", "'" + parts[0] + "' is not a syscall on " + arch->name);
                    nr = static_cast<int>(number("--cost", parts[0]));
                }
                std::vector<std::uint64_t> args;
                for (std::size_t i = 1; i < parts.size() && i <= 6; ++i) args.push_back(number("--cost", parts[i]));
                seccomp::SimResult s = seccomp::simulate(c.program, seccomp::make_data(arch->token, nr, args));
                out << std::left << std::setw(20) << item << " " << std::setw(16)
                    << seccomp::describe(seccomp::from_ret(s.ret)) << " " << s.instructions << " BPF instructions\n";
            }
            return;
        }
        out << "profile:       " << r.source << " (" << seccomp::format_name(r.format) << ")\n";
        out << "target:        " << t.native->name << ", capabilities " << caps_text(t.caps) << ", kernel "
            << t.kernel.major << "." << t.kernel.minor << "." << t.kernel.patch << "\n";
        std::string arches;
        for (const auto* a : r.arches) arches += (arches.empty() ? "" : ", ") + a->name;
        out << "architectures: " << arches << " (any other ABI: KILL_PROCESS)\n";
        out << "default:       " << seccomp::describe(r.default_action) << "\n";
        if (c.stub_length)
            for (const auto* a : r.arches)
                if (auto it = r.max_known.find(a->token); it != r.max_known.end() && it->second >= 0)
                    out << "newer:         " << a->name << " syscalls above " << (it->second - static_cast<int>(a->nr_base))
                        << (a->nr_base ? " (+" + std::to_string(a->nr_base) + ")" : std::string())
                        << " (the newest the profile names): ERRNO(ENOSYS)\n";
        out << "filter:        " << c.program.size() << " BPF instructions\n";
        if (!arch_in_filter) {
            out << "\n" << arch->name << " is not in the filter: every syscall of that ABI is killed\n";
            return;
        }
        out << "\n" << std::left << std::setw(24) << "SYSCALL" << std::setw(12) << "NR" << std::setw(18) << "ACTION"
            << "CONDITION\n";
        std::vector<const seccomp::ResolvedRule*> rows;
        for (const auto& rule : r.rules)
            if (rule.numbers.count(arch->token)) rows.push_back(&rule);
        std::stable_sort(rows.begin(), rows.end(), [](auto* a, auto* b) { return a->name < b->name; });
        for (const auto* rule : rows) {
            int nr = rule->numbers.at(arch->token);
            std::string cond;
            for (const auto& a : rule->args) {
                // an int argument: the filter compares what the kernel reads, the low 32 (umode_t: 16) bits
                const unsigned bits = seccomp::argument_bits(rule->name, a.index);
                cond += (cond.empty() ? "" : " && ") + seccomp::describe(a) +
                        (bits < 64 ? " (low " + std::to_string(bits) + " bits)" : std::string());
            }
            out << std::setw(24) << rule->name << std::setw(12) << (nr >= 0 ? std::to_string(nr) : "multiplexed")
                << std::setw(18) << seccomp::describe(rule->action) << cond << "\n";
        }
        out << std::setw(24) << "(everything else)" << std::setw(12) << "" << seccomp::describe(r.default_action) << "\n";
        if (o->bpf) out << "\n" << seccomp::disassemble(c.program);
    });
}

// seccomp record --from-report without a command runs nothing: only the flags that decide the base profile count
// (what it is resolved against), and any other run flag is refused by name rather than ignored.
void refuse_run_flags_without_a_run(const CLI::App& sub) {
    static const std::set<std::string> kUsed = {"output", "merge", "from-report", "quiet", "cap-add", "cap-drop",
                                                "security-opt", "strict-profile", "help"};
    for (const CLI::Option* opt : sub.get_options()) {
        if (opt->count() == 0) continue;
        const auto& names = opt->get_lnames();
        if (!names.empty() && kUsed.count(names.front())) continue;
        const std::string name = names.empty() ? opt->get_name() : "--" + names.front();
        throw UsageError(name, "needs a workload to run; seccomp record --from-report without -- CMD runs nothing and "
                               "takes only -o, --merge, --from-report and the flags that choose the base profile "
                               "(--security-opt seccomp=..., --cap-add, --cap-drop, --strict-profile)");
    }
}

void register_record(CLI::App& parent) {
    struct Opts {
        RunFlags flags;
        std::string output, merge;
        std::vector<std::string> reports;
        bool quiet = false;
    };
    auto o = std::make_shared<Opts>();
    CLI::App* sub = parent.add_subcommand(
        "record", "Run a workload (every layer on) and write a minimal seccomp profile of the syscalls it made");
    sub->add_option("-o,--output", o->output, "The profile to write (Docker JSON format)")->required();
    sub->add_option("--merge", o->merge,
                    "Grow an earlier profile: what it allows stays allowed and this run's syscalls are added "
                    "(e.g. --merge app.json -o app.json; its comment lists every run)");
    sub->add_option("--from-report", o->reports,
                    "Also allow what a --report (run --report, check --report) saw the profile refuse, where the base "
                    "profile allows it; repeatable. Without -- CMD nothing is run "
                    "(e.g. --from-report r.json --merge app.json -o app.json)");
    sub->add_flag("-q,--quiet", o->quiet, "Do not print warnings");
    add_run_flags(*sub, o->flags);
    sub->callback([o, sub] {
        const bool run = !o->flags.command.empty() || !o->flags.bundle.empty() || o->reports.empty();
        if (!run) refuse_run_flags_without_a_run(*sub);
        LaunchPlan plan = run ? plan_from_flags_or_bundle(o->flags) : security_plan(o->flags);
        if (!o->quiet && run) print_warnings(plan);
        // every input is read before the run: -o may name the same file
        seccomp::Supervisor::Earlier earlier;
        if (!o->merge.empty()) {
            const std::string text = seccomp::read_profile_file(o->merge);
            earlier = seccomp::Supervisor::earlier_profile(parse_json(text, "seccomp record", o->merge, "not valid JSON"), o->merge);
        }
        // hardrun's PID 1 reaper runs under the workload's filter: what it needs is allowed even if this run
        // did not need it (kill forwards a signal only when one comes)
        if (run && (plan.init || apparmor::decide(plan).apply))
            for (const char* name : seccomp::kReaperCalls) earlier.allowed.insert(name);
        seccomp::Supervisor sup(plan, seccomp::Mode::Record);
        for (const auto& report : o->reports) {
            std::vector<std::string> left_out;
            earlier.add(sup.reported(parse_json(files::read_input(report, "seccomp record", "--from-report"),
                                                "seccomp record", report, "not valid JSON"),
                                     report, &left_out));
            for (const auto& why : left_out) log::warning("seccomp record: " + report + ": " + why);
        }
        if (!run) {
            files::write_atomic(o->output, sup.recorded_profile("", earlier, nullptr).dump(2) + "\n", "seccomp record");
            log::info("wrote " + o->output + " (" + std::to_string(earlier.allowed.size()) + " syscalls allowed, from " +
                      std::to_string(earlier.runs.size()) + " run(s) and report(s); nothing was run)");
            return;
        }
        LaunchOptions options;
        sup.attach(options);
        Outcome out = launch(plan, options);
        sup.stop();
        std::string command;
        for (const auto& a : plan.args) command += (command.empty() ? "" : " ") + a;
        std::vector<std::string> skipped;
        nlohmann::ordered_json profile = sup.recorded_profile(command, earlier, &skipped);
        for (const auto& s : skipped) log::warning("seccomp record: " + s + " has no name hardrun knows; left out of the profile");
        if (out.error) {
            report_outcome(out, plan);
            throw Exit{out.exit_code};
        }
        files::write_atomic(o->output, profile.dump(2) + "\n", "seccomp record");
        std::size_t allowed = 0;
        for (const auto& c : sup.calls()) allowed += c.allowed ? 1 : 0;
        log::info("recorded " + std::to_string(sup.notifications()) + " syscalls (" + std::to_string(allowed) +
                  " distinct allowed); wrote " + o->output);
        if (out.exit_code != 0)
            log::warning("seccomp record: the workload exited with " + std::to_string(out.exit_code) +
                         "; the profile covers what it did until then");
        throw Exit{report_outcome(out, plan)};
    });
}

}  // namespace

void register_seccomp(CLI::App& app) {
    if (!wanted("seccomp")) return;
    CLI::App* sub = app.add_subcommand("seccomp", "Seccomp profiles: compile, show, record");
    sub->require_subcommand(1);
    register_compile(*sub);
    register_show(*sub);
    register_record(*sub);
}

}  // namespace hardrun::commands
