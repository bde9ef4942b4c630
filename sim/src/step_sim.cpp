// The step simulation's actors (step_simulation.hpp): one per device, running its pipeline schedule's
// passes, collectives and sends on the platform, and simulate_step that runs them all.

#include "step_simulation.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "engine.hpp"
#include "flopcast/core/errors.hpp"

namespace flopcast::sim_detail {

StepOutput StepSimulation::run() {
  build_platform();
  for (const auto& device : devices_) total_ops_ += sched_.ops[device.stage].size();
  for (auto& device : devices_) start_device(device);
  sg4::Engine::get_instance()->run();
  report_progress(1.0);
  return collect();
}

void StepSimulation::trace(const Device& d, const char* stream, std::string name, double start) {
  if (!in_.options.record_trace || !d.traced) return;
  trace_.push_back({d.index, stream, std::move(name), start, now()});
}

DeviceActivity StepSimulation::shares_of_the_step(DeviceActivity a, double step_s) {
  const double free_s = std::max(0.0, step_s - a.compute_s - a.optimizer_s);
  const double left_s = fit_waits_to_free_time(
      free_s, {&a.exposed_tp_s, &a.exposed_cp_s, &a.exposed_ep_s, &a.exposed_pp_s, &a.exposed_dp_s});
  a.bubble_s = std::min(a.bubble_s, left_s);
  a.idle_s = left_s - a.bubble_s;
  return a;
}

void StepSimulation::compute(Device& d, double seconds, double& sum, const char* what) {
  if (seconds <= 0) return;
  const double start = now();
  sg4::this_actor::execute(seconds * kSpeed);
  ++activities_;
  sum += seconds * d.compute_factor;
  d.activity.compute_s += seconds * d.compute_factor;
  trace(d, "compute", what, start);
}

void StepSimulation::compute(Device& d, const Pass& pass, const char* what) {
  if (pass.compute_s() <= 0) return;
  const double start = now();
  sg4::this_actor::execute(pass.compute_s() * kSpeed);
  ++activities_;
  d.sums.gemm_s += pass.gemm_s * d.compute_factor;
  d.sums.attention_s += pass.attention_s * d.compute_factor;
  d.sums.memory_s += pass.memory_s * d.compute_factor;
  d.activity.compute_s += pass.compute_s() * d.compute_factor;
  trace(d, "compute", what, start);
}

void StepSimulation::transfer(Device& d, int kind, const Collective& c, double scale) {
  const double start = now();
  for (const auto& step : c.steps) {
    if (full_ && d.barrier[kind]) d.barrier[kind]->wait();
    double latency = 0;
    Flows flows;
    for (const auto& t : step.transfers) {
      latency = std::max(latency, t.latency_s);
      const double bytes = t.bytes * scale;
      const auto& route = d.ring[kind][path_index(t.path)];
      if (bytes < 1 || route.destination == nullptr) continue;
      flows.push_back({&route, bytes});
    }
    move(d.host, latency, flows);
  }
  busy(d, kind) += now() - start;
  trace(d, kKindNames[kind], kKindNames[kind], start);
}

void StepSimulation::move(sg4::Host* from, double latency_s, const Flows& flows) {
  // Links of their own: free of flows and of other waits, and not two flows of the step on one.
  boost::container::small_vector<int, 4> links;
  bool alone = in_.options.lone_link_waits;
  for (const auto& f : flows) {
    for (int id : f.route->links) {
      loads_[id].bytes += f.bytes;
      if (flows_on_[id] > 0 || held_by_[id] != nullptr || std::find(links.begin(), links.end(), id) != links.end()) {
        alone = false;
      }
      links.push_back(id);
    }
  }
  if (!alone) {
    flows_after(from, latency_s, flows);
    return;
  }
  const double start = now();
  const double data_start = start + latency_s;
  boost::container::small_vector<double, 2> rates, ends;
  double end = data_start;
  for (const auto& f : flows) {
    double rate = std::numeric_limits<double>::infinity();
    for (int id : f.route->links) rate = std::min(rate, loads_[id].bytes_per_s);
    rates.push_back(rate);
    ends.push_back(data_start + std::floor(f.bytes) / rate);  // whole bytes, as a flow carries
    end = std::max(end, ends.back());
  }
  if (end <= start) return;
  Holder holder;
  for (int id : links) held_by_[id] = &holder;
  ++activities_;
  const bool timed_out = holder.wake->acquire_timeout(end - start);
  for (int id : links) {
    if (held_by_[id] == &holder) held_by_[id] = nullptr;
  }
  if (timed_out) return;
  // A flow started on one of the links: the rest shares it from now on.
  const double t = now();
  Flows rest;
  for (std::size_t i = 0; i < flows.size(); ++i) {
    const double left = std::floor(flows[i].bytes) - std::max(0.0, t - data_start) * rates[i];
    if (ends[i] > t && left >= 1) rest.push_back({flows[i].route, left});
  }
  if (rest.empty()) {
    if (end > t) sg4::this_actor::sleep_for(end - t);  // only latency left, no bytes (not reached in practice)
    return;
  }
  flows_after(from, std::max(0.0, data_start - t), rest);
}

void StepSimulation::flows_after(sg4::Host* from, double latency_s, const Flows& flows) {
  if (latency_s > 0) {
    sg4::this_actor::sleep_for(latency_s);
    ++activities_;
  }
  std::vector<sg4::CommPtr> comms;
  for (const auto& f : flows) {
    for (int id : f.route->links) {
      if (held_by_[id] != nullptr) {
        // Its holder shares the link from now on. The copy keeps the semaphore alive until the release is done: the
        // holder may end (its wait timed out at this instant) before it is.
        const auto wake = held_by_[id]->wake;
        held_by_[id] = nullptr;
        wake->release();
      }
      ++flows_on_[id];
    }
    comms.push_back(sg4::Comm::sendto_async(from, f.route->destination, static_cast<std::uint64_t>(f.bytes)));
    ++activities_;
  }
  sg4::Comm::wait_all(comms);
  for (const auto& f : flows) {
    for (int id : f.route->links) --flows_on_[id];
  }
}

double& StepSimulation::busy(Device& d, int kind) {
  auto& a = d.activity;
  switch (kind) {
    case kTp: return a.busy_tp_s;
    case kCp: return a.busy_cp_s;
    case kEp: return a.busy_ep_s;
    case kPp: return a.busy_pp_s;
    default: return a.busy_dp_s;
  }
}

double& StepSimulation::exposed(Device& d, int kind) {
  auto& a = d.activity;
  switch (kind) {
    case kTp: return a.exposed_tp_s;
    case kCp: return a.exposed_cp_s;
    case kEp: return a.exposed_ep_s;
    case kPp: return a.exposed_pp_s;
    default: return a.exposed_dp_s;
  }
}

void StepSimulation::blocking(Device& d, int kind, const Collective& c, double scale) {
  if (c.empty()) return;
  const double start = now();
  transfer(d, kind, c, scale);
  exposed(d, kind) += now() - start;
}

void StepSimulation::wait(Device& d, int kind, const sg4::SemaphorePtr& done) {
  const double start = now();
  done->acquire();
  exposed(d, kind) += now() - start;
}

void StepSimulation::enqueue(Device& d, int kind, const Collective& c, double scale, const char* label,
                             sg4::SemaphorePtr done) {
  ensure_stream(d, kind);
  d.streams[kind].post({&c, scale, nullptr, 0, 0, nullptr, std::move(done), label, false});
}

sg4::SemaphorePtr StepSimulation::post(Device& d, int kind, const Collective& c, double scale, const char* label) {
  auto done = sg4::Semaphore::create(0);
  enqueue(d, kind, c, scale, label, done);
  return done;
}

void StepSimulation::wait_stream(Device& d, int kind) {
  auto done = sg4::Semaphore::create(0);
  d.streams[kind].post({nullptr, 1.0, nullptr, 0, 0, nullptr, done, "", false});
  wait(d, kind, done);
}

void StepSimulation::ensure_stream(Device& d, int kind) {
  auto& stream = d.streams[kind];
  if (stream.running) return;
  stream.running = true;
  sg4::Actor::create(fmt::format("{}.{}", d.host->get_name(), kKindNames[kind]), d.host, [this, &d, kind] {
    auto& s = d.streams[kind];
    for (;;) {
      s.pending->acquire();
      Request r = std::move(s.queue.front());
      s.queue.pop_front();
      if (r.stop) break;
      if (r.collective != nullptr) {
        transfer(d, kind, *r.collective, r.scale);
      } else if (r.route != nullptr) {
        const double start = now();
        Flows flows;
        if (r.bytes >= 1) flows.push_back({r.route, r.bytes});
        move(d.host, r.latency_s, flows);
        busy(d, kind) += now() - start;
        trace(d, kKindNames[kind], r.label, start);
      }
      if (r.notify) r.notify->release();
      if (r.done) r.done->release();
    }
  });
}

void StepSimulation::send(Device& d, int to, int direction) {
  const auto& hop = d.work->pp_hop;
  const int target = sched_.stages[to].device;
  auto& receiver = devices_[target * per_stage_ + d.slot];
  const auto& notify = receiver.channel[to][direction];
  if (target == d.stage || hop.empty()) {
    notify->release();
    return;
  }
  const auto& t = hop.steps.front().transfers.front();
  // Synchronous sends wait for their own completion.
  const auto done = pp_overlap() ? nullptr : sg4::Semaphore::create(0);
  ensure_stream(d, kPp);
  d.streams[kPp].post({nullptr, 1.0, &d.pipeline.at(target), t.bytes, t.latency_s, notify, done,
                       direction == 0 ? "activations" : "gradients", false});
  if (!pp_overlap()) wait(d, kPp, done);
}

void StepSimulation::receive(Device& d, int stage, int direction) {
  const double start = now();
  d.channel[stage][direction]->acquire();
  d.activity.bubble_s += now() - start;
}

void StepSimulation::ep_collective(Device& d, PassState& state, const Collective& c) {
  if (state.pair_all_to_alls != nullptr && !c.empty()) {
    enqueue(d, kEp, c, 1.0, "expert all-to-all");
    *state.pair_all_to_alls = true;
    return;
  }
  const double hidden = d.work->ep_overlap_hidden_fraction;
  if (c.empty() || !overlap() || hidden <= 0) {
    blocking(d, kEp, c);
    return;
  }
  if (state.ep_pending) wait(d, kEp, state.ep_pending);
  blocking(d, kEp, c, 1.0 - hidden);
  state.ep_pending = post(d, kEp, c, hidden, "expert all-to-all");
}

void StepSimulation::finish_pass(Device& d, PassState& state) {
  if (state.tp_pending) wait(d, kTp, state.tp_pending);
  if (state.ep_pending) wait(d, kEp, state.ep_pending);
}

void StepSimulation::tp_collective(Device& d, PassState& state, const LayerWork& l) {
  if (l.tp.empty()) return;
  if (overlap() && plan_.tp_comm_overlap) {
    // Userbuffers overlap hides part of each collective behind the GEMMs around it (as tier 1 assumes); the
    // rest, the chunks no GEMM runs beside, blocks.
    if (state.tp_pending) wait(d, kTp, state.tp_pending);
    const double hidden = d.work->tp_overlap_hidden_fraction;
    blocking(d, kTp, l.tp, 1.0 - hidden);
    state.tp_pending = post(d, kTp, l.tp, hidden, "tp");
  } else {
    blocking(d, kTp, l.tp);
  }
}

// A block's backward collectives. Without userbuffers, Megatron and Transformer Engine run the column-parallel layer's
// input-gradient reduce-scatter (all-reduce without SP) and, with SP, its input's re-gather beside the block's
// backward GEMMs (tp_async_backward); the row-parallel layer's gradient all-gather (SP) blocks, half the traffic.
void StepSimulation::tp_backward_collective(Device& d, PassState& state, const LayerWork& l) {
  if (l.tp.empty()) return;
  if (!overlap() || plan_.tp_comm_overlap || !plan_.tp_async_backward) {
    tp_collective(d, state, l);
    return;
  }
  if (state.tp_pending) wait(d, kTp, state.tp_pending);
  if (plan_.sp) blocking(d, kTp, l.tp, 0.5);
  state.tp_pending = post(d, kTp, l.tp, 1.0, "tp backward");
}

void StepSimulation::attention_with_cp(Device& d, const LayerWork& l, const Pass& attention, bool backward,
                                       const char* what) {
  const int exchanges = backward ? l.cp_backward_exchanges : l.cp_exchanges;
  if (exchanges == 0) {
    compute(d, attention, what);
    return;
  }
  // The pass's whole ring (or Ulysses' all-to-alls), built once per layer kind and direction (the stream keeps a
  // pointer to it).
  auto& ring = cp_rings_[{&l, backward ? 1 : 0}];
  if (ring.empty()) ring = l.cp.repeated(exchanges);
  if (overlap() && l.cp_behind_attention) {
    auto done = post(d, kCp, ring, 1.0, "ring attention");
    compute(d, attention, what);
    wait(d, kCp, done);
  } else {
    blocking(d, kCp, ring);
    compute(d, attention, what);
  }
}

void StepSimulation::forward_layer(Device& d, PassState& state, const LayerWork& l, const char* what) {
  if (l.mixer_block) {
    attention_with_cp(d, l, l.attention_forward, false, what);
    tp_collective(d, state, l);
  }
  if (l.ffn_block) {
    ep_collective(d, state, l.ep_dispatch);
    compute(d, l.ffn_forward, what);
    ep_collective(d, state, l.ep_combine);
    tp_collective(d, state, l);
  }
}

void StepSimulation::backward_layer(Device& d, PassState& state, const LayerWork& l, bool split, bool full) {
  if (full) forward_layer(d, state, l, "recompute");
  if (l.recompute_dispatch) ep_collective(d, state, l.ep_dispatch);  // recomputed experts: both again
  if (l.recompute.compute_s() > 0) compute(d, l.recompute, "recompute");
  if (l.recompute_dispatch) ep_collective(d, state, l.ep_combine);
  Pass ffn = l.ffn_backward;
  Pass attention = l.attention_backward;
  if (split) {  // the weight-gradient GEMMs (half the backward GEMMs) wait in the queue
    d.weight_queue.push_back(0.5 * (ffn.gemm_s + attention.gemm_s));
    ffn.gemm_s *= 0.5;
    attention.gemm_s *= 0.5;
  }
  if (l.ffn_block) {
    tp_backward_collective(d, state, l);
    ep_collective(d, state, l.ep_combine);
    compute(d, ffn, "backward");
    ep_collective(d, state, l.ep_dispatch);
  }
  if (l.mixer_block) {
    tp_backward_collective(d, state, l);
    attention_with_cp(d, l, attention, true, "backward");
  }
}

void StepSimulation::forward_pass(Device& d, int v, bool* pair_all_to_alls) {
  const auto& vs = sched_.stages[v];
  const auto& layout = d.work->chunks[vs.layout];
  if (vs.prev >= 0) receive(d, v, 0);
  zero3_gather(d, layout);
  PassState state;
  state.pair_all_to_alls = pair_all_to_alls;
  for_each_layer(d, layout, false, [&](int i, const LayerWork& l) {
    const auto ready = d.parameters_ready.find({v, i});
    if (ready != d.parameters_ready.end()) {
      wait(d, kDp, ready->second);
      d.parameters_ready.erase(ready);
    }
    forward_layer(d, state, l, "forward");
  });
  if (layout.head) {
    for (int i = 0; i < 1 + layout.mtp_modules; ++i) compute(d, d.work->head, "head");
    for (int i = 0; i < layout.mtp_modules; ++i) compute(d, d.work->mtp_projection, "mtp");
  }
  finish_pass(d, state);
  compute(d, d.work->overhead_s(layout) / 2.0, d.sums.overhead_s, "overhead");
  if (vs.next >= 0) send(d, vs.next, 0);
}

void StepSimulation::backward_pass(Device& d, int v, bool split, bool received,
                                   bool* pair_all_to_alls) {
  const auto& vs = sched_.stages[v];
  const auto& layout = d.work->chunks[vs.layout];
  if (vs.next >= 0 && !received) receive(d, v, 1);
  zero3_gather(d, layout);
  const bool last = ++d.backwards_done[v] == vs.micro_batches;
  PassState state;
  state.pair_all_to_alls = pair_all_to_alls;
  if (layout.head) {
    for (int i = 0; i < 1 + layout.mtp_modules; ++i) {
      compute(d, Pass{2.0 * d.work->head.gemm_s, 0, d.work->head.memory_s}, "head backward");
    }
    for (int i = 0; i < layout.mtp_modules; ++i) {
      compute(d, Pass{2.0 * d.work->mtp_projection.gemm_s, 0, 0}, "mtp backward");
    }
  }
  const auto& sync = d.work->sync[d.stage];
  for_each_layer(d, layout, true, [&](int i, const LayerWork& l) {
    backward_layer(d, state, l, split, plan_.recomputes_layer(i, layout.layers()));
    // The layer's gradients are final after its last backward: reduce them behind the rest of the backward.
    if (last && dp_overlap() && !sync.gradients.empty()) {
      gradient_buckets_[d.index].push_back(post(d, kDp, sync.gradients, 1.0 / d.layers, "gradients"));
    }
  });
  finish_pass(d, state);
  compute(d, d.work->overhead_s(layout) / 2.0, d.sums.overhead_s, "overhead");
  if (vs.prev >= 0) send(d, vs.prev, 1);
}

void StepSimulation::zero3_gather(Device& d, const StageLayout& layout) {
  if (!plan_.gathers_weights_per_pass()) return;
  const auto& sync = d.work->sync[d.stage];
  if (sync.parameters.empty()) return;
  const double share = static_cast<double>(layout.layers() + layout.mtp_modules) / std::max(1, d.layers);
  auto& prefetched = zero3_next_[d.index];
  if (!dp_overlap() || !prefetched) prefetched = post(d, kDp, sync.parameters, share, "weights");
  wait(d, kDp, prefetched);
  prefetched = dp_overlap() ? post(d, kDp, sync.parameters, share, "weights") : nullptr;
}

void StepSimulation::run_op(Device& d, const PipelineOp& op) {
  switch (op.kind) {
    case OpKind::forward: forward_pass(d, op.stage); break;
    case OpKind::backward: backward_pass(d, op.stage, false); break;
    case OpKind::backward_input: backward_pass(d, op.stage, true); break;
    case OpKind::weight:
      if (!d.weight_queue.empty()) {
        compute(d, d.weight_queue.front(), d.sums.gemm_s, "weight gradients");
        d.weight_queue.pop_front();
      }
      break;
    case OpKind::pair: {
      // A forward and a backward of two micro-batches, started once both inputs are there: DualPipe schedules the
      // pair as one unit (tier 1 walks the schedule the same way). Combined 1F1B (ep_comm_overlap): one after the
      // other, a share of each all-to-all hidden (ep_collective). DualPipe: the kernels of both, one after the
      // other, with every expert all-to-all of the pair on the EP stream beside them, the pair done when the last
      // one is. The DeepSeek-V3 report (section 3.2.1, figure 4) orders the two chunks' attention, dispatch, MLP
      // and combine by hand so that each all-to-all runs behind the other chunk's kernels and both are hidden; two
      // free-running lanes sharing the chip fall into step instead (both computing at half speed, then both
      // waiting on the network) and exposed all-to-alls DualPipe does not. The kernels run on the SMs the
      // all-to-all kernels leave (build_step_work slows them by that share).
      const bool gradient_input = sched_.stages[op.backward_stage].next >= 0;
      if (gradient_input) receive(d, op.backward_stage, 1);
      if (!overlap() || plan_.ep_comm_overlap) {
        forward_pass(d, op.stage);
        backward_pass(d, op.backward_stage, op.backward_split, gradient_input);
        break;
      }
      bool posted = false;
      forward_pass(d, op.stage, &posted);
      backward_pass(d, op.backward_stage, op.backward_split, gradient_input, &posted);
      if (posted) wait_stream(d, kEp);
      break;
    }
  }
}

void StepSimulation::start_device(Device& d) {
  sg4::Actor::create(d.host->get_name(), d.host, [this, &d] {
    const auto& sync = d.work->sync[d.stage];
    const auto& ops = sched_.ops[d.stage];
    // Parameters gathered at the start of the step (sharded optimizer): layer by layer in order of first use,
    // each forward waiting only for its own layer.
    if (plan_.zero >= 1 && !plan_.gathers_weights_per_pass() && !sync.parameters.empty()) {
      if (dp_overlap()) {
        std::vector<int> order;
        for (const auto& op : ops) {
          if ((op.kind == OpKind::forward || op.kind == OpKind::pair) &&
              std::find(order.begin(), order.end(), op.stage) == order.end()) {
            order.push_back(op.stage);
          }
        }
        for (int v : order) {
          const auto& layout = d.work->chunks[sched_.stages[v].layout];
          for (int i = 0; i < layout.layers() + layout.mtp_modules; ++i) {
            d.parameters_ready[{v, i}] = post(d, kDp, sync.parameters, 1.0 / d.layers, "parameters");
          }
        }
      } else {
        blocking(d, kDp, sync.parameters);
      }
    }
    for (const auto& op : ops) {
      run_op(d, op);
      report_progress(static_cast<double>(++ops_done_) / static_cast<double>(total_ops_));
    }
    while (!d.weight_queue.empty()) run_op(d, {OpKind::weight, -1, -1, false});
    // Drain: pipeline sends, then the gradient reduction.
    if (d.streams[kPp].running) wait_stream(d, kPp);
    if (dp_overlap()) {
      for (auto& bucket : gradient_buckets_[d.index]) wait(d, kDp, bucket);
    } else {
      blocking(d, kDp, sync.gradients);
    }
    const double optimizer_start = now();
    compute(d, sync.optimizer_s, d.sums.optimizer_s, "optimizer");
    d.activity.optimizer_s += now() - optimizer_start;
    d.activity.compute_s -= sync.optimizer_s * d.compute_factor;
    compute(d, d.work->per_step_overhead_s, d.sums.overhead_s, "step overhead");
    d.finish_s = now();
    for (auto& stream : d.streams) {
      if (stream.running) stream.post({nullptr, 1.0, nullptr, 0, 0, nullptr, nullptr, "", true});
    }
  });
}

StepOutput simulate_step(const StepInput& input) { return StepSimulation(input).run(); }

}  // namespace flopcast::sim_detail
