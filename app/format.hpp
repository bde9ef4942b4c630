#pragma once
// Human-readable numbers with their units, for terminal output only (JSON output stays in SI). The functions live in
// core (flopcast/core/human_units.hpp), shared with the reports.

#include "flopcast/core/human_units.hpp"

namespace flopcast::cli {

using human::bytes;
using human::byte_rate;
using human::count;
using human::days;
using human::days_range;
using human::energy_kwh;
using human::flop_rate;
using human::percent;
using human::seconds;
using human::seconds_range;
using human::usd;

}  // namespace flopcast::cli
