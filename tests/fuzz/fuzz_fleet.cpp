// libFuzzer target: the fleet file parser (sites, pools, jobs with repeats, the scenarios they name), then a short
// fleet simulation of what parses. Seeds: tests/fuzz/corpus/fleet and scenarios/fleet.
#include "flopcast/core/files.hpp"
#include "flopcast/studies/fleet.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace flopcast;
  const auto& catalogs = fuzz::catalogs();
  return fuzz::expect_clean_outcome([&] {
    const auto json = parse_json_text(fuzz::as_text(data, size), "fleet.json");
    // Scenarios named by a relative path resolve among the shipped fleet files' (../shipped, ../serving).
    const FleetSpec spec = parse_fleet(json, "fleet.json", FLOPCAST_FUZZ_FLEET_DIR, catalogs);
    if (spec.jobs.size() <= 50) (void)simulate_fleet(spec, catalogs);  // the simulation grows with the jobs
  });
}
