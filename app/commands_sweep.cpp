// flopcast sweep: every point of a sweep file on worker processes, streamed in order to CSV and JSON Lines.

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <fmt/ostream.h>

#include "commands.hpp"
#include "distributed.hpp"
#include "flopcast/core/errors.hpp"
#include "flopcast/core/files.hpp"
#include "flopcast/core/process.hpp"
#include "flopcast/studies/sweep.hpp"

namespace flopcast::cli {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The first line of the JSON Lines file: which sweep wrote it, so that --resume continues only the same one.
nlohmann::json header_of(const Sweep& sweep) {
  return {{"flopcast_sweep", sweep.file}, {"fingerprint", sweep.fingerprint()}, {"points", sweep.size()},
          {"tier", std::string(to_string(sweep.tier))}};
}

// The rows already written for this sweep: a prefix 0..k-1 (a half-written last line is dropped).
std::vector<nlohmann::json> rows_to_resume(const Sweep& sweep, const fs::path& jsonl) {
  std::ifstream in(jsonl);
  std::string line;
  if (!std::getline(in, line)) return {};
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception&) {
    throw IoError(fmt::format("{}: not a flopcast sweep output (its first line is not JSON)", jsonl.string()));
  }
  if (!header.is_object() || header.value("fingerprint", "") != sweep.fingerprint()) {
    throw IoError(fmt::format("{}: written by a different sweep (or the sweep file changed); remove it or choose "
                              "another --out",
                              jsonl.string()));
  }
  std::vector<nlohmann::json> rows;
  while (std::getline(in, line)) {
    try {
      auto row = nlohmann::json::parse(line);
      if (!row.is_object() || row.value("index", std::size_t{0}) != rows.size() || !row.contains("status")) break;
      rows.push_back(std::move(row));
    } catch (const nlohmann::json::exception&) {
      break;  // the line being written when the sweep stopped
    }
  }
  return rows;
}

// A worker process: evaluates points start + worker, start + worker + workers, ... and writes one JSON line each.
struct Worker {
  pid_t pid = -1;
  int fd = -1;
  std::string buffer;

