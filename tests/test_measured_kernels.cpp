// The Hopper kernel parameters that assumptions.json marks "measured" are re-derived here from the shipped
// measurement (models/data/measured/h200-sxm-kernels.json), so a value and the table it comes from cannot drift
// apart, and the calibration keeps them as measured.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <vector>

#include "flopcast/core/errors.hpp"
#include "flopcast/core/files.hpp"
#include "flopcast/core/json_reader.hpp"
#include "flopcast/models/assumptions.hpp"

using namespace flopcast;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

namespace {

nlohmann::json read_measurement(const char* name) {
  return nlohmann::json::parse(
      read_text_file(std::filesystem::path(FLOPCAST_SOURCE_ROOT) / "models/data/measured" / name));
}

// The measurement the shipped values come from, and the same tool run again on another H200 two hours later.
const nlohmann::json& measurement() {
  static const auto json = read_measurement("h200-sxm-kernels.json");
  return json;
}
const nlohmann::json& repeat_measurement() {
  static const auto json = read_measurement("h200-sxm-kernels-repeat.json");
  return json;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double peak_flop_per_s() {
  return measurement()["provenance"]["peaks_for_fractions"]["dense_bf16_flop_per_s"];
}

// The cuDNN backend's causal attention rows with equal Q/K and V head sizes.
std::vector<nlohmann::json> cudnn_rows() {
  std::vector<nlohmann::json> rows;
  for (const auto& r : measurement()["attention"]) {
    if (r["backend"] == "cudnn" && !r.contains("error") && r["head_dim_qk"] == r["head_dim_v"]) rows.push_back(r);
  }
  return rows;
}

const nlohmann::json& attention_row(const std::string& backend, int seq, int head_dim,
                                    const nlohmann::json& from = measurement()) {
  const auto& rows = from["attention"];
  const auto row = std::find_if(rows.begin(), rows.end(), [&](const nlohmann::json& r) {
    return r["backend"] == backend && r["seq"] == seq && r["head_dim_qk"] == head_dim && !r.contains("error");
  });
  REQUIRE(row != rows.end());
  return *row;
}

// One expert pass = forward + input gradient (at the forward's time) + weight gradient, under uneven routing; the
// weight gradient was timed balanced and scaled by the forward's uneven/balanced ratio. Against three dense GEMMs of
// one group's shape, over the rows with at least 512 tokens per group.
std::vector<double> grouped_pass_ratios(const nlohmann::json& from) {
  std::vector<double> ratios;
  for (const auto& r : from["grouped_gemm_bf16"]) {
    if (r["tokens_per_group"].get<int>() < 512) continue;
    const double uneven = r["grouped_uneven_seconds"];
    const double wgrad =
        r["grouped_wgrad_seconds"].get<double>() * uneven / r["grouped_balanced_seconds"].get<double>();
    ratios.push_back(3.0 * r["dense_same_shape_seconds"].get<double>() / (2.0 * uneven + wgrad));
  }
  return ratios;
}

double total_seconds(const nlohmann::json& attention) {
  return attention["forward_seconds"].get<double>() + attention["backward_seconds"].get<double>();
}

}  // namespace

TEST_CASE("the measured file is the tool's output, whole", "[measured]") {
  const auto& m = measurement();
  CHECK(m["provenance"]["device"] == "NVIDIA H200");
  CHECK(m["errors"].empty());
  CHECK(m["gemm_bf16"].size() == 337);
  CHECK(m["grouped_gemm_bf16"].size() == 272);  // 6 shapes x 3 group counts x 8 sizes x FC1, FC2, less 16 too large
  // Spot check of one row against its own fields: 8192^3 x 2 FLOP in its seconds gives its rate.
  for (const auto& r : m["gemm_bf16"]) {
    const double flop = 2.0 * r["m"].get<double>() * r["n"].get<double>() * r["k"].get<double>();
    CHECK_THAT(flop / r["seconds"].get<double>() / r["flop_per_s"].get<double>(), WithinAbs(1.0, 1e-9));
  }
}

TEST_CASE("Hopper's grouped-GEMM share is the measured expert pass against dense GEMMs of a group's shape",
          "[measured]") {
  const auto ratios = grouped_pass_ratios(measurement());
  CHECK(ratios.size() == 136);
  const double measured = median(ratios);
  CHECK_THAT(measured, WithinAbs(0.925, 0.001));
  const auto prior = load_assumptions(FLOPCAST_SOURCE_ROOT, /*calibrated=*/false);
  CHECK_THAT(prior.kernel("hopper").grouped_gemm, WithinAbs(measured, 0.006));  // 0.92, rounded
}

TEST_CASE("serving's grouped weight-read share and MoE routing time are the measured decode kernels'", "[measured]") {
  const auto serving = read_measurement("h200-sxm-serving-kernels.json");
  const double hbm = serving["provenance"]["hbm_bytes_per_s_for_fractions"];
  CHECK(hbm == 4.8e12);  // the H200 datasheet's HBM bandwidth
  // Grouped GEMMs of 4-64 tokens per expert read their weights at a median 0.574 of it: 0.57 shipped.
  std::vector<double> shares;
  for (const auto& r : serving["grouped_gemm_decode"]) {
    if (r["m"] >= 4 && r["m"] <= 64) shares.push_back(r["bytes_per_s"].get<double>() / hbm);
  }
  CHECK(shares.size() == 100);
  const auto prior = load_assumptions(FLOPCAST_SOURCE_ROOT, /*calibrated=*/false);
  CHECK_THAT(prior.kernel("hopper").grouped_weight_read, WithinAbs(median(shares), 0.005));
  // A dense GEMM of 16 or 32 rows streams its 8,192 x 8,192 weight at 0.834 (bf16, 16), 0.822 (bf16, 32) and 0.725
  // (fp8, 16) of it, counting the weight once and the bf16 activations in and out: median 0.822, 0.82 shipped.
  const auto& kernels = measurement();
  std::vector<double> streams;
  for (const char* table : {"gemm_bf16", "gemm_fp8"}) {
    const double weight_bytes = std::string(table) == "gemm_fp8" ? 1.0 : 2.0;
    for (const auto& r : kernels[table]) {
      const double m = r["m"], n = r["n"], k = r["k"];
      if (m > 32 || n != 8192 || k != 8192 || r.value("layout", "linear") != "linear") continue;
      streams.push_back((weight_bytes * n * k + 2.0 * m * (n + k)) / r["seconds"].get<double>() / hbm);
    }
  }
  CHECK(streams.size() == 3);
  CHECK_THAT(prior.kernel("hopper").weight_read, WithinAbs(median(streams), 0.005));
  CHECK(prior.recorded("kernels.hopper.weight_read")->is_measured());
  // Sigmoid with top-k, then the sort by expert, at 16-256 tokens: a median 44.6 us, 45 us shipped.
  std::vector<double> routing;
  for (const auto& r : serving["moe_bookkeeping_decode"]) {
    if (r.contains("tokens") && r["tokens"] <= 256) {
      routing.push_back(r["sigmoid_topk_seconds"].get<double>() + r["sort_seconds"].get<double>());
    }
  }
  CHECK(routing.size() == 9);
  CHECK_THAT(prior.serving_per_moe_layer_overhead_s, WithinAbs(median(routing), 1e-6));
}

TEST_CASE("Hopper's attention efficiencies and shape are the measured cuDNN kernels'", "[measured]") {
  const auto k = load_assumptions(FLOPCAST_SOURCE_ROOT, /*calibrated=*/false).kernel("hopper");
  const double peak = peak_flop_per_s();
  const auto& ref = attention_row("cudnn", 16384, 128);
  // 604 TFLOP/s forward and 505 backward (2.5 x the forward's FLOPs) of 989: 0.611 and 0.511.
  CHECK_THAT(k.attention_forward, WithinAbs(ref["forward_flop_per_s"].get<double>() / peak, 0.005));
  CHECK_THAT(k.attention_backward, WithinAbs(ref["backward_flop_per_s"].get<double>() / peak, 0.005));
  // FlashAttention-2 against cuDNN, forward plus backward time at the same shape: 0.597.
  CHECK_THAT(k.flash2_fraction,
             WithinAbs(total_seconds(ref) / total_seconds(attention_row("flash2", 16384, 128)), 0.005));

  // The shape: rate(s, d) = rate(16K, 128) x f(s, hs) / f(16K, hs) x f(d, hd) / f(128, hd), f(x, h) = x / (x + h),
  // forward and backward time together; the grid of the derivation (10 tokens, 2 elements) finds 610 and 40.
  const auto rows = cudnn_rows();
  const double forward_rate = ref["forward_flop_per_s"];
  const double backward_rate = ref["backward_flop_per_s"];
  const auto f = [](double x, double h) { return x / (x + h); };
  double best_rms = 1e9;
  double best_seq = 0;
  double best_head = 0;
  for (int hs = 50; hs < 1500; hs += 10) {
    for (int hd = 2; hd < 200; hd += 2) {
      double sum = 0;
      for (const auto& r : rows) {
        const double shape = f(r["seq"], hs) / f(16384, hs) * f(r["head_dim_qk"], hd) / f(128, hd);
        const double flop = r["forward_flop"];
        const double predicted = flop / (forward_rate * shape) + 2.5 * flop / (backward_rate * shape);
        const double e =
            std::log(predicted / (r["forward_seconds"].get<double>() + r["backward_seconds"].get<double>()));
        sum += e * e;
      }
      const double rms = std::sqrt(sum / static_cast<double>(rows.size()));
      if (rms < best_rms) best_rms = rms, best_seq = hs, best_head = hd;
    }
  }
  CHECK(best_rms < 0.025);  // 2.0 % rms over the 14 rows
  CHECK(k.attention_half_seq == best_seq);
  CHECK(k.attention_half_head_dim == best_head);
}

// The median fraction of the dense peak over a table's GEMMs with every dimension 1,024 or more.
double large_gemm_median(const char* table, double peak) {
  std::vector<double> fractions;
  for (const auto& r : measurement()[table]) {
    if (std::min({r["m"].get<int>(), r["n"].get<int>(), r["k"].get<int>()}) < 1024) continue;
    fractions.push_back(r["flop_per_s"].get<double>() / peak);
  }
  return median(fractions);
}

TEST_CASE("Hopper's large-GEMM priors are the measured GEMMs' medians", "[measured][calibration]") {
  // What the calibration corrects (and hands to families without runs as a ratio) starts from the GPU's own
  // measurement: 273 bf16 GEMMs at a median of 0.687 of 989 TFLOP/s, 42 fp8 ones at 0.654 of twice that.
  const auto prior = load_assumptions(FLOPCAST_SOURCE_ROOT, /*calibrated=*/false);
  const double bf16 = large_gemm_median("gemm_bf16", peak_flop_per_s());
  const double fp8 = large_gemm_median("gemm_fp8", 2.0 * peak_flop_per_s());
  CHECK_THAT(bf16, WithinAbs(0.687, 0.001));
  CHECK_THAT(fp8, WithinAbs(0.654, 0.001));
  CHECK_THAT(prior.kernel("hopper").gemm_bf16, WithinAbs(bf16, 0.005));
  CHECK_THAT(prior.kernel("hopper").gemm_fp8, WithinAbs(fp8, 0.005));
}

TEST_CASE("the calibration never fits a measured value freely", "[measured][calibration]") {
  const auto prior = load_assumptions(FLOPCAST_SOURCE_ROOT, /*calibrated=*/false);
  REQUIRE(prior.recorded("kernels.hopper.grouped_gemm") != nullptr);
  CHECK(prior.recorded("kernels.hopper.grouped_gemm")->is_measured());
  CHECK(prior.recorded("kernels.hopper.attention_backward")->is_measured());
  CHECK(prior.recorded("kernels.hopper.grouped_weight_read")->is_measured());
  CHECK(prior.recorded("serving.per_moe_layer_overhead")->is_measured());
  CHECK_FALSE(prior.recorded("kernels.blackwell.attention_backward")->is_measured());
  CHECK(prior.recorded("kernels.hopper.no_such_value") == nullptr);
  // The shipped calibration holds no value for a measured one without a measured range.
  const auto calibration = nlohmann::json::parse(
      read_text_file(std::filesystem::path(FLOPCAST_SOURCE_ROOT) / "models/data/calibration.json"));
  for (const auto& [name, quantity] : prior.provenance) {
    if (quantity.is_measured() && !quantity.low) CHECK_FALSE(calibration["parameters"].contains(name));
  }
}

TEST_CASE("a measured value needs its source", "[measured][core][json]") {
  const auto json = nlohmann::json::parse(
      R"({"a": {"value": 1, "unit": "fraction", "source": "timed", "measured": "file#table"},
          "b": {"value": 1, "unit": "fraction", "estimate": "a guess", "measured": "file#table"}})");
  std::vector<Problem> problems;
  JsonReader reader(json, "f.json", "", problems);
  const auto a = reader.quantity("a", Need::required, Dimension::fraction);
  reader.quantity("b", Need::required, Dimension::fraction);
  REQUIRE(a.has_value());
  CHECK(a->is_measured());
  REQUIRE(problems.size() == 1);
  CHECK(to_string(problems[0]) ==
        "f.json: /b/measured: a measured value needs a \"source\" saying how it was measured");
}

