// The step simulation's output (step_simulation.hpp): the step time, its breakdown and each device's shares collected
// from the devices after the run, and its encoding between the processes that run steps in parallel.

#include "step_simulation.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "engine.hpp"
#include "flopcast/core/errors.hpp"

#include <nlohmann/json.hpp>

namespace flopcast::sim_detail {

double fit_waits_to_free_time(double free_s, std::initializer_list<double*> waits) {
  double comm_s = 0;
  for (const double* w : waits) comm_s += *w;
  if (comm_s > free_s) {
    const double keep = std::max(0.0, 1.0 - (comm_s - free_s) / comm_s);
    for (double* w : waits) *w *= keep;
    comm_s *= keep;
  }
  return std::max(0.0, free_s - comm_s);
}

StepOutput StepSimulation::collect() {
  for (const auto& d : devices_) {
    if (d.finish_s <= 0) {
      throw ModelError(fmt::format("the {} schedule deadlocked on {} (a flopcast bug: please report it)",
                                   to_string(plan_.schedule), d.activity.name));
    }
  }
  StepOutput out;
  for (const auto& d : devices_) out.step_s = std::max(out.step_s, d.finish_s);
  // The breakdown is the busiest device's (as tier 1 reports the slowest stage): what it waited for is bubble.
  const auto busy_s = [](const Device& d) {
    const auto& a = d.activity;
    return a.compute_s + a.exposed_tp_s + a.exposed_cp_s + a.exposed_ep_s + a.exposed_pp_s + a.exposed_dp_s +
           a.optimizer_s;
  };
  const Device* critical = &devices_.front();
  for (const auto& d : devices_) {
    if (busy_s(d) > busy_s(*critical)) critical = &d;
  }
  for (const auto& d : devices_) out.devices.push_back(shares_of_the_step(d.activity, out.step_s));
  const auto& a = critical->activity;
  const auto& s = critical->sums;
  auto& b = out.breakdown;
  b.gemm_s = s.gemm_s;
  b.attention_s = s.attention_s;
  b.memory_bound_s = s.memory_s;
  b.overhead_s = s.overhead_s;
  b.optimizer_s = s.optimizer_s;
  b.tp_s = a.exposed_tp_s;
  b.cp_s = a.exposed_cp_s;
  b.ep_s = a.exposed_ep_s;
  b.pp_s = a.exposed_pp_s;
  b.dp_s = a.exposed_dp_s;
  // Whatever the parts leave of the step is pipeline bubble.
  b.bubble_s = fit_waits_to_free_time(std::max(0.0, out.step_s - b.compute_s() - b.other_s()),
                                      {&b.tp_s, &b.cp_s, &b.ep_s, &b.pp_s, &b.dp_s});
  for (auto& load : loads_) load.utilisation = out.step_s > 0 ? load.bytes / (load.bytes_per_s * out.step_s) : 0;
  std::vector<LinkLoad> loads = loads_;
  std::sort(loads.begin(), loads.end(), [](const LinkLoad& x, const LinkLoad& y) { return x.utilisation > y.utilisation; });
  loads.resize(std::min<std::size_t>(loads.size(), std::max(0, in_.options.busiest_links)));
  out.busiest_links = std::move(loads);
  out.trace = std::move(trace_);
  out.activities = activities_;
  return out;
}

// ---------------------------------------------------------------- transport between the processes

namespace {

using nlohmann::json;

json to_json(const DeviceActivity& a) {
  return json::array({a.name, a.compute_s, a.exposed_tp_s, a.exposed_cp_s, a.exposed_ep_s, a.exposed_pp_s,
                      a.exposed_dp_s, a.bubble_s, a.optimizer_s, a.idle_s, a.busy_tp_s, a.busy_cp_s, a.busy_ep_s,
                      a.busy_pp_s, a.busy_dp_s});
}

DeviceActivity activity_from(const json& j) {
  DeviceActivity a;
  a.name = j[0].get<std::string>();
  double* fields[] = {&a.compute_s,   &a.exposed_tp_s, &a.exposed_cp_s, &a.exposed_ep_s, &a.exposed_pp_s,
                      &a.exposed_dp_s, &a.bubble_s,    &a.optimizer_s,  &a.idle_s,       &a.busy_tp_s,
                      &a.busy_cp_s,   &a.busy_ep_s,    &a.busy_pp_s,    &a.busy_dp_s};
  for (std::size_t i = 0; i < std::size(fields); ++i) *fields[i] = j[i + 1].get<double>();
  return a;
}

}  // namespace

std::string encode(const StepOutput& o) {
  const auto& b = o.breakdown;
  json j;
  j["step"] = o.step_s;
  j["breakdown"] = {b.gemm_s, b.attention_s, b.memory_bound_s, b.tp_s, b.cp_s, b.ep_s,
                    b.pp_s,   b.dp_s,        b.bubble_s,       b.optimizer_s, b.overhead_s};
  j["devices"] = json::array();
  for (const auto& a : o.devices) j["devices"].push_back(to_json(a));
  j["links"] = json::array();
  for (const auto& l : o.busiest_links) j["links"].push_back({l.name, l.bytes_per_s, l.bytes, l.utilisation});
  j["trace"] = json::array();
  for (const auto& e : o.trace) j["trace"].push_back({e.device, e.stream, e.name, e.start_s, e.end_s});
  j["activities"] = o.activities;
  const auto bytes = json::to_cbor(j);
  return {bytes.begin(), bytes.end()};
}

StepOutput decode(const std::string& bytes) {
  const json j = json::from_cbor(bytes);
  StepOutput o;
  o.step_s = j["step"].get<double>();
  auto& b = o.breakdown;
  double* parts[] = {&b.gemm_s, &b.attention_s, &b.memory_bound_s, &b.tp_s,     &b.cp_s,      &b.ep_s,
                     &b.pp_s,   &b.dp_s,        &b.bubble_s,       &b.optimizer_s, &b.overhead_s};
  for (std::size_t i = 0; i < std::size(parts); ++i) *parts[i] = j["breakdown"][i].get<double>();
  for (const auto& a : j["devices"]) o.devices.push_back(activity_from(a));
  for (const auto& l : j["links"]) {
    o.busiest_links.push_back({l[0].get<std::string>(), l[1].get<double>(), l[2].get<double>(), l[3].get<double>()});
  }
  for (const auto& e : j["trace"]) {
    o.trace.push_back({e[0].get<int>(), e[1].get<std::string>(), e[2].get<std::string>(), e[3].get<double>(),
                       e[4].get<double>()});
  }
  o.activities = j["activities"].get<long>();
  return o;
}

}  // namespace flopcast::sim_detail
