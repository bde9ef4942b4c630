// The scenario parser's reading (scenario_parser.hpp): each section of the file into the training job, every problem
// collected with its JSON path, every default applied recorded.

#include "scenario_parser.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include <fmt/format.h>

#include "flopcast/core/files.hpp"
#include "flopcast/core/human_units.hpp"
#include "flopcast/core/json_reader.hpp"
#include "flopcast/core/text.hpp"
#include "flopcast/hardware/topology.hpp"
#include "flopcast/models/estimator.hpp"
#include "flopcast/models/hf_import.hpp"

namespace flopcast::scenario_detail {

void ScenarioParser::read_model(JsonReader& root) {
  const auto* raw = root.raw("model", Need::required);
  if (raw == nullptr) return;
  if (raw->is_string()) {
    const auto id = raw->get<std::string>();
    if (const auto* model = catalogs_.models.find(id)) {
      job().model = *model;
      scenario_.model_ref = id;
    } else {
      const auto ids = catalogs_.models.ids();
      root.problem("model", fmt::format("unknown model \"{}\"{}; known: {}", id, did_you_mean(id, ids),
                                        join(ids, ", ")));
    }
    return;
  }
  auto reader = root.object("model", Need::required);
  if (!reader) return;
  if (reader->has("hf_config")) {
    auto path = reader->string("hf_config", Need::required);
    reader->finish();
    if (!path) return;
    const fs::path full = fs::path(*path).is_absolute() ? fs::path(*path) : base_dir_ / *path;
    try {
      job().model = import_hf_config_file(full);
      scenario_.model_ref = *path;
    } catch (const InputError& error) {
      problems_.insert(problems_.end(), error.problems().begin(), error.problems().end());
    }
    return;
  }
  job().model = flopcast::read_model(*reader, false);
  scenario_.model_ref = "inline";
}

void ScenarioParser::read_cluster(JsonReader& root) {
  auto cluster = root.object("cluster", Need::required);
  if (!cluster) return;
  auto& c = job().cluster;
  const auto chip_id = cluster->string("chip", Need::required);
  const Chip* chip = nullptr;
  if (chip_id) {
    chip = catalogs_.hardware.find_chip(*chip_id);
    if (chip == nullptr) {
      const auto ids = catalogs_.hardware.chip_ids();
      cluster->problem("chip", fmt::format("unknown chip \"{}\"{}; known: {}", *chip_id, did_you_mean(*chip_id, ids),
                                           join(ids, ", ")));
    }
  }
  c.chips = static_cast<int>(cluster->integer("chips", Need::required, kAtLeastOne).value_or(1));
  const auto node_id = cluster->string("node", Need::optional);
  const Node* node = nullptr;
  if (node_id) {
    node = catalogs_.hardware.find_node(*node_id);
    if (node == nullptr) {
      const auto ids = catalogs_.hardware.node_ids();
      cluster->problem("node", fmt::format("unknown node \"{}\"{}", *node_id, did_you_mean(*node_id, ids)));
    } else if (chip != nullptr && node->chip != chip->id) {
      cluster->problem("node", fmt::format("node \"{}\" holds {} chips, not {}", node->id, node->chip, chip->id));
    }
  } else if (chip != nullptr) {
    node = catalogs_.hardware.find_node(chip->default_node);
    scenario_.defaults_used.push_back(fmt::format("cluster.node = {} (default for {})", chip->default_node, chip->id));
  }
  auto network = cluster->object("network", Need::optional);
  std::optional<std::string> fabric_id;
  std::optional<std::string> topology_name;
  std::optional<std::int64_t> nics;
  std::optional<double> oversubscription;
  if (network) {
    fabric_id = network->string("fabric", Need::optional);
    topology_name = network->choice("topology", Need::optional, topology_names());
    nics = network->integer("nics_per_node", Need::optional, {.min = 1, .max = 4096});
    oversubscription = network->number("oversubscription", Need::optional, {.min = 1.0, .max = 64.0});
    network->finish();
  }
  read_stage_chips(*cluster, node);
  cluster->finish();
  if (chip == nullptr || node == nullptr) return;
  c.chip = *chip;
  c.node = *node;
  c.nodes = (c.chips + node->chip_count() - 1) / node->chip_count();
  if (c.chips % node->chip_count() != 0) {
    scenario_.defaults_used.push_back(fmt::format("cluster.chips {} is not a multiple of the {}-chip node: {} nodes, "
                                                  "the last partly filled",
                                                  c.chips, node->chip_count(), c.nodes));
  }
  c.nics_per_node = static_cast<int>(nics.value_or(node->nic_count()));
  if (!nics) scenario_.defaults_used.push_back(fmt::format("cluster.network.nics_per_node = {} (from {})",
                                                           c.nics_per_node, node->id));
  const Fabric* fabric = nullptr;
  if (fabric_id) {
    fabric = catalogs_.hardware.find_fabric(*fabric_id);
    if (fabric == nullptr) {
      const auto ids = catalogs_.hardware.fabric_ids();
      problems_.push_back({file_, "/cluster/network/fabric",
                           fmt::format("unknown fabric \"{}\"{}; known: {}", *fabric_id, did_you_mean(*fabric_id, ids),
                                       join(ids, ", "))});
      return;
    }
  } else {
    fabric = catalogs_.hardware.find_fabric(node->default_fabric);
    scenario_.defaults_used.push_back(
        fmt::format("cluster.network.fabric = {} (default for {})", node->default_fabric, node->id));
  }
  c.fabric = *fabric;
  c.oversubscription = oversubscription.value_or(1.0);
  const int radix = static_cast<int>(fabric->switch_radix.value);
  if (topology_name) {
    c.topology = *parse_topology(*topology_name);
  } else {
    const long nics_total = static_cast<long>(c.nodes) * c.nics_per_node;
    c.topology = nics_total <= max_endpoints(TopologyKind::fat_tree_2, radix, c.oversubscription)
                     ? TopologyKind::fat_tree_2
                     : TopologyKind::fat_tree_3;
    scenario_.defaults_used.push_back(fmt::format("cluster.network.topology = {} (smallest rail-optimized fat-tree "
                                                  "of {}-port switches that connects {} NICs)",
                                                  to_string(c.topology), radix, nics_total));
  }
  if (c.nodes > 1) {
    if (auto problem = topology_capacity_problem(topology_spec(c))) {
      problems_.push_back({file_, "/cluster/network/topology", *problem});
    }
  }
}

void ScenarioParser::read_published(JsonReader& root) {
  auto p = root.object("published", Need::optional);
  if (!p) return;
  Published out;
  out.run = p->string("run", Need::required).value_or("");
  const auto metric = p->choice("metric", Need::required, published_metric_names());
  out.value = p->number("value", Need::required, {.min = 0, .max = 1e12, .min_exclusive = true}).value_or(1);
  out.source = p->string("source", Need::required).value_or("");
  out.assumed = p->strings("assumed", Need::optional).value_or(std::vector<std::string>{});
  out.validate_only = p->string("validate_only", Need::optional).value_or("");
  out.peak_memory_gib = p->number("peak_memory_gib", Need::optional, {.min = 0, .max = 1e6, .min_exclusive = true})
                            .value_or(0.0);
  out.peak_memory_counts = p->string("peak_memory_counts", Need::optional).value_or("");
  if (out.peak_memory_gib > 0 && out.peak_memory_counts.empty()) {
    p->problem("peak_memory_counts", "is required with peak_memory_gib: say what the published figure counts");
  }
  p->finish();
  if (!metric) return;
  for (auto m : {PublishedMetric::step_time_s, PublishedMetric::tokens_per_s_per_chip,
                 PublishedMetric::model_tflops_per_chip, PublishedMetric::hardware_tflops_per_chip,
                 PublishedMetric::mfu, PublishedMetric::hfu}) {
    if (to_string(m) == *metric) out.metric = m;
  }
  scenario_.published = std::move(out);
}

void ScenarioParser::read_stage_chips(JsonReader& cluster, const Node* cluster_node) {
  auto groups = cluster.objects("stage_chips", Need::optional);
  if (!groups) return;
  for (auto& g : *groups) {
    StageChips group;
    const auto chip_id = g.string("chip", Need::required);
    const auto node_id = g.string("node", Need::optional);
    const StagePrices prices{g.number("usd_per_chip_hour", Need::optional, {.min = 0, .max = 1e4}),
                             g.number("chip_capex_usd", Need::optional, {.min = 0, .max = 1e8}), g.path()};
    if (const auto* raw = g.raw("stages", Need::required)) {
      const bool ok = raw->is_array() && !raw->empty() &&
                      std::all_of(raw->begin(), raw->end(), [](const auto& v) { return v.is_number_integer(); });
      if (ok) {
        for (const auto& v : *raw) group.stages.push_back(v.template get<int>());
      } else {
        g.problem("stages", fmt::format("expected a non-empty array of pipeline stage numbers, got {}",
                                        describe_json(*raw)));
      }
    }
    g.finish();
    if (!chip_id) continue;
    const Chip* chip = catalogs_.hardware.find_chip(*chip_id);
    if (chip == nullptr) {
      const auto ids = catalogs_.hardware.chip_ids();
      g.problem("chip", fmt::format("unknown chip \"{}\"{}; known: {}", *chip_id, did_you_mean(*chip_id, ids),
                                    join(ids, ", ")));
      continue;
    }
    const Node* node = catalogs_.hardware.find_node(node_id.value_or(chip->default_node));
    if (node == nullptr) {
      const auto ids = catalogs_.hardware.node_ids();
      g.problem("node", fmt::format("unknown node \"{}\"{}", *node_id, did_you_mean(*node_id, ids)));
      continue;
    }
    if (node->chip != chip->id) {
      g.problem("node", fmt::format("node \"{}\" holds {} chips, not {}", node->id, node->chip, chip->id));
      continue;
    }
    if (!node_id) {
      scenario_.defaults_used.push_back(fmt::format("{}.node = {} (default for {})", dotted(g.path()),
                                                    chip->default_node, chip->id));
    }
    if (cluster_node != nullptr && node->chip_count() != cluster_node->chip_count()) {
      g.problem("node", fmt::format("node \"{}\" holds {} chips, the cluster's \"{}\" {}: every stage's nodes must "
                                    "hold the same number",
                                    node->id, node->chip_count(), cluster_node->id, cluster_node->chip_count()));
      continue;
    }
    group.chip = *chip;
    group.node = *node;
    job().cluster.stage_chips.push_back(std::move(group));
    stage_prices_.push_back(prices);  // kept in step with the accepted groups
  }
}

void ScenarioParser::read_parallelism(JsonReader& root) {
  auto p = root.object("parallelism", Need::required);
  if (!p) return;
  auto& plan = job().plan;
  plan.tp = static_cast<int>(p->integer("tp", Need::optional, kAtLeastOne).value_or(1));
  plan.pp = static_cast<int>(p->integer("pp", Need::optional, kAtLeastOne).value_or(1));
  dp_given_ = p->integer("dp", Need::optional, kAtLeastOne);
  plan.ep = static_cast<int>(p->integer("ep", Need::optional, kAtLeastOne).value_or(1));
  plan.etp = static_cast<int>(p->integer("etp", Need::optional, kAtLeastOne).value_or(1));
  plan.cp = static_cast<int>(p->integer("cp", Need::optional, kAtLeastOne).value_or(1));
  static const std::vector<std::string> kCpAlgos{"ring", "ulysses"};
  plan.cp_algo = p->choice("cp_algo", Need::optional, kCpAlgos).value_or("ring") == "ulysses"
                     ? ContextParallelAlgo::ulysses
                     : ContextParallelAlgo::ring;
  plan.vpp = static_cast<int>(p->integer("vpp", Need::optional, kAtLeastOne).value_or(1));
  plan.sp = p->boolean("sp", Need::optional).value_or(false);
  plan.zero = static_cast<int>(p->integer("zero", Need::optional, {.min = 0, .max = 3}).value_or(1));
  plan.micro_batch = static_cast<int>(p->integer("micro_batch", Need::optional, kAtLeastOne).value_or(1));
  static const std::vector<std::string> kRecompute{"none", "selective", "per_op", "full", "auto"};
  const bool recompute_given = p->has("recompute");
  const auto recompute = p->choice("recompute", Need::optional, kRecompute).value_or("none");
  recompute_to_pick_ = recompute == "auto";
  plan.recompute = recompute == "full"        ? Recompute::full
                   : recompute == "selective" ? Recompute::selective
                   : recompute == "per_op"    ? Recompute::per_op
                                              : Recompute::none;
  static const std::vector<std::string> kSchedules{"gpipe", "1f1b", "interleaved", "dualpipe", "zb-h1", "zb-v"};
  const auto schedule = p->choice("schedule", Need::optional, kSchedules);
  plan.schedule = !schedule                  ? (plan.vpp > 1 ? Schedule::interleaved : Schedule::one_f_one_b)
                  : *schedule == "gpipe"     ? Schedule::gpipe
                  : *schedule == "interleaved" ? Schedule::interleaved
                  : *schedule == "dualpipe"  ? Schedule::dualpipe
                  : *schedule == "zb-h1"     ? Schedule::zero_bubble
                  : *schedule == "zb-v"      ? Schedule::zero_bubble_v
                                             : Schedule::one_f_one_b;
  plan.tp_comm_overlap = p->boolean("tp_comm_overlap", Need::optional).value_or(false);
  plan.dp_overlap = p->boolean("dp_overlap", Need::optional).value_or(true);
  plan.tp_async_backward = p->boolean("tp_async_backward", Need::optional).value_or(true);
  pp_comm_overlap_given_ = p->boolean("pp_comm_overlap", Need::optional);
  plan.pp_comm_overlap = pp_comm_overlap_given_.value_or(true);
  plan.pp_scatter_gather = p->boolean("pp_scatter_gather", Need::optional).value_or(false);
  plan.ep_comm_overlap = p->boolean("ep_comm_overlap", Need::optional).value_or(false);
  static const std::vector<std::string> kDispatchers{"deepep", "alltoall", "hybridep", "allgather"};
  const auto dispatcher = p->choice("moe_dispatcher", Need::optional, kDispatchers).value_or("deepep");
  plan.dispatcher = dispatcher == "alltoall"    ? MoeDispatcher::alltoall
                    : dispatcher == "hybridep"  ? MoeDispatcher::hybridep
                    : dispatcher == "allgather" ? MoeDispatcher::allgather
                                                : MoeDispatcher::deepep;
  vpp_given_ = p->has("vpp");
  dispatcher_given_ = p->has("moe_dispatcher");
  if (auto modules = p->strings("recompute_modules", Need::optional)) {
    for (const auto& name : *modules) {
      if (!set_recompute_module(plan.recompute_modules, name)) {
        p->problem("recompute_modules", fmt::format("unknown module \"{}\"; known: {}", name,
                                                    join(kRecomputeModuleNames, ", ")));
      }
    }
    if (!modules->empty() && recompute_to_pick_) {
      p->problem("recompute_modules", "lists what selective recomputation redoes; recompute \"auto\" picks its own");
    }
    if (!modules->empty() && (plan.recompute == Recompute::full || plan.recompute == Recompute::per_op)) {
      p->problem("recompute_modules", fmt::format("lists what selective recomputation redoes; recompute is \"{}\"",
                                                  to_string(plan.recompute)));
    }
    if (!modules->empty() && !recompute_given) plan.recompute = Recompute::selective;
    if (!modules->empty() && plan.recompute == Recompute::none && recompute_given && !recompute_to_pick_) {
      p->problem("recompute_modules", "needs \"recompute\": \"selective\" (or no recompute key), got \"none\"");
    }
  }
  if (const auto layers = p->integer("recompute_layers", Need::optional, kAtLeastOne)) {
    if (plan.recompute == Recompute::full) {
      plan.recompute_layers = static_cast<int>(*layers);
    } else {
      p->problem("recompute_layers", fmt::format("counts the layers of each stage that full recomputation redoes "
                                                 "(Megatron's block method); needs \"recompute\": \"full\", got \"{}\"",
                                                 recompute));
    }
  }
  plan.reshard_after_forward = p->boolean("reshard_after_forward", Need::optional).value_or(true);
  plan.unsharded_gradient_accumulation =
      p->boolean("unsharded_gradient_accumulation", Need::optional).value_or(false);
  plan.shard_group = static_cast<int>(p->integer("shard_group", Need::optional, kAtLeastOne).value_or(0));
  static const std::vector<std::string> kMoments{"fp32", "bf16"};
  plan.optimizer_moment_bytes = p->choice("optimizer_moments", Need::optional, kMoments).value_or("fp32") == "bf16"
                                    ? 2.0
                                    : 4.0;
  plan.gradient_bytes = p->choice("gradients", Need::optional, kMoments).value_or("fp32") == "bf16" ? 2.0 : 4.0;
  static const std::vector<std::string> kMasters{"fp32", "bf16_residual"};
  plan.master_weight_bytes =
      p->choice("master_weights", Need::optional, kMasters).value_or("fp32") == "bf16_residual" ? 2.0 : 4.0;
  plan.offload_activation_layers =
      static_cast<int>(p->integer("offload_activation_layers", Need::optional, {.min = 0}).value_or(0));
  plan.optimizer_offload_fraction = p->number("optimizer_offload_fraction", Need::optional, {.min = 0, .max = 1}).value_or(0);
  plan.moe_capacity_factor =
      p->number("moe_capacity_factor", Need::optional, {.min = 0, .max = 64, .min_exclusive = true}).value_or(0);
  static const std::vector<std::string> kLayouts{"even", "balanced"};
  const auto layout = p->choice("layout", Need::optional, kLayouts);
  plan.layout = layout == "balanced" ? PipelineLayout::balanced : PipelineLayout::even;
  if (const auto* raw = p->raw("stage_layers", Need::optional)) {
    const bool ok = raw->is_array() && !raw->empty() && std::all_of(raw->begin(), raw->end(), [](const auto& v) {
      return v.is_number_integer() && v.template get<long>() >= 0;
    });
    if (!ok) {
      p->problem("stage_layers", fmt::format("expected a non-empty array of layer counts (integers >= 0), got {}",
                                             describe_json(*raw)));
    } else if (layout) {
      p->problem("layout", "give either layout or stage_layers, not both");
    } else {
      for (const auto& v : *raw) plan.stage_layers.push_back(v.template get<int>());
      plan.layout = PipelineLayout::listed;
    }
  }
  read_pin(*p);
  p->finish();
}

// "pin": the dimensions the plan search keeps at this block's values, listed, or "stated" for every dimension whose
// key the block gives (stage_layers pins the layout, recompute_modules and recompute_layers the recomputation); the
// rest are searched.
void ScenarioParser::read_pin(JsonReader& p) {
  const auto* raw = p.raw("pin", Need::optional);
  if (raw == nullptr) return;
  const auto& known = plan_dimensions();
  std::set<std::string> pinned;
  if (raw->is_string() && raw->get<std::string>() == "stated") {
    for (const auto& key : known) {
      if (p.has(key)) pinned.insert(key);
    }
    if (p.has("stage_layers")) pinned.insert("layout");
    if (p.has("recompute_modules") || p.has("recompute_layers")) pinned.insert("recompute");
  } else if (raw->is_array()) {
    const auto names = p.strings("pin", Need::optional).value_or(std::vector<std::string>{});
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (std::find(known.begin(), known.end(), names[i]) != known.end()) {
        pinned.insert(names[i]);
      } else {
        p.problem_at("pin", i, fmt::format("\"{}\" is not a dimension of the plan search{}; the dimensions: {}",
                                           names[i], did_you_mean(names[i], known), join(known, ", ")));
      }
    }
  } else {
    p.problem("pin", fmt::format("expected \"stated\" or an array of the plan search's dimensions ({}), got {}",
                                 join(known, ", "), describe_json(*raw)));
  }
  scenario_.pinned.assign(pinned.begin(), pinned.end());
}

