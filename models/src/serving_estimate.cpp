// Serving results: the metrics both tiers share, and tier 1's steady-state estimate.

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "flopcast/models/energy_cost.hpp"
#include "flopcast/models/serving.hpp"

namespace flopcast {

LatencyStats latency_stats(std::vector<double>& values) {
  LatencyStats out;
  if (values.empty()) return out;
  std::sort(values.begin(), values.end());
  const auto rank = [&values](double q) {
    const auto n = values.size();
    const auto index = static_cast<std::size_t>(std::ceil(q * static_cast<double>(n))) - 1;
    return values[std::min(index, n - 1)];
  };
  out.mean_s = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  out.p50_s = rank(0.50);
  out.p90_s = rank(0.90);
  out.p99_s = rank(0.99);
  return out;
}

void complete_serving(ServingResult& r, const ServingJob& job, const TopologySummary& topology, const Assumptions& a) {
  const double chips = job.cluster.chips;
  const double node_chips = job.cluster.node.chip_count();
  const double duration = std::max(r.duration_s, 1e-12);
  r.input_tokens_per_s = r.input_tokens / duration;
  r.output_tokens_per_s = r.output_tokens / duration;
  r.input_tokens_per_s_per_chip = r.input_tokens_per_s / chips;
  r.output_tokens_per_s_per_chip = r.output_tokens_per_s / chips;
  r.input_tokens_per_s_per_node = r.input_tokens_per_s_per_chip * node_chips;
  r.output_tokens_per_s_per_node = r.output_tokens_per_s_per_chip * node_chips;
  r.goodput_requests_per_s = r.goodput_fraction * static_cast<double>(r.requests) / duration;
  r.goodput_output_tokens_per_s = r.goodput_fraction * r.output_tokens_per_s;

  TrainingJob as_job;
  as_job.model = job.model;
  as_job.cluster = job.cluster;
  as_job.costs = job.costs;
  const double tokens = r.input_tokens + r.output_tokens;
  const auto ec = energy_and_cost(as_job, topology, r.duration_s, tokens, a);
  r.facility_power_w = ec.facility_power_w;
  r.energy_kwh = ec.energy_kwh;
  r.kwh_per_mtok = tokens > 0 ? ec.energy_kwh / (tokens / 1e6) : 0.0;
  r.cost_usd = ec.cost_usd;
  r.usd_per_hour = ec.cost_usd / (duration / kSecondsPerHour);
  r.usd_per_m_tokens = ec.usd_per_mtok;
  // Every chip's time goes to prefill or decode in the proportion of its pool's busy time (idle time too: the
  // deployment is paid for while it waits).
  double prefill_chip_share = 0;
  for (const auto& pool : r.pools) prefill_chip_share += pool.chips / chips * pool.prefill_share;
  if (r.input_tokens > 0) r.usd_per_m_input = r.cost_usd * prefill_chip_share / (r.input_tokens / 1e6);
  if (r.output_tokens > 0) r.usd_per_m_output = r.cost_usd * (1.0 - prefill_chip_share) / (r.output_tokens / 1e6);
  r.log_sigma = job.model.is_moe() ? a.serving_log_sigma_moe : a.serving_log_sigma_dense;
}

std::pair<double, double> serving_range(const ServingResult& result, double value) {
  constexpr double kNormalZ90 = 1.2816;
  const double f = std::exp(kNormalZ90 * result.log_sigma);
  return {value / f, value * f};
}

namespace {

// One attention rank of a pool in steady state.
struct RankLoad {
  double batch = 0;          // running sequences
  double step_s = 0;         // one step at that batch
  double prefill_s = 0;      // one request's prefill
  double requests_per_s = 0; // what the rank completes
  double capacity_per_s = 0; // the most it can complete
};

class Steady {
 public:
  Steady(const ServingJob& job, const ServingModel& model)
      : w_(job.serving.workload), model_(model), hit_(job.serving.prefix_cache_hit_rate),
        accepted_(job.serving.mtp.expected_tokens_per_step()), q_(model.tokens_per_decode_step()),
        ranks_(static_cast<double>(model.pool().instances()) * model.pool().plan.dp_attention) {}

  double ranks() const { return ranks_; }

