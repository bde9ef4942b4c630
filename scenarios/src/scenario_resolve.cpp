// The scenario parser's checks and resolution (scenario_parser.hpp): the plan against the model and the cluster, the
// pipeline's virtual stages and the recompute picked where the file leaves them to pick, and the resolved scenario
// as JSON.

#include "scenario_parser.hpp"

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

namespace flopcast::scenario_detail {

void ScenarioParser::check_plan() {
  auto& plan = job().plan;
  const auto& model = job().model;
  const auto& cluster = job().cluster;
  const auto& training = job().training;
  const auto problem = [&](std::string path, std::string message) {
    problems_.push_back({file_, std::move(path), std::move(message)});
  };
  const long model_parallel = static_cast<long>(plan.tp) * plan.pp * plan.cp;
  if (dp_given_) {
    plan.dp = static_cast<int>(*dp_given_);
    const long product = model_parallel * plan.dp;
    if (product != cluster.chips) {
      problem("/parallelism", fmt::format("tp x pp x cp x dp = {} x {} x {} x {} = {}, but /cluster/chips is {}", plan.tp,
                                          plan.pp, plan.cp, plan.dp, product, cluster.chips));
    }
  } else if (cluster.chips % model_parallel != 0) {
    problem("/parallelism", fmt::format("cannot derive dp: /cluster/chips {} is not divisible by tp x pp x cp = {}",
                                        cluster.chips, model_parallel));
  } else {
    plan.dp = static_cast<int>(cluster.chips / model_parallel);
    scenario_.defaults_used.push_back(fmt::format("parallelism.dp = {} (chips / (tp x pp x cp))", plan.dp));
  }
  if (model.heads % plan.tp != 0) {
    problem("/parallelism/tp", fmt::format("tp {} must divide the model's {} attention heads", plan.tp, model.heads));
  } else if (plan.cp_algo == ContextParallelAlgo::ulysses && model.heads % (plan.tp * plan.cp) != 0) {
    problem("/parallelism/cp_algo", fmt::format("Ulysses splits the heads over tp x cp = {}, which must divide the "
                                                "model's {} attention heads",
                                                plan.tp * plan.cp, model.heads));
  }
  if (model.layers < plan.pp) {
    problem("/parallelism/pp", fmt::format("pp {} exceeds the model's {} layers", plan.pp, model.layers));
  }
  for (const auto& p : hybrid_plan_problems(model, plan)) problem("/parallelism/" + p.key, p.message);
  if (plan.ep > 1 && !model.moe) problem("/parallelism/ep", fmt::format("ep {} needs a MoE model", plan.ep));
  if (plan.etp > 1 && !model.moe) problem("/parallelism/etp", fmt::format("etp {} needs a MoE model", plan.etp));
  if (plan.offload_activation_layers > 0) {
    const std::string path = "/parallelism/offload_activation_layers";
    if (plan.pp > 1) problem(path, "needs pp 1 (Megatron refuses CPU offloading with a pipeline)");
    if (plan.offload_activation_layers >= model.layers) {
      problem(path, fmt::format("{} must be fewer than the model's {} layers (Transformer Engine keeps at least one "
                                "layer's activations on the chip to overlap the copies)",
                                plan.offload_activation_layers, model.layers));
    }
    if (!job().cluster.node.host_link_bandwidth_per_direction) {
      problem(path, fmt::format("node {} has no host_link_bandwidth_per_direction in the catalog",
                                job().cluster.node.id));
    }
  }
  if (plan.optimizer_offload_fraction > 0) {
    const std::string path = "/parallelism/optimizer_offload_fraction";
    if (plan.zero > 1) {
      problem(path, fmt::format("needs zero 0 or 1 (Megatron's optimizer, distributed or not, runs the CPU offload), "
                                "got zero {}", plan.zero));
    }
    const auto& node = job().cluster.node;
    if (!node.host_link_bandwidth_per_direction || !node.host_memory_bandwidth) {
      problem(path, fmt::format("node {} has no {} in the catalog", node.id,
                                !node.host_link_bandwidth_per_direction ? "host_link_bandwidth_per_direction"
                                                                        : "host_memory_bandwidth"));
    }
    if (!job().cluster.stage_chips.empty()) {
      problem(path, "is not modelled for mixed fleets (their nodes' host figures are not read)");
    }
  }
  if (model.moe) {
    if (model.moe->experts % plan.ep != 0) {
      problem("/parallelism/ep", fmt::format("ep {} must divide the {} experts", plan.ep, model.moe->experts));
    }
    const long expert_pool = static_cast<long>(plan.tp) * plan.cp * plan.dp;
    if (expert_pool % plan.ep != 0) {
      problem("/parallelism/ep", fmt::format("ep {} must divide tp x cp x dp = {}", plan.ep, expert_pool));
    } else if (expert_pool % (static_cast<long>(plan.ep) * plan.etp) != 0) {
      problem("/parallelism/etp", fmt::format("ep x etp = {} must divide tp x cp x dp = {}", plan.ep * plan.etp,
                                              expert_pool));
    }
    if (model.moe->expert_ffn % plan.etp != 0) {
      problem("/parallelism/etp",
              fmt::format("etp {} must divide the experts' FFN width {}", plan.etp, model.moe->expert_ffn));
    }
    if (plan.tp > 1 && !plan.sp) {
      problem("/parallelism/sp", "must be true when a MoE model uses tp > 1 (tokens are split before dispatch)");
    }
  }
  if (plan.unsharded_gradient_accumulation && plan.zero < 2) {
    problem("/parallelism/unsharded_gradient_accumulation",
            fmt::format("accumulates sharded gradients unsharded; zero is {} (gradients are sharded from zero 2)",
                        plan.zero));
  }
  if (plan.shard_group > 0) {
    if (plan.zero == 0) problem("/parallelism/shard_group", "shards ZeRO states; zero is 0");
    if ((static_cast<long>(plan.dp) * plan.cp) % plan.shard_group != 0) {
      problem("/parallelism/shard_group", fmt::format("{} must divide dp x cp = {}", plan.shard_group,
                                                      static_cast<long>(plan.dp) * plan.cp));
    }
  }
  if (plan.layout == PipelineLayout::listed) {
    const int vpp = plan.chunks_per_device();
    long listed = 0;
    for (int n : plan.stage_layers) listed += n;
    if (static_cast<long>(plan.stage_layers.size()) != static_cast<long>(plan.pp) * vpp) {
      problem("/parallelism/stage_layers",
              fmt::format("lists {} stages, but the plan has {} virtual stages (pp {} x {} per device{})",
                          plan.stage_layers.size(), plan.pp * vpp, plan.pp, vpp,
                          plan.v_shape() ? ", ZB-V's two" : plan.schedule == Schedule::interleaved ? ", vpp" : ""));
    } else if (listed != model.layers) {
      problem("/parallelism/stage_layers", fmt::format("lists {} layers, but the model has {}", listed,
                                                       model.layers));
    }
  }
  if (plan.schedule == Schedule::interleaved && !vpp_given_) {
    // A published interleaved schedule without its virtual-stage count: picked below, once the plan is complete.
    vpp_to_pick_ = true;
  } else if (plan.schedule == Schedule::interleaved) {
    if (plan.vpp < 2) problem("/parallelism/vpp", "the interleaved schedule needs vpp >= 2");
    if (model.layers < plan.pp * plan.vpp && plan.layout != PipelineLayout::listed) {
      problem("/parallelism/vpp", fmt::format("pp x vpp = {} exceeds the model's {} layers", plan.pp * plan.vpp,
                                              model.layers));
    }
  } else if (plan.vpp > 1) {
    problem("/parallelism/vpp", fmt::format("vpp {} needs the interleaved schedule, got \"{}\"", plan.vpp,
                                            to_string(plan.schedule)));
  }
  if (plan.v_shape() && model.layers < 2 * plan.pp && plan.layout != PipelineLayout::listed) {
    problem("/parallelism/pp", fmt::format("ZB-V's 2 x pp = {} virtual stages exceed the model's {} layers",
                                           2 * plan.pp, model.layers));
  }
  if (plan.schedule == Schedule::dualpipe && plan.pp % 2 != 0) {
    problem("/parallelism/pp", fmt::format("DualPipe needs an even number of stages, got {}", plan.pp));
  }
  if (dispatcher_given_ && !model.moe) {
    problem("/parallelism/moe_dispatcher", fmt::format("routes tokens to experts; {} is dense", model.name));
  }
  if (plan.moe_capacity_factor > 0 && !model.moe) {
    problem("/parallelism/moe_capacity_factor", fmt::format("caps what each expert takes; {} is dense", model.name));
  }
  if (pp_comm_overlap_given_.value_or(false) && plan.pp > 1 && !overlaps_pipeline_sends(plan.schedule)) {
    problem("/parallelism/pp_comm_overlap",
            fmt::format("runs pipeline sends behind computation in the interleaved and DualPipe schedules; \"{}\"'s "
                        "sends block between passes",
                        to_string(plan.schedule)));
  }
  if (plan.ep_comm_overlap) {
    const std::string path = "/parallelism/ep_comm_overlap";
    switch (plan.expert_overlap_block()) {
      case ParallelPlan::ExpertOverlapBlock::none: break;
      case ParallelPlan::ExpertOverlapBlock::no_expert_parallelism:
        problem(path, "overlaps the expert all-to-all; needs ep >= 2");
        break;
      case ParallelPlan::ExpertOverlapBlock::schedule:
        problem(path, fmt::format("pairs forwards with backwards in the interleaved schedule or without a pipeline; "
                                  "got \"{}\" with pp {}",
                                  to_string(plan.schedule), plan.pp));
        break;
      case ParallelPlan::ExpertOverlapBlock::full_recompute:
        problem(path, "cannot run with full recomputation (Megatron refuses it)");
        break;
    }
  }
  const long per_step = static_cast<long>(plan.dp) * plan.micro_batch;
  if (plan.dp > 0 && training.global_batch % per_step != 0) {
    problem("/training/global_batch", fmt::format("{} is not a multiple of dp x micro_batch = {} x {} = {}",
                                                  training.global_batch, plan.dp, plan.micro_batch, per_step));
  } else if (plan.dp > 0 && training.global_batch / per_step > kMaxMicroBatches) {
    // Every tier lays out the step's pipeline schedule, micro-batch by micro-batch.
    problem("/training/global_batch",
            fmt::format("{} sequences make {} micro-batches per step (over dp x micro_batch = {}); at most {} (the "
                        "published plans run a few thousand at most)",
                        training.global_batch, training.global_batch / per_step, per_step, kMaxMicroBatches));
  }
  if (training.seq_len % plan.cp != 0) {
    problem("/training/seq_len", fmt::format("{} is not divisible by cp {}", training.seq_len, plan.cp));
  }
  if (const auto why = unsupported_precision(cluster.chip, training.precision)) {
    problem("/training/precision", *why + "; use \"bf16\"");
  }
  std::vector<int> taken(static_cast<std::size_t>(std::max(plan.pp, 1)), -1);
  for (std::size_t g = 0; g < cluster.stage_chips.size(); ++g) {
    const auto& group = cluster.stage_chips[g];
    const std::string path = fmt::format("/cluster/stage_chips/{}", g);
    for (int stage : group.stages) {
      if (stage < 0 || stage >= plan.pp) {
        problem(path + "/stages", fmt::format("stage {} does not exist: the pipeline has stages 0 to {}", stage,
                                              plan.pp - 1));
      } else if (taken[stage] >= 0) {
        problem(path + "/stages", fmt::format("stage {} is already given to /cluster/stage_chips/{}", stage,
                                              taken[stage]));
      } else {
        taken[stage] = static_cast<int>(g);
      }
    }
    if (const auto why = unsupported_precision(group.chip, training.precision)) {
      problem(path + "/chip", *why + "; use \"bf16\" training");
    }
  }
  const long stage_chips = cluster.chips / std::max(plan.pp, 1);
  if (!cluster.stage_chips.empty() && stage_chips % cluster.node.chip_count() != 0) {
    problem("/cluster/stage_chips", fmt::format("a mixed fleet puts each stage on nodes of its own: a stage's {} "
                                                "chips must fill whole {}-chip nodes",
                                                stage_chips, cluster.node.chip_count()));
  }
  if (tokens_given_) {
    job().training.tokens = *tokens_given_;
  } else if (model.published_training_tokens) {
    job().training.tokens = model.published_training_tokens->value;
    scenario_.defaults_used.push_back(fmt::format("training.tokens = {:g} (published for {})",
                                                  job().training.tokens, model.id));
  } else {
    problem("/training/tokens", fmt::format("is required: {} has no published training token count", model.name));
  }
}

nlohmann::json ScenarioParser::resolved_json() const {
  const auto& j = scenario_.job;
  nlohmann::json out;
  out["name"] = scenario_.name;
  if (scenario_.model_ref == "inline" || catalogs_.models.find(scenario_.model_ref) == nullptr) {
    out["model"] = model_to_json(j.model);
  } else {
    out["model"] = scenario_.model_ref;
  }
  out["cluster"] = {{"chip", j.cluster.chip.id},
                    {"chips", j.cluster.chips},
                    {"node", j.cluster.node.id},
                    {"network",
                     {{"fabric", j.cluster.fabric.id},
                      {"topology", std::string(to_string(j.cluster.topology))},
                      {"nics_per_node", j.cluster.nics_per_node},
                      {"oversubscription", j.cluster.oversubscription}}}};
  for (const auto& group : j.cluster.stage_chips) {
    nlohmann::json g = {{"stages", group.stages}, {"chip", group.chip.id}, {"node", group.node.id}};
    if (j.costs.mode == CostMode::rental) {
      g["usd_per_chip_hour"] = group.usd_per_chip_hour;
    } else {
      g["chip_capex_usd"] = group.chip_capex_usd;
    }
    out["cluster"]["stage_chips"].push_back(g);
  }
  if (scenario_.serving) {
    out["serving"] = serving_section_to_json(*scenario_.serving);
  } else {
    out["parallelism"] = plan_to_json(j.plan);
    if (!scenario_.pinned.empty()) out["parallelism"]["pin"] = scenario_.pinned;
    const auto& t = j.training;
    out["training"] = {{"seq_len", t.seq_len},
                       {"global_batch", t.global_batch},
                       {"precision", std::string(to_string(t.precision))},
                       {"tokens", t.tokens},
                       {"dropout", t.dropout},
                       {"flash_attention", t.flash_attention},
                       {"attention_kernel", t.flash2 ? "flash2" : "fused"}};
    if (t.full_iteration_graph) out["training"]["cuda_graphs"] = "full_iteration";
    if (t.pytorch_cross_entropy) out["training"]["cross_entropy"] = "pytorch";
    if (t.fused_expert_mlp) out["training"]["fused_expert_mlp"] = true;
    if (!t.rope_fusion) out["training"]["rope_fusion"] = false;
    if (!t.gradient_accumulation_fusion) out["training"]["gradient_accumulation_fusion"] = false;
  }
  const auto& c = j.costs;
  if (c.mode == CostMode::rental) {
    out["costs"] = {{"usd_per_chip_hour", c.usd_per_chip_hour},
                    {"electricity_usd_per_kwh", c.electricity_usd_per_kwh},
                    {"pue", c.pue}};
  } else {
    nlohmann::json ownership = {{"chip_capex_usd", c.chip_capex_usd},
                                {"node_capex_usd", c.node_capex_usd},
                                {"depreciation_years", c.depreciation_years}};
    if (c.network_capex_usd) ownership["network_capex_usd"] = *c.network_capex_usd;
    out["costs"] = {{"ownership", ownership}, {"electricity_usd_per_kwh", c.electricity_usd_per_kwh}, {"pue", c.pue}};
  }
  if (const auto& p = scenario_.published) {
    out["published"] = {{"run", p->run}, {"metric", std::string(to_string(p->metric))}, {"value", p->value},
                        {"source", p->source}};
    if (!p->assumed.empty()) out["published"]["assumed"] = p->assumed;
    if (!p->validate_only.empty()) out["published"]["validate_only"] = p->validate_only;
    if (p->peak_memory_gib > 0) {
      out["published"]["peak_memory_gib"] = p->peak_memory_gib;
      out["published"]["peak_memory_counts"] = p->peak_memory_counts;
    }
  }
  if (scenario_.failures) out["failures"] = failure_settings_to_json(*scenario_.failures);
  return out;
}

void ScenarioParser::pick_virtual_stages() {
  auto& plan = job().plan;
  const auto& model = job().model;
  const std::string path = "/parallelism/vpp";
  if (plan.layout == PipelineLayout::listed) {
    problems_.push_back({file_, path, "stage_layers lists virtual stages: give vpp with it"});
    return;
  }
  struct Pick {
    int vpp = 0;
    double step_s = 0;
    bool fits = false;
  };
  std::optional<Pick> best;
  std::vector<std::string> tried;
  std::optional<TopologySummary> topology;  // the same cluster for every candidate: built once
  try {
    topology = build_topology(topology_spec(job().cluster));
  } catch (const ModelError&) {
    // No topology for this cluster: each candidate's estimate fails the same way and is skipped below.
  }
  EstimateOptions options;
  if (topology) options.topology = &*topology;
  // Virtual stages of at least one layer; where pp x vpp does not divide the layers, the plan's layout spreads them
  // (even: the first virtual stages take one more).
  for (int vpp = 2; vpp <= model.layers / plan.pp; ++vpp) {
    TrainingJob candidate = job();
    candidate.plan.vpp = vpp;
    try {
      const auto estimate = estimate_training(candidate, catalogs_.assumptions, options);
      const Pick pick{vpp, estimate.step_time_s, estimate.memory.fits};
      tried.push_back(fmt::format("{} ({:.3f} s{})", vpp, pick.step_s, pick.fits ? "" : ", does not fit"));
      if (!best || (pick.fits && !best->fits) ||
          (pick.fits == best->fits && pick.step_s < best->step_s)) {
        best = pick;
      }
    } catch (const ModelError&) {
      continue;  // a schedule this batch cannot run
    }
  }
  if (!best) {
    problems_.push_back({file_, path, fmt::format("the interleaved schedule needs vpp >= 2 with pp x vpp at most "
                                                  "the model's {} layers (pp {}), and a batch it can run",
                                                  model.layers, plan.pp)});
    return;
  }
  plan.vpp = best->vpp;
  scenario_.defaults_used.push_back(fmt::format(
      "parallelism.vpp = {} (interleaved schedule without vpp: the fastest at tier 1{}; tried {})", best->vpp,
      best->fits ? " that fits in memory" : ", none fits in memory", join(tried, ", ")));
}

void ScenarioParser::pick_recompute() {
  auto& plan = job().plan;
  std::vector<std::string> tried;
  std::optional<Recompute> picked;
  double usable_bytes = 0;
  for (const auto mode : {Recompute::none, Recompute::selective, Recompute::full}) {
    if (mode == Recompute::full && plan.ep_comm_overlap) continue;
    TrainingJob candidate = job();
    candidate.plan.recompute = mode;
    try {
      const auto memory = training_memory(candidate, count_params(candidate.model), catalogs_.assumptions);
      tried.push_back(fmt::format("{} {}", to_string(mode), human::bytes(memory.total_bytes)));
      usable_bytes = memory.usable_bytes;
      if (memory.fits) {
        picked = mode;
        break;
      }
    } catch (const ModelError&) {
      continue;  // a layout this plan cannot run; the estimate reports it
    }
  }
  plan.recompute = picked.value_or(plan.ep_comm_overlap ? Recompute::selective : Recompute::full);
  scenario_.defaults_used.push_back(fmt::format(
      "parallelism.recompute = {} (auto: the least recomputation {}; {} of {} usable)", to_string(plan.recompute),
      picked ? "that fits in memory" : "there is, none fits in memory", join(tried, ", "),
      human::bytes(usable_bytes)));
}

}  // namespace flopcast::scenario_detail
