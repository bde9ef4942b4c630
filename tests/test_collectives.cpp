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

TEST_CASE("double binary tree against ring across nodes", "[models][collectives]") {
  // 50 GB/s NIC, bus efficiency 0.9, 5 us per step, trees at 0.92 of the ring's bus bandwidth.
  const LinkClass nic{.bytes_per_s = 50e9, .latency_s = 5e-6, .efficiency = 0.9, .path = Path::scaleout,
                      .tree_fraction = 0.92};
  // 1 MB over 64 nodes.
  // Ring: 2 * 63/64 * 1e6 / (0.9 * 50e9) + 2 * 63 * 5 us = 43.75 us + 630 us = 673.75 us.
  // Tree: 2 * 1e6 / (0.92 * 0.9 * 50e9) + 2 * log2(64) * 5 us = 48.309 us + 60 us = 108.309 us: the tree wins.
  CHECK_THAT(ring_all_reduce(1e6, 64, nic).time_s(), WithinRel(673.75e-6, 1e-6));
  CHECK_THAT(tree_all_reduce(1e6, 64, nic).time_s(), WithinRel(108.309e-6, 1e-4));
  CHECK_THAT(all_reduce_s(1e6, 64, nic), WithinRel(108.309e-6, 1e-4));
  // 1 GB over 8 nodes.
  // Ring: 2 * 7/8 * 1e9 / 45e9 + 14 * 5 us = 38.889 ms + 0.07 ms = 38.959 ms.
  // Tree: 2e9 / 41.4e9 + 6 * 5 us = 48.309 ms + 0.03 ms = 48.339 ms: the ring wins.
  CHECK_THAT(all_reduce_s(1e9, 8, nic), WithinRel(38.959e-3, 1e-4));
  CHECK_THAT(tree_all_reduce(1e9, 8, nic).time_s(), WithinRel(48.339e-3, 1e-4));
  // Non-power-of-two counts round the depth up: 5 nodes, 3 levels: 6 latencies.
  LinkClass latency_only = nic;
  latency_only.bytes_per_s = 1e30;
  CHECK_THAT(tree_all_reduce(1.0, 5, latency_only).time_s(), WithinRel(30e-6, 1e-9));
  // A link class without trees keeps the ring.
  LinkClass ring_only = nic;
  ring_only.tree_fraction = 0;
  CHECK_THAT(all_reduce_s(1e6, 64, ring_only), WithinRel(673.75e-6, 1e-6));
  CHECK(tree_all_reduce(1e6, 64, ring_only).empty());
}
