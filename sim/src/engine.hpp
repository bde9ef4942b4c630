#pragma once
// The one place that owns SimGrid's engine: it runs a simulation in a child process (SimGrid's engine and its
// configuration are global and can be set up once per process), sets every model flag on every run, and returns
// what the child wrote. Nothing else in flopcast includes SimGrid's engine headers for set-up.

#include <atomic>
#include <functional>
#include <string>
#include <vector>

namespace flopcast::sim_detail {

// Every SimGrid flag the engine sets, as "name:value", in order.
const std::vector<std::string>& engine_settings();

// Forks; in the child, creates the engine with engine_settings(), calls `body` and sends the string it returns to
// the parent. Throws ModelError with the child's message when `body` throws, or when the child dies. When `cancel` is
// set (from another thread) while the child runs, the child is killed and Cancelled is thrown.
// With `progress`, the parent calls it (on its own thread, about every 50 ms while the child runs) with the latest
// fraction the child passed to report_progress.
std::string run_in_engine(const std::function<std::string()>& body, const std::atomic<bool>* cancel = nullptr,
                          const std::function<void(double)>& progress = {});

// In the engine's child process: the fraction of the simulation done (0 to 1), for the parent's `progress`.
// Elsewhere, and when the parent asked for none, it does nothing. Cheap: one relaxed store.
void report_progress(double fraction);

}  // namespace flopcast::sim_detail
