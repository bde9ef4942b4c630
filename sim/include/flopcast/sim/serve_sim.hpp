#pragma once
// Serving, request by request (tier 2): a discrete-event simulation on SimGrid actors. An arrival actor issues
// requests (Poisson, a closed loop of clients, or a trace); each model instance is an actor that runs continuous-
// batching steps (decode tokens first, then chunked prefill under the token budget, paged KV cache, preemption by
// recomputation when the cache is full) and sleeps for the step time the kernel model gives; with prefill/decode
// disaggregation, each finished prefill sends its KV cache to a decode instance as a flow over the instances'
// NICs, sharing their bandwidth. Deterministic for a given seed.

#include <atomic>
#include <functional>
#include <nlohmann/json.hpp>

#include "flopcast/models/serving.hpp"

namespace flopcast {

// `cancel` and `progress` (the fraction of requests finished) as in SimOptions (simulate.hpp).
ServingResult simulate_serving(const ServingJob& job, const Assumptions& assumptions,
                               const std::atomic<bool>* cancel = nullptr,
                               const std::function<void(double)>& progress = {});

// The result as JSON (every field, units in the names) and back: the transport out of the engine's process and
// the `--json` output.
nlohmann::json serving_result_to_json(const ServingResult& result);
ServingResult serving_result_from_json(const nlohmann::json& json);

}  // namespace flopcast
