#include "flopcast/hardware/topology.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <tuple>

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/breadth_first_search.hpp>
#include <boost/graph/push_relabel_max_flow.hpp>
#include <fmt/format.h>

#include "flopcast/core/errors.hpp"

namespace flopcast {
namespace {

using Traits = boost::adjacency_list_traits<boost::vecS, boost::vecS, boost::directedS>;
using Graph = boost::adjacency_list<
    boost::vecS, boost::vecS, boost::directedS, boost::no_property,
    boost::property<boost::edge_capacity_t, long,
                    boost::property<boost::edge_residual_capacity_t, long,
                                    boost::property<boost::edge_reverse_t, Traits::edge_descriptor>>>>;
using Vertex = Traits::vertex_descriptor;

// Capacities are integers (push-relabel's flow check is exact): megabytes per second.
constexpr double kCapacityUnitBytesPerS = 1e6;
long to_capacity(double bytes_per_s) { return std::lround(bytes_per_s / kCapacityUnitBytesPerS); }

// The leaf's ports split into down (to NICs) and up (to the next tier) by the oversubscription ratio.
struct LeafPorts {
  int down;
  int up;
};

LeafPorts leaf_ports(int radix, double oversubscription) {
  const int down = std::clamp(static_cast<int>(std::floor(radix * oversubscription / (1.0 + oversubscription))), 1,
                              radix - 1);
  return {down, radix - down};
}

// Accumulates cables between vertex pairs, then emits one edge pair per pair of vertices with the summed capacity.
class GraphBuilder {
 public:
  explicit GraphBuilder(double port_bytes_per_s) : port_bytes_per_s_(port_bytes_per_s) {}

  Vertex add_vertex() { return next_vertex_++; }
  void cable(Vertex a, Vertex b, int count = 1) {
    cables_[{std::min(a, b), std::max(a, b)}] += count;
    total_cables_ += count;
  }
  long total_cables() const { return total_cables_; }
  std::size_t vertex_count() const { return next_vertex_; }

  Graph build(std::size_t extra_vertices) const {
    Graph graph(next_vertex_ + extra_vertices);
    for (const auto& [ends, count] : cables_) {
      add_arc_pair(graph, ends.first, ends.second, to_capacity(count * port_bytes_per_s_));
    }
    return graph;
  }

  // An undirected cable of the given capacity: an arc each way, each with the zero-capacity reverse arc that
  // push-relabel's residual graph needs.
  static void add_arc_pair(Graph& graph, Vertex u, Vertex v, long capacity) {
    add_arc(graph, u, v, capacity);
    add_arc(graph, v, u, capacity);
  }

  static void add_arc(Graph& graph, Vertex from, Vertex to, long capacity) {
    auto capacity_map = boost::get(boost::edge_capacity, graph);
    auto reverse_map = boost::get(boost::edge_reverse, graph);
    const auto forward = boost::add_edge(from, to, graph).first;
    const auto backward = boost::add_edge(to, from, graph).first;
    capacity_map[forward] = capacity;
    capacity_map[backward] = 0;
    reverse_map[forward] = backward;
    reverse_map[backward] = forward;
  }

