#include "flopcast/models/energy_cost.hpp"

#include <algorithm>

namespace flopcast {

double network_ports(const TrainingJob& job, const TopologySummary& topology) {
  if (job.cluster.nodes <= 1) return 0.0;
  // Every cable (NIC to leaf, or switch to switch) ends in two ports: a NIC port or a switch port at each end.
  // Each port draws and costs the fabric's per-port figure (which includes its optical transceiver).
  return 2.0 * static_cast<double>(topology.cables);
}

EnergyCost energy_and_cost(const TrainingJob& job, const TopologySummary& topology, double train_s, double tokens,
                           const Assumptions& a) {
  EnergyCost out;
  const auto& c = job.cluster;
  const auto& costs = job.costs;
  const double ports = network_ports(job, topology);
  // Chips, hosts and prices stage by stage (a mixed fleet's stages differ; otherwise every stage is the same).
  const int pp = std::max(1, job.plan.pp);
  double chip_power_w = 0, host_power_w = 0, rental_usd_per_hour = 0, chip_capex_usd = 0, node_capex_usd = 0;
  for (int stage = 0; stage < pp; ++stage) {
    const double chips = static_cast<double>(c.chips) / pp;
    const auto* group = c.stage_group(stage);
    const auto& chip = group ? group->chip : c.chip;
    const auto& node = group ? group->node : c.node;
    // A partly used node (a slice of a rack-scale supernode) draws and costs its share of the host.
    const double nodes = chips / node.chip_count();
    chip_power_w += chips * chip.tdp.value * a.chip_power_fraction_of_tdp;
    host_power_w += nodes * node.host_power.value;
    rental_usd_per_hour += chips * (group ? group->usd_per_chip_hour : costs.usd_per_chip_hour);
    chip_capex_usd += chips * (group ? group->chip_capex_usd : costs.chip_capex_usd);
    node_capex_usd += nodes * (group ? node.host_capex.value : costs.node_capex_usd);
  }
  const double it_power_w = chip_power_w + host_power_w + ports * c.fabric.switch_power_per_port.value;
  out.facility_power_w = it_power_w * costs.pue;
  out.energy_kwh = out.facility_power_w * train_s / kJoulesPerKWh;
  out.electricity_usd = out.energy_kwh * costs.electricity_usd_per_kwh;
  const double hours = train_s / kSecondsPerHour;
  if (costs.mode == CostMode::rental) {
    out.cost_usd = rental_usd_per_hour * hours;
  } else {
    const double network = costs.network_capex_usd.value_or(ports * c.fabric.switch_capex_per_port.value);
    out.capex_usd = chip_capex_usd + node_capex_usd + network;
    out.cost_usd = out.capex_usd / (costs.depreciation_years * kHoursPerYear) * hours + out.electricity_usd;
  }
  out.usd_per_mtok = tokens > 0 ? out.cost_usd / (tokens / 1e6) : 0.0;
  return out;
}

}  // namespace flopcast
