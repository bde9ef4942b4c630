#include "engine.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <optional>

#include <fmt/format.h>
#include <simgrid/s4u/Engine.hpp>

#include "flopcast/core/errors.hpp"
#include "flopcast/core/files.hpp"
#include "flopcast/core/process.hpp"

#ifdef FLOPCAST_SANITIZED
// clang 14's AddressSanitizer does not hold its own locks across fork() (LLVM 17 does: asan_posix.cpp, BeforeFork and
// AfterFork). A child forked while another thread of the parent is inside the allocator or the stack depot waits
// forever on the lock that thread held: seen in the desktop app's tests, where a worker thread forks while the GUI
// thread allocates. The same locks are taken here, by their runtime names, around the fork (sanitized builds only).
namespace __lsan {
void LockThreadRegistry();
void UnlockThreadRegistry();
void LockAllocator();
void UnlockAllocator();
}  // namespace __lsan
namespace __sanitizer {
void StackDepotLockAll();
void StackDepotUnlockAll();
}  // namespace __sanitizer
#endif

namespace flopcast::sim_detail {

const std::vector<std::string>& engine_settings() {
  // CM02: the max-min flow model without LV08's latency (x13.01) and bandwidth (x0.97) corrections, which flopcast's
  // calibrated bus efficiencies already cover; no TCP window bound (gamma 0), no cross-traffic of acknowledgements.
  // Latencies are applied per collective step by the streams, so links have none. Small stacks: tier 3 runs a
  // few actors per chip.
  static const std::vector<std::string> settings = {
      "network/model:CM02",          "network/latency-factor:1",   "network/bandwidth-factor:1",
      "network/weight-S:0",          "network/crosstraffic:0",     "network/TCP-gamma:0",
      "network/optim:Lazy",          "cpu/optim:Lazy",             "host/model:default",
      "surf/precision:1e-9",         "maxmin/precision:1e-5",
#ifdef FLOPCAST_SANITIZED
      // AddressSanitizer follows thread switches but not SimGrid's own stack switching: actors run on threads,
      // with room for the instrumented frames. Results are the same; only the speed differs.
      "contexts/factory:thread",     "contexts/stack-size:1024",
#else
      "contexts/stack-size:256",     "contexts/guard-size:0",
#endif
  };
  return settings;
}

namespace {

// The fraction done, in a page the parent and the child share (mapped before the fork); null in a process that did
// not map one. A lock-free atomic works across processes.
static_assert(std::atomic<double>::is_always_lock_free);
std::atomic<double>* g_progress = nullptr;

// Everything the child writes until it closes the pipe. With a cancel token or a progress callback, the pipe is
// polled every 50 ms (a latency nobody notices): false is returned as soon as the token is set, and the callback
// hears of each new fraction.
bool read_all(int fd, std::string& data, const std::atomic<bool>* cancel, const std::function<void(double)>& progress,
              const std::atomic<double>* fraction) {
  char buffer[1 << 16];
  constexpr int kPollMs = 50;
  double reported = -1;
  for (;;) {
    if (cancel != nullptr || progress) {
      if (cancel != nullptr && cancel->load()) return false;
      if (progress && fraction != nullptr && fraction->load(std::memory_order_relaxed) != reported) {
        reported = fraction->load(std::memory_order_relaxed);
        progress(reported);
      }
      pollfd waiting{.fd = fd, .events = POLLIN, .revents = 0};
      const int ready = ::poll(&waiting, 1, kPollMs);
      if (ready < 0 && errno == EINTR) continue;
      if (ready == 0) continue;
    }
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    data.append(buffer, static_cast<std::size_t>(n));
  }
  // The child has finished: its last fraction.
  if (progress && fraction != nullptr && fraction->load(std::memory_order_relaxed) != reported) {
    progress(fraction->load(std::memory_order_relaxed));
  }
  return true;
}

// fork(), with the sanitizer runtime's locks held across it in sanitized builds (see the top of the file).
pid_t fork_engine() {
#ifdef FLOPCAST_SANITIZED
  __lsan::LockThreadRegistry();
  __lsan::LockAllocator();
  __sanitizer::StackDepotLockAll();
  const pid_t pid = ::fork();
  __sanitizer::StackDepotUnlockAll();
  __lsan::UnlockAllocator();
  __lsan::UnlockThreadRegistry();
  return pid;
#else
  return ::fork();
#endif
}

// The shared page of one run_in_engine call, unmapped when the call returns.
class SharedFraction {
 public:
  SharedFraction() {
    void* page = ::mmap(nullptr, sizeof(std::atomic<double>), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (page != MAP_FAILED) value_ = new (page) std::atomic<double>(0.0);
  }
  ~SharedFraction() {
    if (value_ != nullptr) ::munmap(value_, sizeof(std::atomic<double>));
  }
  SharedFraction(const SharedFraction&) = delete;
  SharedFraction& operator=(const SharedFraction&) = delete;
  std::atomic<double>* get() const { return value_; }

 private:
  std::atomic<double>* value_ = nullptr;  // null: no page (progress is then not reported, nothing else changes)
};

}  // namespace

void report_progress(double fraction) {
  if (g_progress != nullptr) g_progress->store(fraction, std::memory_order_relaxed);
}

std::string run_in_engine(const std::function<std::string()>& body, const std::atomic<bool>* cancel,
                          const std::function<void(double)>& progress) {
  std::optional<SharedFraction> fraction;
  if (progress) fraction.emplace();
  // The child must not write out what the parent has buffered.
  std::fflush(nullptr);
  int fds[2];
  if (::pipe(fds) != 0) throw ModelError(fmt::format("cannot start the simulation engine: {}", std::strerror(errno)));
  const pid_t parent = ::getpid();
  const pid_t pid = fork_engine();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw ModelError(fmt::format("cannot start the simulation engine: {}", std::strerror(errno)));
  }
  if (pid == 0) {
    die_with_parent(parent);
    ::close(fds[0]);
    g_progress = fraction ? fraction->get() : nullptr;
    std::string reply;
    try {
      std::vector<std::string> args = {"flopcast", "--log=root.thresh:critical", "--log=xbt_cfg.thresh:critical"};
      for (const auto& setting : engine_settings()) args.push_back("--cfg=" + setting);
      std::vector<char*> argv;
      for (auto& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      int argc = static_cast<int>(args.size());
      simgrid::s4u::Engine engine(&argc, argv.data());
      reply = "ok" + body();
    } catch (const std::exception& error) {
      reply = std::string("er") + error.what();
    }
    write_all_to_fd(fds[1], reply);
    ::close(fds[1]);
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string reply;
  const bool finished = read_all(fds[0], reply, cancel, progress, fraction ? fraction->get() : nullptr);
  if (!finished) ::kill(pid, SIGKILL);
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!finished) throw Cancelled("the simulation was cancelled");
  if (WIFSIGNALED(status)) {
    throw ModelError(fmt::format("the simulation engine died (signal {})", WTERMSIG(status)));
  }
  if (reply.size() < 2) throw ModelError("the simulation engine stopped without a result");
  if (reply.compare(0, 2, "er") == 0) throw ModelError(reply.substr(2));
  return reply.substr(2);
}

}  // namespace flopcast::sim_detail
