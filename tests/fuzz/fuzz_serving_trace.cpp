// libFuzzer target: a serving trace (CSV: a header, then arrival_s,input_tokens,output_tokens per request) read by a
// serving deployment with "arrival": "trace", then the deployment resolved as `flopcast serve` would before it
// simulates. Seeds: tests/fuzz/corpus/serving_trace.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "flopcast/core/files.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace flopcast;
  const auto& catalogs = fuzz::catalogs();
  // The reader takes a file: each input is written to one of its own beside the deployment that names it.
  static const std::filesystem::path trace =
      std::filesystem::temp_directory_path() / ("flopcast-fuzz-trace-" + std::to_string(::getpid()) + ".csv");
  {
    std::ofstream out(trace, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  static const nlohmann::json deployment = [] {
    auto json = read_json_file(std::filesystem::path(FLOPCAST_FUZZ_SERVING_DIR) / "llama3-405b-h100.json");
    json["serving"]["workload"] = {{"arrival", "trace"}, {"trace", trace.string()}};
    return json;
  }();
  return fuzz::expect_clean_outcome([&] {
    const Scenario scenario = parse_scenario(deployment, "serving.json", FLOPCAST_FUZZ_SERVING_DIR, catalogs);
    (void)serving_job(scenario);
  });
}
