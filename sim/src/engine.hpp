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
std::string run_in_engine(const std::function<std::string()>& body, const std::atomic<bool>* cancel = nullptr);

}  // namespace flopcast::sim_detail