void ScenarioParser::read_training(JsonReader& root) {
  auto t = root.object("training", Need::required);
  if (!t) return;
  auto& training = job().training;
  training.seq_len = static_cast<int>(t->integer("seq_len", Need::required, {.min = 1, .max = 1 << 24}).value_or(1));
  training.global_batch = t->integer("global_batch", Need::required, {.min = 1, .max = 1L << 40}).value_or(1);
  static const std::vector<std::string> kPrecisions = [] {
    std::vector<std::string> names;
    for (auto precision : kAllPrecisions) names.emplace_back(to_string(precision));
    return names;
  }();
  training.precision =
      parse_precision(t->choice("precision", Need::optional, kPrecisions).value_or("bf16")).value_or(Precision::bf16);
  // The precisions the plan search tries (the chip must run each); the scenario's precision alone where none.
  if (auto names = t->strings("search_precisions", Need::optional)) {
    const Chip& chip = job().cluster.chip;
    for (std::size_t i = 0; i < names->size(); ++i) {
      const auto precision = parse_precision((*names)[i]);
      if (!precision) {
        t->problem_at("search_precisions", i, fmt::format("unknown precision \"{}\"{}; known: {}", (*names)[i],
                                                          did_you_mean((*names)[i], kPrecisions),
                                                          join(kPrecisions, ", ")));
      } else if (const auto why = unsupported_precision(chip, *precision); why && !chip.id.empty()) {
        t->problem_at("search_precisions", i, *why);
      } else {
        scenario_.search_precisions.push_back(*precision);
      }
    }
    if (names->empty()) t->problem("search_precisions", "lists no precision; leave it out to search the precision alone");
  }
  tokens_given_ = t->number("tokens", Need::optional, {.min = 0, .max = 1e18, .min_exclusive = true});
  training.dropout = t->boolean("dropout", Need::optional).value_or(false);
  training.flash_attention = t->boolean("flash_attention", Need::optional).value_or(true);
  static const std::vector<std::string> kKernels{"fused", "flash2"};
  training.flash2 = t->choice("attention_kernel", Need::optional, kKernels).value_or("fused") == "flash2";
  if (training.flash2 && !training.flash_attention) {
    t->problem("attention_kernel", "\"flash2\" is a FlashAttention kernel; flash_attention is false");
  }
  static const std::vector<std::string> kGraphs{"none", "full_iteration"};
  training.full_iteration_graph =
      t->choice("cuda_graphs", Need::optional, kGraphs).value_or("none") == "full_iteration";
  training.fused_expert_mlp = t->boolean("fused_expert_mlp", Need::optional).value_or(false);
  training.rope_fusion = t->boolean("rope_fusion", Need::optional).value_or(true);
  training.gradient_accumulation_fusion = t->boolean("gradient_accumulation_fusion", Need::optional).value_or(true);
  static const std::vector<std::string> kLosses{"fused", "pytorch"};
  training.pytorch_cross_entropy = t->choice("cross_entropy", Need::optional, kLosses).value_or("fused") == "pytorch";
  t->finish();
}

