#include "flopcast/studies/planner.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <tuple>

#include <fmt/format.h>

#include "flopcast/core/errors.hpp"
#include "flopcast/models/memory.hpp"

namespace flopcast {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::vector<int> powers_of_two_up_to(int limit) {
  std::vector<int> out;
  for (int v = 1; v <= limit; v *= 2) out.push_back(v);
  return out;
}

// Pipeline depths: powers of two and divisors of the layers, up to the layers.
std::vector<int> pipeline_depths(int layers) {
  std::vector<int> out = powers_of_two_up_to(layers);
  for (int d = 1; d <= layers; ++d) {
    if (layers % d == 0) out.push_back(d);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Calls `visit` with every plan of the space that divides the cluster, the model and the batch.
template <class Visit>
void enumerate_plans(const TrainingJob& job, const ParallelPlan& settings, Visit&& visit) {
  const auto& m = job.model;
  const long chips = job.cluster.chips;
  const int node = std::max(1, job.cluster.node.chip_count());
  const bool moe = m.is_moe();
  for (int tp : powers_of_two_up_to(node)) {
    if (m.heads % tp != 0 || (m.kv_heads > 0 && !m.mla && m.kv_heads % tp != 0 && tp % m.kv_heads != 0)) continue;
    for (int cp : {1, 2, 4, 8}) {
      if (job.training.seq_len % cp != 0) continue;
      for (int pp : pipeline_depths(m.layers)) {
        const long model_parallel = static_cast<long>(tp) * cp * pp;
        if (chips % model_parallel != 0) continue;
        const int dp = static_cast<int>(chips / model_parallel);
        std::vector<int> eps{1};
        if (moe) {
          eps.clear();
          for (int ep : powers_of_two_up_to(m.moe->experts)) {
            if (m.moe->experts % ep == 0 && (static_cast<long>(tp) * cp * dp) % ep == 0) eps.push_back(ep);
          }
        }
        // Schedules: (schedule, vpp).
        std::vector<std::pair<Schedule, int>> schedules{{Schedule::one_f_one_b, 1}};
        if (pp > 1) {
          for (int vpp : {2, 4, 8}) {
            if (pp * vpp <= m.layers) schedules.emplace_back(Schedule::interleaved, vpp);
          }
          if (pp % 2 == 0 && moe) schedules.emplace_back(Schedule::dualpipe, 1);
        }
        for (int ep : eps) {
          for (const auto& [schedule, vpp] : schedules) {
            for (int zero : {1, 3}) {
              if (zero == 3 && pp > 1) continue;
              for (int micro_batch : {1, 2, 4}) {
                if (job.training.global_batch % (static_cast<long>(dp) * micro_batch) != 0) continue;
                for (auto recompute : {Recompute::none, Recompute::selective, Recompute::full}) {
                  // With FlashAttention no score matrix is stored, so selective recompute is the same plan as none.
                  if (recompute == Recompute::selective && job.training.flash_attention) continue;
                  ParallelPlan p = settings;
                  p.tp = tp;
                  p.pp = pp;
                  p.dp = dp;
                  p.cp = cp;
                  p.ep = ep;
                  p.vpp = vpp;
                  // A listed layout belongs to the scenario's own pipeline: another depth balances its own stages.
                  if (p.layout == PipelineLayout::listed &&
                      static_cast<long>(p.stage_layers.size()) != static_cast<long>(pp) * vpp) {
                    p.layout = PipelineLayout::balanced;
                    p.stage_layers.clear();
                  }
                  p.schedule = schedule;
                  p.sp = tp > 1;
                  p.zero = zero;
                  p.micro_batch = micro_batch;
                  p.recompute = recompute;
                  // The scenario's expert all-to-all overlap, where the candidate can run it.
                  p.ep_comm_overlap = settings.ep_comm_overlap && p.can_overlap_expert_comm();
                  // Its expert tensor parallelism where the candidate's ranks divide into it, its activation
                  // offloading without a pipeline (Megatron refuses it with one).
                  if ((static_cast<long>(tp) * cp * dp) % (static_cast<long>(ep) * p.etp) != 0) p.etp = 1;
                  if (pp > 1) p.offload_activation_layers = 0;
                  if (job.model.heads % (tp * cp) != 0) p.cp_algo = ContextParallelAlgo::ring;
                  visit(p);
                }
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace

std::string plan_summary(const ParallelPlan& p) {
  std::string pipeline = fmt::format("pp {}", p.pp);
  if (p.pp > 1) {
    pipeline += p.schedule == Schedule::interleaved ? fmt::format(" (interleaved, vpp {})", p.vpp)
                                                    : fmt::format(" ({})", to_string(p.schedule));
  }
  std::string text = fmt::format("tp {}{}, {}, dp {}", p.tp, p.sp ? " + sp" : "", pipeline, p.dp);
  if (p.ep > 1) text += fmt::format(", ep {}{}", p.ep, p.ep_comm_overlap ? " (overlapped)" : "");
  if (p.cp > 1) text += fmt::format(", cp {}", p.cp);
  return text + fmt::format(", zero {}, micro-batch {}, recompute {}", p.zero, p.micro_batch, to_string(p.recompute));
}

PlanSearchResult search_plans(const Scenario& scenario, const Catalogs& catalogs, const PlanSearchOptions& options) {
  const auto& a = catalogs.assumptions;
  PlanSearchResult out;
  const auto topology = build_topology(topology_spec(scenario.job.cluster));
  EstimateOptions estimate_options;
  estimate_options.topology = &topology;
  const auto params = count_params(scenario.job.model);

  // Tier 1 over the space; memory first, as it costs a fraction of an estimate. This pass leaves out the pipeline's
  // fill and drain, whose walk over every micro-batch on every stage costs more than the rest of an estimate: the
  // bubble is never negative, so each step time here is a lower bound.
  const auto t0 = Clock::now();
  std::vector<PlanCandidate> bounds;
  TrainingJob job = scenario.job;
  const long shards = std::max(1, options.shards);
  EstimateOptions bound_options = estimate_options;
  bound_options.bubble = false;
  enumerate_plans(scenario.job, scenario.job.plan, [&](const ParallelPlan& plan) {
    if (out.enumerated++ % shards != options.shard) return;
    job.plan = plan;
    const auto memory = training_memory(job, params, a);
    using Status = EvaluatedPlan::Status;
    if (!memory.fits) {
      ++out.out_of_memory;
      if (options.each) options.each({plan, Status::out_of_memory, memory, nullptr, ""});
      return;
    }
    try {
      bounds.push_back({plan, estimate_training(job, a, bound_options), Tier::analytical, 0});
      ++out.evaluated;
      if (options.each) {
        const auto full = estimate_training(job, a, estimate_options);
        options.each({plan, Status::estimated, memory, &full, ""});
      }
    } catch (const ModelError& error) {
      ++out.invalid;  // a schedule the batch cannot fill (too few micro-batches), and the like
      if (options.each) options.each({plan, Status::not_runnable, memory, nullptr, error.what()});
    }
  });
  // The full estimate in order of the bound, until the bound reaches the K-th best step time: no later plan can rank
  // (one with an equal bound still can, on the tie-break).
  std::sort(bounds.begin(), bounds.end(), ranks_before);
  const auto keep = static_cast<std::size_t>(std::max(1, options.top_k));
  std::vector<PlanCandidate> ranked;  // the best so far, fastest first, at most `keep`
  for (auto& c : bounds) {
    if (ranked.size() == keep && c.estimate.step_time_s > ranked.back().estimate.step_time_s) break;
    job.plan = c.plan;
    c.estimate = estimate_training(job, a, estimate_options);
    c.tier1_step_time_s = c.estimate.step_time_s;
    ++out.pipelines_walked;
    ranked.insert(std::upper_bound(ranked.begin(), ranked.end(), c, ranks_before), std::move(c));
    if (ranked.size() > keep) ranked.pop_back();
  }
  out.tier1_wall_s = seconds_since(t0);

  // The best K (and the scenario's own plan) at the re-rank tier.
  const auto t1 = Clock::now();
  rerank(scenario, catalogs, ranked, options.rerank_tier);
  if (options.compare_given) {
    try {
      PlanCandidate given{scenario.job.plan, estimate_training(scenario.job, a, estimate_options), Tier::analytical, 0};
      given.tier1_step_time_s = given.estimate.step_time_s;
      std::vector<PlanCandidate> one{std::move(given)};
      rerank(scenario, catalogs, one, options.rerank_tier);
      out.given = std::move(one.front());
    } catch (const ModelError&) {
      // the scenario's own plan does not run (left out of the comparison)
    }
  }
  out.rerank_wall_s = seconds_since(t1);
  out.best = std::move(ranked);
  return out;
}

void rerank(const Scenario& scenario, const Catalogs& catalogs, std::vector<PlanCandidate>& candidates, Tier tier) {
  if (tier != Tier::analytical) {
    for (auto& c : candidates) {
      Scenario s = scenario;
      s.job.plan = c.plan;
      SimOptions sim;
      sim.tier = tier;
      sim.whole_run = false;  // plans are ranked by step time; a failure model would add the same run to each
      c.estimate = simulate_scenario(s, catalogs, sim).estimate;
      c.tier = tier;
    }
  }
  std::sort(candidates.begin(), candidates.end(), ranks_before);
}

bool ranks_before(const PlanCandidate& a, const PlanCandidate& b) {
  if (a.estimate.step_time_s != b.estimate.step_time_s) return a.estimate.step_time_s < b.estimate.step_time_s;
  const auto key = [](const ParallelPlan& p) {
    return std::make_tuple(p.tp, p.pp, p.vpp, static_cast<int>(p.schedule), p.dp, p.ep, p.cp, p.zero, p.micro_batch,
                           static_cast<int>(p.recompute));
  };
  return key(a.plan) < key(b.plan);
}

PlanCandidate estimate_plan(const Scenario& scenario, const ParallelPlan& plan, const Catalogs& catalogs) {
  TrainingJob job = scenario.job;
  job.plan = plan;
  PlanCandidate c{plan, estimate_training(job, catalogs.assumptions), Tier::analytical, 0};
  c.tier1_step_time_s = c.estimate.step_time_s;
  return c;
}

Scenario with_cluster(const Scenario& scenario, const Chip& chip, int chips, const Catalogs& catalogs) {
  Scenario out = scenario;
  auto& job = out.job;
  const Node* node = catalogs.hardware.find_node(chip.default_node);
  if (node == nullptr) throw ModelError(fmt::format("{} has no default node in the catalog", chip.id));
  if (chips <= 0 || chips % node->chip_count() != 0) {
    throw ModelError(fmt::format("{} chips do not fill whole {} nodes of {}", chips, node->id, node->chip_count()));
  }
  job.cluster.chip = chip;
  job.cluster.node = *node;
  job.cluster.chips = chips;
  job.cluster.nodes = chips / node->chip_count();
  job.cluster.nics_per_node = node->nic_count();
  job.cluster.stage_chips.clear();
  // A two-tier fat tree that cannot hold the larger cluster grows a third tier, as a builder would.
  if (job.cluster.topology == TopologyKind::fat_tree_2) {
    try {
      (void)build_topology(topology_spec(job.cluster));
    } catch (const ModelError&) {
      job.cluster.topology = TopologyKind::fat_tree_3;
    }
  }
  if (!chip.peak(gemm_data_type(job.training.precision))) job.training.precision = Precision::bf16;
  const bool rental = job.costs.mode == CostMode::rental;
  const auto& price = rental ? chip.rental_price : chip.price;
  if (!price) throw ModelError(fmt::format("the catalog has no {} for {}", rental ? "rental price" : "price", chip.id));
  (rental ? job.costs.usd_per_chip_hour : job.costs.chip_capex_usd) = price->value;
  if (!rental) job.costs.node_capex_usd = node->host_capex.value;
  out.catalog_prices = {true, !rental, {}};
  out.name = fmt::format("{} on {} x {}", job.model.name, chips, chip.id);
  return out;
}

Scenario with_default_fabric(const Scenario& scenario, const Chip& chip, const Catalogs& catalogs) {
  Scenario out = scenario;
  if (chip.default_node == scenario.job.cluster.node.id) return out;
  const Node* node = catalogs.hardware.find_node(chip.default_node);
  const Fabric* fabric = node != nullptr ? catalogs.hardware.find_fabric(node->default_fabric) : nullptr;
  if (fabric != nullptr) out.job.cluster.fabric = *fabric;
  return out;
}

SizedPlan best_plan_at(const Scenario& scenario, const Chip& chip, int chips, const Catalogs& catalogs) {
  SizedPlan out{chip.id, chips, std::nullopt};
  PlanSearchOptions options;
  options.top_k = 1;
  options.rerank_tier = Tier::analytical;
  options.compare_given = false;
  try {
    auto result = search_plans(with_cluster(scenario, chip, chips, catalogs), catalogs, options);
    if (!result.best.empty()) out.best = std::move(result.best.front());
  } catch (const ModelError&) {
    // a cluster the fabric cannot build: no plan at this size
  }
  return out;
}

std::optional<SizedPlan> fewest_chips(const Scenario& scenario, const Chip& chip, double days, int max_chips,
                                      const Catalogs& catalogs) {
  const Node* node = catalogs.hardware.find_node(chip.default_node);
  if (node == nullptr) return std::nullopt;
  const int unit = node->chip_count();
  const auto meets = [&](const SizedPlan& p) { return p.best && p.best->estimate.train_days <= days; };
  int missed = 0;  // nodes
  std::optional<SizedPlan> met;
  for (int nodes = 1; static_cast<long>(nodes) * unit <= max_chips; nodes *= 2) {
    auto p = best_plan_at(scenario, chip, nodes * unit, catalogs);
    if (meets(p)) {
      met = std::move(p);
      break;
    }
    missed = nodes;
  }
  if (!met) return std::nullopt;
  int hi = met->chips / unit;
  int lo = missed;
  while (hi - lo > 1) {
    const int mid = lo + (hi - lo) / 2;
    auto p = best_plan_at(scenario, chip, mid * unit, catalogs);
    if (meets(p)) {
      hi = mid;
      met = std::move(p);
    } else {
      lo = mid;
    }
  }
  return met;
}

std::vector<SizedPlan> pareto_front(const Scenario& scenario, const std::vector<const Chip*>& chips, int min_chips,
                                    int max_chips, const Catalogs& catalogs) {
  std::vector<SizedPlan> points;
  for (const Chip* chip : chips) {
    const Node* node = catalogs.hardware.find_node(chip->default_node);
    if (node == nullptr) continue;
    const int unit = node->chip_count();
    for (int n = std::max(unit, (min_chips + unit - 1) / unit * unit); n <= max_chips; n *= 2) {
      auto p = best_plan_at(with_default_fabric(scenario, *chip, catalogs), *chip, n, catalogs);
      if (p.best) points.push_back(std::move(p));
    }
  }
  // Fastest first; keep each point cheaper than every faster one.
  std::vector<std::pair<double, std::size_t>> by_days;  // (days, index into points)
  for (std::size_t i = 0; i < points.size(); ++i) by_days.emplace_back(points[i].best->estimate.train_days, i);
  std::sort(by_days.begin(), by_days.end());
  std::vector<SizedPlan> front;
  double cheapest = std::numeric_limits<double>::infinity();
  for (const auto& [days, i] : by_days) {
    const double cost = points[i].best->estimate.energy_cost.cost_usd;
    if (cost < cheapest) {
      cheapest = cost;
      front.push_back(std::move(points[i]));
    }
  }
  return front;
}

}  // namespace flopcast
