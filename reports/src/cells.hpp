#pragma once
// Table cells shared by the report documents: text, a number with its unit, and a central value with its p10-p90
// range, each keeping its value beside its text so that the CSV carries every number shown.

#include <functional>
#include <string>

#include "flopcast/reports/document.hpp"
#include "flopcast/scenarios/uncertainty.hpp"

namespace flopcast::report {

// "tier 2 (discrete-event, one chip per pipeline stage)"
std::string_view tier_text(Tier tier);

Cell text_cell(std::string text);
Cell number_cell(std::string text, double value, std::string unit);
// "54.2 days (48.0-61.3 days)": the central value and its p10-p90, in `unit` after `scale` (SI value x scale).
Cell interval_cell(double central, const Interval& interval, const std::function<std::string(double)>& text,
                   double scale, std::string unit);

}  // namespace flopcast::report
