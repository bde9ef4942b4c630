#include "flopcast/sim/serve_sim.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <memory>
#include <random>

#include <fmt/format.h>
#include <simgrid/s4u.hpp>

#include "engine.hpp"
#include "flopcast/core/errors.hpp"

namespace flopcast {
namespace {

namespace sg4 = simgrid::s4u;

struct Request {
  long id = 0;
  double arrival_s = 0;
  long input = 0;
  long output = 0;
  long cached = -1;       // prefix-cache hits (set at first admission): in the cache without prefill compute
  long prompt = 0;        // tokens to prefill before decoding: the input, plus what was generated before a preemption
  long prefilled = 0;     // of prompt
  long context = 0;       // tokens whose KV the cache holds once decoding
  long generated = 0;
  long kv_blocks = 0;
  double first_token_s = -1;
  double finish_s = -1;
  bool decoding() const { return prefilled >= prompt; }
};

struct Rank {
  std::deque<Request*> waiting;
  std::vector<Request*> running;
  long used_blocks = 0;
  long incoming = 0;  // KV transfers on their way here
  long load() const { return static_cast<long>(waiting.size() + running.size()) + incoming; }
};

struct Chunk {
  Request* request;
  long tokens;
};

struct RankStep {
  std::vector<Chunk> prefill;
  std::vector<Request*> decode;
  BatchShape shape;
  long tokens() const {
    long n = 0;
    for (const auto& c : prefill) n += c.tokens;
    return n + static_cast<long>(decode.size());
  }
};

struct Instance {
  int pool = 0;
  int index = 0;
  std::vector<Rank> ranks;
  sg4::Host* host = nullptr;
  sg4::ActorPtr actor;
  bool idle = false;
  double busy_s = 0;
  double prefill_s = 0;
  double kv_area = 0;  // occupancy x time
  double kv_max = 0;
  double seqs_sum = 0; // sequences per rank, summed over steps
  long steps = 0;
};

class ServingSim {
 public:
  ServingSim(const ServingJob& job, const Assumptions& a, const TopologySummary& topology)
      : job_(job), s_(job.serving), w_(job.serving.workload), block_tokens_(static_cast<long>(a.kv_block_tokens)),
        arrivals_rng_(w_.seed), lengths_rng_(w_.seed + 1), accept_rng_(w_.seed + 2) {
    for (const auto& pool : s_.pools) models_.push_back(std::make_unique<ServingModel>(job, pool, topology, a));
    links_ = cluster_links(job.cluster, topology, a);
    total_ = w_.arrival == ArrivalKind::trace ? static_cast<long>(w_.trace.size()) : w_.requests;
    requests_.reserve(static_cast<std::size_t>(total_));
  }

  ServingResult run() {
    build_platform();
    sg4::Actor::create("arrivals", instances_.front()->host, [this] { arrivals(); });
    for (auto& instance : instances_) {
      Instance* inst = instance.get();
      inst->actor = sg4::Actor::create(fmt::format("instance{}", inst->index), inst->host, [this, inst] { serve(*inst); });
      inst->actor->daemonize();
    }
    sg4::Engine::get_instance()->run();
    return collect();
  }

 private:
  // ---- platform -------------------------------------------------------------------------------------------
  void build_platform() {
    auto* zone = sg4::create_full_zone("deployment");
    int index = 0;
    std::vector<std::vector<sg4::Link*>> nic(s_.pools.size());
    for (std::size_t p = 0; p < s_.pools.size(); ++p) {
      const auto& pool = s_.pools[p];
      const long capacity_blocks = models_[p]->memory().kv_capacity_tokens / block_tokens_;
      for (int i = 0; i < pool.instances(); ++i, ++index) {
        auto inst = std::make_unique<Instance>();
        inst->pool = static_cast<int>(p);
        inst->index = index;
        inst->ranks.resize(static_cast<std::size_t>(pool.plan.dp_attention));
        inst->host = zone->create_host(fmt::format("instance{}", index), 1.0);
        // The instance's NICs together, for KV transfers.
        const double bytes_per_s = links_.scaleout.bytes_per_s * links_.scaleout.efficiency * pool.plan.chips();
        nic[p].push_back(zone->create_link(fmt::format("nic{}", index), bytes_per_s)->set_latency(links_.scaleout.latency_s)->seal());
        instances_.push_back(std::move(inst));
      }
      capacity_blocks_.push_back(capacity_blocks);
    }
    if (s_.disaggregated()) {
      for (auto& from : instances_) {
        if (from->pool != 0) continue;
        for (auto& to : instances_) {
          if (to->pool != 1) continue;
          const std::vector<sg4::LinkInRoute> route{sg4::LinkInRoute(nic[0][static_cast<std::size_t>(from->index)]),
                                                    sg4::LinkInRoute(nic[1][static_cast<std::size_t>(to->index - pool_start(1))])};
          zone->add_route(from->host->get_netpoint(), to->host->get_netpoint(), nullptr, nullptr, route, true);
        }
      }
    }
    zone->seal();
  }