TEST_CASE("Hopper's GEMM half-efficiency size is fitted within the range the measured GEMMs allow",
          "[measured][calibration]") {
  // Best p x f(m) f(n) f(k) over the derivation's grid (p 0.60-0.89 by 0.01; half from a fixed list) on the dense
  // bf16 GEMMs of at least `min_flop`: 32 elements from 20 GFLOP up, 128 from 1 GFLOP up.
  const double peak = peak_flop_per_s();
  const auto best_half = [&](double min_flop) {
    double best_rms = 1e9;
    double best = 0;
    for (int p100 = 60; p100 < 90; ++p100) {
      for (double half : {1.0, 2.0, 4.0, 8.0, 12.0, 16.0, 24.0, 32.0, 48.0, 64.0, 80.0, 101.0, 128.0}) {
        const auto f = [half](double x) { return x / (x + half); };
        double sum = 0;
        int n = 0;
        for (const auto& r : measurement()["gemm_bf16"]) {
          const double m = r["m"], nn = r["n"], k = r["k"];
          const double flop = 2.0 * m * nn * k;
          if (flop < min_flop) continue;
          const double e = std::log(flop / (peak * p100 / 100.0 * f(m) * f(nn) * f(k)) / r["seconds"].get<double>());
          sum += e * e;
          ++n;
        }
        const double rms = std::sqrt(sum / n);
        if (rms < best_rms) best_rms = rms, best = half;
      }
    }
    return best;
  };
  const auto prior = load_assumptions(FLOPCAST_SOURCE_ROOT, /*calibrated=*/false);
  const Quantity* half = prior.recorded("kernels.hopper.gemm_half_dim");
  REQUIRE(half != nullptr);
  REQUIRE(half->low.has_value());
  CHECK(*half->low == best_half(2e10));
  CHECK(*half->high == best_half(1e9));
  // The shipped calibration's value lies in that range.
  const auto fitted = load_assumptions(FLOPCAST_SOURCE_ROOT).kernel("hopper").gemm_half_dim;
  CHECK(fitted >= *half->low);
  CHECK(fitted <= *half->high);
}