void ScenarioParser::read_costs(JsonReader& root) {
  auto c = root.object("costs", Need::optional);
  auto& costs = job().costs;
  const auto& a = catalogs_.assumptions;
  std::optional<double> rental;
  std::optional<JsonReader> ownership;
  std::optional<double> pue;
  std::optional<double> electricity;
  if (c) {
    rental = c->number("usd_per_chip_hour", Need::optional, {.min = 0, .max = 1e4});
    electricity = c->number("electricity_usd_per_kwh", Need::optional, {.min = 0, .max = 10});
    pue = c->number("pue", Need::optional, {.min = 1.0, .max = 5.0});
    ownership = c->object("ownership", Need::optional);
    if (rental && ownership) c->problem("ownership", "give either usd_per_chip_hour (rental) or ownership, not both");
  }
  costs.pue = pue.value_or(a.pue);
  costs.electricity_usd_per_kwh = electricity.value_or(a.electricity_usd_per_kwh);
  if (!pue) scenario_.defaults_used.push_back(fmt::format("costs.pue = {:g} (assumptions.json)", costs.pue));
  if (!electricity) {
    scenario_.defaults_used.push_back(
        fmt::format("costs.electricity_usd_per_kwh = {:g} (assumptions.json)", costs.electricity_usd_per_kwh));
  }
  const auto& chip = job().cluster.chip;
  if (ownership) {
    costs.mode = CostMode::ownership;
    auto chip_capex = ownership->number("chip_capex_usd", Need::optional, {.min = 0, .max = 1e8});
    auto node_capex = ownership->number("node_capex_usd", Need::optional, {.min = 0, .max = 1e9});
    costs.network_capex_usd = ownership->number("network_capex_usd", Need::optional, {.min = 0, .max = 1e12});
    auto years = ownership->number("depreciation_years", Need::optional, {.min = 0, .max = 50, .min_exclusive = true});
    ownership->finish();
    if (chip_capex) {
      costs.chip_capex_usd = *chip_capex;
    } else if (chip.price) {
      costs.chip_capex_usd = chip.price->value;
      scenario_.catalog_prices.chip = true;
      scenario_.defaults_used.push_back(fmt::format("costs.ownership.chip_capex_usd = {:g} (catalog price of {})",
                                                    costs.chip_capex_usd, chip.id));
    } else if (!chip.id.empty()) {
      ownership->problem("chip_capex_usd", fmt::format("is required: the catalog has no price for {}", chip.id));
    }
    costs.node_capex_usd = node_capex.value_or(job().cluster.node.host_capex.value);
    scenario_.catalog_prices.node = !node_capex.has_value();
    costs.depreciation_years = years.value_or(a.depreciation_years);
  } else {
    costs.mode = CostMode::rental;
    if (rental) {
      costs.usd_per_chip_hour = *rental;
    } else if (chip.rental_price) {
      costs.usd_per_chip_hour = chip.rental_price->value;
      scenario_.catalog_prices.chip = true;
      scenario_.defaults_used.push_back(fmt::format("costs.usd_per_chip_hour = {:g} (catalog rental price of {})",
                                                    costs.usd_per_chip_hour, chip.id));
    } else if (!chip.id.empty()) {
      problems_.push_back({file_, "/costs/usd_per_chip_hour",
                           fmt::format("is required: the catalog has no rental price for {} (or give costs.ownership)",
                                       chip.id)});
    }
  }
  if (c) c->finish();
  read_stage_prices();
}

