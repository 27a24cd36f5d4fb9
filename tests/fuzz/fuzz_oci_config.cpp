// OCI config.json: JSON decoding (hardrun's parse_json, as load_config does it), stage 1 (parse_config) and
// stage 2 (to_plan) for a rootless and a root invoker, and the linux.seccomp conflict resolution. Errors must be
// hardrun::Error.
#include <nlohmann/json.hpp>

#include "fuzz_common.hpp"
#include "hardrun/support/json_text.hpp"
#include "hardrun/config/oci.hpp"

using namespace hardrun;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in = fuzz::text(data, size);
    nlohmann::json doc;
    if (!fuzz::accepts([&] { doc = parse_json(in, "config.json", "fuzz.json", "not valid JSON"); }, in)) return 0;
    oci::Config config;
    if (!fuzz::accepts([&] { config = oci::parse_config(doc); }, in)) return 0;
    for (uid_t invoker : {0U, 1000U}) {
        oci::PlanContext ctx;
        ctx.bundle_dir = "/tmp";
        ctx.invoker_uid = invoker;
        fuzz::accepts([&] { (void)oci::to_plan(config, ctx); }, in);
    }
    if (config.seccomp) fuzz::accepts([&] { (void)oci::resolve_seccomp_conflicts(*config.seccomp); }, in);
    return 0;
}