  // The largest batch the KV cache, the sequence limit and the token budget allow. A request holds its mean context,
  // or its whole length when the scheduler reserves the output on admission.
  double max_batch() const {
    const auto& b = model_.pool().batching;
    const double held = w_.input_tokens + (b.reserve_output ? 1.0 : 0.5) * w_.output_tokens +
                        static_cast<double>(model_.memory().kv_window_tokens);
    const double by_kv = static_cast<double>(model_.memory().kv_capacity_tokens) / held;
    return std::max(0.0, std::min({static_cast<double>(b.max_running), by_kv,
                                   static_cast<double>(b.max_batch_tokens) / q_}));
  }

  // A decode step of `batch` sequences per rank, padded to the CUDA graph that holds them (the padding's dummy
  // sequences attend to no context).
  double decode_step_s(double batch) const {
    BatchShape s;
    s.decode_seqs = model_.pool().batching.graph_padded_seqs(batch);
    s.decode_context = batch * mean_context();
    s.decode_window_context = batch * windowed(mean_context());
    s.instance_tokens = s.decode_seqs * q_ * model_.pool().plan.dp_attention;
    return model_.step(s).time_s;
  }

  // `prompts` prompts prefilled together in one step (chunks of the token budget for long prompts).
  double prefill_s(double prompts) const {
    const double fresh = w_.input_tokens * (1.0 - hit_);
    const double cached = w_.input_tokens * hit_;
    const double budget = std::min(model_.pool().batching.max_batch_tokens, model_.pool().batching.prefill_chunk_tokens);
    const double chunks = std::max(1.0, std::ceil(fresh * prompts / budget));
    BatchShape s;
    s.prefill_tokens = fresh * prompts / chunks;
    s.prefill_seqs = prompts / chunks;
    s.prefill_pairs = prompts * window_pairs(cached, fresh, 0.0) / chunks;
    s.prefill_window_pairs = prompts * window_pairs(cached, fresh, model_.window_tokens()) / chunks;
    s.instance_tokens = s.prefill_tokens * model_.pool().plan.dp_attention;
    return chunks * model_.step(s).time_s;
  }

  // Useful FLOPs of one mean request: its prefill (less the prefix-cache hits) and its decode steps.
  double request_flop() const {
    const double fresh = w_.input_tokens * (1.0 - hit_);
    const double steps = w_.output_tokens / accepted_;
    const double cached = w_.input_tokens * hit_;
    return model_.model_flop({.decode_seqs = steps,
                              .decode_context = steps * mean_context(),
                              .prefill_tokens = fresh,
                              .prefill_seqs = 1,
                              .prefill_pairs = window_pairs(cached, fresh, 0.0),
                              .decode_window_context = steps * windowed(mean_context()),
                              .prefill_window_pairs = window_pairs(cached, fresh, model_.window_tokens()),
                              .instance_tokens = 0});
  }

  // A decoding sequence's mean context, and what a sliding-window layer of it reads.
  double mean_context() const { return w_.input_tokens + 0.5 * w_.output_tokens; }
  double windowed(double context) const {
    return model_.window_tokens() > 0 ? std::min(context, model_.window_tokens()) : context;
  }

  // A colocated rank at arrival rate `rate` (requests/s): the decode batch that rate sustains, from Little's law
  // with the time prefill takes out of every second.
  RankLoad colocated(double rate) const {
    RankLoad out;
    out.prefill_s = prefill_s(1.0);
    const double cap = max_batch();
    const double steps = w_.output_tokens / accepted_;
    const auto throughput = [&](double batch) { return batch / (steps * decode_step_s(batch) + batch * out.prefill_s); };
    if (cap < 1.0) return out;
    out.capacity_per_s = throughput(cap);
    if (rate >= out.capacity_per_s) {
      out.batch = cap;
    } else {
      const double prefill_busy = rate * out.prefill_s;
      double batch = 1.0;
      for (int i = 0; i < 50; ++i) batch = std::min(cap, rate * steps * decode_step_s(batch) / (1.0 - prefill_busy));
      out.batch = std::max(batch, 1e-9);
    }
    out.step_s = decode_step_s(std::max(out.batch, 1.0));
    out.requests_per_s = std::min(rate, throughput(cap));
    return out;
  }