  int pool_start(int pool) const { return pool == 0 ? 0 : s_.pools[0].instances(); }

  // ---- arrivals -------------------------------------------------------------------------------------------
  long draw_length(double mean) {
    if (w_.lengths == LengthDistribution::fixed) return std::max(1L, std::lround(mean));
    std::exponential_distribution<double> d(1.0 / mean);
    return std::max(1L, std::lround(d(lengths_rng_)));
  }

  void issue(double now, long input, long output) {
    for (;;) {
      requests_.push_back(Request{});
      Request& r = requests_.back();
      r.id = static_cast<long>(requests_.size()) - 1;
      r.arrival_s = now;
      r.input = input;
      r.output = output;
      r.prompt = input;
      account_system(now, +1);
      // A request whose whole context cannot fit one rank's cache can never run.
      const auto need = [&](const ServingModel& m) {
        return blocks(input + output + static_cast<long>(m.tokens_per_decode_step()) + m.memory().kv_window_tokens);
      };
      if (need(*models_.front()) <= capacity_blocks_.front() && need(*models_.back()) <= capacity_blocks_.back()) {
        Instance& inst = least_loaded(0);
        Rank& rank = best_rank(inst);
        rank.waiting.push_back(&r);
        wake(inst);
        return;
      }
      ++rejected_;
      account_system(now, -1);
      check_done();
      // A closed loop's client sends its next request at once (or it would wait forever for this one).
      if (!w_.closed_loop() || static_cast<long>(requests_.size()) >= total_) return;
      input = draw_length(w_.input_tokens);
      output = draw_length(w_.output_tokens);
    }
  }

  void arrivals() {
    arrivals_actor_ = sg4::Actor::self();
    if (w_.arrival == ArrivalKind::trace) {
      for (const auto& t : w_.trace) {
        sg4::this_actor::sleep_until(t.arrival_s);
        issue(sg4::Engine::get_clock(), t.input_tokens, t.output_tokens);
      }
    } else if (w_.arrival == ArrivalKind::poisson) {
      std::exponential_distribution<double> gap(w_.rate_per_s);
      double t = 0;
      for (long i = 0; i < total_; ++i) {
        t += gap(arrivals_rng_);
        sg4::this_actor::sleep_until(t);
        issue(sg4::Engine::get_clock(), draw_length(w_.input_tokens), draw_length(w_.output_tokens));
      }
    } else {
      const long first = std::min<long>(w_.concurrency, total_);
      // A rejected request's client has sent its next one already: the clients never issue more than the total.
      for (long i = 0; i < first && static_cast<long>(requests_.size()) < total_; ++i) {
        issue(0.0, draw_length(w_.input_tokens), draw_length(w_.output_tokens));
      }
    }
    while (completed_ + rejected_ < total_) sg4::this_actor::suspend();
  }

  void check_done() {
    if (completed_ + rejected_ == total_ && arrivals_actor_ && arrivals_actor_->is_suspended()) {
      arrivals_actor_->resume();
    }
  }

  void account_system(double now, int change) {
    system_area_ += in_system_ * (now - system_last_s_);
    system_last_s_ = now;
    in_system_ += change;
  }

  Instance& least_loaded(int pool) {
    Instance* best = nullptr;
    long best_load = 0;
    for (auto& inst : instances_) {
      if (inst->pool != pool) continue;
      long load = 0;
      for (const auto& rank : inst->ranks) load += rank.load();
      if (best == nullptr || load < best_load) {
        best = inst.get();
        best_load = load;
      }
    }
    return *best;
  }

