#include <catch2/catch.hpp>

#include "flopcast/core/errors.hpp"
#include "flopcast/hardware/topology.hpp"

using namespace flopcast;
using Catch::Matchers::WithinRel;

TEST_CASE("rail-optimized two-tier fat-tree: switches and hops and full bisection", "[hardware][topology]") {
  // 64 nodes x 8 NICs = 512 NICs on 64-port leaves with 32 down / 32 up: 16 leaves, 512 up links / 64 = 8 spines.
  // Node 0 and node 63 sit on different leaves of every rail: NIC -> leaf -> spine -> leaf -> NIC, 3 switches.
  const auto t = build_topology({.kind = TopologyKind::fat_tree_2, .nodes = 64, .nics_per_node = 8,
                                 .nic_bytes_per_s = 50e9, .switch_radix = 64, .oversubscription = 1.0});
  CHECK(t.switches == 24);
  CHECK(t.max_switch_hops == 3);
  CHECK(t.cables == 512 + 16 * 32);
  // Half the nodes inject 32 x 8 x 50 GB/s = 12.8 TB/s, and the full fat-tree carries all of it.
  CHECK_THAT(t.bisection_bytes_per_s, WithinRel(12.8e12, 1e-9));
  CHECK_THAT(t.bisection_ratio, WithinRel(1.0, 1e-9));
}

TEST_CASE("oversubscription cuts the bisection", "[hardware][topology]") {
  // 8-port switches at 3:1 leave 6 ports down and 2 up. 36 single-NIC nodes fill 6 leaves; 12 up links need 2 spines.
  // Nodes 0-17 (leaves 0-2) reach nodes 18-35 only through 3 leaves x 2 up links = 6 links: 6 / 18 = 1/3.
  const auto thin = build_topology({.kind = TopologyKind::fat_tree_2, .nodes = 36, .nics_per_node = 1,
                                    .nic_bytes_per_s = 1e9, .switch_radix = 8, .oversubscription = 3.0});
  CHECK(thin.switches == 8);
  CHECK_THAT(thin.bisection_ratio, WithinRel(1.0 / 3.0, 1e-9));
  // At 1:1 (4 down, 4 up) 32 nodes get full bisection.
  const auto full = build_topology({.kind = TopologyKind::fat_tree_2, .nodes = 32, .nics_per_node = 1,
                                    .nic_bytes_per_s = 1e9, .switch_radix = 8, .oversubscription = 1.0});
  CHECK_THAT(full.bisection_ratio, WithinRel(1.0, 1e-9));
}

TEST_CASE("three tiers and multi-plane reach 16 384 GPUs", "[hardware][topology]") {
  const auto three = build_topology({.kind = TopologyKind::fat_tree_3, .nodes = 2048, .nics_per_node = 8,
                                     .nic_bytes_per_s = 50e9, .switch_radix = 64});
  CHECK(three.tiers == 3);
  CHECK(three.max_switch_hops == 5);
  CHECK_THAT(three.bisection_ratio, WithinRel(1.0, 1e-9));
  // DeepSeek's MPFT: 8 planes of 2048 NICs each (64 x 32), 3 switch hops.
  const auto planes = build_topology({.kind = TopologyKind::multi_plane_2, .nodes = 2048, .nics_per_node = 8,
                                      .nic_bytes_per_s = 50e9, .switch_radix = 64});
  CHECK(planes.planes == 8);
  CHECK(planes.max_switch_hops == 3);
  CHECK_THAT(planes.bisection_ratio, WithinRel(1.0, 1e-9));
}

TEST_CASE("a cluster too large for the topology is an error that says what fits", "[hardware][topology]") {
  // 64 ports, 32 down: a two-tier fat-tree connects at most 64 x 32 = 2048 NICs.
  CHECK(max_endpoints(TopologyKind::fat_tree_2, 64, 1.0) == 2048);
  CHECK(max_endpoints(TopologyKind::fat_tree_3, 64, 1.0) == 65536);
  CHECK_THROWS_WITH(build_topology({.kind = TopologyKind::fat_tree_2, .nodes = 2048, .nics_per_node = 8}),
                    "fat-tree-2 with 64-port switches at oversubscription 1 connects at most 2048 NICs; this cluster "
                    "needs 16384 (use fat-tree-3)");
}