  // A decode-only rank at rate `rate`: the batch Little's law gives, capped.
  RankLoad decode_only(double rate) const {
    RankLoad out;
    const double cap = max_batch();
    const double steps = w_.output_tokens / accepted_;
    if (cap < 1.0) return out;
    const double at_cap = cap / (steps * decode_step_s(cap));
    out.capacity_per_s = at_cap;
    double batch = 1.0;
    if (rate >= at_cap) {
      batch = cap;
    } else {
      for (int i = 0; i < 50; ++i) batch = std::min(cap, rate * steps * decode_step_s(batch));
    }
    out.batch = batch;
    out.step_s = decode_step_s(std::max(batch, 1.0));
    out.requests_per_s = std::min(rate, at_cap);
    return out;
  }

  // A prefill-only rank: prompts batched up to the token budget.
  RankLoad prefill_only(double rate) const {
    RankLoad out;
    const double per_step = std::max(1.0, std::floor(model_.pool().batching.max_batch_tokens /
                                                     std::max(1.0, w_.input_tokens * (1.0 - hit_))));
    out.prefill_s = prefill_s(1.0);
    out.capacity_per_s = per_step / prefill_s(per_step);
    out.requests_per_s = std::min(rate, out.capacity_per_s);
    out.batch = per_step;
    return out;
  }