  static Rank& best_rank(Instance& inst) {
    return *std::min_element(inst.ranks.begin(), inst.ranks.end(),
                             [](const Rank& a, const Rank& b) { return a.load() < b.load(); });
  }

  void wake(Instance& inst) {
    if (inst.idle) {
      inst.idle = false;
      inst.actor->resume();
    }
  }

  // ---- one instance -----------------------------------------------------------------------------------------
  long blocks(long tokens) const { return (tokens + block_tokens_ - 1) / block_tokens_; }

  void release(Rank& rank, Request& r) {
    rank.used_blocks -= r.kv_blocks;
    r.kv_blocks = 0;
  }

  // Frees the most recently admitted request's cache; it recomputes its prompt and what it generated when readmitted.
  void preempt(Rank& rank) {
    Request* victim = rank.running.back();
    rank.running.pop_back();
    release(rank, *victim);
    victim->prompt = victim->input + victim->generated;
    victim->prefilled = victim->cached;
    victim->context = 0;
    rank.waiting.push_front(victim);
    ++preemptions_;
  }

  // `window` tokens more for the sequence's sliding-window layers (ServingMemory::kv_window_tokens).
  bool grow(Rank& rank, Request& r, long tokens, long window, long capacity) {
    const long need = blocks(tokens + window) - r.kv_blocks;
    if (need <= 0) return true;
    if (rank.used_blocks + need > capacity) return false;
    rank.used_blocks += need;
    r.kv_blocks += need;
    return true;
  }

  RankStep form(Rank& rank, const ServingPool& pool, const ServingModel& model, long capacity) {
    RankStep step;
    long budget = pool.batching.max_batch_tokens;
    const auto query_tokens = static_cast<long>(model.tokens_per_decode_step());
    const long window_kv = model.memory().kv_window_tokens;
    const double window = model.window_tokens();
    // What a request holds on admission: its context, or with reserve_output its whole output as well.
    const auto admitted_tokens = [&](const Request& r, long context) {
      return pool.batching.reserve_output ? r.input + r.output + query_tokens : context;
    };
    if (pool.role == PoolRole::decode) {
      // Requests whose KV cache has arrived join when their context fits.
      while (!rank.waiting.empty() && static_cast<int>(rank.running.size()) < pool.batching.max_running) {
        Request* r = rank.waiting.front();
        if (!grow(rank, *r, admitted_tokens(*r, r->context + query_tokens), window_kv, capacity)) break;
        rank.waiting.pop_front();
        rank.running.push_back(r);
      }
    }
    if (pool.role != PoolRole::prefill) {
      for (std::size_t i = 0; i < rank.running.size(); ++i) {
        Request* r = rank.running[i];
        if (!r->decoding()) continue;
        if (budget < query_tokens) break;
        while (!grow(rank, *r, r->context + query_tokens, window_kv, capacity)) {
          const bool self = rank.running.back() == r;
          preempt(rank);
          if (self) break;
        }
        if (r->kv_blocks == 0) break;  // it preempted itself: it and everything after it are gone
        step.decode.push_back(r);
        step.shape.decode_seqs += 1;
        step.shape.decode_context += static_cast<double>(r->context);
        step.shape.decode_window_context += window > 0 ? std::min(window, static_cast<double>(r->context))
                                                       : static_cast<double>(r->context);
        budget -= query_tokens;
      }
    }
    if (pool.role != PoolRole::decode) {
      const bool whole = !pool.batching.chunked_prefill;
      // Without chunking a prompt waits for a step with room for all of it (one longer than a step runs alone).
      const auto waits = [&](const Request& r) {
        return whole && r.prompt - r.prefilled > budget && budget < pool.batching.max_batch_tokens;
      };
      const auto add_chunk = [&](Request* r) {
        if (waits(*r)) return false;
        const long chunk =
            std::min({r->prompt - r->prefilled, whole ? budget : pool.batching.prefill_chunk_tokens, budget});
        if (chunk <= 0) return false;
        step.prefill.push_back({r, chunk});
        step.shape.prefill_tokens += static_cast<double>(chunk);
        step.shape.prefill_seqs += 1;
        step.shape.prefill_pairs += window_pairs(static_cast<double>(r->prefilled), static_cast<double>(chunk), 0.0);
        step.shape.prefill_window_pairs +=
            window_pairs(static_cast<double>(r->prefilled), static_cast<double>(chunk), window);
        budget -= chunk;
        return true;
      };
      for (Request* r : rank.running) {
        if (!r->decoding() && budget > 0) add_chunk(r);
      }
      while (!rank.waiting.empty() && budget > 0 && static_cast<int>(rank.running.size()) < pool.batching.max_running) {
        Request* r = rank.waiting.front();
        if (r->cached < 0) {
          r->cached = std::min(r->input - 1, static_cast<long>(std::floor(s_.prefix_cache_hit_rate * r->input)));
          r->prefilled = r->cached;
        }
        if (waits(*r) || !grow(rank, *r, admitted_tokens(*r, r->prompt), window_kv, capacity)) break;
        rank.waiting.pop_front();
        rank.running.push_back(r);
        add_chunk(r);
      }
    }
    return step;
  }

