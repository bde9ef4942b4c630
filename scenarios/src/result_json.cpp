#include <algorithm>
#include <fmt/format.h>

#include "flopcast/core/json_reader.hpp"

#include "flopcast/hardware/export_control.hpp"
#include "flopcast/scenarios/scenario.hpp"
#include "flopcast/scenarios/uncertainty.hpp"
#include "flopcast/scenarios/whole_run.hpp"

namespace flopcast {

namespace {

nlohmann::json quantity_json(const std::string& name, const Quantity& q) {
  auto j = quantity_to_json(q);
  j["name"] = name;
  return j;
}

// The catalog figures this estimate rests on, with their provenance (values in SI: flop/s, bytes, bytes/s, s, W).
nlohmann::json assumptions_json(const Scenario& scenario, const Catalogs& catalogs) {
  nlohmann::json list = nlohmann::json::array();
  const auto& chip = scenario.job.cluster.chip;
  const auto& node = scenario.job.cluster.node;
  const auto& fabric = scenario.job.cluster.fabric;
  // The bf16 peak (attention, MFU) and, when different, the peak the GEMMs run at.
  std::vector<DataType> peaks{DataType::bf16};
  if (gemm_data_type(scenario.job) != DataType::bf16) peaks.push_back(gemm_data_type(scenario.job));
  for (auto type : peaks) {
    if (chip.peak(type)) {
      list.push_back(quantity_json(fmt::format("chip.peak_dense.{}_flop_per_s", to_string(type)), *chip.peak(type)));
    }
  }
  list.push_back(quantity_json("chip.hbm_capacity_bytes", chip.hbm_capacity));
  list.push_back(quantity_json("chip.hbm_bandwidth_bytes_per_s", chip.hbm_bandwidth));
  list.push_back(quantity_json("chip.tdp_w", chip.tdp));
  list.push_back(quantity_json("node.scaleup_bandwidth_per_direction_bytes_per_s", node.scaleup_bandwidth_per_direction));
  list.push_back(quantity_json("node.scaleup_latency_s", node.scaleup_latency));
  list.push_back(quantity_json("node.nic_bandwidth_bytes_per_s", node.nic_bandwidth));
  if ((scenario.job.plan.offload_activation_layers > 0 || scenario.job.plan.optimizer_offload_fraction > 0) &&
      node.host_link_bandwidth_per_direction) {
    list.push_back(quantity_json("node.host_link_bandwidth_per_direction_bytes_per_s",
                                 *node.host_link_bandwidth_per_direction));
  }
  if (scenario.job.plan.optimizer_offload_fraction > 0 && node.host_memory_bandwidth) {
    list.push_back(quantity_json("node.host_memory_bandwidth_bytes_per_s", *node.host_memory_bandwidth));
  }
  list.push_back(quantity_json("node.host_power_w", node.host_power));
  list.push_back(quantity_json("fabric.port_bandwidth_bytes_per_s", fabric.port_bandwidth));
  list.push_back(quantity_json("fabric.switch_latency_s", fabric.switch_latency));
  if (scenario.job.costs.mode == CostMode::rental && chip.rental_price) {
    list.push_back(quantity_json("chip.rental_price_usd_per_hour", *chip.rental_price));
  }
  if (scenario.job.costs.mode == CostMode::ownership && chip.price) list.push_back(quantity_json("chip.price_usd", *chip.price));
  for (const auto& [name, q] : catalogs.assumptions.provenance) {
    const bool kernel = name.rfind("kernels.", 0) == 0;
    if (kernel && name.rfind("kernels." + chip.family + ".", 0) != 0) continue;  // other families' kernels
    list.push_back(quantity_json(name, q));
  }
  if (scenario.failures) {
    for (const auto& [name, q] : catalogs.failures.provenance) list.push_back(quantity_json(name, q));
  }
  return list;
}

// The p10-p90 bounds beside each central value, and how they were obtained.
void add_intervals(nlohmann::json& j, const Scenario& scenario, const TrainingEstimate& e, Tier tier,
                   const Catalogs& catalogs, const WholeRunResult* whole_run) {
  const auto intervals = prediction_intervals(scenario, e, tier, catalogs, whole_run);
  const auto bounds = [&j](const std::string& key, const Interval& interval) {
    j[key + "_p10"] = interval.p10;
    j[key + "_p90"] = interval.p90;
  };
  bounds("step_time_s", intervals.step_time_s);
  bounds("train_days", intervals.train_days);
  bounds("cost_usd", intervals.cost_usd);
  bounds("usd_per_mtok", intervals.usd_per_mtok);
  bounds("tokens_per_s_per_chip", intervals.tokens_per_s_per_chip);
  bounds("mfu", intervals.mfu);
  // Model and hardware FLOP rates per chip follow tokens per chip: the FLOPs per token are the model's, not uncertain.
  const auto scaled = [](const Interval& interval, double factor) {
    Interval out = interval;
    out.p10 *= factor;
    out.p90 *= factor;
    return out;
  };
  bounds("model_tflops_per_chip", scaled(intervals.tokens_per_s_per_chip, e.flops.model / 1e12));
  if (e.tokens_per_s_per_chip > 0) bounds("hfu", scaled(intervals.mfu, e.hfu / std::max(e.mfu, 1e-30)));
  nlohmann::json inputs = nlohmann::json::array();
  for (const auto& i : intervals.inputs) {
    inputs.push_back({{"name", i.name},
                      {"unit", i.unit},
                      {"low", i.low},
                      {"value", i.value},
                      {"high", i.high},
                      {"step_time_ratio_at_low", i.step_ratio_low},
                      {"step_time_ratio_at_high", i.step_ratio_high},
                      {"cost_ratio_at_low", i.cost_ratio_low},
                      {"cost_ratio_at_high", i.cost_ratio_high}});
  }
  j["uncertainty"] = {{"interval", "p10-p90"},
                      {"model_log_sigma", intervals.model_log_sigma},
                      {"calibrated_families_only", intervals.calibrated},
                      {"model_spread_source", intervals.spread_source},
                      {"monte_carlo_samples", intervals.samples},
                      {"inputs", std::move(inputs)}};
}

nlohmann::json estimate_json(const Scenario& scenario, const TrainingEstimate& e, Tier tier, const Catalogs& catalogs,
                             const WholeRunResult* whole_run = nullptr) {
  const auto& b = e.breakdown;
  const auto& m = e.memory;
  const auto& ec = e.energy_cost;
  const auto exports = classify_export(scenario.job.cluster.chip);
  nlohmann::json j;
  j["name"] = scenario.name;
  j["file"] = scenario.file;
  j["tier"] = std::string(to_string(tier));
  j["step_time_s"] = e.step_time_s;
  j["tokens_per_step"] = e.tokens_per_step;
  j["micro_batches"] = e.micro_batches;
  j["tokens_per_s"] = e.tokens_per_s;
  j["tokens_per_s_per_chip"] = e.tokens_per_s_per_chip;
  j["mfu"] = e.mfu;
  j["hfu"] = e.hfu;
  j["mfu_reference"] = "dense bf16 peak of the chip";
  j["model_tflops_per_chip"] = e.model_flop_per_s_per_chip / 1e12;
  j["model_flops_per_token"] = e.flops.model;
  j["hardware_flops_per_token"] = e.hardware_flops_per_token;
  j["params_total"] = e.params.total;
  j["params_active"] = e.params.active;
  j["memory_per_chip_bytes"] = m.total_bytes;
  j["fits_memory"] = m.fits;
  j["memory"] = {{"stage", m.stage},
                 {"weights_bytes", m.weights_bytes},
                 {"gradients_bytes", m.gradients_bytes},
                 {"optimizer_bytes", m.optimizer_bytes},
                 {"gathered_weights_bytes", m.gathered_weights_bytes},
                 {"activations_bytes", m.activations_bytes},
                 {"reserved_bytes", m.reserved_bytes},
                 {"total_bytes", m.total_bytes},
                 {"capacity_bytes", m.capacity_bytes},
                 {"usable_bytes", m.usable_bytes},
                 {"margin_bytes", m.margin_bytes},
                 {"micro_batches_in_flight", m.in_flight}};
  j["train_days"] = e.train_days;
  j["steps"] = e.steps;
  j["chip_hours"] = e.chip_hours;
  j["energy_kwh"] = ec.energy_kwh;
  j["facility_power_w"] = ec.facility_power_w;
  j["electricity_usd"] = ec.electricity_usd;
  j["cost_usd"] = ec.cost_usd;
  j["cost_mode"] = scenario.job.costs.mode == CostMode::rental ? "rental" : "ownership";
  if (scenario.job.costs.mode == CostMode::ownership) j["capex_usd"] = ec.capex_usd;
  j["usd_per_mtok"] = ec.usd_per_mtok;
  add_intervals(j, scenario, e, tier, catalogs, whole_run);
  j["breakdown"] = {{"compute_s", b.compute_s()},
                    {"compute",
                     {{"gemm_s", b.gemm_s}, {"attention_s", b.attention_s}, {"memory_bound_s", b.memory_bound_s}}},
                    {"exposed_communication_s", b.communication_s()},
                    {"exposed_communication",
                     {{"tp_s", b.tp_s}, {"cp_s", b.cp_s}, {"ep_s", b.ep_s}, {"pp_s", b.pp_s}, {"dp_s", b.dp_s}}},
                    {"bubble_s", b.bubble_s},
                    {"other_s", b.other_s()},
                    {"other", {{"optimizer_s", b.optimizer_s}, {"overhead_s", b.overhead_s}}}};
  j["topology"] = {{"kind", std::string(to_string(scenario.job.cluster.topology))},
                   {"nodes", scenario.job.cluster.nodes},
                   {"tiers", e.topology.tiers},
                   {"planes", e.topology.planes},
                   {"switches", e.topology.switches},
                   {"cables", e.topology.cables},
                   {"max_switch_hops", e.topology.max_switch_hops},
                   {"bisection_bytes_per_s", e.topology.bisection_bytes_per_s},
                   {"bisection_ratio", e.topology.bisection_ratio}};
  j["export_control"] = {{"tpp", exports.tpp},
                         {"performance_density", exports.performance_density},
                         {"rule_2022_10", std::string(to_string(exports.rule_2022))},
                         {"rule_2023_10", std::string(to_string(exports.rule_2023))}};
  j["notes"] = e.notes;
  j["defaults_used"] = scenario.defaults_used;
  j["resolved_scenario"] = scenario.resolved;
  j["assumptions"] = assumptions_json(scenario, catalogs);
  j["catalog_version"] = catalogs.hardware.version;
  return j;
}

}  // namespace

nlohmann::json result_to_json(const Scenario& scenario, const TrainingEstimate& e, const Catalogs& catalogs) {
  return estimate_json(scenario, e, Tier::analytical, catalogs);
}

nlohmann::json result_to_json(const Scenario& scenario, const SimResult& r, const Catalogs& catalogs) {
  nlohmann::json j = estimate_json(scenario, r.estimate, r.tier, catalogs, whole_run_of(r));
  if (r.whole_run) j["whole_run"] = whole_run_to_json(*r.whole_run);
  if (r.tier == Tier::analytical) return j;
  const double step = r.estimate.step_time_s;
  nlohmann::json devices = nlohmann::json::array();
  for (const auto& d : r.devices) {
    const auto share = [step](double s) { return step > 0 ? s / step : 0.0; };
    devices.push_back({{"device", d.name},
                       {"busy_fraction",
                        {{"compute", share(d.compute_s)},
                         {"exposed_tp", share(d.exposed_tp_s)},
                         {"exposed_cp", share(d.exposed_cp_s)},
                         {"exposed_ep", share(d.exposed_ep_s)},
                         {"exposed_pp", share(d.exposed_pp_s)},
                         {"exposed_dp", share(d.exposed_dp_s)},
                         {"bubble", share(d.bubble_s)},
                         {"optimizer", share(d.optimizer_s)},
                         {"idle", share(d.idle_s)}}},
                       {"stream_busy_fraction",
                        {{"tp", share(d.busy_tp_s)},
                         {"cp", share(d.busy_cp_s)},
                         {"ep", share(d.busy_ep_s)},
                         {"pp", share(d.busy_pp_s)},
                         {"dp", share(d.busy_dp_s)}}}});
  }
  nlohmann::json links = nlohmann::json::array();
  for (const auto& l : r.busiest_links) {
    links.push_back({{"link", l.name}, {"bytes_per_s", l.bytes_per_s}, {"bytes", l.bytes}, {"utilisation", l.utilisation}});
  }
  j["simulation"] = {{"devices", std::move(devices)},
                     {"busiest_links", std::move(links)},
                     {"engine_settings", r.engine_settings},
                     {"simulated_activities", r.simulated_activities}};  // no wall time: same input, same bytes
  return j;
}

}  // namespace flopcast
