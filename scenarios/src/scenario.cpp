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

namespace flopcast {
namespace fs = std::filesystem;

Catalogs load_catalogs(const fs::path& root) {
  return Catalogs{load_catalog(root), load_model_catalog(root), load_assumptions(root), load_failure_data(root)};
}

namespace {

constexpr IntegerBounds kAtLeastOne{.min = 1, .max = 1 << 30};

class ScenarioParser {
 public:
  ScenarioParser(const nlohmann::json& json, std::string file, fs::path base_dir, const Catalogs& catalogs)
      : json_(json), file_(std::move(file)), base_dir_(std::move(base_dir)), catalogs_(catalogs) {}

  Scenario parse() {
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

 private:
  TrainingJob& job() { return scenario_.job; }

  void read_model(JsonReader& root) {
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

  void read_cluster(JsonReader& root) {
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

  void read_published(JsonReader& root) {
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

  // A mixed fleet: {"stages": [2, 3], "chip": "h20", "node": "hgx-h20"}; the node defaults to the chip's.
  void read_stage_chips(JsonReader& cluster, const Node* cluster_node) {
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

  void read_parallelism(JsonReader& root) {
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
    static const std::vector<std::string> kSchedules{"gpipe", "1f1b", "interleaved", "dualpipe"};
    const auto schedule = p->choice("schedule", Need::optional, kSchedules);
    plan.schedule = !schedule                  ? (plan.vpp > 1 ? Schedule::interleaved : Schedule::one_f_one_b)
                    : *schedule == "gpipe"     ? Schedule::gpipe
                    : *schedule == "interleaved" ? Schedule::interleaved
                    : *schedule == "dualpipe"  ? Schedule::dualpipe
                                               : Schedule::one_f_one_b;
    plan.tp_comm_overlap = p->boolean("tp_comm_overlap", Need::optional).value_or(false);
    plan.dp_overlap = p->boolean("dp_overlap", Need::optional).value_or(true);
    plan.ep_comm_overlap = p->boolean("ep_comm_overlap", Need::optional).value_or(false);
    static const std::vector<std::string> kDispatchers{"deepep", "alltoall", "hybridep"};
    const auto dispatcher = p->choice("moe_dispatcher", Need::optional, kDispatchers).value_or("deepep");
    plan.dispatcher = dispatcher == "alltoall"   ? MoeDispatcher::alltoall
                      : dispatcher == "hybridep" ? MoeDispatcher::hybridep
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
    plan.reshard_after_forward = p->boolean("reshard_after_forward", Need::optional).value_or(true);
    plan.unsharded_gradient_accumulation =
        p->boolean("unsharded_gradient_accumulation", Need::optional).value_or(false);
    plan.shard_group = static_cast<int>(p->integer("shard_group", Need::optional, kAtLeastOne).value_or(0));
    static const std::vector<std::string> kMoments{"fp32", "bf16"};
    plan.optimizer_moment_bytes = p->choice("optimizer_moments", Need::optional, kMoments).value_or("fp32") == "bf16"
                                      ? 2.0
                                      : 4.0;
    plan.gradient_bytes = p->choice("gradients", Need::optional, kMoments).value_or("fp32") == "bf16" ? 2.0 : 4.0;
    plan.offload_activation_layers =
        static_cast<int>(p->integer("offload_activation_layers", Need::optional, {.min = 0}).value_or(0));
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
    p->finish();
  }

  void read_training(JsonReader& root) {
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
    static const std::vector<std::string> kLosses{"fused", "pytorch"};
    training.pytorch_cross_entropy = t->choice("cross_entropy", Need::optional, kLosses).value_or("fused") == "pytorch";
    t->finish();
  }

  void read_costs(JsonReader& root) {
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

  // Each stage group's price: given with the group, or the catalog's for its chip.
  void read_stage_prices() {
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

  // "/cluster/stage_chips/0" -> "cluster.stage_chips[0]" for the defaults list.
  static std::string dotted(const std::string& pointer) {
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

  // Cross-field checks once every field is read: products, divisibility, precision support.
  void check_plan() {
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
      const int vpp = plan.schedule == Schedule::interleaved ? plan.vpp : 1;
      long listed = 0;
      for (int n : plan.stage_layers) listed += n;
      if (static_cast<long>(plan.stage_layers.size()) != static_cast<long>(plan.pp) * vpp) {
        problem("/parallelism/stage_layers", fmt::format("lists {} stages, but pp x vpp is {}",
                                                         plan.stage_layers.size(), plan.pp * vpp));
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
    if (plan.schedule == Schedule::dualpipe && plan.pp % 2 != 0) {
      problem("/parallelism/pp", fmt::format("DualPipe needs an even number of stages, got {}", plan.pp));
    }
    if (dispatcher_given_ && !model.moe) {
      problem("/parallelism/moe_dispatcher", fmt::format("routes tokens to experts; {} is dense", model.name));
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
    const DataType gemm_type = gemm_data_type(training.precision);
    if (!cluster.chip.peak(gemm_type)) {
      problem("/training/precision", fmt::format("{} has no {} tensor cores (no {} peak in the catalog); use \"bf16\"",
                                                 cluster.chip.id, to_string(training.precision), to_string(gemm_type)));
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
      if (!group.chip.peak(gemm_type)) {
        problem(path + "/chip", fmt::format("{} has no {} tensor cores; use \"bf16\" training", group.chip.id,
                                            to_string(training.precision)));
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

  nlohmann::json resolved_json() const {
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

  const nlohmann::json& json_;
  std::string file_;
  fs::path base_dir_;
  const Catalogs& catalogs_;
  std::vector<Problem> problems_;
  Scenario scenario_;
  // The interleaved schedule without a virtual-stage count: the vpp (2 up to the layers per stage) whose tier-1 step
  // is fastest among the plans that fit in memory (or fastest of all when none fits), as the planner would pick it;
  // listed in the defaults used, with every candidate tried.
  void pick_virtual_stages() {
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

  // "recompute": "auto": the least recomputation (none, then selective, then full) under which the plan fits in
  // memory, as a run that ran must have used; full where none fits. Listed in the defaults used with each candidate's
  // memory. Full is not a candidate with ep_comm_overlap (combined 1F1B cannot run with it).
  void pick_recompute() {
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

  bool recompute_to_pick_ = false;
  bool vpp_given_ = false;
  bool dispatcher_given_ = false;
  bool vpp_to_pick_ = false;
  std::optional<std::int64_t> dp_given_;
  std::optional<double> tokens_given_;
  struct StagePrices {
    std::optional<double> usd_per_chip_hour;
    std::optional<double> chip_capex_usd;
    std::string path;
  };
  std::vector<StagePrices> stage_prices_;  // as given, per /cluster/stage_chips element
};

}  // namespace

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
  if (p.etp > 1) j["etp"] = p.etp;
  if (p.cp_algo == ContextParallelAlgo::ulysses) j["cp_algo"] = "ulysses";
  if (p.ep_comm_overlap) j["ep_comm_overlap"] = true;
  if (p.dispatcher != MoeDispatcher::deepep) j["moe_dispatcher"] = std::string(to_string(p.dispatcher));
  if (p.recompute == Recompute::selective && p.recompute_modules.any()) {
    j["recompute_modules"] = recompute_module_names(p.recompute_modules);
  }
  if (p.zero >= 3) j["reshard_after_forward"] = p.reshard_after_forward;
  if (p.unsharded_gradient_accumulation) j["unsharded_gradient_accumulation"] = true;
  if (p.shard_group > 0) j["shard_group"] = p.shard_group;
  j["optimizer_moments"] = p.optimizer_moment_bytes < 4.0 ? "bf16" : "fp32";
  if (p.gradient_bytes < 4.0) j["gradients"] = "bf16";
  if (p.offload_activation_layers > 0) j["offload_activation_layers"] = p.offload_activation_layers;
  if (p.layout == PipelineLayout::listed) {
    j["stage_layers"] = p.stage_layers;
  } else {
    j["layout"] = p.layout == PipelineLayout::balanced ? "balanced" : "even";
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
