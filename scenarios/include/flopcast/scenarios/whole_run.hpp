#pragma once
// A scenario's whole run (its "failures" section): the setup the Monte Carlo model of sim/whole_run.hpp takes, built
// from the scenario's estimate (step time, parameters), the failure data and the section's settings; and the
// estimate's days, chip-hours, energy and cost once the run's failures count.

#include <nlohmann/json.hpp>

#include "flopcast/scenarios/scenario.hpp"
#include "flopcast/sim/whole_run.hpp"

namespace flopcast {

// Needs scenario.failures. The checkpoint holds every parameter (MTP modules included) at the section's bytes per
// parameter; it is written and read at the storage bandwidth. Stragglers, when on, slow every step by the expected
// maximum over the job's chips.
WholeRunSetup whole_run_setup(const Scenario& scenario, const TrainingEstimate& estimate, const Catalogs& catalogs);

// Replaces the estimate's run length (the median wall time), chip-hours, energy and cost with the whole run's. Hot
// spare nodes are held for the whole run: their chips are rented (or bought) like the job's, and counted in the
// chip-hours; they draw no power in this model (idle).
void apply_whole_run(TrainingEstimate& estimate, const Scenario& scenario, const WholeRunResult& run,
                     const Catalogs& catalogs);

// The "whole_run" object of `flopcast run --json` (SI units; infinite intervals as null).
nlohmann::json whole_run_to_json(const WholeRunResult& run);

}  // namespace flopcast