  long accepted_tokens(const Request& r) {
    long accepted = 1;
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (int i = 0; i < s_.mtp.draft_tokens && u(accept_rng_) < s_.mtp.acceptance_rate; ++i) ++accepted;
    return std::min(accepted, r.output - r.generated);
  }

  void finish(Rank& rank, Request& r, double now) {
    r.finish_s = now;
    release(rank, r);
    rank.running.erase(std::find(rank.running.begin(), rank.running.end(), &r));
    ++completed_;
    sim_detail::report_progress(static_cast<double>(completed_ + rejected_) / static_cast<double>(total_));
    account_system(now, -1);
    if (w_.closed_loop() && static_cast<long>(requests_.size()) < total_) {
      issue(now, draw_length(w_.input_tokens), draw_length(w_.output_tokens));
    }
    check_done();
  }

  void send_to_decode(Rank& from, Request& r, const Instance& source) {
    release(from, r);
    from.running.erase(std::find(from.running.begin(), from.running.end(), &r));
    Instance& target = least_loaded(1);
    Rank& rank = best_rank(target);
    ++rank.incoming;
    const double bytes = static_cast<double>(r.context) * models_[0]->kv_transfer_bytes_per_token();
    sg4::Actor::create("kv", source.host, [this, &r, &target, &rank, bytes, src = source.host] {
      sg4::Comm::sendto(src, target.host, static_cast<std::uint64_t>(bytes));
      --rank.incoming;
      rank.waiting.push_back(&r);
      wake(target);
    });
  }

