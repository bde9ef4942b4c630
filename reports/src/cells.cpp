#include "cells.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace flopcast::report {

std::string_view tier_text(Tier tier) {
  switch (tier) {
    case Tier::analytical: return "tier 1 (analytical)";
    case Tier::replica: return "tier 2 (discrete-event, one chip per pipeline stage)";
    case Tier::full: return "tier 3 (discrete-event, every chip)";
  }
  return "";
}

Cell text_cell(std::string text) {
  Cell cell;
  cell.text = std::move(text);
  return cell;
}

Cell number_cell(std::string text, double value, std::string unit) {
  Cell cell;
  cell.text = std::move(text);
  cell.value = value;
  cell.unit = std::move(unit);
  return cell;
}

std::string range_text(const std::string& low, const std::string& high) {
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

Cell interval_cell(double central, const Interval& interval, const std::function<std::string(double)>& text,
                   double scale, std::string unit) {
  return Cell{.text = fmt::format("{} ({})", text(central), range_text(text(interval.p10), text(interval.p90))),
              .value = central * scale,
              .unit = std::move(unit),
              .p10 = interval.p10 * scale,
              .p90 = interval.p90 * scale};
}

}  // namespace flopcast::report
