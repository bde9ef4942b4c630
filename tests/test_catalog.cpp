#include "helpers.hpp"

#include "flopcast/core/files.hpp"

#include "flopcast/hardware/export_control.hpp"

using namespace flopcast;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

TEST_CASE("the catalog holds every chip and node and fabric the issue names", "[hardware][catalog]") {
  const auto& hw = test::catalogs().hardware;
  for (const char* id : {"a100-sxm-80gb", "a800-sxm-80gb", "h100-sxm", "h100-pcie", "h800-sxm", "h20", "h200-sxm",
                         "b200", "gb200", "ascend-910b", "ascend-910c", "ascend-950pr"}) {
    INFO(id);
    const auto* chip = hw.find_chip(id);
    REQUIRE(chip != nullptr);
    CHECK(chip->peak_flop_per_s(DataType::bf16) > 0);
    CHECK(chip->hbm_capacity.value > 0);
    CHECK(hw.find_node(chip->default_node) != nullptr);
  }
  for (const char* id : {"hgx-a100", "hgx-h100", "hgx-h800", "hgx-h20", "hgx-h200", "hgx-b200", "gb200-nvl72",
                         "atlas-800t-a2", "cloudmatrix-384"}) {
    INFO(id);
    CHECK(hw.find_node(id) != nullptr);
  }
  for (const char* id : {"ib-hdr200", "opa-100", "ib-ndr400", "ib-xdr800", "roce-200", "roce-400"}) {
    INFO(id);
    CHECK(hw.find_fabric(id) != nullptr);
  }
}

TEST_CASE("datasheet figures load in SI units", "[hardware][catalog]") {
  const auto& h100 = *test::catalogs().hardware.find_chip("h100-sxm");
  CHECK_THAT(h100.peak_flop_per_s(DataType::bf16), WithinRel(989.4e12, 1e-6));  // dense, datasheet / 2
  CHECK_THAT(h100.hbm_bandwidth.value, WithinRel(3.35e12, 1e-6));
  CHECK_THAT(h100.nic_bandwidth.value, WithinRel(50e9, 1e-6));  // 400 Gb/s = 50 GB/s
  CHECK_THAT(test::catalogs().hardware.find_fabric("opa-100")->port_bandwidth.value,
             WithinRel(12.5e9, 1e-6));  // Omni-Path 100 Gb/s = 12.5 GB/s
  const auto& h800 = *test::catalogs().hardware.find_chip("h800-sxm");
  CHECK_THAT(h800.scaleup_bandwidth_per_direction.value, WithinRel(200e9, 1e-6));  // NVLink cut to 400 GB/s bidir
  const auto& ascend = *test::catalogs().hardware.find_chip("ascend-910b");
  REQUIRE(ascend.peak(DataType::bf16)->low);
  CHECK(ascend.peak(DataType::bf16)->low_or_value() < ascend.peak(DataType::bf16)->high_or_value());  // disputed
  // Streaming multiprocessors: 132 on the H100 SXM (whitepaper), none listed for the Ascend (AI cores, not SMs).
  REQUIRE(h100.sm_count);
  CHECK(h100.sm_count->value == 132);
  CHECK_FALSE(ascend.sm_count);
}

TEST_CASE("TPP and performance density match published values", "[hardware][export]") {
  // Published: CSET / BIS-derived table in shared/data/reference_catalog.json export_rules.chip_classification.
  struct Row {
    const char* id;
    double tpp;
    double pd;
  };
  // A100: 312 TFLOP/s bf16 x 16 bits = 4992; / 826 mm^2 = 6.04.   H100: 989.4 x 16 = 15830 (fp8 1978.9 x 8 = 15831).
  // H20: 148 x 16 = 2368; / 814 = 2.91.   910B: 320 x 16 = 5120; / 665.61 = 7.69.
  const Row rows[] = {{"a100-sxm-80gb", 4992, 6.04}, {"h100-sxm", 15831, 19.45}, {"h800-sxm", 15831, 19.45},
                      {"h20", 2368, 2.91},           {"ascend-910b", 5120, 7.69}};
  for (const auto& row : rows) {
    INFO(row.id);
    const auto e = classify_export(*test::catalogs().hardware.find_chip(row.id));
    CHECK_THAT(e.tpp, WithinRel(row.tpp, 0.001));
    CHECK_THAT(e.performance_density, WithinAbs(row.pd, 0.01));
  }
}

