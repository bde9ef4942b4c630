#pragma once
// The "serving" section of a scenario file (SCHEMA.md, "Serving"): pools and their plans, batching, the workload,
// SLOs, MTP and KV precision. A scenario with a serving section describes a deployment; `flopcast serve` runs it.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "flopcast/core/json_reader.hpp"
#include "flopcast/models/serving.hpp"

namespace flopcast {

// A published serving figure the scenario reproduces (scenarios/serving/validation/).
struct ServingPublished {
  std::string run;     // the run's id in calibration_runs.json
  std::string metric;  // a ServingResult field: output_tokens_per_s_per_node, input_tokens_per_s_per_node, ...
  double value = 0;
  bool lower_bound = false;  // published as "more than"
  std::string engine;        // the serving engine that measured it (TensorRT-LLM, vLLM, SGLang, ...)
  std::string source;
  std::vector<std::string> assumed;
};
const std::vector<std::string>& serving_published_metrics();
double serving_metric(const ServingResult& result, const std::string& metric);

struct ServingSection {
  ServingSetup setup;
  std::optional<ServingPublished> published;
};

// Reads /serving against the model and cluster already read; relative trace paths resolve against `base_dir`.
// Records every problem in `reader`'s problem list.
ServingSection read_serving_section(JsonReader& serving, const ModelArch& model, const ClusterSetup& cluster,
                                    const std::filesystem::path& base_dir);

// The section with every default filled in.
nlohmann::json serving_section_to_json(const ServingSection& section);

}  // namespace flopcast
