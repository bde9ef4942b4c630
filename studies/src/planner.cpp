#include "flopcast/studies/planner.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <set>
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

// Virtual stages per pipeline rank: every count whose virtual stages hold the layers evenly, and 2, 4 and 8 where they
// do not (the first stages take one more layer, or the layout balances them).
std::vector<int> virtual_stage_counts(int layers, int pp) {
  std::vector<int> out;
  for (int vpp = 2; static_cast<long>(pp) * vpp <= layers; ++vpp) {
    if (layers % (pp * vpp) == 0 || vpp == 2 || vpp == 4 || vpp == 8) out.push_back(vpp);
  }
  return out;
}

// Sequences per micro-batch: the divisors of a replica's batch, up to kMaxMicroBatch. 32 is an estimate of where the
// gain ends: the published plans of the validation set run 1 to 16 (Megatron-Bridge's Llama 3 8B: 16), and a larger
// micro-batch only lengthens the pipeline's fill and drain once the GEMMs are large.
constexpr long kMaxMicroBatch = 32;
std::vector<int> micro_batches(long replica_batch) {
  std::vector<int> out;
  for (long mb = 1; mb <= std::min(replica_batch, kMaxMicroBatch); ++mb) {
    if (replica_batch % mb == 0) out.push_back(static_cast<int>(mb));
  }
  return out;
}

// What is recomputed: nothing; Megatron's selective recompute (the attention core without FlashAttention; with it,
// the cheap element-wise modules: layer norms, the MoE activation, MLA's up-projection); everything.
std::vector<std::pair<Recompute, RecomputeModules>> recompute_choices(const TrainingJob& job) {
  std::vector<std::pair<Recompute, RecomputeModules>> out{{Recompute::none, {}}};
  if (!job.training.flash_attention) {
    out.push_back({Recompute::selective, {}});
  } else {
    RecomputeModules modules;
    modules.layernorm = true;
    modules.moe_act = job.model.is_moe();
    modules.mla_up_proj = job.model.mla.has_value();
    out.push_back({Recompute::selective, modules});
  }
  out.push_back({Recompute::full, {}});
  return out;
}

// The values of one dimension: the scenario's alone where it is pinned.
template <class T>
std::vector<T> pinned_or(const std::set<std::string>& pinned, const char* key, T given, std::vector<T> free) {
  if (pinned.count(key) == 0) return free;
  return std::find(free.begin(), free.end(), given) != free.end() ? std::vector<T>{given} : std::vector<T>{};
}

// The least tier 2 can find for a plan estimated at tier 1.
double tier2_floor_s(const PlanCandidate& c) { return c.tier1_step_time_s * (1.0 - tier_gap(c.plan)); }

