#pragma once
// What the fleet's sizing (fleet_sizing.cpp) gives its event loop (fleet.cpp) besides size_job: where a mixed-fleet
// job can run, and the slack of power comparisons.

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "flopcast/studies/fleet.hpp"

namespace flopcast::fleet_detail {

// Power comparisons allow a relative slack of 1e-9: the sum of running jobs' draws is accumulated in floating point.
inline constexpr double kPowerSlack = 1e-9;

// Where a job may run and what it takes there: the chips it holds in each pool (one pool, or for a mixed-fleet job
// one pool per chip type at one site) and its sizing as a whole.
struct Placement {
  std::vector<std::pair<std::size_t, int>> parts;  // (pool, chips)
  JobSizing sizing;
};

// A mixed-fleet training job (its scenario's cluster.stage_chips, its own plan, nodes and network) at each site
// where the job's pools hold every chip type it needs: the first such pool per type, in the job's pool order. The
// sizing is the scenario's tier-1 estimate (the whole run with failures) at the site's PUE; hot spare nodes are held
// in the pool of the cluster's chip. Sites that cannot hold it add a reason.
std::vector<Placement> mixed_placements(const FleetSpec& spec, const FleetJob& job, const Catalogs& catalogs,
                                        std::map<std::string, JobSizing>& cache, std::vector<std::string>& reasons);

}  // namespace flopcast::fleet_detail
