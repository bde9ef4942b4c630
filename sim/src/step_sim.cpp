#include "step_sim.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <deque>
#include <initializer_list>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <simgrid/s4u.hpp>

#include "engine.hpp"
#include "flopcast/core/errors.hpp"

namespace flopcast::sim_detail {
namespace {

namespace sg4 = simgrid::s4u;

enum Kind { kTp, kCp, kEp, kPp, kDp, kKinds };
constexpr std::array<const char*, kKinds> kKindNames = {"tp", "cp", "ep", "pp", "dp"};
constexpr int kPaths = 2;  // Path::scaleup, Path::scaleout
constexpr int kLanes = 2;  // 0: the device's main op; 1: the forward of a DualPipe pair
// Hosts compute at kSpeed flop/s; an op of t seconds is t x kSpeed flops, well above SimGrid's work precision.
constexpr double kSpeed = 1e12;

int path_index(Path path) { return path == Path::scaleup ? 0 : 1; }

// Overlapped pairs can account more than the elapsed time: the exposed communication waits are scaled down to the
// time the compute stream was free (`free_s`) where they alone exceed it. Returns the free time they leave, which is
// pipeline bubble or idle. The step's breakdown and each device's shares follow this one rule.
double fit_waits_to_free_time(double free_s, std::initializer_list<double*> waits) {
  double comm_s = 0;
  for (const double* w : waits) comm_s += *w;
  if (comm_s > free_s) {
    const double keep = std::max(0.0, 1.0 - (comm_s - free_s) / comm_s);
    for (double* w : waits) *w *= keep;
    comm_s *= keep;
  }
  return std::max(0.0, free_s - comm_s);
}

struct Route {
  sg4::Host* destination = nullptr;
  std::vector<int> links;
};

struct Request {
  const Collective* collective = nullptr;  // a collective of the stream's kind, with its bytes x scale
  double scale = 1.0;
  const Route* route = nullptr;  // or a point-to-point send of `bytes` on this route
  double bytes = 0;
  double latency_s = 0;
  sg4::SemaphorePtr notify;  // released when the transfer is done (the receiver's channel)
  sg4::SemaphorePtr done;    // released when the request is done (a waiting sender)
  std::string label;
  bool stop = false;
};

// A communication stream: an actor serving a queue of requests in order.
struct Stream {
  std::deque<Request> queue;
  sg4::SemaphorePtr pending = sg4::Semaphore::create(0);
  bool running = false;
  void post(Request request) {
    queue.push_back(std::move(request));
    pending->release();
  }
};

struct WorkSums {
  double gemm_s = 0;
  double attention_s = 0;
  double memory_s = 0;
  double overhead_s = 0;
  double optimizer_s = 0;
};

struct Device {
  int index = 0;  // simulated host
  int stage = 0;  // pipeline device (0 .. pp-1)
  int slot = 0;   // chip within the stage (tier 3), 0 in tier 2
  sg4::Host* host = nullptr;
  const StepWork* work = nullptr;
  double compute_factor = 1.0;
  bool traced = true;
  std::array<std::array<Route, kPaths>, kKinds> ring;        // collective transfers, per kind and path
  std::array<std::array<sg4::BarrierPtr, kLanes>, kKinds> barrier;  // tier 3: the group's barrier
  std::map<int, Route> pipeline;  // to the device holding a virtual stage (tier-2 device / tier-3 chip index)
  std::array<Stream, kKinds> streams;
  std::vector<std::array<sg4::SemaphorePtr, 2>> channel;  // per virtual stage: [0] activations in, [1] gradients in
  std::vector<int> backwards_done;                           // per virtual stage
  std::map<std::pair<int, int>, sg4::SemaphorePtr> parameters_ready;  // (virtual stage, layer) -> gathered
  std::deque<double> weight_queue;  // zero-bubble weight-gradient halves, seconds
  int layers = 0;                   // layers (and MTP modules) on this device
  DeviceActivity activity;
  WorkSums sums;
  double finish_s = 0;
};

class StepSimulation {
 public:
  explicit StepSimulation(const StepInput& in) : in_(in), plan_(in.job.plan), sched_(in.schedule) {}

  StepOutput run() {
    build_platform();
    for (const auto& device : devices_) total_ops_ += sched_.ops[device.stage].size();
    for (auto& device : devices_) start_device(device);
    sg4::Engine::get_instance()->run();
    report_progress(1.0);
    return collect();
  }

 private:
  // ---------------------------------------------------------------- platform

  int add_link(const std::string& name, double bytes_per_s) {
    auto* link = zone_->create_link(name, bytes_per_s)->set_latency(0)->seal();
    links_.push_back(link);
    loads_.push_back({name, bytes_per_s, 0, 0});
    return static_cast<int>(links_.size()) - 1;
  }

  void add_route(sg4::Host* from, sg4::Host* to, const std::vector<int>& links) {
    if (!routed_.insert({from, to}).second) return;
    std::vector<sg4::LinkInRoute> route;
    for (int id : links) route.emplace_back(links_[id]);
    zone_->add_route(from->get_netpoint(), to->get_netpoint(), nullptr, nullptr, route, false);
  }

  // The combined slow-down of a device (stragglers listed twice multiply).
  Straggler straggler(int index) const {
    Straggler total{index, 1.0, 1.0};
    for (const auto& s : in_.options.stragglers) {
      if (s.device != index) continue;
      total.compute_factor *= s.compute_factor;
      total.link_factor *= s.link_factor;
    }
    return total;
  }

