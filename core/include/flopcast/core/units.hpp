#pragma once
// Units on input. Catalog files write every number with its unit ("TFLOP/s", "GiB", "Gb/s"); the loader converts
// to the internal unit of the quantity's dimension. Decimal prefixes are powers of ten and binary prefixes powers
// of two, each spelt out (GB = 1e9 B, GiB = 2^30 B; vidur's "2^40 for tera" is the bug to avoid). Bits are "b",
// bytes "B". Unknown units are errors that list the accepted ones.
//
// Internal units: flop/s, bytes, bytes/s, seconds, watts, mm^2 (die area is quoted in mm^2 everywhere), USD,
// USD per hour (prices are quoted per chip-hour everywhere), USD per kWh, plain counts, fractions.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flopcast {

enum class Dimension { flop_rate, bytes, byte_rate, time, power, area, money, money_rate, energy_price, count, fraction };

struct UnitInfo {
  Dimension dimension;
  double to_internal;  // multiply a value in this unit by this to get the internal unit
};

std::optional<UnitInfo> find_unit(std::string_view unit);
std::string_view dimension_name(Dimension dimension);
std::vector<std::string> units_of(Dimension dimension);  // the spellings accepted for a dimension

// A catalog number with its provenance. value/low/high are in the internal unit of its dimension.
struct Quantity {
  double value = 0;
  std::optional<double> low;
  std::optional<double> high;
  std::string unit;      // as written in the file
  std::string source;    // where it comes from (may be empty for a pure estimate)
  std::string estimate;  // the reasoning when the figure is an estimate; empty otherwise
  std::string measured;  // the shipped measurement it is derived from (file and table); empty otherwise
  std::string note;

  bool is_estimate() const { return !estimate.empty(); }
  // Derived from a measurement shipped with flopcast: the calibration keeps it, never fits it.
  bool is_measured() const { return !measured.empty(); }
  double low_or_value() const { return low.value_or(value); }
  double high_or_value() const { return high.value_or(value); }
};

// Constants for code that converts at the boundary. Names say what they are.
inline constexpr double kSecondsPerHour = 3600.0;
inline constexpr double kSecondsPerDay = 86400.0;
inline constexpr double kHoursPerYear = 8766.0;  // 365.25 days
inline constexpr double kBytesPerGiB = 1073741824.0;
inline constexpr double kBytesPerGB = 1e9;
inline constexpr double kJoulesPerKWh = 3.6e6;

}  // namespace flopcast
