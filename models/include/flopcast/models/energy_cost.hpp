#pragma once
// Energy and cost of a training run.
//
// Facility power = PUE x (chips x TDP x power fraction + nodes x host power + network ports x power per port).
// Rental: cost = chip-hours x price per chip-hour (electricity is in the price; it is still reported).
// Ownership: cost = (chips x chip capex + nodes x node capex + network capex) / (depreciation years x 8766 h)
//            x run hours + energy x electricity price.

#include "flopcast/hardware/topology.hpp"
#include "flopcast/models/assumptions.hpp"
#include "flopcast/models/estimator.hpp"
#include "flopcast/models/plan.hpp"

namespace flopcast {

// Switch and NIC ports of the scale-out network (each cable end at a switch, plus one per NIC).
double network_ports(const TrainingJob& job, const TopologySummary& topology);

EnergyCost energy_and_cost(const TrainingJob& job, const TopologySummary& topology, double train_s, double tokens,
                           const Assumptions& assumptions);

}  // namespace flopcast