  // The next line from the worker; empty when it ended without one.
  std::string next_line() {
    for (;;) {
      const auto end = buffer.find('\n');
      if (end != std::string::npos) {
        std::string line = buffer.substr(0, end);
        buffer.erase(0, end + 1);
        return line;
      }
      char chunk[1 << 16];
      const ssize_t n = ::read(fd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return {};
      buffer.append(chunk, static_cast<std::size_t>(n));
    }
  }
};

std::string evaluate_line(const Sweep& sweep, std::size_t index, const Catalogs& catalogs) {
  try {
    return evaluate_sweep_point(sweep, index, catalogs).dump();
  } catch (const std::exception& error) {
    return nlohmann::json{{"index", index}, {"error", error.what()}}.dump();
  }
}

std::vector<Worker> start_workers(const Sweep& sweep, const Catalogs& catalogs, std::size_t start, int count) {
  std::fflush(nullptr);
  std::vector<Worker> workers;
  for (int w = 0; w < count; ++w) {
    int fds[2];
    if (::pipe(fds) != 0) throw IoError(fmt::format("cannot start sweep workers: {}", std::strerror(errno)));
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw IoError(fmt::format("cannot start sweep workers: {}", std::strerror(errno)));
    if (pid == 0) {
      die_with_parent(parent);
      ::close(fds[0]);
      for (const auto& other : workers) ::close(other.fd);
      for (std::size_t i = start + static_cast<std::size_t>(w); i < sweep.size(); i += static_cast<std::size_t>(count)) {
        write_all_to_fd(fds[1], evaluate_line(sweep, i, catalogs) + "\n");
      }
      ::close(fds[1]);
      std::fflush(nullptr);
      ::_exit(0);
    }
    ::close(fds[1]);
    workers.push_back({pid, fds[0], {}});
  }
  return workers;
}

void stop_workers(std::vector<Worker>& workers) {
  for (auto& w : workers) {
    if (w.fd >= 0) ::close(w.fd);
    ::kill(w.pid, SIGTERM);
    int status = 0;
    while (::waitpid(w.pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  workers.clear();
}

std::string duration_text(double s) {
  if (s < 60) return fmt::format("{:.0f} s", s);
  if (s < 3600) return fmt::format("{:.0f} min {:02.0f} s", std::floor(s / 60), std::fmod(s, 60));
  return fmt::format("{:.0f} h {:02.0f} min", std::floor(s / 3600), std::floor(std::fmod(s, 3600) / 60));
}

// Progress on standard error: a bar on a terminal, a line every 10 % otherwise.
class Progress {
 public:
  Progress(std::size_t total, std::size_t done, bool quiet)
      : total_(total), first_(done), quiet_(quiet), tty_(::isatty(STDERR_FILENO) != 0), start_(Clock::now()) {}

  void update(std::size_t done) {
    if (quiet_ || total_ == 0) return;
    const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    const double rate = done > first_ ? static_cast<double>(done - first_) / elapsed : 0.0;
    const std::string eta = rate > 0 ? duration_text(static_cast<double>(total_ - done) / rate) : "?";
    const double fraction = static_cast<double>(done) / static_cast<double>(total_);
    if (tty_) {
      const int filled = static_cast<int>(fraction * 30);
      fmt::print(stderr, "\r[{:=<{}}{:<{}}] {}/{} points, {} elapsed, ETA {}   ", "", filled, "", 30 - filled, done,
                 total_, duration_text(elapsed), eta);
      if (done == total_) fmt::print(stderr, "\n");
    } else if (static_cast<int>(fraction * 10) > last_decile_ || done == total_) {
      last_decile_ = static_cast<int>(fraction * 10);
      fmt::print(stderr, "sweep: {}/{} points ({:.0f} %), {} elapsed, ETA {}\n", done, total_, 100 * fraction,
                 duration_text(elapsed), eta);
    }
  }

 private:
  std::size_t total_;
  std::size_t first_;
  bool quiet_;
  bool tty_;
  Clock::time_point start_;
  int last_decile_ = -1;
};

// The two output files. The rows go to PREFIX.partial.csv and PREFIX.partial.jsonl, restarted from the rows a
// resumed sweep keeps and appended to row by row; a finished sweep renames them over PREFIX.csv and PREFIX.jsonl, so
// a sweep that fails part way (a full disk, a kill) never touches the last finished outputs. One sweep at a time
// writes a prefix (OutputLock).
struct Outputs {
  fs::path csv;
  fs::path jsonl;
  fs::path csv_partial;
  fs::path jsonl_partial;
  std::optional<OutputLock> lock;
  std::optional<AppendFile> csv_out;
  std::optional<AppendFile> jsonl_out;
  std::size_t start = 0;  // the first point still to run
  std::size_t ok = 0;
  std::size_t infeasible = 0;

  Outputs(const Sweep& sweep, const SweepOptions& options) {
    const fs::path prefix = options.out.empty() ? fs::path(options.file).stem() : fs::path(options.out);
    csv = prefix.string() + ".csv";
    jsonl = prefix.string() + ".jsonl";
    csv_partial = prefix.string() + ".partial.csv";
    jsonl_partial = prefix.string() + ".partial.jsonl";
    if (prefix.has_parent_path()) create_output_folder(prefix.parent_path());
    lock.emplace(prefix);
    refuse_overwriting_an_input(csv);
    refuse_overwriting_an_input(jsonl);
    // Resume (the unfinished rows, else a finished sweep's), or start afresh: never over an output unless asked.
    std::vector<nlohmann::json> kept;
    const bool unfinished = fs::exists(jsonl_partial);
    if (options.resume) {
      if (unfinished) {
        kept = rows_to_resume(sweep, jsonl_partial);
      } else if (fs::exists(jsonl)) {
        kept = rows_to_resume(sweep, jsonl);
      }
    } else if (!options.force && (unfinished || fs::exists(jsonl) || fs::exists(csv))) {
      throw IoError(fmt::format("{}: exists; --resume continues that sweep, --force starts it over (the finished "
                                "outputs are replaced only when the new sweep completes)",
                                (unfinished ? jsonl_partial : jsonl).string()));
    }
    // Both files restart from the rows kept (the CSV is rebuilt from the JSON Lines, the record of what finished).
    std::string jsonl_text = header_of(sweep).dump() + "\n";
    std::string csv_text = sweep_csv_header(sweep);
    for (const auto& row : kept) {
      jsonl_text += row.dump() + "\n";
      csv_text += sweep_csv_row(sweep, row);
      count(row);
    }
    write_file_atomic(jsonl_partial, jsonl_text);
    write_file_atomic(csv_partial, csv_text);
    jsonl_out.emplace(jsonl_partial);
    csv_out.emplace(csv_partial);
    start = kept.size();
  }

  // Every row is in: the finished outputs replace the last ones (the CSV last, so that a CSV beside a JSON Lines
  // file is always the one of the same sweep or older).
  void finish() {
    jsonl_out.reset();
    csv_out.reset();
    rename_over(jsonl_partial, jsonl);
    rename_over(csv_partial, csv);
  }

  void count(const nlohmann::json& row) { (row.value("status", "") == "ok" ? ok : infeasible) += 1; }

  // One finished point, flushed at once; a row with "error" stops the sweep.
  void write(const Sweep& sweep, std::size_t index, const std::string& line) {
    // A worker that dies (killed, out of memory) is flopcast's failure, not the input's: exit 1.
    if (line.empty()) {
      throw std::runtime_error(fmt::format("the sweep worker for point {} stopped without a result", index));
    }
    const auto row = nlohmann::json::parse(line);
    if (row.contains("error")) throw ModelError(fmt::format("point {}: {}", index, row["error"].get<std::string>()));
    // The JSON Lines first: it is the record a resumed sweep trusts, and the CSV is rebuilt from it.
    jsonl_out->append(line + '\n');
    csv_out->append(sweep_csv_row(sweep, row));
    count(row);
  }

  void summary(std::size_t total, std::size_t evaluated, double wall, const std::string& workers, std::ostream& out) const {
    fmt::print(out, "{} points: {} ok, {} infeasible (a reason in each row)\n", total, ok, infeasible);
    fmt::print(out, "{} evaluated in {:.2f} s wall on {} ({:.0f} points/s)\n", evaluated, wall, workers,
               wall > 0 ? static_cast<double>(evaluated) / wall : 0.0);
    fmt::print(out, "written: {}, {}\n", csv.string(), jsonl.string());
  }
};

// Under mpirun: rank r runs points start + r, start + r + ranks, ...; rank 0 runs its share and writes every row in
// order as it arrives.
int run_distributed(const Sweep& sweep, const SweepOptions& options, const Catalogs& catalogs, std::ostream& out) {
  std::optional<Outputs> outputs;
  std::int64_t start = -1;
  if (rank() == 0) {
    try {
      outputs.emplace(sweep, options);
      start = static_cast<std::int64_t>(outputs->start);
    } catch (...) {
      broadcast(-1);
      throw;
    }
  }
  start = broadcast(start);
  if (start < 0) return 2;  // rank 0 reports why
  const std::size_t total = sweep.size();
  const auto first = static_cast<std::size_t>(start);
  const auto n = static_cast<std::size_t>(ranks());
  if (rank() != 0) {
    for (std::size_t i = first + static_cast<std::size_t>(rank()); i < total; i += n) {
      send_to_root(evaluate_line(sweep, i, catalogs));
    }
    return 0;
  }
  if (!options.quiet) {
    fmt::print(stderr, "sweep {}: {} points ({}, {}){} on {} MPI ranks\n", options.file, total,
               sweep.zip ? "zip" : "grid", to_string(sweep.tier),
               first > 0 ? fmt::format(", resuming after {}", first) : "", n);
  }
  Progress progress(total, first, options.quiet);
  const auto t0 = Clock::now();
  try {
    for (std::size_t i = first; i < total; ++i) {
      const int source = static_cast<int>((i - first) % n);
      outputs->write(sweep, i, source == 0 ? evaluate_line(sweep, i, catalogs) : receive_from(source));
      progress.update(i + 1);
    }
  } catch (const std::exception& error) {
    fmt::print(stderr, "flopcast: error: {}\n", error.what());
    abort_all(2);  // the other ranks may still be sending
  }
  outputs->finish();
  outputs->summary(total, total - first, std::chrono::duration<double>(Clock::now() - t0).count(),
                   fmt::format("{} MPI ranks", n), out);
  return 0;
}

// What a long check of the axes' values shows (each value is parsed in the base scenario): a line when it starts,
// and a count on a terminal. Short checks say nothing.
SweepCheckProgress check_progress(const SweepOptions& options) {
  constexpr std::size_t kLongCheck = 10'000;
  if (options.quiet) return {};
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  return [tty, file = options.file](std::size_t checked, std::size_t total) {
    if (total < kLongCheck) return;
    if (checked == 0) fmt::print(stderr, "sweep {}: checking {} axis values in the base scenario\n", file, total);
    if (tty && (checked % 1000 == 0 || checked == total)) {
      fmt::print(stderr, "\r  {}/{} values checked{}", checked, total, checked == total ? "\n" : "");
    }
  };
}

}  // namespace

int run_sweep(const SweepOptions& options, const Catalogs& catalogs, std::ostream& out) {
  const auto sweep = load_sweep(options.file, catalogs, check_progress(options));
  if (ranks() > 1) return run_distributed(sweep, options, catalogs, out);
  Outputs outputs(sweep, options);
  const std::size_t total = sweep.size();
  const std::size_t start = outputs.start;
  const int jobs = std::max(1, std::min<int>(options.jobs > 0 ? options.jobs : static_cast<int>(std::thread::hardware_concurrency()),
                                             static_cast<int>(std::max<std::size_t>(1, total - start))));
  if (!options.quiet) {
    fmt::print(stderr, "sweep {}: {} points ({}, {}){} on {} worker{}\n", options.file, total,
               sweep.zip ? "zip" : "grid", to_string(sweep.tier),
               start > 0 ? fmt::format(", resuming after {}", start) : "", jobs, jobs == 1 ? "" : "s");
  }
  Progress progress(total, start, options.quiet);
  const auto t0 = Clock::now();
  std::vector<Worker> workers = start < total ? start_workers(sweep, catalogs, start, jobs) : std::vector<Worker>{};
  try {
    for (std::size_t i = start; i < total; ++i) {
      outputs.write(sweep, i, workers[(i - start) % static_cast<std::size_t>(jobs)].next_line());
      progress.update(i + 1);
    }
  } catch (...) {
    stop_workers(workers);
    throw;
  }
  stop_workers(workers);
  outputs.finish();
  outputs.summary(total, total - start, std::chrono::duration<double>(Clock::now() - t0).count(),
                  fmt::format("{} worker{}", jobs, jobs == 1 ? "" : "s"), out);
  return 0;
}

}  // namespace flopcast::cli
