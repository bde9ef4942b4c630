// Tiers 2 and 3 against tier 1 and against each other, the schedules against their formulas, invariants of the
// simulation (bandwidth, stragglers) and the trace file.

#include <filesystem>
#include <fstream>

#include "flopcast/core/files.hpp"
#include "flopcast/models/schedule.hpp"
#include "helpers.hpp"

namespace flopcast {
namespace {

using Catch::Matchers::WithinRel;
using test::catalogs;

std::vector<std::filesystem::path> shipped() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(FLOPCAST_SOURCE_ROOT) / "scenarios/shipped")) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST_CASE("with overlap and contention off tier 2 equals tier 1 within 1% on every shipped scenario", "[sim][tiers]") {
  for (const auto& file : shipped()) {
    const auto scenario = load_scenario(file, catalogs());
    SimOptions replica;
    replica.overlap = false;
    replica.contention = false;
    const auto two = simulate_scenario(scenario, catalogs(), replica);
    const auto one = estimate_training(scenario.job, catalogs().assumptions, EstimateOptions{false});
    INFO(file.filename().string() << ": tier 1 " << one.step_time_s << " s, tier 2 " << two.estimate.step_time_s
                                  << " s");
    CHECK_THAT(two.estimate.step_time_s, WithinRel(one.step_time_s, 0.01));
  }
}

}  // namespace
}  // namespace flopcast
