#include <catch2/catch.hpp>

#include "flopcast/models/collectives.hpp"
#include "flopcast/models/step_work.hpp"

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

TEST_CASE("a deduplicating dispatcher sends a token once per rank and once per node", "[models][collectives]") {
  // Mixtral's 8 experts, top-2, one expert a rank: the two experts are on two ranks, always.
  // P(a rank holds neither) = 7/8 x 6/7 = 0.75, so 8 x (1 - 0.75) = 2 ranks.
  const MoeDims mixtral{.experts = 8, .top_k = 2};
  CHECK_THAT(expert_destinations(mixtral, 8, 8).ranks, WithinRel(2.0, 1e-12));
  CHECK(expert_destinations(mixtral, 8, 8).remote_nodes == 0.0);
  // One expert a token lands on one rank, however the group splits over nodes: 12 ranks over 8-chip nodes hold 96
  // experts, 8 each; P(a rank holds it) = 8 / 96, 12 x 8 / 96 = 1 rank, and the other node (6 of the 12 ranks) half
  // the time.
  const MoeDims top1{.experts = 96, .top_k = 1};
  CHECK_THAT(expert_destinations(top1, 12, 8).ranks, WithinRel(1.0, 1e-12));
  CHECK_THAT(expert_destinations(top1, 12, 8).remote_nodes, WithinRel(0.5, 1e-12));
  // DeepSeek-V3's 256 experts, top-8, over 8 ranks of one node (32 each):
  // P(a rank holds none) = (224 x 223 x ... x 217) / (256 x 255 x ... x 249) = 0.338168, 8 x 0.661832 = 5.2947
  // ranks instead of 8 copies.
  MoeDims v3{.experts = 256, .top_k = 8, .node_limit = 4};
  CHECK_THAT(expert_destinations(v3, 8, 8).ranks, WithinRel(5.294652, 1e-5));
  // Over 32 ranks on 4 nodes (8 experts a rank, 64 a node; the limit of 4 nodes is no limit here):
  // ranks 32 x (1 - (248 ... 241) / (256 ... 249)) = 32 x (1 - 0.772913) = 7.2668;
  // remote nodes 4 x (1 - (192 ... 185) / (256 ... 249)) x 3/4 = 4 x 0.903554 x 0.75 = 2.71066.
  CHECK_THAT(expert_destinations(v3, 32, 8).ranks, WithinRel(7.266800, 1e-5));
  CHECK_THAT(expert_destinations(v3, 32, 8).remote_nodes, WithinRel(2.710661, 1e-5));
  // Over 64 ranks on 8 nodes the token first picks 4 nodes (128 experts, 32 a node, 4 a rank):
  // ranks 32 x (1 - (124 ... 117) / (128 ... 121)) = 32 x 0.229980 = 7.35937;
  // remote nodes 4 x (1 - (96 ... 89) / (128 ... 121)) x 7/8 = 4 x 0.907253 x 0.875 = 3.17538.
  CHECK_THAT(expert_destinations(v3, 64, 8).ranks, WithinRel(7.359370, 1e-5));
  CHECK_THAT(expert_destinations(v3, 64, 8).remote_nodes, WithinRel(3.175385, 1e-5));

  // The exchange itself: 4096 tokens of 7168 bf16 elements over 8 ranks of one node at 100 GB/s, no latency.
  // Per expert: 8 copies x 4096 x 7168 x 2 B = 469.76 MB, 4.6976 ms; per destination 5.294652 copies, 3.1092 ms.
  ClusterLinks links;
  links.node_chips = 8;
  links.a2a_up = {.bytes_per_s = 100e9, .latency_s = 0.0, .efficiency = 1.0};
  links.a2a_out = links.a2a_up;
  v3.node_limit = 0;
  CHECK_THAT(expert_all_to_all(v3, 8, 7168, 4096, 1.0, 2.0, links, ExpertCopies::per_expert).time_s(),
             WithinRel(8 * 4096 * 7168 * 2.0 / 100e9, 1e-9));
  CHECK_THAT(expert_all_to_all(v3, 8, 7168, 4096, 1.0, 2.0, links, ExpertCopies::per_destination).time_s(),
             WithinRel(5.294652 * 4096 * 7168 * 2.0 / 100e9, 1e-5));
}
