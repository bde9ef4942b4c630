// libFuzzer target: the sweep parser (base, axes, ranges, every value checked in the base), then the first and last
// points of a tier-1 sweep as a worker would evaluate them. Seeds: tests/fuzz/corpus/sweep and scenarios/sweeps.
#include "flopcast/core/files.hpp"
#include "flopcast/studies/sweep.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace flopcast;
  const auto& catalogs = fuzz::catalogs();
  return fuzz::expect_clean_outcome([&] {
    const auto json = parse_json_text(fuzz::as_text(data, size), "sweep.json");
    // A base given by name resolves among the shipped scenarios.
    const Sweep sweep = parse_sweep(json, "sweep.json", FLOPCAST_FUZZ_SCENARIO_DIR, catalogs);
    if (sweep.tier != Tier::analytical || sweep.size() == 0) return;  // the other tiers fork a simulator
    (void)sweep_csv_row(sweep, evaluate_sweep_point(sweep, 0, catalogs));
    (void)sweep_csv_row(sweep, evaluate_sweep_point(sweep, sweep.size() - 1, catalogs));
  });
}
