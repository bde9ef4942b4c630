#pragma once
// Pipeline schedules as op orders per device. A virtual stage is a slice of the model on one device (1F1B, GPipe and
// ZB-H1: one per device; interleaved: vpp per device; DualPipe: two per device, one of each model copy running in
// opposite directions). Each device runs its ops in order; an op waits for its input from the neighbouring stage.

#include <string>
#include <vector>

#include "flopcast/models/plan.hpp"

namespace flopcast {

struct VirtualStage {
  int device = 0;
  int layout = 0;  // index into StepWork::chunks
  int prev = -1;   // virtual stage that feeds this one's forward (-1: first)
  int next = -1;   // virtual stage this one's forward feeds (-1: last, computes the loss)
  int micro_batches = 0;
};

enum class OpKind {
  forward,
  backward,        // full backward (input and weight gradients)
  backward_input,  // zero-bubble split: input gradients only; the weight half is queued
  weight,          // a queued weight-gradient half
  pair             // DualPipe: a forward and a backward of two micro-batches overlapped on one device
};

struct PipelineOp {
  OpKind kind = OpKind::forward;
  int stage = 0;           // virtual stage (forward, backward, backward_input; the forward of a pair)
  int backward_stage = -1; // the backward of a pair
  bool backward_split = false;  // the pair's backward is split (zero bubble)
};

struct PipelineSchedule {
  std::vector<VirtualStage> stages;
  std::vector<std::vector<PipelineOp>> ops;  // per device, in order
};

// Throws ModelError when the schedule cannot run this many micro-batches on this many stages (the interleaved
// schedule needs a multiple of pp; DualPipe an even pp and at least 2 pp micro-batches, an even number).
// `paired`: Megatron's combined 1F1B (--overlap-moe-expert-parallel-comm): one more warm-up forward, then every
// steady-state forward runs as a pair with an earlier micro-batch's backward (interleaved, or pp 1).
PipelineSchedule make_schedule(Schedule schedule, int pp, int vpp, long micro_batches, bool paired = false);

// make_schedule's checks alone: throws its ModelError, builds nothing.
void check_schedule(Schedule schedule, int pp, long micro_batches);

std::string describe(const PipelineOp& op);

// Times of one micro-batch's passes through one virtual stage, in seconds.
struct PassTimes {
  double forward_s = 0;
  double backward_s = 0;  // the full backward; a split backward takes backward_s - weight_s, its weight op weight_s
  double weight_s = 0;
};

// Length of the schedule's critical path when each pass takes its time and transfers take none (the analytical
// tier's pipeline: its bubble is this minus the busiest device's work). Throws ModelError if the order deadlocks.
double pipeline_makespan_s(const PipelineSchedule& schedule, const std::vector<PassTimes>& per_stage);

}  // namespace flopcast
