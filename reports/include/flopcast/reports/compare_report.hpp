#pragma once
// A chip comparison (studies/compare.hpp) as a report: the answer on the first page (which chip is cheapest and
// which fastest, by how much, how sure, what would change it, the caveats, and the two charts behind it), then the
// chips side by side with every plan and what changed for each chip. Written by the same writers as the scenario
// reports (`flopcast report SCENARIO --chips a,b,c -o DIR`).

#include "flopcast/reports/document.hpp"
#include "flopcast/studies/compare.hpp"

namespace flopcast::report {

Document build_comparison_document(const ChipComparison& comparison, const Scenario& scenario);

}  // namespace flopcast::report
