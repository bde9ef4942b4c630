#include "flopcast/core/human_units.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>

#include <fmt/format.h>

namespace flopcast::human {

namespace {
// Picks the largest prefix whose value is >= 1 and formats with three significant digits.
std::string scaled(double value, const char* const* prefixes, int count, double step, const std::string& unit) {
  int index = 0;
  double v = value;
  while (index + 1 < count && std::fabs(v) >= step) {
    v /= step;
    ++index;
  }
  const int decimals = std::fabs(v) >= 100 ? 0 : std::fabs(v) >= 10 ? 1 : 2;
  return fmt::format("{:.{}f} {}{}", v, decimals, prefixes[index], unit);
}
}  // namespace

namespace {

struct TimeUnit {
  double below_s;  // used for durations below this
  double per_s;    // units per second
  const char* name;
  int decimals;
};
constexpr TimeUnit kTimeUnits[] = {{1e-3, 1e6, "us", 1},     {1.0, 1e3, "ms", 1},
                                   {120.0, 1.0, "s", 2},     {7200.0, 1.0 / 60.0, "min", 1},
                                   {HUGE_VAL, 1.0 / 3600.0, "h", 1}};

const TimeUnit& time_unit(double s) {
  for (const auto& unit : kTimeUnits) {
    if (s < unit.below_s) return unit;
  }
  return kTimeUnits[std::size(kTimeUnits) - 1];
}

}  // namespace

std::string seconds(double s) {
  const auto& u = time_unit(s);
  return fmt::format("{:.{}f} {}", s * u.per_s, u.decimals, u.name);
}

std::string seconds_range(double low, double high) {
  const auto& u = time_unit(std::max(low, high));
  return fmt::format("{:.{}f} to {:.{}f} {}", low * u.per_s, u.decimals, high * u.per_s, u.decimals, u.name);
}

// Tenths of a day mean nothing beside thousands of them.
std::string days(double d) { return d >= 999.95 ? fmt::format("{:.0f} days", d) : fmt::format("{:.1f} days", d); }

std::string days_range(double low, double high) { return fmt::format("{:.1f} to {:.1f} days", low, high); }

std::string bytes(double b) {
  static const char* const kPrefixes[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi"};
  return scaled(b, kPrefixes, 6, 1024.0, "B");
}

std::string count(double n) {
  static const char* const kPrefixes[] = {"", "k", "M", "B", "T", "P"};
  std::string text = scaled(n, kPrefixes, 6, 1000.0, "");
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

std::string usd(double dollars) {
  if (std::fabs(dollars) < 1.0) return fmt::format("${:.4f}", dollars);
  if (std::fabs(dollars) < 1e4) return fmt::format("${:.2f}", dollars);
  return fmt::format("${}", count(dollars));
}

std::string percent(double fraction) { return fmt::format("{:.1f} %", fraction * 100.0); }

std::string flop_rate(double flop_per_s) {
  static const char* const kPrefixes[] = {"", "k", "M", "G", "T", "P", "E"};
  return scaled(flop_per_s, kPrefixes, 7, 1000.0, "FLOP/s");
}

std::string byte_rate(double bytes_per_s) {
  static const char* const kPrefixes[] = {"", "k", "M", "G", "T", "P"};
  return scaled(bytes_per_s, kPrefixes, 6, 1000.0, "B/s");
}

std::string energy_kwh(double kwh) {
  static const char* const kPrefixes[] = {"k", "M", "G", "T"};
  return scaled(kwh, kPrefixes, 4, 1000.0, "Wh");
}

std::string range(const std::string& low, const std::string& high) {
  const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  const auto first_digit = [&](const std::string& t) {
    return static_cast<std::size_t>(std::find_if(t.begin(), t.end(), is_digit) - t.begin());
  };
  const auto after_last_digit = [&](const std::string& t) {
    return static_cast<std::size_t>(t.rend() - std::find_if(t.rbegin(), t.rend(), is_digit));
  };
  const std::string low_prefix = low.substr(0, first_digit(low));
  const std::string high_prefix = high.substr(0, first_digit(high));
  const std::string low_suffix = low.substr(after_last_digit(low));
  const std::string high_suffix = high.substr(after_last_digit(high));
  if (low_prefix != high_prefix || low_suffix != high_suffix || low_prefix.find('-') != std::string::npos) {
    return low + " to " + high;
  }
  return low.substr(0, after_last_digit(low)) + "-" + high.substr(high_prefix.size());
}

}  // namespace flopcast::human
