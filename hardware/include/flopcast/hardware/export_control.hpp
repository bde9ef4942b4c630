#pragma once
// US export-control classification of a chip, computed from its specs (never typed in).
//
// TPP (Total Processing Performance) = 2 x MacTOPS x bit length, the largest over data types, dense.
// Since one MAC is two operations, TPP = dense TOP/s (or TFLOP/s) x bit length.
// Performance density (PD) = TPP / die area (mm^2).
// Source: 15 CFR 774 Supplement 1, ECCN 3A090 technical note (Oct 7 2022 IFR, 87 FR 62186; Oct 17 2023 IFR,
// 88 FR 73458), as summarised by CSET's BIS-2023 explainer.
//
// Rule of October 2022: 3A090 when TPP >= 4800 and aggregate bidirectional chip-to-chip I/O >= 600 GB/s.
// Rule of October 2023: 3A090.a when TPP >= 4800, or TPP >= 1600 and PD >= 5.92.
//   3A090.b (the "gray band", licence exception NAC/ACA notification): 2400 <= TPP < 4800 and 1.6 <= PD < 5.92,
//   or TPP >= 1600 and 3.2 <= PD < 5.92.

#include <string>

#include "flopcast/hardware/catalog.hpp"

namespace flopcast {

enum class Rule2022Status { not_controlled, controlled };
enum class Rule2023Status { not_controlled, gray_band_3a090b, controlled_3a090a };

std::string_view to_string(Rule2022Status status);
std::string_view to_string(Rule2023Status status);

struct ExportClassification {
  double tpp = 0;                   // bit-TOP/s, as defined above
  double tpp_low = 0;               // from the low end of a disputed peak
  double tpp_high = 0;              // from the high end
  DataType tpp_data_type = DataType::bf16;  // the type that gives the largest TPP
  double performance_density = 0;  // TPP per mm^2
  double io_bidirectional_bytes_per_s = 0;
  Rule2022Status rule_2022 = Rule2022Status::not_controlled;
  Rule2023Status rule_2023 = Rule2023Status::not_controlled;
  std::string reason_2022;
  std::string reason_2023;
};

// Thresholds are inputs so a test (or a what-if) can move them.
struct ExportThresholds {
  double tpp_2022 = 4800;
  double io_bytes_per_s_2022 = 600e9;
  double tpp_a1 = 4800;
  double tpp_a2 = 1600;
  double pd_a2 = 5.92;
  double tpp_b1_min = 2400;
  double pd_b1_min = 1.6;
  double tpp_b2_min = 1600;
  double pd_b2_min = 3.2;
};

ExportClassification classify_export(const Chip& chip, const ExportThresholds& thresholds = {});

}  // namespace flopcast
