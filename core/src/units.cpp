#include "flopcast/core/units.hpp"

#include <array>

namespace flopcast {
namespace {

struct UnitRow {
  std::string_view spelling;
  Dimension dimension;
  double to_internal;
};

constexpr double kBitsPerByte = 8.0;

// One table: the spelling users write, its dimension, and the factor to the internal unit.
constexpr std::array kUnits{
    UnitRow{"FLOP/s", Dimension::flop_rate, 1.0},
    UnitRow{"GFLOP/s", Dimension::flop_rate, 1e9},
    UnitRow{"TFLOP/s", Dimension::flop_rate, 1e12},
    UnitRow{"PFLOP/s", Dimension::flop_rate, 1e15},
    UnitRow{"TOP/s", Dimension::flop_rate, 1e12},  // integer operations per second, counted like FLOP/s
    UnitRow{"B", Dimension::bytes, 1.0},
    UnitRow{"kB", Dimension::bytes, 1e3},
    UnitRow{"MB", Dimension::bytes, 1e6},
    UnitRow{"GB", Dimension::bytes, 1e9},
    UnitRow{"TB", Dimension::bytes, 1e12},
    UnitRow{"KiB", Dimension::bytes, 1024.0},
    UnitRow{"MiB", Dimension::bytes, 1048576.0},
    UnitRow{"GiB", Dimension::bytes, 1073741824.0},
    UnitRow{"TiB", Dimension::bytes, 1099511627776.0},
    UnitRow{"B/s", Dimension::byte_rate, 1.0},
    UnitRow{"MB/s", Dimension::byte_rate, 1e6},
    UnitRow{"GB/s", Dimension::byte_rate, 1e9},
    UnitRow{"TB/s", Dimension::byte_rate, 1e12},
    UnitRow{"Gb/s", Dimension::byte_rate, 1e9 / kBitsPerByte},
    UnitRow{"Tb/s", Dimension::byte_rate, 1e12 / kBitsPerByte},
    UnitRow{"ns", Dimension::time, 1e-9},
    UnitRow{"us", Dimension::time, 1e-6},
    UnitRow{"ms", Dimension::time, 1e-3},
    UnitRow{"s", Dimension::time, 1.0},
    UnitRow{"h", Dimension::time, 3600.0},
    UnitRow{"W", Dimension::power, 1.0},
    UnitRow{"kW", Dimension::power, 1e3},
    UnitRow{"MW", Dimension::power, 1e6},
    UnitRow{"mm2", Dimension::area, 1.0},
    UnitRow{"USD", Dimension::money, 1.0},
    UnitRow{"USD/h", Dimension::money_rate, 1.0},
    UnitRow{"USD/kWh", Dimension::energy_price, 1.0},
    UnitRow{"chips", Dimension::count, 1.0},
    UnitRow{"elements", Dimension::count, 1.0},
    UnitRow{"ports", Dimension::count, 1.0},
    UnitRow{"nics", Dimension::count, 1.0},
    UnitRow{"year", Dimension::count, 1.0},
    UnitRow{"params", Dimension::count, 1.0},
    UnitRow{"tokens", Dimension::count, 1.0},
    UnitRow{"count", Dimension::count, 1.0},
    UnitRow{"SMs", Dimension::count, 1.0},  // streaming multiprocessors
    UnitRow{"B/param", Dimension::count, 1.0},             // checkpoint bytes per parameter
    UnitRow{"failures/chip-hour", Dimension::count, 1.0},  // failure rates stay per hour; names carry the unit
    UnitRow{"failures/node-hour", Dimension::count, 1.0},
    UnitRow{"fraction", Dimension::fraction, 1.0},
};

}  // namespace

std::optional<UnitInfo> find_unit(std::string_view unit) {
  for (const auto& row : kUnits) {
    if (row.spelling == unit) return UnitInfo{row.dimension, row.to_internal};
  }
  return std::nullopt;
}

std::string_view dimension_name(Dimension dimension) {
  switch (dimension) {
    case Dimension::flop_rate: return "compute rate";
    case Dimension::bytes: return "memory size";
    case Dimension::byte_rate: return "bandwidth";
    case Dimension::time: return "time";
    case Dimension::power: return "power";
    case Dimension::area: return "area";
    case Dimension::money: return "money";
    case Dimension::money_rate: return "price per hour";
    case Dimension::energy_price: return "energy price";
    case Dimension::count: return "count";
    case Dimension::fraction: return "fraction";
  }
  return "?";
}

std::vector<std::string> units_of(Dimension dimension) {
  std::vector<std::string> spellings;
  for (const auto& row : kUnits) {
    if (row.dimension == dimension) spellings.emplace_back(row.spelling);
  }
  return spellings;
}

}  // namespace flopcast