 private:
  double port_bytes_per_s_;
  Vertex next_vertex_ = 0;
  std::map<std::pair<Vertex, Vertex>, int> cables_;
  long total_cables_ = 0;
};

// A two-tier Clos over `endpoints` NICs given as (node vertex) in fill order; returns switches added.
int add_two_tier(GraphBuilder& builder, const std::vector<Vertex>& endpoint_nodes, int radix, LeafPorts ports) {
  const int endpoints = static_cast<int>(endpoint_nodes.size());
  const int leaves = (endpoints + ports.down - 1) / ports.down;
  std::vector<Vertex> leaf_vertices;
  for (int leaf = 0; leaf < leaves; ++leaf) leaf_vertices.push_back(builder.add_vertex());
  for (int e = 0; e < endpoints; ++e) builder.cable(endpoint_nodes[e], leaf_vertices[e / ports.down]);
  if (leaves == 1) return 1;
  const long up_links = static_cast<long>(leaves) * ports.up;
  const int spines = static_cast<int>((up_links + radix - 1) / radix);
  std::vector<Vertex> spine_vertices;
  for (int spine = 0; spine < spines; ++spine) spine_vertices.push_back(builder.add_vertex());
  // Each leaf spreads its up links evenly over the spines.
  for (int leaf = 0; leaf < leaves; ++leaf) {
    for (int link = 0; link < ports.up; ++link) builder.cable(leaf_vertices[leaf], spine_vertices[link % spines]);
  }
  return leaves + spines;
}

// Endpoints in rail-major order: NIC r of every node, then NIC r+1, so a leaf holds one rail.
std::vector<Vertex> rail_major_endpoints(int nodes, int nics_per_node) {
  std::vector<Vertex> endpoints;
  endpoints.reserve(static_cast<std::size_t>(nodes) * nics_per_node);
  for (int rail = 0; rail < nics_per_node; ++rail) {
    for (int node = 0; node < nodes; ++node) endpoints.push_back(static_cast<Vertex>(node));
  }
  return endpoints;
}

int add_three_tier(GraphBuilder& builder, const std::vector<Vertex>& endpoint_nodes, int radix, LeafPorts ports) {
  const int endpoints = static_cast<int>(endpoint_nodes.size());
  const int half = radix / 2;  // aggregation switches: half their ports down to leaves, half up to cores
  const int leaves = (endpoints + ports.down - 1) / ports.down;
  const int leaves_per_pod = half;
  const int pods = (leaves + leaves_per_pod - 1) / leaves_per_pod;
  const int aggs_per_pod = ports.up;  // every leaf of a pod links once to every aggregation switch of the pod
  std::vector<Vertex> leaf_vertices;
  for (int leaf = 0; leaf < leaves; ++leaf) leaf_vertices.push_back(builder.add_vertex());
  for (int e = 0; e < endpoints; ++e) builder.cable(endpoint_nodes[e], leaf_vertices[e / ports.down]);
  // Core groups: aggregation switch j of every pod links to core group j (half cores each).
  const int cores = aggs_per_pod * half;
  std::vector<Vertex> core_vertices;
  for (int core = 0; core < cores; ++core) core_vertices.push_back(builder.add_vertex());
  int switches = leaves + cores;
  for (int pod = 0; pod < pods; ++pod) {
    std::vector<Vertex> aggs;
    for (int agg = 0; agg < aggs_per_pod; ++agg) aggs.push_back(builder.add_vertex());
    switches += aggs_per_pod;
    for (int leaf = pod * leaves_per_pod; leaf < std::min(leaves, (pod + 1) * leaves_per_pod); ++leaf) {
      for (int agg = 0; agg < aggs_per_pod; ++agg) builder.cable(leaf_vertices[leaf], aggs[agg]);
    }
    for (int agg = 0; agg < aggs_per_pod; ++agg) {
      for (int link = 0; link < half; ++link) builder.cable(aggs[agg], core_vertices[agg * half + link]);
    }
  }
  return switches;
}

int worst_switch_hops(const Graph& graph, int nodes) {
  if (nodes < 2) return 0;
  std::vector<int> distance(boost::num_vertices(graph), -1);
  distance[0] = 0;
  boost::breadth_first_search(
      graph, boost::vertex(0, graph),
      boost::visitor(boost::make_bfs_visitor(boost::record_distances(distance.data(), boost::on_tree_edge()))));
  int worst = 0;
  for (int node = 1; node < nodes; ++node) worst = std::max(worst, distance[node]);
  return std::max(0, worst - 1);  // a path node -> s1 -> ... -> sk -> node has k switches and k+1 edges
}

double bisection(Graph& graph, int nodes, Vertex source, Vertex sink, long big) {
  for (int node = 0; node < nodes; ++node) {
    if (node < nodes / 2) {
      GraphBuilder::add_arc(graph, source, static_cast<Vertex>(node), big);
    } else {
      GraphBuilder::add_arc(graph, static_cast<Vertex>(node), sink, big);
    }
  }
  return static_cast<double>(boost::push_relabel_max_flow(graph, source, sink)) * kCapacityUnitBytesPerS;
}

}  // namespace

int leaf_down_ports(int switch_radix, double oversubscription) {
  return leaf_ports(switch_radix, oversubscription).down;
}

std::string_view to_string(TopologyKind kind) {
  switch (kind) {
    case TopologyKind::fat_tree_2: return "fat-tree-2";
    case TopologyKind::fat_tree_3: return "fat-tree-3";
    case TopologyKind::multi_plane_2: return "multi-plane-2";
  }
  return "?";
}

const std::vector<std::string>& topology_names() {
  static const std::vector<std::string> kNames{"fat-tree-2", "fat-tree-3", "multi-plane-2"};
  return kNames;
}

std::optional<TopologyKind> parse_topology(std::string_view name) {
  for (auto kind : {TopologyKind::fat_tree_2, TopologyKind::fat_tree_3, TopologyKind::multi_plane_2}) {
    if (to_string(kind) == name) return kind;
  }
  return std::nullopt;
}

long max_endpoints(TopologyKind kind, int radix, double oversubscription) {
  const auto ports = leaf_ports(radix, oversubscription);
  switch (kind) {
    case TopologyKind::fat_tree_2:
    case TopologyKind::multi_plane_2: return static_cast<long>(radix) * ports.down;
    case TopologyKind::fat_tree_3: return static_cast<long>(radix / 2) * ports.down * radix;
  }
  return 0;
}

std::optional<std::string> topology_capacity_problem(const TopologySpec& spec) {
  const long limit = max_endpoints(spec.kind, spec.switch_radix, spec.oversubscription);
  const bool per_plane = spec.kind == TopologyKind::multi_plane_2;
  const long endpoints = per_plane ? spec.nodes : static_cast<long>(spec.nodes) * spec.nics_per_node;
  if (endpoints <= limit) return std::nullopt;
  return fmt::format("{} with {}-port switches at oversubscription {:g} connects at most {} {}; this cluster needs {} "
                     "(use {})",
                     to_string(spec.kind), spec.switch_radix, spec.oversubscription, limit,
                     per_plane ? "nodes per plane" : "NICs", endpoints,
                     spec.kind == TopologyKind::fat_tree_3 ? "a larger switch radix" : "fat-tree-3");
}

namespace {

TopologySummary measure_topology(const TopologySpec& spec) {
  if (spec.nodes < 1 || spec.nics_per_node < 1 || spec.switch_radix < 4 || !(spec.oversubscription >= 1.0) ||
      !(spec.nic_bytes_per_s > 0)) {
    throw ModelError(fmt::format("topology needs nodes >= 1, NICs per node >= 1, radix >= 4, oversubscription >= 1 "
                                 "(got {}, {}, {}, {})",
                                 spec.nodes, spec.nics_per_node, spec.switch_radix, spec.oversubscription));
  }
  if (auto problem = topology_capacity_problem(spec)) throw ModelError(*problem);
  const auto ports = leaf_ports(spec.switch_radix, spec.oversubscription);

  GraphBuilder builder(spec.nic_bytes_per_s);
  for (int node = 0; node < spec.nodes; ++node) builder.add_vertex();
  TopologySummary summary;
  switch (spec.kind) {
    case TopologyKind::fat_tree_2:
      summary.tiers = 2;
      summary.switches = add_two_tier(builder, rail_major_endpoints(spec.nodes, spec.nics_per_node),
                                      spec.switch_radix, ports);
      break;
    case TopologyKind::fat_tree_3:
      summary.tiers = 3;
      summary.switches = add_three_tier(builder, rail_major_endpoints(spec.nodes, spec.nics_per_node),
                                        spec.switch_radix, ports);
      break;
    case TopologyKind::multi_plane_2:
      summary.tiers = 2;
      summary.planes = spec.nics_per_node;
      for (int plane = 0; plane < spec.nics_per_node; ++plane) {
        summary.switches += add_two_tier(builder, rail_major_endpoints(spec.nodes, 1), spec.switch_radix, ports);
      }
      break;
  }
  summary.cables = builder.total_cables();
  summary.injection_bytes_per_s = static_cast<double>(spec.nodes) * spec.nics_per_node * spec.nic_bytes_per_s;

  const Vertex source = static_cast<Vertex>(builder.vertex_count());
  const Vertex sink = source + 1;
  Graph graph = builder.build(2);
  summary.max_switch_hops = worst_switch_hops(graph, spec.nodes);
  if (spec.nodes >= 2) {
    summary.bisection_bytes_per_s = bisection(graph, spec.nodes, source, sink, to_capacity(summary.injection_bytes_per_s));
    // An odd node count puts one more node in the second half: compare with the smaller half's injection.
    const double half_injection = static_cast<double>(spec.nodes / 2) * spec.nics_per_node * spec.nic_bytes_per_s;
    summary.bisection_ratio = std::min(1.0, summary.bisection_bytes_per_s / half_injection);
  } else {
    summary.bisection_bytes_per_s = summary.injection_bytes_per_s;
    summary.bisection_ratio = 1.0;
  }
  return summary;
}

}  // namespace

TopologySummary build_topology(const TopologySpec& spec) {
  // The graph's max flow takes about 18 ms for 2,048 nodes, and every parse of a scenario measures its cluster: a
  // sweep's or planner's thousands of scenarios share a handful of clusters. Results are pure functions of the spec.
  using Key = std::tuple<int, int, int, double, int, double>;
  constexpr std::size_t kMaxCached = 256;
  static std::mutex mutex;
  static std::map<Key, TopologySummary> cache;
  const Key key{static_cast<int>(spec.kind), spec.nodes, spec.nics_per_node, spec.nic_bytes_per_s, spec.switch_radix,
                spec.oversubscription};
  {
    const std::lock_guard lock(mutex);
    if (const auto found = cache.find(key); found != cache.end()) return found->second;
  }
  TopologySummary summary = measure_topology(spec);  // throws ModelError for a cluster the topology cannot hold
  const std::lock_guard lock(mutex);
  if (cache.size() >= kMaxCached) cache.clear();
  cache.emplace(key, summary);
  return summary;
}

}  // namespace flopcast
