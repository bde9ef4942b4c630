#include <catch2/catch.hpp>

#include "flopcast/models/collectives.hpp"

using namespace flopcast;
using Catch::Matchers::WithinRel;

namespace {
constexpr double kGiB = 1073741824.0;
const LinkClass kLink{.bytes_per_s = 100e9, .latency_s = 5e-6, .efficiency = 1.0};
}  // namespace

TEST_CASE("ring all-reduce and alpha-beta", "[models][collectives]") {
  // 8 ranks, 1 GiB, 100 GB/s per link, 5 us per hop:
  // 2*(8-1)*5 us + 2*(7/8)*2^30 B / 1e11 B/s = 0.07 ms + 18.7905 ms = 18.8605 ms
  CHECK_THAT(all_reduce_s(kGiB, 8, kLink), WithinRel(0.0188605, 1e-4));
  CHECK(all_reduce_s(kGiB, 1, kLink) == 0.0);
}

TEST_CASE("ring all-gather and reduce-scatter", "[models][collectives]") {
  // (7/8) * 2^30 / 1e11 + 7 * 5 us = 9.39524 ms + 0.035 ms = 9.43024 ms
  CHECK_THAT(all_gather_s(kGiB, 8, kLink), WithinRel(0.00943024, 1e-4));
  CHECK(reduce_scatter_s(kGiB, 8, kLink) == all_gather_s(kGiB, 8, kLink));
}

TEST_CASE("in-network reduction sends each byte once", "[models][collectives]") {
  // 2^30 / 1e11 + 2 * 5 us = 10.7374 ms + 0.01 ms = 10.7474 ms, against 18.86 ms for the ring.
  LinkClass sharp = kLink;
  sharp.in_network_reduction = true;
  CHECK_THAT(all_reduce_s(kGiB, 8, sharp), WithinRel(0.0107474, 1e-4));
}

TEST_CASE("efficiency divides the bandwidth", "[models][collectives]") {
  LinkClass half = kLink;
  half.efficiency = 0.5;
  half.latency_s = 0;
  // 2 * (7/8) * 2^30 / (0.5 * 1e11) = 37.581 ms
  CHECK_THAT(all_reduce_s(kGiB, 8, half), WithinRel(0.0375810, 1e-4));
}

TEST_CASE("hierarchical all-reduce over nodes", "[models][collectives]") {
  // 16 ranks, consecutive, 8 per node: reduce-scatter inside (8), all-reduce across 2 nodes on 1/8, all-gather inside.
  const LinkClass inside{.bytes_per_s = 400e9, .latency_s = 0, .efficiency = 1.0};
  const LinkClass outside{.bytes_per_s = 50e9, .latency_s = 0, .efficiency = 1.0};
  const auto shape = group_shape(16, 1, 8);
  CHECK(shape.inside == 8);
  CHECK(shape.outside == 2);
  // RS: 7/8 * 1e9 / 4e11 = 2.1875 ms; AR across 2: 2 * 1/2 * 1.25e8 / 5e10 = 2.5 ms; AG: 2.1875 ms. Sum 6.875 ms.
  CHECK_THAT(group_all_reduce_s(1e9, 16, 1, 8, inside, outside), WithinRel(0.006875, 1e-9));
  // Stride 8 (one member per node): a flat ring across 16 nodes: 2 * 15/16 * 1e9 / 5e10 = 37.5 ms.
  CHECK_THAT(group_all_reduce_s(1e9, 16, 8, 8, inside, outside), WithinRel(0.0375, 1e-9));
}