  void serve(Instance& inst) {
    const auto& pool = s_.pools[static_cast<std::size_t>(inst.pool)];
    const auto& model = *models_[static_cast<std::size_t>(inst.pool)];
    const long capacity = capacity_blocks_[static_cast<std::size_t>(inst.pool)];
    const double q = model.tokens_per_decode_step();
    std::vector<RankStep> steps(inst.ranks.size());
    for (;;) {
      BatchShape busiest, total;
      long tokens = 0;
      double seqs = 0;
      for (std::size_t i = 0; i < inst.ranks.size(); ++i) {
        steps[i] = form(inst.ranks[i], pool, model, capacity);
        const auto& s = steps[i].shape;
        busiest.decode_seqs = std::max(busiest.decode_seqs, s.decode_seqs);
        busiest.decode_context = std::max(busiest.decode_context, s.decode_context);
        busiest.prefill_tokens = std::max(busiest.prefill_tokens, s.prefill_tokens);
        busiest.prefill_seqs = std::max(busiest.prefill_seqs, s.prefill_seqs);
        busiest.prefill_pairs = std::max(busiest.prefill_pairs, s.prefill_pairs);
        busiest.decode_window_context = std::max(busiest.decode_window_context, s.decode_window_context);
        busiest.prefill_window_pairs = std::max(busiest.prefill_window_pairs, s.prefill_window_pairs);
        total.decode_seqs += s.decode_seqs;
        total.decode_context += s.decode_context;
        total.prefill_tokens += s.prefill_tokens;
        total.prefill_seqs += s.prefill_seqs;
        total.prefill_pairs += s.prefill_pairs;
        total.decode_window_context += s.decode_window_context;
        total.prefill_window_pairs += s.prefill_window_pairs;
        tokens += steps[i].tokens();
        seqs += s.decode_seqs + s.prefill_seqs;
      }
      if (tokens == 0) {
        inst.idle = true;
        sg4::this_actor::suspend();
        continue;
      }
      busiest.instance_tokens = total.decode_seqs * q + total.prefill_tokens;
      if (total.prefill_tokens == 0 && !pool.batching.graph_batch_sizes.empty()) {
        // A decode-only step replays a CUDA graph: every rank padded to the busiest one's captured size.
        busiest.decode_seqs = pool.batching.graph_padded_seqs(busiest.decode_seqs);
        busiest.instance_tokens = std::max(busiest.instance_tokens,
                                           busiest.decode_seqs * q * static_cast<double>(inst.ranks.size()));
      }
      const StepCost cost = model.step(busiest);
      const double occupancy = kv_occupancy(inst, capacity);
      sg4::this_actor::sleep_for(cost.time_s);
      const double now = sg4::Engine::get_clock();
      inst.busy_s += cost.time_s;
      inst.prefill_s += cost.time_s * cost.prefill_share;
      inst.kv_area += occupancy * cost.time_s;
      inst.kv_max = std::max(inst.kv_max, occupancy);
      inst.seqs_sum += seqs / static_cast<double>(inst.ranks.size());
      ++inst.steps;
      model_flop_ += model.model_flop(total);
      for (std::size_t i = 0; i < inst.ranks.size(); ++i) apply(inst, inst.ranks[i], steps[i], now);
    }
  }

  static double kv_occupancy(const Instance& inst, long capacity) {
    if (capacity <= 0) return 0.0;
    double used = 0;
    for (const auto& rank : inst.ranks) used += static_cast<double>(rank.used_blocks);
    return used / (static_cast<double>(capacity) * static_cast<double>(inst.ranks.size()));
  }

  void apply(Instance& inst, Rank& rank, const RankStep& step, double now) {
    const auto role = s_.pools[static_cast<std::size_t>(inst.pool)].role;
    for (const auto& chunk : step.prefill) {
      Request& r = *chunk.request;
      r.prefilled += chunk.tokens;
      if (!r.decoding()) continue;
      // The last chunk's logits give the next token.
      r.context = r.prompt;
      r.generated += 1;
      if (r.first_token_s < 0) r.first_token_s = now;
      if (r.generated >= r.output) {
        finish(rank, r, now);
      } else if (role == PoolRole::prefill) {
        send_to_decode(rank, r, inst);
      }
    }
    for (Request* r : step.decode) {
      const long accepted = accepted_tokens(*r);
      r->generated += accepted;
      r->context += accepted;
      if (r->generated >= r->output) finish(rank, *r, now);
    }
  }

