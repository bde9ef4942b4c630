#pragma once
// A fleet's results (studies/fleet.hpp) as a report document: the question, totals, sites, pools and jobs as
// tables, busy chips per pool and power per site over time as step charts. Written by the same writers as the
// scenario reports (`flopcast report --fleet FLEET.json -o DIR`).

#include "flopcast/reports/document.hpp"
#include "flopcast/studies/fleet.hpp"

namespace flopcast::report {

// `question` and `description` come from the fleet file (may be empty).
Document build_fleet_document(const FleetResult& result, const std::string& question, const std::string& description);

// A step function ([t, value] holding until the next point) as line-chart points that draw its steps.
ChartSeries step_series(const std::string& name, const std::vector<FleetPoint>& points, double scale = 1.0);

}  // namespace flopcast::report