  void build_platform() {
    zone_ = sg4::create_full_zone("cluster");
    full_ = in_.options.tier == Tier::full;
    per_stage_ = full_ ? plan_.tp * plan_.cp * plan_.dp : 1;
    const int count = plan_.pp * per_stage_;
    devices_.resize(count);
    for (int g = 0; g < count; ++g) {
      auto& d = devices_[g];
      d.index = g;
      d.stage = g / per_stage_;
      d.slot = g % per_stage_;
      d.work = &of_device(in_.works, d.stage);
      d.compute_factor = straggler(g).compute_factor;
      d.traced = d.slot == 0;
      d.host = zone_->create_host(full_ ? fmt::format("chip{}", g) : fmt::format("stage{}", g), kSpeed / d.compute_factor);
      d.activity.name = full_ ? fmt::format("chip {} (stage {})", g, d.stage) : fmt::format("stage {}", g);
    }
    if (full_) {
      build_full();
    } else {
      build_replica();
    }
    zone_->seal();
    for (auto& d : devices_) {
      d.channel.resize(sched_.stages.size());
      for (auto& c : d.channel) c = {sg4::Semaphore::create(0), sg4::Semaphore::create(0)};
      d.backwards_done.assign(sched_.stages.size(), 0);
      for (const auto& vs : sched_.stages) {
        if (vs.device == d.stage) {
          const auto& layout = d.work->chunks[vs.layout];
          d.layers += layout.layers() + layout.mtp_modules;
        }
      }
    }
  }

  // Tier 2: each device's collectives go to a peer host over the device's own link of that path (shared by the
  // kinds, or one per kind without contention); pipeline sends go to the neighbouring device.
  void build_replica() {
    const bool shared = in_.options.contention;
    for (auto& d : devices_) {
      const double slow = straggler(d.index).link_factor;
      std::array<std::array<int, kKinds>, kPaths> link_of{};
      for (int p = 0; p < kPaths; ++p) {
        const auto& lc = p == 0 ? d.work->scaleup : d.work->scaleout;
        for (int k = 0; k < kKinds; ++k) {
          if (shared && k > 0) {
            link_of[p][k] = link_of[p][0];
            continue;
          }
          const std::string suffix = shared ? "" : std::string(".") + kKindNames[k];
          link_of[p][k] = add_link(fmt::format("stage{}.{}{}", d.index, p == 0 ? "nvlink" : "nic", suffix),
                                   lc.bytes_per_s / slow);
        }
        for (int k = 0; k < kKinds; ++k) {
          if (shared && k > 0) {
            d.ring[k][p] = d.ring[0][p];
            continue;
          }
          auto* peer = zone_->create_host(fmt::format("stage{}.{}.{}.peer", d.index, p, k), kSpeed);
          d.ring[k][p] = Route{peer, {link_of[p][k]}};
          add_route(d.host, peer, d.ring[k][p].links);
        }
      }
      const int pp_path = pipeline_path();
      for (int target : neighbour_devices(d.stage)) {
        Route route{devices_[target].host, {link_of[pp_path][kPp]}};
        add_route(d.host, route.destination, route.links);
        d.pipeline[target] = route;
      }
    }
  }

  int pipeline_path() const {
    for (const auto& d : devices_) {
      for (const auto& step : d.work->pp_hop.steps) {
        for (const auto& t : step.transfers) return path_index(t.path);
      }
    }
    return 1;
  }

