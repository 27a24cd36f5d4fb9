// hardrun lint: the verdict, and the report on the terminal, as JSON and as SARIF 2.1.0 for code scanning.
#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

#include "hardrun/cli/lint/lint.hpp"

namespace hardrun::lint {

namespace {

const char* sarif_level(Severity s) {
    switch (s) {
        case Severity::Critical:
        case Severity::High: return "error";
        case Severity::Medium: return "warning";
        default: return "note";
    }
}

const char* security_severity(Severity s) {
    switch (s) {
        case Severity::Critical: return "9.5";
        case Severity::High: return "8.0";
        case Severity::Medium: return "5.5";
        case Severity::Low: return "3.0";
        default: return "0.0";
    }
}

std::string fixed1(double v) {
    char b[16];
    std::snprintf(b, sizeof b, "%.1f", v);
    return b;
}

std::vector<Finding> of_subject(const std::vector<Finding>& all, const Subject& s) {
    std::vector<Finding> out;
    for (const auto& f : all)
        if (f.subject == s.name && f.source == s.source) out.push_back(f);
    return out;
}

}  // namespace

Result evaluate(std::vector<Subject> subjects, Severity fail_on) {
    Result r;
    r.fail_on = fail_on;
    for (const auto& s : subjects) {
        auto f = check(s);
        // the worst first, then in source order
        std::stable_sort(f.begin(), f.end(), [](const Finding& a, const Finding& b) { return a.severity > b.severity; });
        r.findings.insert(r.findings.end(), f.begin(), f.end());
    }
    r.subjects = std::move(subjects);
    r.exit_code = std::any_of(r.findings.begin(), r.findings.end(), [&](const Finding& f) { return f.severity >= fail_on; }) ? 1 : 0;
    return r;
}

std::string render_human(const Result& r, bool color) {
    auto paint = [&](const std::string& s, const char* code) { return color ? std::string("\033[") + code + "m" + s + "\033[0m" : s; };
    std::ostringstream o;
    double worst = 0;
    for (const auto& s : r.subjects) {
        auto f = of_subject(r.findings, s);
        Score sc = score(f);
        worst = std::max(worst, sc.exposure);
        o << paint(s.name, "1") << " (" << s.kind << ", " << s.source << ")\n";
        if (f.empty()) o << "  no findings\n";
        for (const auto& x : f) {
            std::string sev = severity_name(x.severity);
            for (auto& c : sev) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            sev.resize(9, ' ');
            const char* code = x.severity >= Severity::High ? "31;1" : x.severity == Severity::Medium ? "33" : "2";
            std::string rule = x.rule;
            rule.resize(20, ' ');
            o << "  " << paint(sev, code) << rule << x.message;
            if (!x.where.empty()) o << " [" << x.where << (x.line > 0 && s.kind != "flags" ? ", line " + std::to_string(x.line) : "") << "]";
            o << "\n" << std::string(31, ' ') << "fix: " << x.fix << "\n";
        }
        o << "  exposure " << fixed1(sc.exposure) << "/10 " << sc.label << "\n\n";
    }
    std::map<Severity, int> counts;
    int failing = 0;
    for (const auto& f : r.findings) {
        ++counts[f.severity];
        failing += f.severity >= r.fail_on;
    }
    std::string summary;
    for (auto sev : {Severity::Critical, Severity::High, Severity::Medium, Severity::Low, Severity::Info})
        if (counts[sev]) summary += (summary.empty() ? "" : ", ") + std::to_string(counts[sev]) + " " + severity_name(sev);
    o << (r.exit_code ? paint("FAIL", "31;1") : paint("PASS", "32;1")) << ": " << r.findings.size() << " finding(s)"
      << (summary.empty() ? "" : " (" + summary + ")") << ", " << failing << " at or above --fail-on " << severity_name(r.fail_on)
      << "; worst exposure " << fixed1(worst) << "/10\n";
    return o.str();
}

nlohmann::json render_json(const Result& r) {
    using nlohmann::json;
    json subjects = json::array();
    for (const auto& s : r.subjects) {
        auto f = of_subject(r.findings, s);
        Score sc = score(f);
        json fs = json::array();
        for (const auto& x : f)
            fs.push_back({{"rule", x.rule}, {"severity", severity_name(x.severity)}, {"message", x.message}, {"fix", x.fix},
                          {"where", x.where}, {"line", x.line}});
        subjects.push_back({{"name", s.name}, {"kind", s.kind}, {"source", s.source}, {"exposure", sc.exposure},
                            {"label", sc.label}, {"findings", fs}});
    }
    return {{"tool", "hardrun lint"}, {"version", HARDRUN_VERSION}, {"fail_on", severity_name(r.fail_on)},
            {"exit_code", r.exit_code}, {"subjects", subjects}};
}

nlohmann::json render_sarif(const Result& r) {
    using nlohmann::json;
    json rule_list = json::array();
    std::map<std::string, std::size_t> index;
    for (const auto& rule : rules()) {
        index[rule.id] = rule_list.size();
        rule_list.push_back({{"id", rule.id},
                         {"name", rule.id},
                         {"shortDescription", {{"text", rule.title}}},
                         {"fullDescription", {{"text", rule.title}}},
                         {"defaultConfiguration", {{"level", sarif_level(rule.severity)}}},
                         {"help", {{"text", "See docs/lint.md: " + rule.id}}},
                         {"properties", {{"tags", {"security", "container"}}, {"security-severity", security_severity(rule.severity)}}}});
    }
    json results = json::array();
    for (const auto& f : r.findings) {
        json loc = {{"physicalLocation",
                     {{"artifactLocation", {{"uri", f.source == "flags" ? std::string("hardrun-flags") : f.source}}},
                      {"region", {{"startLine", std::max(1, f.line)}}}}}};
        if (!f.where.empty()) loc["logicalLocations"] = json::array({{{"name", f.where}, {"fullyQualifiedName", f.subject + ": " + f.where}}});
        json res = {{"ruleId", f.rule},
                    {"level", sarif_level(f.severity)},
                    {"message", {{"text", f.message + ". Fix: " + f.fix}}},
                    {"locations", json::array({loc})},
                    {"properties", {{"severity", severity_name(f.severity)}, {"fix", f.fix}, {"subject", f.subject},
                                    {"security-severity", security_severity(f.severity)}}}};
        if (auto it = index.find(f.rule); it != index.end()) res["ruleIndex"] = it->second;
        results.push_back(res);
    }
    return {{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
            {"version", "2.1.0"},
            {"runs", json::array({{{"tool", {{"driver", {{"name", "hardrun lint"},
                                                         {"version", HARDRUN_VERSION},
                                                         {"rules", rule_list}}}}},
                                   {"results", results}}})}};
}

}  // namespace hardrun::lint
