#include "flopcast/core/human_units.hpp"

#include <cmath>

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

std::string seconds(double s) {
  if (s < 1e-3) return fmt::format("{:.1f} us", s * 1e6);
  if (s < 1.0) return fmt::format("{:.1f} ms", s * 1e3);
  if (s < 120.0) return fmt::format("{:.2f} s", s);
  if (s < 7200.0) return fmt::format("{:.1f} min", s / 60.0);
  return fmt::format("{:.1f} h", s / 3600.0);
}

std::string days(double d) { return fmt::format("{:.1f} days", d); }

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

}  // namespace flopcast::human