  // Pipeline devices this one sends activations or gradients to.
  std::vector<int> neighbour_devices(int stage) const {
    std::vector<int> out;
    for (const auto& vs : sched_.stages) {
      if (vs.device != stage) continue;
      for (int other : {vs.next, vs.prev}) {
        if (other >= 0 && sched_.stages[other].device != stage) out.push_back(sched_.stages[other].device);
      }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  // Tier 3: every chip with its scale-up port and NIC (each way), leaves of the rail-optimized fabric with their
  // uplinks to the spine layer; in a three-tier fabric, pods of leaves with their uplinks to the core; in a
  // multi-plane fabric, leaves of one rail each, so traffic between rails crosses the node's scale-up first (PXN).
  void build_full() {
    const auto& job = in_.job;
    const int node_chips = std::max(1, in_.works[0].node_chips);
    const int nodes = (static_cast<int>(devices_.size()) + node_chips - 1) / node_chips;
    const int nics = std::max(1, job.cluster.nics_per_node);
    const double port = std::min(job.cluster.node.nic_bandwidth.value, job.cluster.fabric.port_bandwidth.value);
    // A mixed fleet's stages sit on their own chips' nodes, with those nodes' NICs (on the cluster's rails).
    std::vector<double> nic_per_chip;
    for (int stage = 0; stage < plan_.pp; ++stage) {
      const auto setup = job.cluster.for_stage(stage);
      nic_per_chip.push_back(setup.nics_per_node * std::min(setup.node.nic_bandwidth.value, port) / node_chips);
    }
    const int radix = static_cast<int>(job.cluster.fabric.switch_radix.value);
    const int down = leaf_down_ports(radix, job.cluster.oversubscription);
    const int up = radix - down;
    const bool planes = job.cluster.topology == TopologyKind::multi_plane_2;
    const int leaves_per_plane = (nodes + down - 1) / down;
    const int leaves = planes ? leaves_per_plane * nics : (nodes * nics + down - 1) / down;
    const auto leaf_of = [&](int nic, int node) {
      return planes ? nic * leaves_per_plane + node / down : (nic * nodes + node) / down;
    };
    // Three tiers: radix / 2 leaves per pod, under aggregation switches whose core uplinks match the leaves' uplinks.
    const int leaves_per_pod = job.cluster.topology == TopologyKind::fat_tree_3 ? std::max(1, radix / 2) : leaves;
    const int pods = (leaves + leaves_per_pod - 1) / leaves_per_pod;
    std::vector<int> leaf_up, leaf_down, pod_up, pod_down;
    for (int l = 0; l < leaves; ++l) {
      leaf_up.push_back(add_link(fmt::format("leaf{}.up", l), up * port));
      leaf_down.push_back(add_link(fmt::format("leaf{}.down", l), up * port));
    }
    for (int p = 0; pods > 1 && p < pods; ++p) {
      const int members = std::min(leaves, (p + 1) * leaves_per_pod) - p * leaves_per_pod;
      pod_up.push_back(add_link(fmt::format("pod{}.up", p), members * up * port));
      pod_down.push_back(add_link(fmt::format("pod{}.down", p), members * up * port));
    }
    struct Ports {
      int up_out, up_in, nic_out, nic_in, node, nic, leaf;
    };
    std::vector<Ports> ports;
    for (auto& d : devices_) {
      const double slow = straggler(d.index).link_factor;
      const double scaleup = d.work->scaleup.bytes_per_s / slow;
      const int node = d.index / node_chips;
      const int nic = (d.index % node_chips) * nics / node_chips;
      ports.push_back({add_link(fmt::format("chip{}.nvlink.out", d.index), scaleup),
                       add_link(fmt::format("chip{}.nvlink.in", d.index), scaleup),
                       add_link(fmt::format("chip{}.nic.out", d.index), nic_per_chip[d.stage] / slow),
                       add_link(fmt::format("chip{}.nic.in", d.index), nic_per_chip[d.stage] / slow), node, nic,
                       leaf_of(nic, node)});
    }
    const auto route = [&](int g, int h) {
      const auto& a = ports[g];
      const auto& b = ports[h];
      Route r{devices_[h].host, {}};
      if (a.node == b.node) {
        r.links = {a.up_out, b.up_in};
      } else {
        // Between planes: over the scale-up fabric to the node's chip on the destination's rail, then its NIC.
        const Ports* from = &a;
        if (planes && a.nic != b.nic) {
          const int mate = a.node * node_chips + (b.nic * node_chips + nics - 1) / nics;
          from = &ports[std::min<std::size_t>(mate, ports.size() - 1)];
          r.links = {a.up_out, from->up_in};
        }
        r.links.push_back(from->nic_out);
        if (from->leaf != b.leaf) {
          const int pa = from->leaf / leaves_per_pod;
          const int pb = b.leaf / leaves_per_pod;
          r.links.push_back(leaf_up[from->leaf]);
          if (pa != pb) r.links.insert(r.links.end(), {pod_up[pa], pod_down[pb]});
          r.links.push_back(leaf_down[b.leaf]);
        }
        r.links.push_back(b.nic_in);
      }
      add_route(devices_[g].host, devices_[h].host, r.links);
      return r;
    };
    // Groups inside a stage, by slot q = (dp_index x cp + cp_index) x tp + tp_index.
    const int tp = plan_.tp, cp = plan_.cp, dp = plan_.dp, ep = std::max(1, plan_.ep), etp = std::max(1, plan_.etp);
    const auto members = [&](int kind, int q) {
      std::vector<int> out;
      int base = 0, stride = 1, size = 1;
      switch (kind) {
        case kTp: base = q - q % tp, stride = 1, size = tp; break;
        case kCp: base = q - (q / tp % cp) * tp, stride = tp, size = cp; break;
        // Expert tensor parallelism interleaves: an EP group takes one rank of each etp group.
        case kEp: base = q - q % (ep * etp) + q % etp, stride = etp, size = std::min(ep, per_stage_ / etp); break;
        case kDp: base = q % (tp * cp), stride = tp * cp, size = dp; break;
        default: break;
      }
      for (int i = 0; i < size; ++i) out.push_back(base + i * stride);
      return out;
    };
    std::map<std::pair<int, std::vector<int>>, std::array<sg4::BarrierPtr, kLanes>> barriers;
    for (auto& d : devices_) {
      const int first = d.stage * per_stage_;
      for (int k : {kTp, kCp, kEp, kDp}) {
        std::vector<int> group;
        for (int q : members(k, d.slot)) group.push_back(first + q);
        const int self = static_cast<int>(std::find(group.begin(), group.end(), d.index) - group.begin());
        const int n = static_cast<int>(group.size());
        auto& bar = barriers[{k, group}];
        if (!bar[0]) bar = {sg4::Barrier::create(n), sg4::Barrier::create(n)};
        d.barrier[k] = bar;
        if (n < 2) continue;
        // Scale-up: the next member on this node; scale-out: the next member on another node, in the same slot of
        // its node if there is one.
        int up_partner = -1, out_partner = -1, out_any = -1;
        for (int step = 1; step < n; ++step) {
          const int h = group[(self + step) % n];
          if (ports[h].node == ports[d.index].node) {
            if (up_partner < 0) up_partner = h;
          } else {
            if (out_any < 0) out_any = h;
            if (out_partner < 0 && h % node_chips == d.index % node_chips) out_partner = h;
          }
        }
        if (out_partner < 0) out_partner = out_any;
        const int fallback = group[(self + 1) % n];
        d.ring[k][0] = route(d.index, up_partner >= 0 ? up_partner : fallback);
        d.ring[k][1] = route(d.index, out_partner >= 0 ? out_partner : fallback);
      }
      for (int target : neighbour_devices(d.stage)) {
        d.pipeline[target] = route(d.index, target * per_stage_ + d.slot);
      }
    }
  }

  // ---------------------------------------------------------------- actors

  double now() const { return sg4::Engine::get_clock(); }

  void trace(const Device& d, const char* stream, std::string name, double start) {
    if (!in_.options.record_trace || !d.traced) return;
    trace_.push_back({d.index, stream, std::move(name), start, now()});
  }

  // One device's activity as shares of the step that add up to it. The first lane's waits are what the device
  // waited for, but with two lanes (DualPipe, combined 1F1B) the other lane's kernels run during some of them: the
  // compute stream was free for only step - compute - optimizer. The waits fit into that time as in the step's
  // breakdown, the pipeline bubble takes what they leave of it, and idle the rest.
  static DeviceActivity shares_of_the_step(DeviceActivity a, double step_s) {
    const double free_s = std::max(0.0, step_s - a.compute_s - a.optimizer_s);
    const double left_s = fit_waits_to_free_time(
        free_s, {&a.exposed_tp_s, &a.exposed_cp_s, &a.exposed_ep_s, &a.exposed_pp_s, &a.exposed_dp_s});
    a.bubble_s = std::min(a.bubble_s, left_s);
    a.idle_s = left_s - a.bubble_s;
    return a;
  }

  void compute(Device& d, double seconds, double& sum, const char* what) {
    if (seconds <= 0) return;
    const double start = now();
    sg4::this_actor::execute(seconds * kSpeed);
    ++activities_;
    sum += seconds * d.compute_factor;
    d.activity.compute_s += seconds * d.compute_factor;
    trace(d, "compute", what, start);
  }

  void compute(Device& d, const Pass& pass, const char* what) {
    if (pass.compute_s() <= 0) return;
    const double start = now();
    sg4::this_actor::execute(pass.compute_s() * kSpeed);
    ++activities_;
    d.sums.gemm_s += pass.gemm_s * d.compute_factor;
    d.sums.attention_s += pass.attention_s * d.compute_factor;
    d.sums.memory_s += pass.memory_s * d.compute_factor;
    d.activity.compute_s += pass.compute_s() * d.compute_factor;
    trace(d, "compute", what, start);
  }

  // Runs a collective on the calling actor: per step, the group's barrier (tier 3), the step's latency, then its
  // transfers as concurrent flows.
  void transfer(Device& d, int kind, int lane, const Collective& c, double scale) {
    const double start = now();
    for (const auto& step : c.steps) {
      if (full_ && d.barrier[kind][lane]) d.barrier[kind][lane]->wait();
      double latency = 0;
      for (const auto& t : step.transfers) latency = std::max(latency, t.latency_s);
      if (latency > 0) {
        sg4::this_actor::sleep_for(latency);
        ++activities_;
      }
      std::vector<sg4::CommPtr> flows;
      for (const auto& t : step.transfers) {
        const double bytes = t.bytes * scale;
        const auto& route = d.ring[kind][path_index(t.path)];
        if (bytes < 1 || route.destination == nullptr) continue;
        flows.push_back(sg4::Comm::sendto_async(d.host, route.destination, static_cast<std::uint64_t>(bytes)));
        for (int id : route.links) loads_[id].bytes += bytes;
        ++activities_;
      }
      sg4::Comm::wait_all(flows);
    }
    busy(d, kind) += now() - start;
    trace(d, kKindNames[kind], kKindNames[kind], start);
  }

  static double& busy(Device& d, int kind) {
    auto& a = d.activity;
    switch (kind) {
      case kTp: return a.busy_tp_s;
      case kCp: return a.busy_cp_s;
      case kEp: return a.busy_ep_s;
      case kPp: return a.busy_pp_s;
      default: return a.busy_dp_s;
    }
  }
  static double& exposed(Device& d, int kind) {
    auto& a = d.activity;
    switch (kind) {
      case kTp: return a.exposed_tp_s;
      case kCp: return a.exposed_cp_s;
      case kEp: return a.exposed_ep_s;
      case kPp: return a.exposed_pp_s;
      default: return a.exposed_dp_s;
    }
  }

  // A collective the compute stream waits for.
  void blocking(Device& d, int kind, int lane, const Collective& c, double scale = 1.0) {
    if (c.empty()) return;
    const double start = now();
    transfer(d, kind, lane, c, scale);
    if (lane == 0) exposed(d, kind) += now() - start;
  }

  void wait(Device& d, int kind, int lane, const sg4::SemaphorePtr& done) {
    const double start = now();
    done->acquire();
    if (lane == 0) exposed(d, kind) += now() - start;
  }

  sg4::SemaphorePtr post(Device& d, int kind, const Collective& c, double scale, std::string label) {
    auto done = sg4::Semaphore::create(0);
    ensure_stream(d, kind);
    d.streams[kind].post({&c, scale, nullptr, 0, 0, nullptr, done, std::move(label), false});
    return done;
  }

  void ensure_stream(Device& d, int kind) {
    auto& stream = d.streams[kind];
    if (stream.running) return;
    stream.running = true;
    sg4::Actor::create(fmt::format("{}.{}", d.host->get_name(), kKindNames[kind]), d.host, [this, &d, kind] {
      auto& s = d.streams[kind];
      for (;;) {
        s.pending->acquire();
        Request r = std::move(s.queue.front());
        s.queue.pop_front();
        if (r.stop) break;
        if (r.collective != nullptr) {
          transfer(d, kind, 0, *r.collective, r.scale);
        } else if (r.route != nullptr) {
          const double start = now();
          if (r.latency_s > 0) sg4::this_actor::sleep_for(r.latency_s);
          if (r.bytes >= 1) {
            sg4::Comm::sendto(d.host, r.route->destination, static_cast<std::uint64_t>(r.bytes));
            for (int id : r.route->links) loads_[id].bytes += r.bytes;
          }
          activities_ += 2;
          busy(d, kind) += now() - start;
          trace(d, kKindNames[kind], r.label, start);
        }
        if (r.notify) r.notify->release();
        if (r.done) r.done->release();
      }
    });
  }

  // Activations (or gradients) of virtual stage `from` to the device holding `to`.
  void send(Device& d, int lane, int to, int direction) {
    const auto& hop = d.work->pp_hop;
    const int target = sched_.stages[to].device;
    auto& receiver = devices_[target * per_stage_ + d.slot];
    const auto& notify = receiver.channel[to][direction];
    if (target == d.stage || hop.empty()) {
      notify->release();
      return;
    }
    const auto& t = hop.steps.front().transfers.front();
    // Synchronous sends wait for their own completion.
    const auto done = pp_overlap() ? nullptr : sg4::Semaphore::create(0);
    ensure_stream(d, kPp);
    d.streams[kPp].post({nullptr, 1.0, &d.pipeline.at(target), t.bytes, t.latency_s, notify, done,
                         direction == 0 ? "activations" : "gradients", false});
    if (!pp_overlap()) wait(d, kPp, lane, done);
  }

  bool overlap() const { return in_.options.overlap; }
  bool pp_overlap() const { return overlap() && overlaps_pipeline_sends(plan_.schedule); }
  // Gradients reduced behind the backward pass and parameters gathered ahead of the forward (the plan's
  // dp_overlap), or both on the critical path: after the pipeline flush and before the first forward.
  bool dp_overlap() const { return overlap() && plan_.dp_overlap; }

  // Waits for the input of a pass: the previous stage's activations or the next stage's gradients.
  void receive(Device& d, int lane, int stage, int direction) {
    const double start = now();
    d.channel[stage][direction]->acquire();
    if (lane == 0) d.activity.bubble_s += now() - start;
  }

  struct LaneState {
    sg4::SemaphorePtr tp_pending;  // an overlapped TP collective still running
    sg4::SemaphorePtr ep_pending;  // the hidden share of an overlapped expert all-to-all still running
  };

  // Combined 1F1B (ep_comm_overlap) hides a share of each expert all-to-all behind the paired micro-batch's kernels
  // (as tier 1 assumes); the rest blocks.
  void ep_collective(Device& d, int lane, LaneState& state, const Collective& c) {
    const double hidden = d.work->ep_overlap_hidden_fraction;
    if (c.empty() || !overlap() || hidden <= 0) {
      blocking(d, kEp, lane, c);
      return;
    }
    if (state.ep_pending) wait(d, kEp, lane, state.ep_pending);
    blocking(d, kEp, lane, c, 1.0 - hidden);
    state.ep_pending = post(d, kEp, c, hidden, "expert all-to-all");
  }

  void finish_lane(Device& d, int lane, LaneState& state) {
    if (state.tp_pending) wait(d, kTp, lane, state.tp_pending);
    if (state.ep_pending) wait(d, kEp, lane, state.ep_pending);
  }

  void tp_collective(Device& d, int lane, LaneState& state, const LayerWork& l) {
    if (l.tp.empty()) return;
    if (overlap() && plan_.tp_comm_overlap) {
      // Userbuffers overlap hides part of each collective behind the GEMMs around it (as tier 1 assumes); the
      // rest, the chunks no GEMM runs beside, blocks.
      if (state.tp_pending) wait(d, kTp, lane, state.tp_pending);
      const double hidden = d.work->tp_overlap_hidden_fraction;
      blocking(d, kTp, lane, l.tp, 1.0 - hidden);
      state.tp_pending = post(d, kTp, l.tp, hidden, "tp");
    } else {
      blocking(d, kTp, lane, l.tp);
    }
  }

  void attention_with_cp(Device& d, int lane, const LayerWork& l, const Pass& attention, bool backward,
                         const char* what) {
    const int exchanges = backward ? l.cp_backward_exchanges : l.cp_exchanges;
    if (exchanges == 0) {
      compute(d, attention, what);
      return;
    }
    // The pass's whole ring (or Ulysses' all-to-alls), built once per layer kind and direction (the stream keeps a
    // pointer to it).
    auto& ring = cp_rings_[{&l, backward ? 1 : 0}];
    if (ring.empty()) ring = l.cp.repeated(exchanges);
    if (overlap() && l.cp_behind_attention) {
      auto done = post(d, kCp, ring, 1.0, "ring attention");
      compute(d, attention, what);
      wait(d, kCp, lane, done);
    } else {
      blocking(d, kCp, lane, ring);
      compute(d, attention, what);
    }
  }

  void forward_layer(Device& d, int lane, LaneState& state, const LayerWork& l, const char* what) {
    if (l.mixer_block) {
      attention_with_cp(d, lane, l, l.attention_forward, false, what);
      tp_collective(d, lane, state, l);
    }
    if (l.ffn_block) {
      ep_collective(d, lane, state, l.ep_dispatch);
      compute(d, l.ffn_forward, what);
      ep_collective(d, lane, state, l.ep_combine);
      tp_collective(d, lane, state, l);
    }
  }

  void backward_layer(Device& d, int lane, LaneState& state, const LayerWork& l, bool split) {
    if (plan_.recompute == Recompute::full) forward_layer(d, lane, state, l, "recompute");
    if (l.recompute_dispatch) ep_collective(d, lane, state, l.ep_dispatch);  // recomputed experts: both again
    if (l.recompute.compute_s() > 0) compute(d, l.recompute, "recompute");
    if (l.recompute_dispatch) ep_collective(d, lane, state, l.ep_combine);
    Pass ffn = l.ffn_backward;
    Pass attention = l.attention_backward;
    if (split) {  // the weight-gradient GEMMs (half the backward GEMMs) wait in the queue
      d.weight_queue.push_back(0.5 * (ffn.gemm_s + attention.gemm_s));
      ffn.gemm_s *= 0.5;
      attention.gemm_s *= 0.5;
    }
    if (l.ffn_block) {
      tp_collective(d, lane, state, l);
      ep_collective(d, lane, state, l.ep_combine);
      compute(d, ffn, "backward");
      ep_collective(d, lane, state, l.ep_dispatch);
    }
    if (l.mixer_block) {
      tp_collective(d, lane, state, l);
      attention_with_cp(d, lane, l, attention, true, "backward");
    }
  }

  // The stage's layers by kind (a hybrid model's kinds in turn rather than in its pattern's order: the same work).
  template <class F>
  void for_each_layer(const Device& d, const StageLayout& layout, bool reverse, F&& f) const {
    std::vector<const LayerWork*> order;
    for (const auto kind : kLayerKinds) {
      for (int i = 0; i < layout.count(kind); ++i) order.push_back(&d.work->layer(kind));
    }
    for (int i = 0; i < layout.mtp_modules; ++i) order.push_back(in_.job.model.is_moe() ? &d.work->moe : &d.work->dense);
    if (reverse) std::reverse(order.begin(), order.end());
    for (std::size_t i = 0; i < order.size(); ++i) f(static_cast<int>(reverse ? order.size() - 1 - i : i), *order[i]);
  }

  void forward_pass(Device& d, int lane, int v) {
    const auto& vs = sched_.stages[v];
    const auto& layout = d.work->chunks[vs.layout];
    if (vs.prev >= 0) receive(d, lane, v, 0);
    zero3_gather(d, lane, layout);
    LaneState state;
    for_each_layer(d, layout, false, [&](int i, const LayerWork& l) {
      const auto ready = d.parameters_ready.find({v, i});
      if (ready != d.parameters_ready.end()) {
        wait(d, kDp, lane, ready->second);
        d.parameters_ready.erase(ready);
      }
      forward_layer(d, lane, state, l, "forward");
    });
    if (layout.head) {
      for (int i = 0; i < 1 + layout.mtp_modules; ++i) compute(d, d.work->head, "head");
      for (int i = 0; i < layout.mtp_modules; ++i) compute(d, d.work->mtp_projection, "mtp");
    }
    finish_lane(d, lane, state);
    compute(d, d.work->overhead_s(layout) / 2.0, d.sums.overhead_s, "overhead");
    if (vs.next >= 0) send(d, lane, vs.next, 0);
  }

  // `received`: the gradient input was taken already (a DualPipe pair waits for both its inputs before it starts).
  void backward_pass(Device& d, int lane, int v, bool split, bool received = false) {
    const auto& vs = sched_.stages[v];
    const auto& layout = d.work->chunks[vs.layout];
    if (vs.next >= 0 && !received) receive(d, lane, v, 1);
    zero3_gather(d, lane, layout);
    const bool last = ++d.backwards_done[v] == vs.micro_batches;
    LaneState state;
    if (layout.head) {
      for (int i = 0; i < 1 + layout.mtp_modules; ++i) {
        compute(d, Pass{2.0 * d.work->head.gemm_s, 0, d.work->head.memory_s}, "head backward");
      }
      for (int i = 0; i < layout.mtp_modules; ++i) {
        compute(d, Pass{2.0 * d.work->mtp_projection.gemm_s, 0, 0}, "mtp backward");
      }
    }
    const auto& sync = d.work->sync[d.stage];
    for_each_layer(d, layout, true, [&](int, const LayerWork& l) {
      backward_layer(d, lane, state, l, split);
      // The layer's gradients are final after its last backward: reduce them behind the rest of the backward.
      if (last && dp_overlap() && !sync.gradients.empty()) {
        gradient_buckets_[d.index].push_back(post(d, kDp, sync.gradients, 1.0 / d.layers, "gradients"));
      }
    });
    finish_lane(d, lane, state);
    compute(d, d.work->overhead_s(layout) / 2.0, d.sums.overhead_s, "overhead");
    if (vs.prev >= 0) send(d, lane, vs.prev, 1);
  }

  // ZeRO-3: the stage's weights gathered before each pass (prefetched during the previous one when overlapping).
  void zero3_gather(Device& d, int lane, const StageLayout& layout) {
    if (!plan_.gathers_weights_per_pass()) return;
    const auto& sync = d.work->sync[d.stage];
    if (sync.parameters.empty()) return;
    const double share = static_cast<double>(layout.layers() + layout.mtp_modules) / std::max(1, d.layers);
    auto& prefetched = zero3_next_[d.index];
    if (!dp_overlap() || !prefetched) prefetched = post(d, kDp, sync.parameters, share, "weights");
    wait(d, kDp, lane, prefetched);
    prefetched = dp_overlap() ? post(d, kDp, sync.parameters, share, "weights") : nullptr;
  }

  void run_op(Device& d, const PipelineOp& op) {
    switch (op.kind) {
      case OpKind::forward: forward_pass(d, 0, op.stage); break;
      case OpKind::backward: backward_pass(d, 0, op.stage, false); break;
      case OpKind::backward_input: backward_pass(d, 0, op.stage, true); break;
      case OpKind::weight:
        if (!d.weight_queue.empty()) {
          compute(d, d.weight_queue.front(), d.sums.gemm_s, "weight gradients");
          d.weight_queue.pop_front();
        }
        break;
      case OpKind::pair: {
        // DualPipe: both halves run at once on the device, their kernels share its compute, one's all-to-all hides
        // behind the other's kernels. Combined 1F1B (ep_comm_overlap): one after the other, a share of each
        // all-to-all hidden (ep_collective).
        if (!overlap() || plan_.ep_comm_overlap) {
          // One after the other, started once both inputs are there: DualPipe schedules the pair as one unit (tier 1
          // walks the schedule the same way).
          const bool gradient_input = sched_.stages[op.backward_stage].next >= 0;
          if (gradient_input) receive(d, 0, op.backward_stage, 1);
          forward_pass(d, 0, op.stage);
          backward_pass(d, 0, op.backward_stage, op.backward_split, gradient_input);
          break;
        }
        auto forward = sg4::Actor::create(fmt::format("{}.pair", d.host->get_name()), d.host,
                                          [this, &d, stage = op.stage] { forward_pass(d, 1, stage); });
        backward_pass(d, 0, op.backward_stage, op.backward_split);
        forward->join();
        break;
      }
    }
  }

  void start_device(Device& d) {
    sg4::Actor::create(d.host->get_name(), d.host, [this, &d] {
      const auto& sync = d.work->sync[d.stage];
      const auto& ops = sched_.ops[d.stage];
      // Parameters gathered at the start of the step (sharded optimizer): layer by layer in order of first use,
      // each forward waiting only for its own layer.
      if (plan_.zero >= 1 && !plan_.gathers_weights_per_pass() && !sync.parameters.empty()) {
        if (dp_overlap()) {
          std::vector<int> order;
          for (const auto& op : ops) {
            if ((op.kind == OpKind::forward || op.kind == OpKind::pair) &&
                std::find(order.begin(), order.end(), op.stage) == order.end()) {
              order.push_back(op.stage);
            }
          }
          for (int v : order) {
            const auto& layout = d.work->chunks[sched_.stages[v].layout];
            for (int i = 0; i < layout.layers() + layout.mtp_modules; ++i) {
              d.parameters_ready[{v, i}] = post(d, kDp, sync.parameters, 1.0 / d.layers, "parameters");
            }
          }
        } else {
          blocking(d, kDp, 0, sync.parameters);
        }
      }
      for (const auto& op : ops) {
        run_op(d, op);
        report_progress(static_cast<double>(++ops_done_) / static_cast<double>(total_ops_));
      }
      while (!d.weight_queue.empty()) run_op(d, {OpKind::weight, -1, -1, false});
      // Drain: pipeline sends, then the gradient reduction.
      if (d.streams[kPp].running) {
        auto done = sg4::Semaphore::create(0);
        d.streams[kPp].post({nullptr, 1.0, nullptr, 0, 0, nullptr, done, "", false});
        wait(d, kPp, 0, done);
      }
      if (dp_overlap()) {
        for (auto& bucket : gradient_buckets_[d.index]) wait(d, kDp, 0, bucket);
      } else {
        blocking(d, kDp, 0, sync.gradients);
      }
      const double optimizer_start = now();
      compute(d, sync.optimizer_s, d.sums.optimizer_s, "optimizer");
      d.activity.optimizer_s += now() - optimizer_start;
      d.activity.compute_s -= sync.optimizer_s * d.compute_factor;
      compute(d, d.work->per_step_overhead_s, d.sums.overhead_s, "step overhead");
      d.finish_s = now();
      for (auto& stream : d.streams) {
        if (stream.running) stream.post({nullptr, 1.0, nullptr, 0, 0, nullptr, nullptr, "", true});
      }
    });
  }

  // ---------------------------------------------------------------- results

  StepOutput collect() {
    for (const auto& d : devices_) {
      if (d.finish_s <= 0) {
        throw ModelError(fmt::format("the {} schedule deadlocked on {} (a flopcast bug: please report it)",
                                     to_string(plan_.schedule), d.activity.name));
      }
    }
    StepOutput out;
    for (const auto& d : devices_) out.step_s = std::max(out.step_s, d.finish_s);
    // The breakdown is the busiest device's (as tier 1 reports the slowest stage): what it waited for is bubble.
    const auto busy_s = [](const Device& d) {
      const auto& a = d.activity;
      return a.compute_s + a.exposed_tp_s + a.exposed_cp_s + a.exposed_ep_s + a.exposed_pp_s + a.exposed_dp_s +
             a.optimizer_s;
    };
    const Device* critical = &devices_.front();
    for (const auto& d : devices_) {
      if (busy_s(d) > busy_s(*critical)) critical = &d;
    }
    for (const auto& d : devices_) out.devices.push_back(shares_of_the_step(d.activity, out.step_s));
    const auto& a = critical->activity;
    const auto& s = critical->sums;
    auto& b = out.breakdown;
    b.gemm_s = s.gemm_s;
    b.attention_s = s.attention_s;
    b.memory_bound_s = s.memory_s;
    b.overhead_s = s.overhead_s;
    b.optimizer_s = s.optimizer_s;
    b.tp_s = a.exposed_tp_s;
    b.cp_s = a.exposed_cp_s;
    b.ep_s = a.exposed_ep_s;
    b.pp_s = a.exposed_pp_s;
    b.dp_s = a.exposed_dp_s;
    // Whatever the parts leave of the step is pipeline bubble.
    b.bubble_s = fit_waits_to_free_time(std::max(0.0, out.step_s - b.compute_s() - b.other_s()),
                                        {&b.tp_s, &b.cp_s, &b.ep_s, &b.pp_s, &b.dp_s});
    for (auto& load : loads_) load.utilisation = out.step_s > 0 ? load.bytes / (load.bytes_per_s * out.step_s) : 0;
    std::vector<LinkLoad> loads = loads_;
    std::sort(loads.begin(), loads.end(), [](const LinkLoad& x, const LinkLoad& y) { return x.utilisation > y.utilisation; });
    loads.resize(std::min<std::size_t>(loads.size(), std::max(0, in_.options.busiest_links)));
    out.busiest_links = std::move(loads);
    out.trace = std::move(trace_);
    out.activities = activities_;
    return out;
  }

  const StepInput& in_;
  const ParallelPlan& plan_;
  const PipelineSchedule& sched_;
  sg4::NetZone* zone_ = nullptr;
  bool full_ = false;
  int per_stage_ = 1;
  std::vector<Device> devices_;
  std::size_t total_ops_ = 0;  // pipeline operations of every device, for the progress fraction
  std::size_t ops_done_ = 0;
  std::vector<sg4::Link*> links_;
  std::vector<LinkLoad> loads_;
  std::set<std::pair<sg4::Host*, sg4::Host*>> routed_;
  std::map<int, std::vector<sg4::SemaphorePtr>> gradient_buckets_;
  std::map<int, sg4::SemaphorePtr> zero3_next_;
  std::map<std::pair<const LayerWork*, int>, Collective> cp_rings_;
  std::vector<TraceEvent> trace_;
  long activities_ = 0;
};

}  // namespace

StepOutput simulate_step(const StepInput& input) { return StepSimulation(input).run(); }

// ---------------------------------------------------------------- transport between the processes

namespace {

using nlohmann::json;

json to_json(const DeviceActivity& a) {
  return json::array({a.name, a.compute_s, a.exposed_tp_s, a.exposed_cp_s, a.exposed_ep_s, a.exposed_pp_s,
                      a.exposed_dp_s, a.bubble_s, a.optimizer_s, a.idle_s, a.busy_tp_s, a.busy_cp_s, a.busy_ep_s,
                      a.busy_pp_s, a.busy_dp_s});
}

DeviceActivity activity_from(const json& j) {
  DeviceActivity a;
  a.name = j[0].get<std::string>();
  double* fields[] = {&a.compute_s,   &a.exposed_tp_s, &a.exposed_cp_s, &a.exposed_ep_s, &a.exposed_pp_s,
                      &a.exposed_dp_s, &a.bubble_s,    &a.optimizer_s,  &a.idle_s,       &a.busy_tp_s,
                      &a.busy_cp_s,   &a.busy_ep_s,    &a.busy_pp_s,    &a.busy_dp_s};
  for (std::size_t i = 0; i < std::size(fields); ++i) *fields[i] = j[i + 1].get<double>();
  return a;
}

}  // namespace

std::string encode(const StepOutput& o) {
  const auto& b = o.breakdown;
  json j;
  j["step"] = o.step_s;
  j["breakdown"] = {b.gemm_s, b.attention_s, b.memory_bound_s, b.tp_s, b.cp_s, b.ep_s,
                    b.pp_s,   b.dp_s,        b.bubble_s,       b.optimizer_s, b.overhead_s};
  j["devices"] = json::array();
  for (const auto& a : o.devices) j["devices"].push_back(to_json(a));
  j["links"] = json::array();
  for (const auto& l : o.busiest_links) j["links"].push_back({l.name, l.bytes_per_s, l.bytes, l.utilisation});
  j["trace"] = json::array();
  for (const auto& e : o.trace) j["trace"].push_back({e.device, e.stream, e.name, e.start_s, e.end_s});
  j["activities"] = o.activities;
  const auto bytes = json::to_cbor(j);
  return {bytes.begin(), bytes.end()};
}

StepOutput decode(const std::string& bytes) {
  const json j = json::from_cbor(bytes);
  StepOutput o;
  o.step_s = j["step"].get<double>();
  auto& b = o.breakdown;
  double* parts[] = {&b.gemm_s, &b.attention_s, &b.memory_bound_s, &b.tp_s,     &b.cp_s,      &b.ep_s,
                     &b.pp_s,   &b.dp_s,        &b.bubble_s,       &b.optimizer_s, &b.overhead_s};
  for (std::size_t i = 0; i < std::size(parts); ++i) *parts[i] = j["breakdown"][i].get<double>();
  for (const auto& a : j["devices"]) o.devices.push_back(activity_from(a));
  for (const auto& l : j["links"]) {
    o.busiest_links.push_back({l[0].get<std::string>(), l[1].get<double>(), l[2].get<double>(), l[3].get<double>()});
  }
  for (const auto& e : j["trace"]) {
    o.trace.push_back({e[0].get<int>(), e[1].get<std::string>(), e[2].get<std::string>(), e[3].get<double>(),
                       e[4].get<double>()});
  }
  o.activities = j["activities"].get<long>();
  return o;
}

}  // namespace flopcast::sim_detail