  // ---- results --------------------------------------------------------------------------------------------
  ServingResult collect() {
    ServingResult out;
    out.tier = "discrete-event";
    std::vector<double> ttft, tpot, e2e;
    long good = 0;
    for (const auto& r : requests_) {
      if (r.finish_s < 0) continue;
      out.input_tokens += static_cast<double>(r.input);
      out.output_tokens += static_cast<double>(r.output);
      out.duration_s = std::max(out.duration_s, r.finish_s);
      const double first = r.first_token_s - r.arrival_s;
      const double per_token = r.output > 1 ? (r.finish_s - r.first_token_s) / static_cast<double>(r.output - 1) : 0.0;
      ttft.push_back(first);
      tpot.push_back(per_token);
      e2e.push_back(r.finish_s - r.arrival_s);
      if (first <= s_.slo.ttft_s && per_token <= s_.slo.tpot_s) ++good;
    }
    out.requests = completed_;
    out.preemptions = preemptions_;
    out.ttft = latency_stats(ttft);
    out.tpot = latency_stats(tpot);
    out.e2e = latency_stats(e2e);
    out.goodput_fraction = completed_ > 0 ? static_cast<double>(good) / static_cast<double>(completed_) : 0.0;
    const double duration = std::max(out.duration_s, 1e-12);
    account_system(out.duration_s, 0);
    out.arrival_rate_per_s = static_cast<double>(completed_) / duration;
    out.mean_requests_in_system = system_area_ / duration;
    out.mfu = model_flop_ / duration / (job_.cluster.chips * job_.cluster.chip.peak_flop_per_s(DataType::bf16));
    for (std::size_t p = 0; p < s_.pools.size(); ++p) {
      ServingPoolResult pr;
      const auto& pool = s_.pools[p];
      pr.role = pool.role;
      pr.chips = pool.chips;
      pr.instances = pool.instances();
      pr.plan = pool.plan;
      pr.batching = pool.batching;
      pr.memory = models_[p]->memory();
      double busy = 0, prefill = 0, kv_area = 0, seqs = 0;
      for (const auto& inst : instances_) {
        if (inst->pool != static_cast<int>(p)) continue;
        busy += inst->busy_s;
        prefill += inst->prefill_s;
        kv_area += inst->kv_area;
        seqs += inst->seqs_sum;
        pr.kv_occupancy_max = std::max(pr.kv_occupancy_max, inst->kv_max);
        pr.steps += inst->steps;
      }
      pr.busy_fraction = busy / (duration * pool.instances());
      pr.prefill_share = busy > 0 ? prefill / busy : 0.0;
      pr.kv_occupancy_mean = kv_area / (duration * pool.instances());
      pr.mean_batch_seqs = pr.steps > 0 ? seqs / static_cast<double>(pr.steps) : 0.0;
      out.simulated_steps += pr.steps;
      out.pools.push_back(pr);
    }
    if (rejected_ > 0) {
      out.notes.push_back(fmt::format("{} requests rejected: their context does not fit one rank's KV cache", rejected_));
    }
    if (preemptions_ > 0) {
      out.notes.push_back(fmt::format("{} preemptions: the KV cache filled and requests were recomputed", preemptions_));
    }
    return out;
  }

  const ServingJob& job_;
  const ServingSetup& s_;
  const Workload& w_;
  long block_tokens_;
  std::mt19937_64 arrivals_rng_;
  std::mt19937_64 lengths_rng_;
  std::mt19937_64 accept_rng_;
  std::vector<std::unique_ptr<ServingModel>> models_;
  ClusterLinks links_;
  std::vector<long> capacity_blocks_;
  std::vector<std::unique_ptr<Instance>> instances_;
  std::vector<Request> requests_;  // reserved up front: requests are referred to by pointer
  sg4::ActorPtr arrivals_actor_;
  long total_ = 0;
  long completed_ = 0;
  long rejected_ = 0;
  long preemptions_ = 0;
  double model_flop_ = 0;
  double system_area_ = 0;
  double system_last_s_ = 0;
  long in_system_ = 0;
};

}  // namespace

ServingResult simulate_serving(const ServingJob& job, const Assumptions& assumptions, const std::atomic<bool>* cancel,
                               const std::function<void(double)>& progress) {
  const auto started = std::chrono::steady_clock::now();
  const auto topology = build_topology(topology_spec(job.cluster));
  for (const auto& pool : job.serving.pools) {
    const ServingModel model(job, pool, topology, assumptions);
    const auto& m = model.memory();
    if (!m.fits()) {
      throw ModelError(fmt::format(
          "{} does not fit: per chip {:.1f} GiB of weights + {:.1f} GiB workspace + {:.1f} GiB reserved leave no room "
          "for the KV cache in {:.1f} GiB usable; use more chips per instance (tp, pp, ep) or narrower weights",
          pool.role == PoolRole::both ? std::string("the deployment") : fmt::format("the {} pool", to_string(pool.role)),
          m.weights_bytes / kBytesPerGiB, m.workspace_bytes / kBytesPerGiB,
          m.reserved_bytes / kBytesPerGiB, m.usable_bytes / kBytesPerGiB));
    }
  }
  const std::string reply = sim_detail::run_in_engine(
      [&] {
        ServingSim sim(job, assumptions, topology);
        return serving_result_to_json(sim.run()).dump();
      },
      cancel, progress);
  ServingResult result = serving_result_from_json(nlohmann::json::parse(reply));
  complete_serving(result, job, topology, assumptions);
  result.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

}  // namespace flopcast
