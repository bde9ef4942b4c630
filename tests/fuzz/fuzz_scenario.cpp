// libFuzzer target: the scenario loader (JSON text to a checked Scenario), then tier 1 on whatever it accepts, so
// valid but extreme inputs reach the formulas too. Seeds: tests/fuzz/corpus/scenario and the shipped scenarios.
#include <filesystem>

#include "flopcast/core/files.hpp"
#include "flopcast/hardware/topology.hpp"
#include "flopcast/models/plan.hpp"
#include "flopcast/models/serving.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace flopcast;
  const auto& catalogs = fuzz::catalogs();
  return fuzz::expect_clean_outcome([&] {
    const auto json = parse_json_text(fuzz::as_text(data, size), "fuzz.json");
    // hf_config paths resolve among the test configs, so the importer is reachable from a scenario.
    const auto scenario = parse_scenario(json, "fuzz.json", FLOPCAST_FUZZ_HF_DIR, catalogs);
    if (scenario.serving) {
      const ServingJob job = serving_job(scenario);
      (void)estimate_serving(job, build_topology(topology_spec(job.cluster)), catalogs.assumptions);
    } else {
      (void)run_scenario(scenario, catalogs);
    }
  });
}
