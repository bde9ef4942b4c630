#pragma once
// Inside the engine's child process: builds the platform and the actors for one training step and runs it.

#include "flopcast/models/schedule.hpp"
#include "flopcast/sim/simulate.hpp"

namespace flopcast::sim_detail {

struct StepInput {
  const TrainingJob& job;
  const TopologySummary& topology;
  std::vector<StepWork> works;  // per pipeline device: its compute times (a mixed fleet has several chips)
  const PipelineSchedule& schedule;
  const SimOptions& options;
};

// What the child sends back: the step's time and where it went (the estimate's other fields are filled by the
// parent).
struct StepOutput {
  double step_s = 0;
  StepBreakdown breakdown;
  std::vector<DeviceActivity> devices;
  std::vector<LinkLoad> busiest_links;
  std::vector<TraceEvent> trace;
  long activities = 0;
};

StepOutput simulate_step(const StepInput& input);

std::string encode(const StepOutput& output);
StepOutput decode(const std::string& bytes);

}  // namespace flopcast::sim_detail