TEST_CASE("the measured values repeat on a second H200", "[measured]") {
  // The same tool on another machine of the same kind, two hours later: grouped share 0.941 against 0.925, cuDNN
  // attention 0.611 / 0.516 against 0.611 / 0.511, FlashAttention-2 0.588 against 0.597; GEMM by GEMM, the dense
  // times differ by -4.5 % to +2.5 % (p10-p90), the grouped ones by -6.3 % to +2.6 %.
  const auto& first = measurement();
  const auto& second = repeat_measurement();
  CHECK(second["errors"].empty());
  CHECK_THAT(median(grouped_pass_ratios(second)), WithinAbs(median(grouped_pass_ratios(first)), 0.02));
  const auto& a = attention_row("cudnn", 16384, 128, first);
  const auto& b = attention_row("cudnn", 16384, 128, second);
  CHECK_THAT(b["forward_flop_per_s"].get<double>() / a["forward_flop_per_s"].get<double>(), WithinAbs(1.0, 0.02));
  CHECK_THAT(b["backward_flop_per_s"].get<double>() / a["backward_flop_per_s"].get<double>(), WithinAbs(1.0, 0.02));
  const double fa2_first = total_seconds(a) / total_seconds(attention_row("flash2", 16384, 128, first));
  const double fa2_second = total_seconds(b) / total_seconds(attention_row("flash2", 16384, 128, second));
  CHECK_THAT(fa2_second, WithinAbs(fa2_first, 0.015));
  std::vector<double> log_ratios;
  REQUIRE(first["gemm_bf16"].size() == second["gemm_bf16"].size());
  for (std::size_t i = 0; i < first["gemm_bf16"].size(); ++i) {
    const auto& x = first["gemm_bf16"][i];
    const auto& y = second["gemm_bf16"][i];
    REQUIRE(x["m"] == y["m"]);
    REQUIRE(x["n"] == y["n"]);
    REQUIRE(x["k"] == y["k"]);
    log_ratios.push_back(std::log(y["seconds"].get<double>() / x["seconds"].get<double>()));
  }
  CHECK(std::abs(median(log_ratios)) < 0.01);
}

