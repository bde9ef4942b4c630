// The scenario file: parse_scenario and load_scenario (the parser is scenario_parser.hpp's), the published metrics,
// a plan as JSON, and run_scenario and simulate_scenario, the calls behind every view.

#include "flopcast/scenarios/scenario.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "flopcast/core/files.hpp"
#include "flopcast/core/human_units.hpp"
#include "flopcast/core/json_reader.hpp"
#include "flopcast/core/text.hpp"
#include "flopcast/hardware/topology.hpp"
#include "flopcast/models/estimator.hpp"
#include "flopcast/models/hf_import.hpp"
#include "flopcast/scenarios/whole_run.hpp"
#include "scenario_parser.hpp"

namespace flopcast {
namespace fs = std::filesystem;

Catalogs load_catalogs(const fs::path& root) {
  return Catalogs{load_catalog(root), load_model_catalog(root), load_assumptions(root), load_failure_data(root)};
}

namespace scenario_detail {

Scenario ScenarioParser::parse() {
  JsonReader root(json_, file_, "", problems_);
  throw_if_any(problems_);
  scenario_.file = file_;
  scenario_.name = root.string("name", Need::optional).value_or(fs::path(file_).stem().string());
  root.string("description", Need::optional);
  read_model(root);
  read_cluster(root);
  const bool serving = root.has("serving");
  if (serving) {
    // A deployment: the serving section takes the place of the training job's plan and setup.
    for (const char* key : {"parallelism", "training", "published", "failures"}) {
      if (root.has(key)) root.problem(key, "belongs to training scenarios; a serving scenario gives /serving instead");
      root.allow(key);
    }
    // The serving section is checked against the model and the cluster: their problems come first.
    throw_if_any(problems_);
    if (auto section = root.object("serving", Need::required)) {
      scenario_.serving = read_serving_section(*section, job().model, job().cluster, base_dir_);
    }
  } else {
    read_parallelism(root);
    read_training(root);
  }
  read_costs(root);
  if (!serving) {
    read_published(root);
    scenario_.failures = read_failure_settings(root, catalogs_.failures, job().cluster.nodes, scenario_.defaults_used);
  }
  root.finish();
  throw_if_any(problems_);
  if (!serving) check_plan();
  throw_if_any(problems_);
  if (vpp_to_pick_) pick_virtual_stages();
  throw_if_any(problems_);
  if (recompute_to_pick_) pick_recompute();
  throw_if_any(problems_);
  scenario_.job.name = scenario_.name;
  scenario_.resolved = resolved_json();
  return std::move(scenario_);
}

}  // namespace scenario_detail

using scenario_detail::ScenarioParser;

std::string_view to_string(PublishedMetric metric) {
  switch (metric) {
    case PublishedMetric::step_time_s: return "step_time_s";
    case PublishedMetric::tokens_per_s_per_chip: return "tokens_per_s_per_chip";
    case PublishedMetric::model_tflops_per_chip: return "model_tflops_per_chip";
    case PublishedMetric::hardware_tflops_per_chip: return "hardware_tflops_per_chip";
    case PublishedMetric::mfu: return "mfu";
    case PublishedMetric::hfu: return "hfu";
  }
  return "?";
}

const std::vector<std::string>& published_metric_names() {
  static const std::vector<std::string> kNames{"step_time_s", "tokens_per_s_per_chip", "model_tflops_per_chip",
                                               "hardware_tflops_per_chip", "mfu", "hfu"};
  return kNames;
}

double predicted_metric(PublishedMetric metric, const TrainingEstimate& e) {
  switch (metric) {
    case PublishedMetric::step_time_s: return e.step_time_s;
    case PublishedMetric::tokens_per_s_per_chip: return e.tokens_per_s_per_chip;
    case PublishedMetric::model_tflops_per_chip: return e.model_flop_per_s_per_chip / 1e12;
    case PublishedMetric::hardware_tflops_per_chip: return e.hardware_flops_per_token * e.tokens_per_s_per_chip / 1e12;
    case PublishedMetric::mfu: return e.mfu;
    case PublishedMetric::hfu: return e.hfu;
  }
  return 0;
}

nlohmann::json plan_to_json(const ParallelPlan& p) {
  nlohmann::json j = {{"tp", p.tp},
          {"pp", p.pp},
          {"dp", p.dp},
          {"ep", p.ep},
          {"cp", p.cp},
          {"vpp", p.vpp},
          {"sp", p.sp},
          {"zero", p.zero},
          {"micro_batch", p.micro_batch},
          {"recompute", std::string(to_string(p.recompute))},
          {"schedule", std::string(to_string(p.schedule))},
          {"tp_comm_overlap", p.tp_comm_overlap},
          {"dp_overlap", p.dp_overlap}};
  if (!p.tp_async_backward) j["tp_async_backward"] = false;
  if (!p.pp_comm_overlap) j["pp_comm_overlap"] = false;
  if (p.pp_scatter_gather) j["pp_scatter_gather"] = true;
  if (p.etp > 1) j["etp"] = p.etp;
  if (p.cp_algo != ContextParallelAlgo::ring) j["cp_algo"] = std::string(to_string(p.cp_algo));
  if (p.ep_comm_overlap) j["ep_comm_overlap"] = true;
  if (p.dispatcher != MoeDispatcher::deepep) j["moe_dispatcher"] = std::string(to_string(p.dispatcher));
  if (p.recompute == Recompute::selective && p.recompute_modules.any()) {
    j["recompute_modules"] = recompute_module_names(p.recompute_modules);
  }
  if (p.recompute == Recompute::full && p.recompute_layers > 0) j["recompute_layers"] = p.recompute_layers;
  if (p.zero >= 3) j["reshard_after_forward"] = p.reshard_after_forward;
  if (p.unsharded_gradient_accumulation) j["unsharded_gradient_accumulation"] = true;
  if (p.shard_group > 0) j["shard_group"] = p.shard_group;
  j["optimizer_moments"] = p.optimizer_moment_bytes < 4.0 ? "bf16" : "fp32";
  if (p.master_weight_bytes < 4.0) j["master_weights"] = "bf16_residual";
  if (p.gradient_bytes < 4.0) j["gradients"] = "bf16";
  if (p.offload_activation_layers > 0) j["offload_activation_layers"] = p.offload_activation_layers;
  if (p.optimizer_offload_fraction > 0) j["optimizer_offload_fraction"] = p.optimizer_offload_fraction;
  if (p.moe_capacity_factor > 0) j["moe_capacity_factor"] = p.moe_capacity_factor;
  if (p.layout == PipelineLayout::listed) {
    j["stage_layers"] = p.stage_layers;
  } else {
    j["layout"] = std::string(to_string(p.layout));
  }
  return j;
}

Scenario parse_scenario(const nlohmann::json& json, const std::string& file_label, const fs::path& base_dir,
                        const Catalogs& catalogs) {
  return ScenarioParser(json, file_label, base_dir, catalogs).parse();
}

Scenario load_scenario(const fs::path& file, const Catalogs& catalogs) {
  const auto json = read_json_file(file);
  return parse_scenario(json, file.string(), file.parent_path(), catalogs);
}

namespace {
void require_training(const Scenario& scenario) {
  if (scenario.serving) {
    throw InputError(scenario.file, "/serving", "describes a deployment to serve: use flopcast serve");
  }
}
}  // namespace

TrainingEstimate run_scenario(const Scenario& scenario, const Catalogs& catalogs) {
  require_training(scenario);
  return estimate_training(scenario.job, catalogs.assumptions);
}

ServingJob serving_job(const Scenario& scenario) {
  if (!scenario.serving) {
    throw InputError({{scenario.file, "/serving", "is required to serve: this is a training scenario (use flopcast run)"}});
  }
  return ServingJob{scenario.name, scenario.job.model, scenario.job.cluster, scenario.job.costs, scenario.serving->setup};
}

SimResult simulate_scenario(const Scenario& scenario, const Catalogs& catalogs, const SimOptions& options) {
  require_training(scenario);
  auto result = simulate_training(scenario.job, catalogs.assumptions, options);
  if (scenario.failures && options.whole_run) {
    result.whole_run = simulate_whole_run(whole_run_setup(scenario, result.estimate, catalogs), options.cancel);
    apply_whole_run(result.estimate, scenario, *result.whole_run, catalogs);
  }
  return result;
}

}  // namespace flopcast
