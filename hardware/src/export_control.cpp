#include "flopcast/hardware/export_control.hpp"

#include <fmt/format.h>

namespace flopcast {

std::string_view to_string(Rule2022Status status) {
  return status == Rule2022Status::controlled ? "3A090 (controlled)" : "not controlled";
}

std::string_view to_string(Rule2023Status status) {
  switch (status) {
    case Rule2023Status::not_controlled: return "not controlled";
    case Rule2023Status::gray_band_3a090b: return "3A090.b (gray band: notification)";
    case Rule2023Status::controlled_3a090a: return "3A090.a (licence required)";
  }
  return "?";
}

ExportClassification classify_export(const Chip& chip, const ExportThresholds& limits) {
  ExportClassification result;
  constexpr double kTera = 1e12;
  for (auto type : kAllDataTypes) {
    const auto& peak = chip.peak(type);
    if (!peak) continue;
    const double bits = bit_length(type);
    const double tpp = peak->value / kTera * bits;
    if (tpp > result.tpp) {
      result.tpp = tpp;
      result.tpp_data_type = type;
    }
    result.tpp_low = std::max(result.tpp_low, peak->low_or_value() / kTera * bits);
    result.tpp_high = std::max(result.tpp_high, peak->high_or_value() / kTera * bits);
  }
  result.performance_density = chip.die_area.value > 0 ? result.tpp / chip.die_area.value : 0.0;
  result.io_bidirectional_bytes_per_s = 2.0 * chip.scaleup_bandwidth_per_direction.value;

  const double tpp = result.tpp;
  const double pd = result.performance_density;
  const double io_gb_per_s = result.io_bidirectional_bytes_per_s / 1e9;
  if (tpp >= limits.tpp_2022 && result.io_bidirectional_bytes_per_s >= limits.io_bytes_per_s_2022) {
    result.rule_2022 = Rule2022Status::controlled;
    result.reason_2022 = fmt::format("TPP {:.0f} >= {:.0f} and I/O {:.0f} GB/s >= {:.0f} GB/s", tpp, limits.tpp_2022,
                                     io_gb_per_s, limits.io_bytes_per_s_2022 / 1e9);
  } else if (tpp >= limits.tpp_2022) {
    result.reason_2022 = fmt::format("TPP {:.0f} >= {:.0f} but I/O {:.0f} GB/s < {:.0f} GB/s", tpp, limits.tpp_2022,
                                     io_gb_per_s, limits.io_bytes_per_s_2022 / 1e9);
  } else {
    result.reason_2022 = fmt::format("TPP {:.0f} < {:.0f}", tpp, limits.tpp_2022);
  }

  if (tpp >= limits.tpp_a1) {
    result.rule_2023 = Rule2023Status::controlled_3a090a;
    result.reason_2023 = fmt::format("TPP {:.0f} >= {:.0f}", tpp, limits.tpp_a1);
  } else if (tpp >= limits.tpp_a2 && pd >= limits.pd_a2) {
    result.rule_2023 = Rule2023Status::controlled_3a090a;
    result.reason_2023 = fmt::format("TPP {:.0f} >= {:.0f} and PD {:.2f} >= {:.2f}", tpp, limits.tpp_a2, pd, limits.pd_a2);
  } else if (tpp >= limits.tpp_b1_min && pd >= limits.pd_b1_min) {
    // Here tpp < tpp_a1 and pd < pd_a2 already hold.
    result.rule_2023 = Rule2023Status::gray_band_3a090b;
    result.reason_2023 = fmt::format("{:.0f} <= TPP {:.0f} < {:.0f} and {:.2f} <= PD {:.2f} < {:.2f}", limits.tpp_b1_min,
                                     tpp, limits.tpp_a1, limits.pd_b1_min, pd, limits.pd_a2);
  } else if (tpp >= limits.tpp_b2_min && pd >= limits.pd_b2_min) {
    result.rule_2023 = Rule2023Status::gray_band_3a090b;
    result.reason_2023 = fmt::format("TPP {:.0f} >= {:.0f} and {:.2f} <= PD {:.2f} < {:.2f}", tpp, limits.tpp_b2_min,
                                     limits.pd_b2_min, pd, limits.pd_a2);
  } else {
    result.reason_2023 = fmt::format("TPP {:.0f} and PD {:.2f} below every 3A090 threshold", tpp, pd);
  }
  return result;
}

}  // namespace flopcast