TEST_CASE("export status under the 2022 and 2023 rules", "[hardware][export]") {
  const auto status = [](const char* id) { return classify_export(*test::catalogs().hardware.find_chip(id)); };
  // A100: TPP 4992 >= 4800 and NVLink 600 GB/s >= 600: controlled in 2022. A800 and H800: NVLink 400 GB/s < 600.
  CHECK(status("a100-sxm-80gb").rule_2022 == Rule2022Status::controlled);
  CHECK(status("a800-sxm-80gb").rule_2022 == Rule2022Status::not_controlled);
  CHECK(status("h800-sxm").rule_2022 == Rule2022Status::not_controlled);
  // 2023: TPP >= 4800 is 3A090.a whatever the I/O; H20 (2368, PD 2.91) is below every threshold.
  CHECK(status("a800-sxm-80gb").rule_2023 == Rule2023Status::controlled_3a090a);
  CHECK(status("h800-sxm").rule_2023 == Rule2023Status::controlled_3a090a);
  CHECK(status("h20").rule_2023 == Rule2023Status::not_controlled);
}

TEST_CASE("the gray band of 2023 (3A090.b)", "[hardware][export]") {
  // A made-up chip at TPP 3000 (187.5 TFLOP/s bf16 x 16) on 600 mm^2: PD 5.0, inside 2400 <= TPP < 4800 and
  // 1.6 <= PD < 5.92.
  Chip chip;
  Quantity peak;
  peak.value = 187.5e12;
  chip.peak_dense[static_cast<std::size_t>(DataType::bf16)] = peak;
  chip.die_area.value = 600;
  const auto e = classify_export(chip);
  CHECK_THAT(e.tpp, WithinRel(3000.0, 1e-9));
  CHECK(e.rule_2023 == Rule2023Status::gray_band_3a090b);
  // Same TPP on 300 mm^2: PD 10 >= 5.92 with TPP >= 1600: 3A090.a.
  chip.die_area.value = 300;
  CHECK(classify_export(chip).rule_2023 == Rule2023Status::controlled_3a090a);
}

TEST_CASE("a catalog file with problems reports them all", "[hardware][catalog]") {
  const auto root = std::filesystem::temp_directory_path() / "flopcast_bad_catalog";
  std::filesystem::create_directories(root / "hardware" / "data");
  for (const char* name : {"chips.json", "nodes.json", "networks.json"}) {
    std::filesystem::copy_file(std::filesystem::path(FLOPCAST_SOURCE_ROOT) / "hardware" / "data" / name,
                               root / "hardware" / "data" / name, std::filesystem::copy_options::overwrite_existing);
  }
  auto chips = nlohmann::json::parse(read_text_file(root / "hardware" / "data" / "chips.json"));
  chips["chips"][0]["tdp"]["unit"] = "kWh";
  chips["chips"][1]["default_node"] = "hgx-a80";
  chips["chips"][2]["colour"] = "green";
  write_file_atomic(root / "hardware" / "data" / "chips.json", chips.dump());
  const auto messages = test::messages_of([&] { load_catalog(root); });
  REQUIRE(messages.size() == 3);
  CHECK(messages[0].find("/chips/0/tdp/unit: expected a power unit (W, kW, MW), got \"kWh\"") == 0);
  CHECK(messages[1] == "/chips/2/colour: unknown key");
  CHECK(messages[2] == "/chips/1/default_node: unknown node \"hgx-a80\" (did you mean \"hgx-a800\"?)");
  std::filesystem::remove_all(root);
}
