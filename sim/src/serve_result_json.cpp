// A serving result as JSON and back (serve_sim.hpp): what `flopcast serve --json` prints, and how the engine's child
// process hands its result to the parent.

#include "flopcast/sim/serve_sim.hpp"

#include <nlohmann/json.hpp>

namespace flopcast {

NLOHMANN_JSON_SERIALIZE_ENUM(PoolRole, {{PoolRole::both, "both"}, {PoolRole::prefill, "prefill"}, {PoolRole::decode, "decode"}})
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ServingPlan, tp, pp, dp_attention, ep)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Batching, max_batch_tokens, max_running, prefill_chunk_tokens, chunked_prefill)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ServingMemory, weights_bytes, workspace_bytes, reserved_bytes, usable_bytes, kv_bytes,
                                   kv_bytes_per_token, kv_window_tokens, kv_capacity_tokens)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(LatencyStats, mean_s, p50_s, p90_s, p99_s)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ServingPoolResult, role, chips, instances, plan, batching, memory, busy_fraction,
                                   prefill_share, kv_occupancy_mean, kv_occupancy_max, mean_batch_seqs, steps)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ServingResult, tier, requests, preemptions, duration_s, input_tokens, output_tokens,
                                   input_tokens_per_s, output_tokens_per_s, input_tokens_per_s_per_chip,
                                   output_tokens_per_s_per_chip, input_tokens_per_s_per_node,
                                   output_tokens_per_s_per_node, ttft, tpot, e2e, goodput_requests_per_s,
                                   goodput_fraction, goodput_output_tokens_per_s, arrival_rate_per_s,
                                   mean_requests_in_system, mfu, facility_power_w, energy_kwh, kwh_per_mtok, cost_usd,
                                   usd_per_hour, usd_per_m_input, usd_per_m_output, usd_per_m_tokens, log_sigma,
                                   pools, simulated_steps, wall_s, notes)

// The result, and the p10 and p90 of its headline figures under the model's error spread.
nlohmann::json serving_result_to_json(const ServingResult& result) {
  nlohmann::json json = result;
  auto& ranges = json["p10_p90"];
  const auto add = [&](const char* name, double value) {
    const auto [low, high] = serving_range(result, value);
    ranges[name] = {low, high};
  };
  add("output_tokens_per_s_per_chip", result.output_tokens_per_s_per_chip);
  add("input_tokens_per_s_per_chip", result.input_tokens_per_s_per_chip);
  add("ttft_p50_s", result.ttft.p50_s);
  add("tpot_p50_s", result.tpot.p50_s);
  add("usd_per_m_tokens", result.usd_per_m_tokens);
  add("usd_per_m_output", result.usd_per_m_output);
  return json;
}

ServingResult serving_result_from_json(const nlohmann::json& json) { return json.get<ServingResult>(); }

}  // namespace flopcast
