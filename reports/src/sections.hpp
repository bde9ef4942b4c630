#pragma once
// The report's sections written by sections.cpp, for build_document (document.cpp), and the helpers they share.

#include <string>

#include "flopcast/reports/report.hpp"

namespace flopcast::report {

// A label short enough for a chart axis: three lines of a wrapped category label at most.
std::string short_label(const std::string& name);
// "2048 x h800-sxm", for tables.
std::string chips_short(const TrainingJob& job);

Section sweeps_section(const ReportData& data);
Section serving_section(const ReportData& data);
Section claims_section(const ReportData& data);
Section export_section(const ReportData& data);
Section assumptions_section(const ReportData& data);
Section versions_section(const ReportData& data);

}  // namespace flopcast::report
