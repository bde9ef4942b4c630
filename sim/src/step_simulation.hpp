#pragma once
// The step simulation of tiers 2 and 3 behind simulate_step (step_sim.hpp), in three files: its platform of hosts,
// links and routes (step_platform.cpp), the actors that run each device's pipeline schedule (step_sim.cpp), and the
// output collected from the devices with its encoding between processes (step_output.cpp).

#include <array>
#include <deque>
#include <initializer_list>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <boost/container/small_vector.hpp>
#include <simgrid/s4u.hpp>

#include "step_sim.hpp"

namespace flopcast::sim_detail {

namespace sg4 = simgrid::s4u;

enum Kind { kTp, kCp, kEp, kPp, kDp, kKinds };
constexpr std::array<const char*, kKinds> kKindNames = {"tp", "cp", "ep", "pp", "dp"};
constexpr int kPaths = 2;  // Path::scaleup, Path::scaleout
// Hosts compute at kSpeed flop/s; an op of t seconds is t x kSpeed flops, well above SimGrid's work precision.
constexpr double kSpeed = 1e12;

inline int path_index(Path path) { return path == Path::scaleup ? 0 : 1; }

// Overlapped pairs can account more than the elapsed time: the exposed communication waits are scaled down to the
// time the compute stream was free (`free_s`) where they alone exceed it. Returns the free time they leave, which is
// pipeline bubble or idle. The step's breakdown and each device's shares follow this one rule.
double fit_waits_to_free_time(double free_s, std::initializer_list<double*> waits);

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
  const char* label = "";  // for the trace: a literal
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
  std::array<sg4::BarrierPtr, kKinds> barrier;  // tier 3: the group's barrier
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

  StepOutput run();

 private:
  // ---------------------------------------------------------------- platform

  int add_link(const std::string& name, double bytes_per_s);

  void add_route(sg4::Host* from, sg4::Host* to, const std::vector<int>& links);

  // The combined slow-down of a device (stragglers listed twice multiply).
  Straggler straggler(int index) const;

  void build_platform();

  // Tier 2: each device's collectives go to a peer host over the device's own link of that path (shared by the
  // kinds, or one per kind without contention); pipeline sends go to the neighbouring device.
  void build_replica();

  int pipeline_path() const;

  // Pipeline devices this one sends activations or gradients to.
  std::vector<int> neighbour_devices(int stage) const;

  // Tier 3: every chip with its scale-up port and NIC (each way), leaves of the rail-optimized fabric with their
  // uplinks to the spine layer; in a three-tier fabric, pods of leaves with their uplinks to the core; in a
  // multi-plane fabric, leaves of one rail each, so traffic between rails crosses the node's scale-up first (PXN).
  void build_full();

  // ---------------------------------------------------------------- actors

  double now() const { return sg4::Engine::get_clock(); }

  void trace(const Device& d, const char* stream, std::string name, double start);

  // One device's activity as shares of the step that add up to it: the compute stream was free for step - compute
  // - optimizer, the waits fit into that time as in the step's breakdown, the pipeline bubble takes what they leave
  // of it, and idle the rest.
  static DeviceActivity shares_of_the_step(DeviceActivity a, double step_s);

  void compute(Device& d, double seconds, double& sum, const char* what);

  void compute(Device& d, const Pass& pass, const char* what);

  // Runs a collective on the calling actor: per step, the group's barrier (tier 3), the step's latency, then its
  // transfers as concurrent flows (move).
  void transfer(Device& d, int kind, const Collective& c, double scale);

  // `bytes` over a route, one of a step's concurrent transfers.
  struct Flow {
    const Route* route = nullptr;
    double bytes = 0;
  };
  using Flows = boost::container::small_vector<Flow, 2>;

  // The step's latency, then its flows, on the calling actor (their bytes counted in the links' loads). On links no other flow uses, the time is known:
  // latency + bytes / bandwidth, waited out at once (one activity, not a sleep and a flow each). Such a wait holds
  // its links; a flow that starts on one of them wakes it, and what is left of it goes on as flows from that
  // instant, exactly as if it had been flows all along.
  void move(sg4::Host* from, double latency_s, const Flows& flows);
  // The flows, sharing their links with the others, after the latency.
  void flows_after(sg4::Host* from, double latency_s, const Flows& flows);