// The fewest layers whose activations Transformer Engine's CPU offloading must move to host memory for `job`'s plan to
// fit, or 0 when none does. Megatron offloads with pp 1, no recomputation and fewer layers than the model's
// (TransformerConfig's checks); the memory only shrinks and the stall (offload_stall_s) only grows with more layers,
// so the fewest that fit make the plan's fastest variant, and when layers - 1 do not fit, no variant does.
int fewest_offloaded_layers(TrainingJob& job, const ParamCounts& params, const Assumptions& a) {
  const int original = job.plan.offload_activation_layers;
  const auto fits = [&](int layers) {
    job.plan.offload_activation_layers = layers;
    return training_memory(job, params, a).fits;
  };
  int lo = 1;
  int hi = job.model.layers - 1;
  int found = 0;
  if (hi >= lo && fits(hi)) {
    while (lo < hi) {  // the least that fits lies in [lo, hi]
      const int mid = lo + (hi - lo) / 2;
      if (fits(mid)) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    found = hi;
  }
  job.plan.offload_activation_layers = original;
  return found;
}

// The least fraction of the optimizer shard, in sixteenths, that Megatron's optimizer CPU offload must keep in host
// memory for `job`'s plan to fit, or 0 when even all of it does not; `without` is the plan's memory without it. The
// chip's memory only shrinks and the host's part of the step only grows with the fraction (a CPU Adam streams host
// DRAM far slower than the chip's HBM), so the least that fits makes the plan's fastest variant. Each stage's margin
// grows linearly, by the fraction of its optimizer bytes: the tightest stage's own need is where the search starts,
// and when it cannot fit with all of its states offloaded, no fraction fits.
double fewest_offloaded_optimizer(TrainingJob& job, const ParamCounts& params, const Assumptions& a,
                                  const MemoryReport& without) {
  constexpr int kSteps = 16;
  if (without.optimizer_bytes <= 0) return 0;
  const double need = -without.margin_bytes / without.optimizer_bytes;
  if (need > 1) return 0;
  const double original = job.plan.optimizer_offload_fraction;
  int found = 0;
  for (int steps = std::max(1, static_cast<int>(std::ceil(need * kSteps))); steps <= kSteps; ++steps) {
    job.plan.optimizer_offload_fraction = static_cast<double>(steps) / kSteps;
    if (training_memory(job, params, a).fits) {
      found = steps;
      break;
    }
  }
  job.plan.optimizer_offload_fraction = original;
  return static_cast<double>(found) / kSteps;
}

// The tie-break of equal times: by the plan's dimensions, then the precision.
bool candidate_before(const ParallelPlan& a, Precision a_precision, const ParallelPlan& b, Precision b_precision) {
  if (plan_before(a, b)) return true;
  return !plan_before(b, a) && a_precision < b_precision;
}

// What the search knows of a plan before modelling it.
enum class Known {
  nothing,
  out_of_memory,  // the same plan with a smaller micro-batch did not fit: memory never shrinks as they grow
  without_overlap,  // a plan without TP overlap whose twin with it is enumerated too (the same memory)
};

// Calls `visit(plan, known)` with every plan of the space that divides the cluster, the model and the batch, the
// pinned dimensions at the scenario's values. `visit` returns false when the plan does not fit. With `prune`, what
// can be known without the model is passed on (Known), so that the search need not model it.
template <class Visit>
void enumerate_plans(const TrainingJob& job, const ParallelPlan& settings, const std::set<std::string>& pinned,
                     bool quick, bool prune, Visit&& visit) {
  const auto& m = job.model;
  const long chips = job.cluster.chips;
  const int node = std::max(1, job.cluster.node.chip_count());
  const bool moe = m.is_moe();
  const auto pin = [&](const char* key) { return pinned.count(key) > 0; };
  std::vector<int> tps;
  for (int tp : powers_of_two_up_to(node)) {
    if (m.heads % tp != 0 || (m.kv_heads > 0 && !m.mla && m.kv_heads % tp != 0 && tp % m.kv_heads != 0)) continue;
    tps.push_back(tp);
  }
  std::vector<int> cps;
  for (int cp : {1, 2, 4, 8}) {
    if (job.training.seq_len % cp == 0) cps.push_back(cp);
  }
  // Every candidate starts from the scenario's settings; a listed layout is its pipeline's alone (layouts_for).
  ParallelPlan base = settings;
  base.stage_layers.clear();
  using Sharding = std::pair<int, bool>;  // ZeRO stage, resharding after the forward (stage 3)
  using Recomputing = std::pair<Recompute, RecomputeModules>;
  const auto recomputes = recompute_choices(job);
  for (int tp : pinned_or(pinned, "tp", settings.tp, tps)) {
    for (int cp : pinned_or(pinned, "cp", settings.cp, cps)) {
      std::vector<ContextParallelAlgo> algos{ContextParallelAlgo::ring};
      if (cp > 1 && m.heads % (tp * cp) == 0) algos.push_back(ContextParallelAlgo::ulysses);
      if (quick) algos = {cp > 1 && m.heads % (tp * cp) == 0 ? settings.cp_algo : ContextParallelAlgo::ring};
      for (auto cp_algo : pinned_or(pinned, "cp_algo", settings.cp_algo, algos)) {
        for (int pp : pinned_or(pinned, "pp", settings.pp, pipeline_depths(m.layers))) {
          const long model_parallel = static_cast<long>(tp) * cp * pp;
          if (chips % model_parallel != 0) continue;
          const int dp = static_cast<int>(chips / model_parallel);
          if (pin("dp") && dp != settings.dp) continue;
          std::vector<int> eps{1};
          if (moe) {
            eps.clear();
            for (int ep : powers_of_two_up_to(m.moe->experts)) {
              if (m.moe->experts % ep == 0 && (static_cast<long>(tp) * cp * dp) % ep == 0) eps.push_back(ep);
            }
          }
          // Schedules and their virtual stages.
          std::vector<std::pair<Schedule, int>> schedules{{Schedule::one_f_one_b, 1}};
          if (pp > 1) {
            for (int vpp : virtual_stage_counts(m.layers, pp)) {
              if (!quick || vpp == 2 || vpp == 4 || vpp == 8) schedules.emplace_back(Schedule::interleaved, vpp);
            }
            if (pp % 2 == 0 && moe) schedules.emplace_back(Schedule::dualpipe, 1);
            if (!quick) schedules.emplace_back(Schedule::zero_bubble, 1);
            if (!quick && 2L * pp <= m.layers) schedules.emplace_back(Schedule::zero_bubble_v, 1);
          }
          std::erase_if(schedules, [&](const auto& s) {
            return (pin("schedule") && s.first != settings.schedule) || (pin("vpp") && s.second != settings.vpp);
          });
          // Layouts per schedule: Megatron's even split, and the balanced one where it splits the layers otherwise;
          // the scenario's listed one where it has the candidate's depth.
          std::vector<std::vector<PipelineLayout>> layouts;  // per entry of `schedules`
          for (const auto& [schedule, vpp] : schedules) {
            auto& out = layouts.emplace_back();
            if (pin("layout")) {
              out = {settings.layout};
            } else {
              ParallelPlan even = settings;
              even.pp = pp;
              even.vpp = vpp;
              even.schedule = schedule;
              even.layout = PipelineLayout::even;
              const int stages = pp * even.chunks_per_device();
              if (settings.layout == PipelineLayout::listed && settings.stage_layers.size() == std::size_t(stages)) {
                out = {PipelineLayout::listed};
                continue;
              }
              out = {PipelineLayout::even};
              if (pp == 1 || quick) continue;
              ParallelPlan balanced = even;
              balanced.layout = PipelineLayout::balanced;
              if (stage_layouts(m, even, stages) != stage_layouts(m, balanced, stages)) {
                out.push_back(PipelineLayout::balanced);
              }
            }
          }
          // ZeRO 1 (Megatron's distributed optimizer) everywhere; 2 and 3 (FSDP, with and without resharding after
          // the forward) without a pipeline.
          std::vector<Sharding> shardings{{1, true}};
          if (pp == 1 && quick) shardings.push_back({3, true});
          if (pp == 1 && !quick) shardings.insert(shardings.end(), {{2, true}, {3, true}, {3, false}});
          std::erase_if(shardings, [&](const Sharding& s) {
            return (pin("zero") && s.first != settings.zero) ||
                   (pin("reshard_after_forward") && s.first == 3 && s.second != settings.reshard_after_forward);
          });
          auto mbs = pinned_or(pinned, "micro_batch", settings.micro_batch,
                               micro_batches(job.training.global_batch % dp == 0 ? job.training.global_batch / dp : 0));
          if (quick) std::erase_if(mbs, [](int mb) { return mb != 1 && mb != 2 && mb != 4; });
          std::vector<Recomputing> recomputings = recomputes;
          if (quick && job.training.flash_attention) std::erase_if(recomputings, [](const Recomputing& r) {
            return r.first == Recompute::selective;
          });
          if (pin("recompute")) recomputings = {{settings.recompute, settings.recompute_modules}};
          const auto tp_overlaps =
              quick ? std::vector<bool>{tp > 1 && settings.tp_comm_overlap}
                    : pinned_or(pinned, "tp_comm_overlap", settings.tp_comm_overlap,
                                tp > 1 ? std::vector<bool>{false, true} : std::vector<bool>{false});
          for (int ep : pinned_or(pinned, "ep", settings.ep, eps)) {
            for (std::size_t k = 0; k < schedules.size(); ++k) {
              const auto [schedule, vpp] = schedules[k];
              for (auto layout : layouts[k]) {
                for (const auto& [zero, reshard] : shardings) {
                  for (const auto& [recompute, modules] : recomputings) {
                    for (bool tp_overlap : tp_overlaps) {
                      for (bool ep_overlap : {false, true}) {
                        ParallelPlan p = base;
                        p.tp = tp;
                        p.pp = pp;
                        p.dp = dp;
                        p.cp = cp;
                        p.cp_algo = cp > 1 ? cp_algo : settings.cp_algo;
                        p.ep = ep;
                        p.vpp = vpp;
                        p.schedule = schedule;
                        p.layout = layout;
                        if (layout == PipelineLayout::listed) p.stage_layers = settings.stage_layers;
                        p.sp = tp > 1;
                        p.zero = zero;
                        p.reshard_after_forward = zero < 3 ? settings.reshard_after_forward : reshard;
                        p.recompute = recompute;
                        p.recompute_modules = modules;
                        // The block method's layer count stays with a pinned recomputation; the search's full
                        // recomputation redoes every layer.
                        p.recompute_layers = pin("recompute") ? settings.recompute_layers : 0;
                        p.tp_comm_overlap = tp_overlap;
                        // Megatron's combined 1F1B hides the expert all-to-alls where the candidate can run it.
                        if (ep_overlap && !p.can_overlap_expert_comm()) continue;
                        // The quick space keeps the scenario's choice where the candidate can run it.
                        const bool given_overlap = settings.ep_comm_overlap && p.can_overlap_expert_comm();
                        if (quick ? ep_overlap != given_overlap
                            : pin("ep_comm_overlap") ? ep_overlap != settings.ep_comm_overlap
                                                     : ep_overlap && !(moe && ep > 1)) {
                          continue;
                        }
                        p.ep_comm_overlap = ep_overlap;
                        // Its expert tensor parallelism where the candidate's ranks divide into it, its activation
                        // offloading without a pipeline (Megatron refuses it with one).
                        if ((static_cast<long>(tp) * cp * dp) % (static_cast<long>(ep) * p.etp) != 0) p.etp = 1;
                        if (pp > 1 || (!quick && !pin("offload_activation_layers"))) p.offload_activation_layers = 0;
                        if (zero > 1 || (!quick && !pin("optimizer_offload_fraction"))) {
                          p.optimizer_offload_fraction = 0;
                        }
                        // Micro-batches last, smallest first: memory never shrinks as they grow, so once one does
                        // not fit, the larger ones are known not to fit without the memory model.
                        const bool twin = prune && !quick && !tp_overlap && tp > 1 && !pin("tp_comm_overlap");
                        bool smaller_out_of_memory = false;
                        for (int micro_batch : mbs) {
                          p.micro_batch = micro_batch;
                          const Known known = prune && smaller_out_of_memory ? Known::out_of_memory
                                              : twin                         ? Known::without_overlap
                                                                             : Known::nothing;
                          if (!visit(p, known)) smaller_out_of_memory = true;
                        }
                      }
                    }
                  }
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

std::string plan_summary(const ParallelPlan& p, std::optional<Precision> precision) {
  std::string pipeline = fmt::format("pp {}", p.pp);
  if (p.pp > 1) {
    pipeline += p.schedule == Schedule::interleaved ? fmt::format(" (interleaved, vpp {}", p.vpp)
                                                    : fmt::format(" ({}", to_string(p.schedule));
    pipeline += p.layout == PipelineLayout::even ? ")" : fmt::format(", {})", to_string(p.layout));
  }
  std::string text = fmt::format("tp {}{}{}, {}, dp {}", p.tp, p.sp ? " + sp" : "", p.tp > 1 && p.tp_comm_overlap ? " (overlapped)" : "",
                                 pipeline, p.dp);
  if (p.ep > 1) text += fmt::format(", ep {}{}", p.ep, p.ep_comm_overlap ? " (overlapped)" : "");
  if (p.cp > 1) {
    text += fmt::format(", cp {}{}", p.cp,
                        p.cp_algo == ContextParallelAlgo::ring ? "" : fmt::format(" ({})", to_string(p.cp_algo)));
  }
  text += fmt::format(", zero {}{}", p.zero, p.zero >= 3 && !p.reshard_after_forward ? " (no reshard)" : "");
  if (p.offload_activation_layers > 0) text += fmt::format(", {} layers offloaded", p.offload_activation_layers);
  if (p.optimizer_offload_fraction > 0) {
    text += fmt::format(", {:g} % of optimizer states offloaded", 100 * p.optimizer_offload_fraction);
  }
  text += fmt::format(", micro-batch {}, recompute {}", p.micro_batch, recompute_text(p));
  if (precision) text += fmt::format(", {}", to_string(*precision));
  return text;
}

Scenario with_candidate(const Scenario& scenario, const PlanCandidate& candidate) {
  Scenario out = scenario;
  out.job.plan = candidate.plan;
  out.job.training.precision = candidate.precision;
  return out;
}

std::vector<Precision> searched_precisions(const Scenario& scenario, const std::vector<Precision>& asked) {
  const auto& listed = !asked.empty() ? asked : scenario.search_precisions;
  if (listed.empty()) return {scenario.job.training.precision};
  const Chip& chip = scenario.job.cluster.chip;
  std::vector<Precision> out;
  for (const Precision precision : kAllPrecisions) {  // in a fixed order, each once
    if (std::find(listed.begin(), listed.end(), precision) == listed.end()) continue;
    if (const auto why = unsupported_precision(chip, precision)) {
      throw ModelError(fmt::format("{}: it cannot train in {}", *why, to_string(precision)));
    }
    out.push_back(precision);
  }
  return out;
}

void PlanSearchResult::add_counts(const PlanSearchResult& other) {
  enumerated += other.enumerated;
  dominated += other.dominated;
  invalid += other.invalid;
  out_of_memory += other.out_of_memory;
  offloaded += other.offloaded;
  optimizer_offloaded += other.optimizer_offloaded;
  pruned_by_memory += other.pruned_by_memory;
  evaluated += other.evaluated;
  pipelines_walked += other.pipelines_walked;
  reranked += other.reranked;
  tier1_wall_s += other.tier1_wall_s;
  rerank_wall_s += other.rerank_wall_s;
}

namespace {

// A search over several precisions in one process: the space of each searched and re-ranked on its own, so that each
// precision's best plan is found at the re-rank tier (what FP8 buys over bf16 on this cluster), then the best K of
// all. Each space's best K at the re-rank tier are among its own; the best K of their union are the search's.
PlanSearchResult search_each_precision(const Scenario& scenario, const Catalogs& catalogs,
                                       const PlanSearchOptions& options, const std::vector<Precision>& precisions) {
  PlanSearchResult out;
  out.precisions = precisions;
  for (std::size_t i = 0; i < precisions.size(); ++i) {
    PlanSearchOptions one = options;
    one.precisions = {precisions[i]};
    one.compare_given = options.compare_given && i == 0;  // the file's plan, at the file's precision, once
    auto r = search_plans(scenario, catalogs, one);
    out.add_counts(r);
    out.pinned = r.pinned;
    if (r.given) out.given = std::move(r.given);
    if (!r.best.empty()) out.precision_best.push_back(r.best.front());
    for (auto& c : r.best) out.best.push_back(std::move(c));
  }
  std::sort(out.best.begin(), out.best.end(), ranks_before);
  if (out.best.size() > static_cast<std::size_t>(std::max(1, options.top_k))) out.best.resize(std::max(1, options.top_k));
  return out;
}

}  // namespace

PlanSearchResult search_plans(const Scenario& scenario, const Catalogs& catalogs, const PlanSearchOptions& options) {
  const auto& a = catalogs.assumptions;
  // The precisions (the quick space keeps the scenario's). Several in one process: each space on its own
  // (search_each_precision). A shard of a search split across processes enumerates them all, one after another, and
  // its root merges the shards' best.
  const auto precisions = options.quick ? std::vector<Precision>{scenario.job.training.precision}
                                        : searched_precisions(scenario, options.precisions);
  if (precisions.size() > 1 && !options.keep_challengers && options.shards <= 1) {
    return search_each_precision(scenario, catalogs, options, precisions);
  }
  PlanSearchResult out;
  out.precisions = precisions;
  const auto topology = build_topology(topology_spec(scenario.job.cluster));
  EstimateOptions estimate_options;
  estimate_options.topology = &topology;
  const auto params = count_params(scenario.job.model);

  // Tier 1 over the space; memory first, as it costs a fraction of an estimate. This pass leaves out the pipeline's
  // fill and drain, whose walk over every micro-batch on every stage costs more than the rest of an estimate: the
  // bubble is never negative, so each step time here is a lower bound.
  const auto t0 = Clock::now();
  struct Bounded {
    double bound_s;  // tier 1 without walking the pipeline: a lower bound on the plan's step time
    ParallelPlan plan;
    Precision precision;
  };
  std::vector<Bounded> bounds;
  TrainingJob job = scenario.job;
  const long shards = std::max(1, options.shards);
  EstimateOptions bound_options = estimate_options;
  bound_options.bubble = false;
  // Without a visitor of every plan, what can be known without the model is not modelled (Known); then each shard
  // checks every plan's memory, so that all shards prune alike, and counts its own.
  const bool prune = !options.each;
  std::set<std::string> pinned = options.pinned;
  pinned.insert(scenario.pinned.begin(), scenario.pinned.end());
  for (const auto& key : plan_dimensions()) {
    if (pinned.count(key) > 0) out.pinned.push_back(key);
  }
  // Activation offloading, where Megatron runs it (see fewest_offloaded_layers), is tried only on a plan that does not
  // fit without it: it never shortens a step.
  const bool offload_free = !options.quick && pinned.count("offload_activation_layers") == 0 &&
                            scenario.job.cluster.node.host_link_bandwidth_per_direction.has_value() &&
                            !scenario.job.training.full_iteration_graph && !scenario.job.model.is_hybrid();
  // So is the optimizer's CPU offload (Megatron's optimizer: ZeRO 0 or 1), where the node has both host figures.
  const auto& node = scenario.job.cluster.node;
  const bool optimizer_offload_free = !options.quick && pinned.count("optimizer_offload_fraction") == 0 &&
                                      node.host_link_bandwidth_per_direction && node.host_memory_bandwidth;
  // Whether a plan's twin with TP overlap is never slower (tp_overlap_never_slower), by what that depends on: a layer's
  // TP collectives and projections and the backward GEMMs its collectives hide behind. The same for every pipeline,
  // data-parallel and sharding choice, and for every recomputation (it checks a layer recomputed in full and not;
  // selective recomputation redoes the same work with the overlap or without).
  using OverlapKey = std::tuple<int, int, int, int, int, int, int, bool, bool, double, int>;
  std::map<OverlapKey, bool> overlap_twins;
  const auto overlap_never_slower = [&](const ParallelPlan& plan) {
    // What of the schedule a layer's times see: DualPipe's SM share and its all-to-all overlap, the zero-bubble
    // schedules' weight-gradient GEMMs apart; the rest alike.
    const bool dualpipe = plan.schedule == Schedule::dualpipe;
    const int schedule = dualpipe                                                                          ? 1
                         : plan.schedule == Schedule::zero_bubble || plan.schedule == Schedule::zero_bubble_v ? 2
                                                                                                              : 0;
    const OverlapKey key{plan.tp,       plan.cp,  static_cast<int>(plan.cp_algo), plan.micro_batch,
                         plan.ep,       plan.etp, schedule,
                         dualpipe && plan.ep_comm_overlap, plan.sp, plan.moe_capacity_factor,
                         static_cast<int>(job.training.precision)};
    if (const auto it = overlap_twins.find(key); it != overlap_twins.end()) return it->second;
    TrainingJob twin = job;
    twin.plan = plan;
    twin.plan.recompute = Recompute::none;
    twin.plan.recompute_modules = {};
    twin.plan.recompute_layers = 0;
    return overlap_twins[key] = tp_overlap_never_slower(twin, a, topology);
  };
  // The precisions, one space after another.
  for (const Precision precision : precisions) {
    job.training.precision = precision;
    enumerate_plans(scenario.job, scenario.job.plan, pinned, options.quick, prune,
                    [&](const ParallelPlan& plan, Known known) {
      const bool own = out.enumerated++ % shards == options.shard;
      using Status = EvaluatedPlan::Status;
      if (known == Known::without_overlap && overlap_never_slower(plan)) {
        if (own) ++out.dominated;
        return true;
      }
      if (known == Known::out_of_memory) {
        if (own) {
          ++out.out_of_memory;
          ++out.pruned_by_memory;
        }
        return false;
      }
      if (!own && !prune) return true;
      job.plan = plan;
      auto memory = training_memory(job, params, a);
      if (!memory.fits) {
        // A plan that does not fit may with activations or optimizer states in host memory: the variant of each
        // that fits with the least moved; of two, the one with the lower bound (both exact without a pipeline, the
        // only plans that can offload activations).
        int layers = 0;
        double fraction = 0;
        if (offload_free && plan.pp == 1 && plan.recompute == Recompute::none) {
          layers = fewest_offloaded_layers(job, params, a);
        }
        if (optimizer_offload_free && plan.zero <= 1) fraction = fewest_offloaded_optimizer(job, params, a, memory);
        if (layers > 0 && fraction > 0) {
          try {
            job.plan.offload_activation_layers = layers;
            const double with_layers = estimate_training(job, a, bound_options).step_time_s;
            job.plan.offload_activation_layers = 0;
            job.plan.optimizer_offload_fraction = fraction;
            const double with_states = estimate_training(job, a, bound_options).step_time_s;
            if (with_states < with_layers) {
              layers = 0;
            } else {
              fraction = 0;
            }
          } catch (const ModelError&) {
            fraction = 0;  // the plan cannot run either way: the estimate below says why
          }
          job.plan = plan;
        }
        if (layers > 0) {
          job.plan.offload_activation_layers = layers;
          if (own) ++out.offloaded;
        } else if (fraction > 0) {
          job.plan.optimizer_offload_fraction = fraction;
          if (own) ++out.optimizer_offloaded;
        }
        if (layers > 0 || fraction > 0) memory = training_memory(job, params, a);
      }
      const ParallelPlan& candidate = job.plan;
      if (!memory.fits) {
        if (!own) return false;
        ++out.out_of_memory;
        if (options.each) options.each({candidate, precision, Status::out_of_memory, memory, nullptr, ""});
        return false;
      }
      if (!own) return true;
      try {
        EstimateOptions with_memory = bound_options;
        with_memory.memory = &memory;
        bounds.push_back({estimate_training(job, a, with_memory).step_time_s, candidate, precision});
        ++out.evaluated;
        if (options.each) {
          with_memory.bubble = true;
          const auto full = estimate_training(job, a, with_memory);
          options.each({candidate, precision, Status::estimated, memory, &full, ""});
        }
      } catch (const ModelError& error) {
        ++out.invalid;  // a schedule the batch cannot fill (too few micro-batches), and the like
        if (options.each) options.each({candidate, precision, Status::not_runnable, memory, nullptr, error.what()});
      }
      return true;
    });
  }
  // The full estimate in order of the bound, until the bound reaches the K-th best step time: no later plan can rank
  // (one with an equal bound still can, on the tie-break). Tier 2 ranks schedules differently from tier 1 (it
  // simulates the bubble and the overlaps that tier 1 adds up), by up to its class's tier_gap (at most kTierGap): the
  // best plan of each schedule class within kTierGap of the best is found too, and re-ranked where it could rank.
  std::sort(bounds.begin(), bounds.end(), [](const Bounded& x, const Bounded& y) {
    return x.bound_s != y.bound_s ? x.bound_s < y.bound_s : candidate_before(x.plan, x.precision, y.plan, y.precision);
  });
  const auto keep = static_cast<std::size_t>(std::max(1, options.top_k));
  const bool classes = (options.rerank_tier != Tier::analytical || options.keep_challengers) && !options.quick;
  const double reach = 1.0 / (1.0 - kTierGap);
  std::vector<PlanCandidate> ranked;  // the best so far, fastest first, at most `keep`
  std::map<int, PlanCandidate> class_best;
  constexpr double kInfinity = std::numeric_limits<double>::infinity();
  for (auto& b : bounds) {
    const double kth = ranked.size() == keep ? ranked.back().estimate.step_time_s : kInfinity;
    const double within = classes && !ranked.empty() ? ranked.front().estimate.step_time_s * reach : 0.0;
    if (b.bound_s > kth && b.bound_s > within) break;
    const int cls = schedule_class(b.plan);
    const auto it = class_best.find(cls);
    const bool may_lead_class = classes && (it == class_best.end() || b.bound_s <= it->second.estimate.step_time_s);
    if (b.bound_s > kth && !may_lead_class) continue;
    job.plan = b.plan;
    job.training.precision = b.precision;
    PlanCandidate c{std::move(b.plan), estimate_training(job, a, estimate_options), Tier::analytical, 0, b.precision};
    c.tier1_step_time_s = c.estimate.step_time_s;
    ++out.pipelines_walked;
    if (classes && (it == class_best.end() || ranks_before(c, it->second))) class_best.insert_or_assign(cls, c);
    ranked.insert(std::upper_bound(ranked.begin(), ranked.end(), c, ranks_before), std::move(c));
    if (ranked.size() > keep) ranked.pop_back();
  }
  // Each schedule class's best that is not among the best K: it challenges them at the re-rank tier.
  std::vector<PlanCandidate> leaders;
  for (auto& entry : class_best) leaders.push_back(std::move(entry.second));
  auto challengers = class_challengers(std::move(leaders), ranked);
  out.tier1_wall_s = seconds_since(t0);

  const auto t1 = Clock::now();
  if (options.keep_challengers) {
    out.challengers = std::move(challengers);
  } else {
    out.reranked = rerank_with_challengers(scenario, catalogs, ranked, std::move(challengers), keep, options.rerank_tier);
  }
  if (options.compare_given) {
    try {
      PlanCandidate given{scenario.job.plan, estimate_training(scenario.job, a, estimate_options), Tier::analytical, 0,
                          scenario.job.training.precision};
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

long rerank_with_challengers(const Scenario& scenario, const Catalogs& catalogs, std::vector<PlanCandidate>& ranked,
                             std::vector<PlanCandidate> challengers, std::size_t keep, Tier tier) {
  // The best K at the re-rank tier; then the challengers, least floor first, each while its floor is below the K-th
  // tier-2 time (it could rank), none after the first that is not (their floors are higher).
  rerank(scenario, catalogs, ranked, tier);
  if (ranked.size() > keep) ranked.resize(keep);
  long reranked = static_cast<long>(ranked.size());
  if (tier == Tier::analytical) return reranked;
  std::sort(challengers.begin(), challengers.end(), [](const PlanCandidate& x, const PlanCandidate& y) {
    if (tier2_floor_s(x) != tier2_floor_s(y)) return tier2_floor_s(x) < tier2_floor_s(y);
    return candidate_before(x.plan, x.precision, y.plan, y.precision);
  });
  for (auto& c : challengers) {
    if (ranked.size() == keep && tier2_floor_s(c) >= ranked.back().estimate.step_time_s) break;
    std::vector<PlanCandidate> one{std::move(c)};
    rerank(scenario, catalogs, one, tier);
    ++reranked;
    ranked.insert(std::upper_bound(ranked.begin(), ranked.end(), one.front(), ranks_before), std::move(one.front()));
    if (ranked.size() > keep) ranked.pop_back();
  }
  return reranked;
}

std::vector<PlanCandidate> class_challengers(std::vector<PlanCandidate> candidates,
                                             const std::vector<PlanCandidate>& best) {
  std::sort(candidates.begin(), candidates.end(), ranks_before);
  std::vector<PlanCandidate> out;
  std::set<int> classes;
  for (auto& c : candidates) {
    if (!classes.insert(schedule_class(c.plan)).second) continue;
    const bool in_best =
        std::any_of(best.begin(), best.end(), [&](const PlanCandidate& b) { return same_candidate(b, c); });
    if (!in_best) out.push_back(std::move(c));
  }
  return out;
}

void rerank(const Scenario& scenario, const Catalogs& catalogs, std::vector<PlanCandidate>& candidates, Tier tier) {
  if (tier != Tier::analytical) {
    for (auto& c : candidates) {
      const Scenario s = with_candidate(scenario, c);
      SimOptions sim;
      sim.tier = tier;
      sim.whole_run = false;  // plans are ranked by step time; a failure model would add the same run to each
      c.estimate = simulate_scenario(s, catalogs, sim).estimate;
      c.tier = tier;
    }
  }
  std::sort(candidates.begin(), candidates.end(), ranks_before);
}

int schedule_class(const ParallelPlan& p) { return p.pp == 1 ? -1 : static_cast<int>(p.schedule); }

double tier_gap(const ParallelPlan& plan) {
  if (plan.pp == 1) return kTierGapNoPipeline;
  switch (plan.schedule) {
    case Schedule::one_f_one_b:
    case Schedule::zero_bubble:
    case Schedule::dualpipe: return kTierGap1F1B;
    case Schedule::zero_bubble_v:
    case Schedule::interleaved:
    case Schedule::gpipe: break;
  }
  return kTierGap;
}

bool plan_before(const ParallelPlan& a, const ParallelPlan& b) {
  const auto key = [](const ParallelPlan& p) {
    const auto& r = p.recompute_modules;
    const int modules = r.core_attn | r.layernorm << 1 | r.mla_up_proj << 2 | r.moe_act << 3 | r.mlp << 4 | r.moe << 5;
    return std::make_tuple(p.tp, p.pp, p.vpp, static_cast<int>(p.schedule), static_cast<int>(p.layout), p.dp, p.ep,
                           p.cp, static_cast<int>(p.cp_algo), p.zero, p.reshard_after_forward, p.micro_batch,
                           static_cast<int>(p.recompute), p.recompute_layers, modules, p.tp_comm_overlap,
                           p.ep_comm_overlap);
  };
  return key(a) < key(b);
}

bool same_candidate(const PlanCandidate& a, const PlanCandidate& b) {
  return a.precision == b.precision && !plan_before(a.plan, b.plan) && !plan_before(b.plan, a.plan);
}

bool ranks_before(const PlanCandidate& a, const PlanCandidate& b) {
  if (a.estimate.step_time_s != b.estimate.step_time_s) return a.estimate.step_time_s < b.estimate.step_time_s;
  return candidate_before(a.plan, a.precision, b.plan, b.precision);
}

PlanCandidate estimate_plan(const Scenario& scenario, const ParallelPlan& plan, const Catalogs& catalogs,
                            std::optional<Precision> precision) {
  TrainingJob job = scenario.job;
  job.plan = plan;
  if (precision) job.training.precision = *precision;
  PlanCandidate c{plan, estimate_training(job, catalogs.assumptions), Tier::analytical, 0, job.training.precision};
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
  options.quick = true;
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