TEST_CASE("a family without calibration runs takes its source family's corrections to the priors", "[calibration]") {
  const auto prior = load_assumptions(FLOPCAST_SOURCE_ROOT, /*calibrated=*/false);
  REQUIRE(prior.kernel_transfer.at("blackwell") == "hopper");
  REQUIRE(prior.kernel_transfer.at("ascend-950") == "ascend-910");
  const auto& hp = prior.kernel("hopper");
  const auto& bp = prior.kernel("blackwell");
  // A calibration that fitted Hopper's bf16 GEMMs at 0.6 and its fp8 ones at 0.52 and saw no Blackwell run.
  Assumptions a = prior;
  *a.field("kernels.hopper.gemm_bf16") = 0.6;
  *a.field("kernels.hopper.gemm_fp8") = 0.52;
  transfer_kernels(a, prior, {"kernels.hopper.gemm_bf16", "kernels.hopper.gemm_fp8"});
  const auto& b = a.kernel("blackwell");
  // Blackwell's prior times Hopper's correction: 0.70 x 0.6 / 0.69 = 0.609 for bf16, 0.65 x 0.52 / 0.65 = 0.52 for fp8.
  CHECK_THAT(b.gemm_bf16, WithinAbs(bp.gemm_bf16 * 0.6 / hp.gemm_bf16, 1e-12));
  CHECK_THAT(b.gemm_fp8, WithinAbs(bp.gemm_fp8 * 0.52 / hp.gemm_fp8, 1e-12));
  // Hopper has no FP4 units, so no fp4 fit: Blackwell's fp4 prior takes the fp8 correction (0.55 x 0.52 / 0.65).
  CHECK_THAT(b.gemm_fp4, WithinAbs(bp.gemm_fp4 * 0.52 / hp.gemm_fp8, 1e-12));
  // What the calibration did not fit (Hopper's measured grouped GEMMs, its memory-bound share here) leaves the prior.
  CHECK(b.grouped_gemm == bp.grouped_gemm);
  CHECK(b.memory_bound == bp.memory_bound);
  CHECK(b.all_to_all_sm_fraction == bp.all_to_all_sm_fraction);
  // The assumptions list says where each value came from.
  CHECK_THAT(a.recorded("kernels.blackwell.gemm_bf16")->source,
             Catch::Contains("the calibration's correction to kernels.hopper.gemm_bf16"));
  // A family the calibration saw keeps its own; one whose source it did not see keeps its prior.
  Assumptions seen = prior;
  transfer_kernels(seen, prior, {"kernels.hopper.gemm_bf16", "kernels.blackwell.gemm_bf16"});
  CHECK(seen.kernel("blackwell").gemm_bf16 == bp.gemm_bf16);
  CHECK(seen.kernel("ascend-950").gemm_bf16 == prior.kernel("ascend-950").gemm_bf16);
  // Hopper left out: its measured kernels stay; its fp8 takes Ampere's bf16 correction (Ampere has no fp8 units).
  Assumptions no_hopper = prior;
  *no_hopper.field("kernels.ampere.gemm_bf16") = 0.7;
  transfer_kernels(no_hopper, prior, {"kernels.ampere.gemm_bf16"});
  const double ampere_correction = 0.7 / prior.kernel("ampere").gemm_bf16;
  CHECK_THAT(no_hopper.kernel("hopper").gemm_bf16, WithinAbs(hp.gemm_bf16 * ampere_correction, 1e-12));
  CHECK_THAT(no_hopper.kernel("hopper").gemm_fp8, WithinAbs(hp.gemm_fp8 * ampere_correction, 1e-12));
  CHECK(no_hopper.kernel("hopper").grouped_gemm == hp.grouped_gemm);  // measured on an H200
  // A correction never lifts an efficiency past the whole peak: Ampere fitted at twice its prior would double
  // Hopper's bf16 and fp8 priors (0.75 and 0.65); both stop at 1.
  Assumptions doubled = prior;
  *doubled.field("kernels.ampere.gemm_bf16") = 2.0 * prior.kernel("ampere").gemm_bf16;
  transfer_kernels(doubled, prior, {"kernels.ampere.gemm_bf16"});
  CHECK(doubled.kernel("hopper").gemm_bf16 == 1.0);
  CHECK(doubled.kernel("hopper").gemm_fp8 == 1.0);
}