void ScenarioParser::read_stage_prices() {
  const bool rental = job().costs.mode == CostMode::rental;
  const std::string key = rental ? "usd_per_chip_hour" : "chip_capex_usd";
  const std::string wrong_key = rental ? "chip_capex_usd" : "usd_per_chip_hour";
  const char* what = rental ? "rental price" : "price";
  auto& groups = job().cluster.stage_chips;
  scenario_.catalog_prices.stage_groups.assign(groups.size(), false);
  for (std::size_t i = 0; i < groups.size(); ++i) {
    auto& group = groups[i];
    const auto& given = stage_prices_[i];
    const auto& price = rental ? given.usd_per_chip_hour : given.chip_capex_usd;
    if (rental ? given.chip_capex_usd : given.usd_per_chip_hour) {
      problems_.push_back({file_, given.path + "/" + wrong_key,
                           rental ? "applies to ownership costs; this scenario rents (give usd_per_chip_hour)"
                                  : "applies to rental costs; this scenario owns its chips (give chip_capex_usd)"});
    }
    double& target = rental ? group.usd_per_chip_hour : group.chip_capex_usd;
    const auto& catalog = rental ? group.chip.rental_price : group.chip.price;
    if (price) {
      target = *price;
    } else if (catalog) {
      target = catalog->value;
      scenario_.catalog_prices.stage_groups[i] = true;
      scenario_.defaults_used.push_back(fmt::format("{}.{} = {:g} (catalog {} of {})", dotted(given.path), key,
                                                    catalog->value, what, group.chip.id));
    } else {
      problems_.push_back({file_, given.path + "/" + key,
                           fmt::format("is required: the catalog has no {} for {}", what, group.chip.id)});
    }
  }
}

std::string ScenarioParser::dotted(const std::string& pointer) {
  std::string out;
  std::size_t start = 1;
  while (start <= pointer.size()) {
    const auto end = std::min(pointer.find('/', start), pointer.size());
    const std::string part = pointer.substr(start, end - start);
    const bool index = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
    out += index ? "[" + part + "]" : (out.empty() ? "" : ".") + part;
    start = end + 1;
  }
  return out;
}

}  // namespace flopcast::scenario_detail