  static double& busy(Device& d, int kind);
  static double& exposed(Device& d, int kind);

  // A collective the compute stream waits for.
  void blocking(Device& d, int kind, const Collective& c, double scale = 1.0);

  void wait(Device& d, int kind, const sg4::SemaphorePtr& done);

  sg4::SemaphorePtr post(Device& d, int kind, const Collective& c, double scale, const char* label);
  // `post` without a semaphore of its own: `done`, if any, is released when it ends.
  void enqueue(Device& d, int kind, const Collective& c, double scale, const char* label,
               sg4::SemaphorePtr done = nullptr);
  // Waits until the stream has run everything posted to it so far (it runs its requests in order), as exposed time.
  void wait_stream(Device& d, int kind);

  void ensure_stream(Device& d, int kind);

  // Activations (or gradients) of virtual stage `from` to the device holding `to`.
  void send(Device& d, int to, int direction);

  bool overlap() const { return in_.options.overlap; }
  bool pp_overlap() const { return overlap() && plan_.overlaps_sends(); }
  // Gradients reduced behind the backward pass and parameters gathered ahead of the forward (the plan's
  // dp_overlap), or both on the critical path: after the pipeline flush and before the first forward.
  bool dp_overlap() const { return overlap() && plan_.dp_overlap; }

  // Waits for the input of a pass: the previous stage's activations or the next stage's gradients.
  void receive(Device& d, int stage, int direction);

  struct PassState {
    sg4::SemaphorePtr tp_pending;  // an overlapped TP collective still running
    sg4::SemaphorePtr ep_pending;  // the hidden share of an overlapped expert all-to-all still running
    // A DualPipe pair's expert all-to-alls: posted without waiting (true once one is), all waited for when the pair
    // ends.
    bool* pair_all_to_alls = nullptr;
  };

  // Combined 1F1B (ep_comm_overlap) hides a share of each expert all-to-all behind the paired micro-batch's kernels
  // (as tier 1 assumes); the rest blocks. In a DualPipe pair each one runs behind the pair's kernels.
  void ep_collective(Device& d, PassState& state, const Collective& c);

  void finish_pass(Device& d, PassState& state);

  void tp_collective(Device& d, PassState& state, const LayerWork& l);
  void tp_backward_collective(Device& d, PassState& state, const LayerWork& l);

  void attention_with_cp(Device& d, const LayerWork& l, const Pass& attention, bool backward,
                         const char* what);

  void forward_layer(Device& d, PassState& state, const LayerWork& l, const char* what);

  // `full`: the layer is fully recomputed before its backward.
  void backward_layer(Device& d, PassState& state, const LayerWork& l, bool split, bool full);

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

  // `pair_all_to_alls`: the pass is half of a DualPipe pair, whose expert all-to-alls it posts there.
  void forward_pass(Device& d, int v, bool* pair_all_to_alls = nullptr);

  // `received`: the gradient input was taken already (a DualPipe pair waits for both its inputs before it starts).
  void backward_pass(Device& d, int v, bool split, bool received = false,
                     bool* pair_all_to_alls = nullptr);

  // ZeRO-3: the stage's weights gathered before each pass (prefetched during the previous one when overlapping).
  void zero3_gather(Device& d, const StageLayout& layout);

  void run_op(Device& d, const PipelineOp& op);

  void start_device(Device& d);

  // ---------------------------------------------------------------- results

  StepOutput collect();

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
  // A wait on links held alone (move): woken when a flow starts on one of them.
  struct Holder {
    sg4::SemaphorePtr wake = sg4::Semaphore::create(0);
  };
  std::vector<int> flows_on_;        // per link: the flows carrying bytes on it now
  std::vector<Holder*> held_by_;     // per link: the wait that counts on having it alone, if any
  std::set<std::pair<sg4::Host*, sg4::Host*>> routed_;
  std::map<int, std::vector<sg4::SemaphorePtr>> gradient_buckets_;
  std::map<int, sg4::SemaphorePtr> zero3_next_;
  std::map<std::pair<const LayerWork*, int>, Collective> cp_rings_;
  std::vector<TraceEvent> trace_;
  long activities_ = 0;
};

}  // namespace flopcast::sim_detail