TEST_CASE("an attention forward no run separates takes its backward's correction", "[calibration]") {
  const auto prior = load_assumptions(FLOPCAST_SOURCE_ROOT, /*calibrated=*/false);
  const auto& bp = prior.kernel("blackwell");
  // Blackwell's priors are Hopper's measured cuDNN kernels (forward 0.61, backward 0.51). A calibration that fitted
  // its backward at 0.40 gives the forward 0.61 x 0.40 / 0.51 = 0.478.
  Assumptions a = prior;
  *a.field("kernels.blackwell.attention_backward") = 0.40;
  transfer_kernels(a, prior, {"kernels.blackwell.attention_backward", "kernels.ascend-910.attention_backward"});
  CHECK_THAT(a.kernel("blackwell").attention_forward,
             WithinAbs(bp.attention_forward * 0.40 / bp.attention_backward, 1e-12));
  CHECK_THAT(a.recorded("kernels.blackwell.attention_forward")->source,
             Catch::Contains("correction to kernels.blackwell.attention_backward"));
  // Hopper's forward is measured: it stays whatever its backward does.
  Assumptions hopper = prior;
  *hopper.field("kernels.hopper.attention_backward") = 0.40;
  transfer_kernels(hopper, prior, {"kernels.hopper.attention_backward"});
  CHECK(hopper.kernel("hopper").attention_forward == prior.kernel("hopper").attention_forward);
  // A family without runs (the Ascend 950) takes its source's backward correction for its forward too: the 910's
  // backward fitted at 1.2 x its prior lifts both of the 950's.
  Assumptions ascend = prior;
  const double fitted = 1.2 * prior.kernel("ascend-910").attention_backward;
  *ascend.field("kernels.ascend-910.attention_backward") = fitted;
  transfer_kernels(ascend, prior, {"kernels.ascend-910.attention_backward"});
  const auto& p950 = prior.kernel("ascend-950");
  CHECK_THAT(ascend.kernel("ascend-950").attention_forward,
             WithinAbs(std::min(1.0, p950.attention_forward * 1.2), 1e-12));
  CHECK_THAT(ascend.kernel("ascend-950").attention_backward,
             WithinAbs(std::min(1.0, p950.attention_backward * 1.2), 1e-12));
  CHECK_THAT(ascend.kernel("ascend-910").attention_forward,
             WithinAbs(std::min(1.0, prior.kernel("ascend-910").attention_forward * 1.2), 1e-12));
}

