// Seccomp profiles in every format hardrun reads (Docker's current and old formats, OCI linux.seccomp):
// parse, resolve for a fixed target, and compile with libseccomp. Errors must be hardrun::Error.
#include "fuzz_common.hpp"
#include "hardrun/layers/seccomp/seccomp_profile.hpp"

using namespace hardrun;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in = fuzz::text(data, size);
    seccomp::Profile profile;
    if (!fuzz::accepts([&] { profile = seccomp::parse_profile(in, "fuzz.json"); }, in)) return 0;
    static const seccomp::Target target = [] {
        seccomp::Target t;
        t.native = &seccomp::native_arch();
        t.kernel = {6, 1, 0};
        t.available = {seccomp::ActionKind::KillProcess, seccomp::ActionKind::KillThread, seccomp::ActionKind::Trap,
                       seccomp::ActionKind::Errno, seccomp::ActionKind::Trace, seccomp::ActionKind::Log,
                       seccomp::ActionKind::Allow, seccomp::ActionKind::Notify};
        return t;
    }();
    seccomp::Resolved resolved;
    if (!fuzz::accepts([&] { resolved = seccomp::resolve(profile, target); }, in)) return 0;
    if (resolved.rules.size() > 2000) return 0;  // compiling huge rule sets is slow, not interesting
    seccomp::Compiled compiled;
    if (fuzz::accepts([&] { compiled = seccomp::compile(resolved); }, in) && compiled.program.empty())
        fuzz::broken("an accepted profile compiled to an empty program", in);
    return 0;
}
