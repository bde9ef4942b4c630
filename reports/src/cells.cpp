#include "cells.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "flopcast/core/human_units.hpp"

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

Cell interval_cell(double central, const Interval& interval, const std::function<std::string(double)>& text,
                   double scale, std::string unit) {
  return Cell{.text = fmt::format("{} ({})", text(central), human::range(text(interval.p10), text(interval.p90))),
              .value = central * scale,
              .unit = std::move(unit),
              .p10 = interval.p10 * scale,
              .p90 = interval.p90 * scale};
}

}  // namespace flopcast::report
