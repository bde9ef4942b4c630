#include "flopcast/models/schedule.hpp"

#include <algorithm>
#include <deque>

#include <fmt/format.h>

#include "flopcast/core/errors.hpp"

namespace flopcast {
namespace {

// One chain of virtual stages over the devices: stage v on device v % pp.
std::vector<VirtualStage> chain(int pp, int vpp, long micro_batches) {
  std::vector<VirtualStage> stages;
  const int count = pp * vpp;
  for (int v = 0; v < count; ++v) {
    stages.push_back({v % pp, v, v > 0 ? v - 1 : -1, v + 1 < count ? v + 1 : -1, static_cast<int>(micro_batches)});
  }
  return stages;
}

PipelineOp forward(int stage) { return {OpKind::forward, stage, -1, false}; }
PipelineOp backward(int stage) { return {OpKind::backward, stage, -1, false}; }
PipelineOp pair(const PipelineOp& f, const PipelineOp& b) { return {OpKind::pair, f.stage, b.stage, false}; }

// The steady state of a 1F1B-style order: each forward followed by a backward, or, `paired` (Megatron's
// --overlap-moe-expert-parallel-comm, combined 1F1B), one more warm-up forward and then each forward run together
// with the backward of an earlier micro-batch, so that one's expert all-to-all hides behind the other's kernels.
template <class F, class B>
void steady_state(std::vector<PipelineOp>& ops, long warmup, long total, bool paired, F&& f, B&& b) {
  if (paired) warmup = std::min(total, warmup + 1);
  for (long k = 0; k < warmup; ++k) ops.push_back(f(k));
  for (long k = 0; k < total - warmup; ++k) {
    if (paired) {
      ops.push_back(pair(f(warmup + k), b(k)));
    } else {
      ops.push_back(f(warmup + k));
      ops.push_back(b(k));
    }
  }
  for (long k = total - warmup; k < total; ++k) ops.push_back(b(k));
}

PipelineSchedule gpipe(int pp, long m) {
  PipelineSchedule s{chain(pp, 1, m), std::vector<std::vector<PipelineOp>>(pp)};
  for (int d = 0; d < pp; ++d) {
    for (long i = 0; i < m; ++i) s.ops[d].push_back(forward(d));
    for (long i = 0; i < m; ++i) s.ops[d].push_back(backward(d));
  }
  return s;
}

// 1F1B (PipeDream-Flush, Narayanan et al. 2021): pp - d - 1 warm-up forwards, then one forward one backward, then
// the remaining backwards.
PipelineSchedule one_f_one_b(int pp, long m, bool paired) {
  PipelineSchedule s{chain(pp, 1, m), std::vector<std::vector<PipelineOp>>(pp)};
  for (int d = 0; d < pp; ++d) {
    const long warmup = std::min<long>(pp - d - 1, m);
    steady_state(s.ops[d], warmup, m, paired, [&](long) { return forward(d); }, [&](long) { return backward(d); });
  }
  return s;
}

// ZB-H1 (Qi et al. 2024, section 3.1, as their Megatron-DeepSpeed branch orders it): 1F1B's order, with device d
// splitting the backwards of its first d steady-state steps (and of its last one) into the input-gradient pass, which
// the previous stage waits for, and a weight pass kept for later; from the last steady-state step on, each backward
// is split and followed by one kept weight pass, and the rest run at the end. Device 0, which nothing waits on, runs
// whole backwards. At most d weight passes wait on device d, beside 1F1B's pp - d micro-batches awaiting their
// backward: pp in all, device 0's peak under 1F1B. The bubble shrinks from (pp - 1)(F + B + W) to about
// (pp - 1)(F + B - W), a third when the three passes take the same time.
PipelineSchedule zero_bubble(int pp, long m) {
  PipelineSchedule s{chain(pp, 1, m), std::vector<std::vector<PipelineOp>>(pp)};
  for (int d = 0; d < pp; ++d) {
    auto& ops = s.ops[d];
    const long warmup = std::min<long>(pp - d - 1, m);
    const long steady = m - warmup;
    long kept = 0;  // weight passes waiting
    const auto backward_op = [&](bool split) {
      ops.push_back({split ? OpKind::backward_input : OpKind::backward, d, -1, false});
      if (split) ++kept;
    };
    const auto weight = [&] {
      ops.push_back({OpKind::weight, -1, -1, false});
      --kept;
    };
    for (long k = 0; k < warmup; ++k) ops.push_back(forward(d));
    for (long i = 0; i < steady; ++i) {
      ops.push_back(forward(d));
      const bool last = i == steady - 1;
      backward_op(d > 0 && (i < d || last));
      if (d > 0 && last && i >= d) weight();
    }
    for (long i = 0; i < warmup; ++i) {
      backward_op(d > 0);
      if (d > 0 && steady + i >= d) weight();
    }
    while (kept > 0) weight();
  }
  return s;
}

// ZB-V (Qi et al. 2024, section 6), in the order of PyTorch's ScheduleZBVZeroBubble: 2 pp virtual stages in a V,
// device d holding stage d (its first) and 2 pp - 1 - d (its second), so that device 0 holds the first and the last
// and each micro-batch turns on device pp - 1 without a send. Device d runs 2 (pp - d) - 1 forwards of its first
// stage, then d pairs (second, first), then pp - d steps of a forward of its second stage, its input-gradient pass and
// its weight pass; then, while forwards remain, a forward, input-gradient and weight pass of each stage in turn; then
// d input-gradient passes of each stage, and pp - d of the first with a weight pass each; the rest of the weight passes
// last. The order is laid out for at least 2 pp - 1 micro-batches and the passes of the others are left out, as
// PyTorch does. Weight passes run in the order their backwards were split (PyTorch names the stage of each; with equal
// stages the times are the same).
PipelineSchedule zero_bubble_v(int pp, long m) {
  PipelineSchedule s{{}, std::vector<std::vector<PipelineOp>>(pp)};
  const int count = 2 * pp;
  for (int v = 0; v < count; ++v) {
    s.stages.push_back({v < pp ? v : count - 1 - v, v, v > 0 ? v - 1 : -1, v + 1 < count ? v + 1 : -1,
                        static_cast<int>(m)});
  }
  const long laid_out = std::max<long>(2L * pp - 1, m);
  for (int d = 0; d < pp; ++d) {
    auto& ops = s.ops[d];
    const int stage[2] = {d, count - 1 - d};
    // Passes issued per stage (those of micro-batches m and later are left out).
    long forwards[2] = {0, 0}, inputs[2] = {0, 0}, weights[2] = {0, 0};
    const auto f = [&](int c) {
      if (forwards[c]++ < m) ops.push_back(forward(stage[c]));
    };
    const auto i = [&](int c) {
      if (inputs[c]++ < m) ops.push_back({OpKind::backward_input, stage[c], -1, false});
    };
    const auto w = [&](int c) {
      if (weights[c]++ < m) ops.push_back({OpKind::weight, -1, -1, false});
    };
    for (int k = 0; k < 2 * (pp - d) - 1; ++k) f(0);
    for (int k = 0; k < d; ++k) f(1), f(0);
    for (int k = 0; k < pp - d; ++k) f(1), i(1), w(1);
    while (forwards[1] < forwards[0] || forwards[0] < laid_out) {
      if (forwards[0] < laid_out) f(0);
      i(0), w(0), f(1), i(1), w(1);
    }
    for (int k = 0; k < d; ++k) i(0), i(1);
    for (int k = 0; k < pp - d; ++k) i(0), w(0);
    while (weights[1] < inputs[1]) w(1);
    while (weights[0] < inputs[0]) w(0);
  }
  return s;
}

// Interleaved 1F1B (Narayanan et al. 2021, section 2.2; Megatron-LM's order): micro-batches go through the device's
// chunks in groups of pp (the last group may be smaller, then all forwards run first); warm-up (pp - d - 1) x 2 + (vpp - 1) x pp forwards.
PipelineSchedule interleaved(int pp, int vpp, long m, bool paired) {
  // Megatron-LM's warm-up assumes whole groups; with a partial last group every forward goes first.
  const bool whole_groups = m % pp == 0;
  PipelineSchedule s{chain(pp, vpp, m), std::vector<std::vector<PipelineOp>>(pp)};
  // The chunk of each forward (and, mirrored, each backward) in order.
  std::vector<int> chunks;
  for (long group = 0; group < m; group += pp) {
    const long size = std::min<long>(pp, m - group);
    for (int c = 0; c < vpp; ++c) chunks.insert(chunks.end(), size, c);
  }
  const long total = static_cast<long>(chunks.size());
  for (int d = 0; d < pp; ++d) {
    const long warmup =
        m == pp || !whole_groups ? total : std::min<long>(total, (pp - d - 1) * 2L + (vpp - 1L) * pp);
    const auto f = [&](long k) { return forward(chunks[k] * pp + d); };
    const auto b = [&](long k) { return backward((vpp - 1 - chunks[k]) * pp + d); };
    steady_state(s.ops[d], warmup, total, paired, f, b);
  }
  return s;
}

// DualPipe (DeepSeek-V3 report, section 3.2.1 and figure 5): two copies of the model's pp stages, one fed from
// device 0 and one from device pp - 1, half the micro-batches each. A device's phase 0 is the copy whose stage it
// holds in the first half of the pipeline. Eight steps per device, following the published schedule: forwards of
// phase 0, forwards of both, zero-bubble backwards of phase 1 with forwards, the steady state of overlapped
// forward-backward pairs, and the drain.
PipelineSchedule dualpipe(int pp, long m) {
  PipelineSchedule s;
  const int half_m = static_cast<int>(m / 2);
  // Copy 0: stage k on device k; copy 1: stage k on device pp - 1 - k. Virtual stage id = copy x pp + k.
  for (int copy = 0; copy < 2; ++copy) {
    for (int k = 0; k < pp; ++k) {
      const int base = copy * pp;
      s.stages.push_back({copy == 0 ? k : pp - 1 - k, k, k > 0 ? base + k - 1 : -1, k + 1 < pp ? base + k + 1 : -1,
                          half_m});
    }
  }
  s.ops.resize(pp);
  const int half = pp / 2;
  for (int d = 0; d < pp; ++d) {
    const bool second_half = d >= half;
    const int h = std::min(d, pp - 1 - d);
    // The device's virtual stage in copy c.
    const auto stage_of = [&](int copy) { return copy == 0 ? d : pp + (pp - 1 - d); };
    const int phase0 = stage_of(second_half ? 1 : 0);
    const int phase1 = stage_of(second_half ? 0 : 1);
    auto& ops = s.ops[d];
    const auto f = [&](int stage) { ops.push_back(forward(stage)); };
    const auto b = [&](int stage, bool split) {
      ops.push_back({split ? OpKind::backward_input : OpKind::backward, stage, -1, false});
    };
    const auto w = [&] { ops.push_back({OpKind::weight, -1, -1, false}); };
    const auto pair = [&](int f_stage, int b_stage) { ops.push_back({OpKind::pair, f_stage, b_stage, false}); };
    for (int i = 0; i < (half - h - 1) * 2; ++i) f(phase0);                 // 1: nF0
    for (int i = 0; i < h + 1; ++i) {                                       // 2: nF0F1
      f(phase0);
      f(phase1);
    }
    for (int i = 0; i < half - h - 1; ++i) {                                // 3: nB1W1F1
      b(phase1, true);
      w();
      f(phase1);
    }
    const int steady = half_m - pp + h + 1;                                 // 4: nF0B1F1B0
    for (int i = 0; i < steady; ++i) {
      if (i == 0 && h == half - 1) {  // the middle devices do not overlap their first pair
        f(phase0);
        b(phase1, false);
      } else {
        pair(phase0, phase1);
      }
      pair(phase1, phase0);
    }
    for (int i = 0; i < half - h - 1; ++i) {                                // 5: nB1F1B0
      b(phase1, false);
      pair(phase1, phase0);
    }
    for (int i = 0; i < h + 1; ++i) {                                       // 6: nB1B0, second half split
      const bool split = i >= (h + 1) / 2;
      b(phase1, split);
      b(phase0, split);
    }
    for (int i = 0; i < half - h - 1; ++i) {                                // 7: nWB0
      w();
      b(phase0, true);
    }
    for (int i = 0; i < h + 1; ++i) w();                                    // 8: nW (and any left are drained)
  }
  return s;
}

}  // namespace

void check_schedule(Schedule schedule, int pp, long micro_batches) {
  if (pp < 1 || micro_batches < 1) throw ModelError("a schedule needs pp >= 1 and at least one micro-batch");
  if (pp == 1) return;
  if (schedule == Schedule::interleaved && micro_batches < pp) {
    throw ModelError(fmt::format("the interleaved schedule needs at least pp ({}) micro-batches, got {}", pp,
                                 micro_batches));
  }
  if (schedule == Schedule::dualpipe && (pp % 2 != 0 || micro_batches % 2 != 0 || micro_batches < 2L * pp)) {
    throw ModelError(fmt::format("DualPipe needs an even pp and an even number of micro-batches >= 2 pp "
                                 "(pp {}, {} micro-batches)",
                                 pp, micro_batches));
  }
}

PipelineSchedule make_schedule(Schedule schedule, int pp, int vpp, long micro_batches, bool paired) {
  check_schedule(schedule, pp, micro_batches);
  if (paired && pp > 1 && schedule != Schedule::interleaved) {
    throw ModelError(fmt::format("forward-backward pairs (EP all-to-all overlap) need the interleaved schedule or "
                                 "pp 1, got {} with pp {}",
                                 to_string(schedule), pp));
  }
  if (pp == 1) return one_f_one_b(1, micro_batches, paired);
  switch (schedule) {
    case Schedule::gpipe: return gpipe(pp, micro_batches);
    case Schedule::one_f_one_b: return one_f_one_b(pp, micro_batches, false);
    case Schedule::interleaved: return interleaved(pp, vpp, micro_batches, paired);
    case Schedule::dualpipe: return dualpipe(pp, micro_batches);
    case Schedule::zero_bubble: return zero_bubble(pp, micro_batches);
    case Schedule::zero_bubble_v: return zero_bubble_v(pp, micro_batches);
  }
  return one_f_one_b(pp, micro_batches, false);
}

std::string describe(const PipelineOp& op) {
  switch (op.kind) {
    case OpKind::forward: return fmt::format("F{}", op.stage);
    case OpKind::backward: return fmt::format("B{}", op.stage);
    case OpKind::backward_input: return fmt::format("B'{}", op.stage);
    case OpKind::weight: return "W";
    case OpKind::pair: return fmt::format("F{}&B{}", op.stage, op.backward_stage);
  }
  return "?";
}

double pipeline_makespan_s(const PipelineSchedule& schedule, const std::vector<PassTimes>& times) {
  const auto& stages = schedule.stages;
  const std::size_t devices = schedule.ops.size();
  // Completion time of each micro-batch's forward and backward through each virtual stage, in order.
  std::vector<std::vector<double>> forward_end(stages.size());
  std::vector<std::vector<double>> backward_end(stages.size());
  for (std::size_t v = 0; v < stages.size(); ++v) {
    forward_end[v].reserve(static_cast<std::size_t>(stages[v].micro_batches));
    backward_end[v].reserve(static_cast<std::size_t>(stages[v].micro_batches));
  }
  std::vector<std::size_t> next(devices, 0);
  std::vector<double> free(devices, 0.0);
  std::vector<std::deque<double>> weights(devices);
  // When the input of the next forward (backward) of stage v is there; false if not yet computed.
  const auto forward_ready = [&](int v, double& at) {
    const std::size_t k = forward_end[v].size();
    const int prev = stages[v].prev;
    if (prev < 0) return at = 0.0, true;
    if (forward_end[prev].size() <= k) return false;
    return at = forward_end[prev][k], true;
  };
  const auto backward_ready = [&](int v, double& at) {
    const std::size_t k = backward_end[v].size();
    const auto& source = stages[v].next < 0 ? forward_end[v] : backward_end[stages[v].next];
    if (source.size() <= k) return false;
    return at = source[k], true;
  };
  const auto backward_time = [&](std::size_t d, int v, bool split) {
    if (!split) return times[v].backward_s;
    weights[d].push_back(times[v].weight_s);
    return times[v].backward_s - times[v].weight_s;
  };
  for (bool progress = true; progress;) {
    progress = false;
    for (std::size_t d = 0; d < devices; ++d) {
      const auto& ops = schedule.ops[d];
      while (next[d] < ops.size()) {
        const auto& op = ops[next[d]];
        double a = 0, b = 0;
        if (op.kind == OpKind::forward) {
          if (!forward_ready(op.stage, a)) break;
          free[d] = std::max(free[d], a) + times[op.stage].forward_s;
          forward_end[op.stage].push_back(free[d]);
        } else if (op.kind == OpKind::backward || op.kind == OpKind::backward_input) {
          if (!backward_ready(op.stage, a)) break;
          free[d] = std::max(free[d], a) + backward_time(d, op.stage, op.kind == OpKind::backward_input);
          backward_end[op.stage].push_back(free[d]);
        } else if (op.kind == OpKind::weight) {
          if (!weights[d].empty()) {
            free[d] += weights[d].front();
            weights[d].pop_front();
          }
        } else {  // a pair, one pass after the other
          if (!forward_ready(op.stage, a) || !backward_ready(op.backward_stage, b)) break;
          free[d] = std::max({free[d], a, b}) + times[op.stage].forward_s;
          forward_end[op.stage].push_back(free[d]);
          free[d] += backward_time(d, op.backward_stage, op.backward_split);
          backward_end[op.backward_stage].push_back(free[d]);
        }
        ++next[d];
        progress = true;
      }
    }
  }
  double makespan = 0;
  for (std::size_t d = 0; d < devices; ++d) {
    if (next[d] < schedule.ops[d].size()) {
      throw ModelError(fmt::format("the pipeline schedule deadlocks on device {} at op {} ({})", d, next[d],
                                   describe(schedule.ops[d][next[d]])));
    }
    for (double w : weights[d]) free[d] += w;
    makespan = std::max(makespan, free[d]);
  }
  return makespan;
}

}  // namespace flopcast