TEST_CASE("the shipped calibration corrects the Ascend 950 as the 910", "[calibration]") {
  const auto a = load_assumptions(FLOPCAST_SOURCE_ROOT);
  // Same priors, so the 910's fitted values (prior x fitted / prior, equal up to rounding).
  CHECK_THAT(a.kernel("ascend-950").gemm_bf16, WithinRel(a.kernel("ascend-910").gemm_bf16, 1e-12));
  CHECK_THAT(a.kernel("ascend-950").grouped_gemm, WithinRel(a.kernel("ascend-910").grouped_gemm, 1e-12));
  CHECK_THAT(a.kernel("ascend-950").attention_forward, WithinRel(a.kernel("ascend-910").attention_forward, 1e-12));
  CHECK(a.kernel("ascend-950").gemm_bf16 != load_assumptions(FLOPCAST_SOURCE_ROOT, false).kernel("ascend-950").gemm_bf16);
}

TEST_CASE("a kernel_transfer entry with mistakes names the path and what was expected", "[calibration][input]") {
  const auto root = std::filesystem::temp_directory_path() / "flopcast_bad_transfer";
  std::filesystem::create_directories(root / "models" / "data");
  auto json = nlohmann::json::parse(
      read_text_file(std::filesystem::path(FLOPCAST_SOURCE_ROOT) / "models" / "data" / "assumptions.json"));
  json["kernel_transfer"]["blackwell"]["from"] = "volta";
  json["kernel_transfer"]["hopper"]["from"] = "hopper";
  json["kernel_transfer"]["tpu"] = {{"from", "hopper"}, {"reason", "none"}};
  json["kernel_transfer"]["ampere"].erase("reason");
  write_file_atomic(root / "models" / "data" / "assumptions.json", json.dump());
  std::string all;
  try {
    load_assumptions(root, false);
  } catch (const InputError& error) {
    for (const auto& problem : error.problems()) all += problem.path + ": " + problem.message + "\n";
  }
  CHECK_THAT(all, Catch::Contains("/kernel_transfer/blackwell/from: \"volta\" is not a chip family of kernels (known: "
                                  "ampere, ascend-910, ascend-950, blackwell, hopper)"));
  CHECK_THAT(all, Catch::Contains("/kernel_transfer/hopper/from: names the family itself"));
  CHECK_THAT(all, Catch::Contains("/kernel_transfer/tpu: is not a chip family of kernels"));
  CHECK_THAT(all, Catch::Contains("/kernel_transfer/ampere/reason"));
  std::filesystem::remove_all(root);
}