 private:
  const Workload& w_;
  const ServingModel& model_;
  double hit_;
  double accepted_;
  double q_;
  double ranks_;
};

// Requests per second the workload offers.
double offered_rate(const Workload& w) {
  if (w.arrival == ArrivalKind::poisson) return w.rate_per_s;
  if (w.arrival == ArrivalKind::trace && w.trace.size() > 1) {
    const double span = w.trace.back().arrival_s - w.trace.front().arrival_s;
    return span > 0 ? static_cast<double>(w.trace.size() - 1) / span : 1e30;
  }
  return 1e30;  // closed loop: as fast as the deployment answers (bounded by its concurrency below)
}

// Time to first token: the prefill, a step already running, and the queue. Below capacity the wait of an M/D/1
// queue, u / (2 (1 - u)) x the prefill; at or above it a finite run's backlog grows linearly, and the mean request
// waits for half of it.
double first_token_s(double prefill_s, double running_step_s, double offered, double capacity, double requests) {
  const double u = capacity > 0 ? offered / capacity : 1e30;
  if (u < 0.999) return prefill_s + running_step_s + prefill_s * u / (2.0 * (1.0 - u));
  return prefill_s + running_step_s + 0.5 * requests * std::max(0.0, 1.0 / capacity - 1.0 / offered);
}

double kv_occupancy(const ServingModel& model, double batch, double context) {
  const double capacity = static_cast<double>(model.memory().kv_capacity_tokens);
  return capacity > 0 ? std::min(1.0, batch * context / capacity) : 0.0;
}

ServingPoolResult pool_result(const ServingModel& model, const RankLoad& load, double busy, double prefill_share) {
  ServingPoolResult p;
  const auto& pool = model.pool();
  p.role = pool.role;
  p.chips = pool.chips;
  p.instances = pool.instances();
  p.plan = pool.plan;
  p.batching = pool.batching;
  p.memory = model.memory();
  p.busy_fraction = std::min(1.0, busy);
  p.prefill_share = prefill_share;
  p.mean_batch_seqs = load.batch;
  return p;
}

}  // namespace

ServingResult estimate_serving(const ServingJob& job, const TopologySummary& topology, const Assumptions& a) {
  ServingResult r;
  r.tier = "analytical";
  const auto& s = job.serving;
  const auto& w = s.workload;
  const double requests = w.arrival == ArrivalKind::trace ? static_cast<double>(w.trace.size()) : w.requests;
  double input = w.input_tokens, output = w.output_tokens;
  if (w.arrival == ArrivalKind::trace && !w.trace.empty()) {
    input = output = 0;
    for (const auto& t : w.trace) {
      input += t.input_tokens;
      output += t.output_tokens;
    }
    input /= requests;
    output /= requests;
  }
  ServingJob mean_job = job;
  mean_job.serving.workload.input_tokens = input;
  mean_job.serving.workload.output_tokens = output;
  const double accepted = s.mtp.expected_tokens_per_step();
  double rate = offered_rate(w);

  double served_rate = 0, ttft = 0, tpot = 0, transfer = 0, flop_per_request = 0;
  if (!s.disaggregated()) {
    const ServingModel model(mean_job, s.pools[0], topology, a);
    const Steady steady(mean_job, model);
    if (w.closed_loop()) {
      // Closed loop: the batch is the clients per rank; the rate is what that batch completes.
      const double batch = std::min(steady.max_batch(), w.concurrency / steady.ranks());
      const double step = steady.decode_step_s(std::max(batch, 1.0));
      const double prefill = steady.prefill_s(1.0);
      rate = steady.ranks() * batch / (output / accepted * step + batch * prefill);
    }
    const RankLoad load = steady.colocated(rate / steady.ranks());
    if (load.requests_per_s <= 0) {
      r.notes.push_back("the KV cache cannot hold one request: nothing is served");
    }
    served_rate = load.requests_per_s * steady.ranks();
    const double prefill_busy = load.requests_per_s * load.prefill_s;
    // Decode advances only in the time prefill leaves; past 95 % prefill the rank is saturated, and the cap keeps
    // the TPOT finite there.
    tpot = load.step_s / (1.0 - std::min(prefill_busy, 0.95)) / accepted;
    ttft = first_token_s(load.prefill_s, load.step_s, rate, load.capacity_per_s * steady.ranks(), requests);
    const double busy = load.requests_per_s * (load.prefill_s + output / accepted * load.step_s / std::max(load.batch, 1.0));
    r.pools.push_back(pool_result(model, load, busy, busy > 0 ? prefill_busy / busy : 0.0));
    r.pools.back().kv_occupancy_mean = kv_occupancy(model, load.batch, input + 0.5 * output);
    flop_per_request = steady.request_flop();
  } else {
    const ServingModel prefill(mean_job, s.pools[0], topology, a);
    const ServingModel decode(mean_job, s.pools[1], topology, a);
    const Steady sp(mean_job, prefill);
    const Steady sd(mean_job, decode);
    if (w.closed_loop()) {
      const double batch = std::min(sd.max_batch(), w.concurrency / sd.ranks());
      rate = sd.ranks() * batch / (output / accepted * sd.decode_step_s(std::max(batch, 1.0)));
    }
    const RankLoad pl = sp.prefill_only(rate / sp.ranks());
    const double through_prefill = pl.requests_per_s * sp.ranks();
    const RankLoad dl = sd.decode_only(through_prefill / sd.ranks());
    served_rate = dl.requests_per_s * sd.ranks();
    // The KV cache of a request over one instance's NICs.
    const auto links = cluster_links(job.cluster, topology, a);
    transfer = input * prefill.kv_transfer_bytes_per_token() /
               (links.scaleout.bytes_per_s * links.scaleout.efficiency * s.pools[0].plan.chips());
    tpot = dl.step_s / accepted + transfer / std::max(1.0, output - 1.0);
    ttft = first_token_s(pl.prefill_s, 0.0, rate, pl.capacity_per_s * sp.ranks(), requests);
    const double prefill_busy = served_rate / sp.ranks() * pl.prefill_s;
    const double decode_busy = dl.batch > 0 ? served_rate / sd.ranks() * output / accepted * dl.step_s / dl.batch : 0.0;
    r.pools.push_back(pool_result(prefill, pl, prefill_busy, 1.0));
    r.pools.push_back(pool_result(decode, dl, decode_busy, 0.0));
    r.pools.back().kv_occupancy_mean = kv_occupancy(decode, dl.batch, input + 0.5 * output);
    flop_per_request = sd.request_flop();
  }
  r.mfu = served_rate * flop_per_request / (job.cluster.chips * job.cluster.chip.peak_flop_per_s(DataType::bf16));
  r.requests = static_cast<long>(requests);
  r.input_tokens = input * requests;
  r.output_tokens = output * requests;
  r.duration_s = served_rate > 0 ? requests / served_rate : 0.0;
  r.arrival_rate_per_s = served_rate;
  r.ttft = {ttft, ttft, ttft, ttft};
  r.tpot = {tpot, tpot, tpot, tpot};
  const double e2e = ttft + std::max(0.0, output - 1.0) * tpot;
  r.e2e = {e2e, e2e, e2e, e2e};
  r.mean_requests_in_system = served_rate * e2e;
  r.goodput_fraction = ttft <= s.slo.ttft_s && tpot <= s.slo.tpot_s ? 1.0 : 0.0;
  if (rate > served_rate * 1.0001 && w.arrival == ArrivalKind::poisson) {
    r.notes.push_back(fmt::format("saturated: {:.3g} requests/s offered, {:.3g} served; queues grow without bound",
                                  rate, served_rate));
    r.goodput_fraction = 0;
  }
  if (r.duration_s > 0) complete_serving(r, job, topology, a);
  return r;
}

}  // namespace flopcast
