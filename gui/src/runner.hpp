#pragma once
// Evaluations off the GUI thread (QtConcurrent), so the window never waits:
//   - tier 1 for the what-if: one request per scenario at a time, the newest edit wins (an edit made while one runs
//     is evaluated as soon as it finishes; older pending ones are dropped). A scenario with a failures section is
//     shown first without its whole run (milliseconds), then again with it (the Monte Carlo takes longer);
//   - tier 2 on request ("Simulate"), one at a time, with its fraction done, cancellable: the simulation's engine
//     process is killed.
// Results arrive as signals in the GUI thread, as immutable shared values.

#include <QElapsedTimer>
#include <QFutureWatcher>
#include <QObject>
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "evaluation.hpp"

namespace flopcast::gui {

struct Request {
  int id = 0;  // the caller's scenario id
  nlohmann::json json;
  std::string label;  // the file name, for messages
  std::filesystem::path base_dir;
  Tier tier = Tier::analytical;
  bool whole_run = true;  // false: a failures section's whole run is left out
};

struct Outcome {
  int id = 0;
  Tier tier = Tier::analytical;
  std::shared_ptr<const Evaluation> evaluation;  // null on failure
  std::vector<Problem> problems;                 // input problems, each with its JSON path
  std::string error;                             // anything else ("" when none)
  bool cancelled = false;
  bool whole_run_follows = false;  // the whole run of this scenario is being simulated: another outcome follows
};

// Runs one request on the calling thread: what the workers run. `fraction` (may be null) follows a discrete-event
// simulation's progress, 0 to 1.
Outcome run_request(const Request& request, const Catalogs& catalogs, const std::atomic<bool>* cancel,
                    std::atomic<double>* fraction = nullptr);

class Runner : public QObject {
  Q_OBJECT
 public:
  Runner(const Catalogs& catalogs, QObject* parent = nullptr);
  ~Runner() override;

  // Tier 1 of a scenario, now or as soon as its previous evaluation finishes.
  void request_tier1(Request request);
  // Tier 2 (or 3); false when a simulation is running already.
  bool simulate(Request request);
  void cancel_simulation();
  bool simulating() const { return simulating_; }
  bool idle() const;
  double simulation_elapsed_s() const;
  // The running simulation's fraction done (0 to 1; 0 before the engine reports any).
  double simulation_fraction() const { return simulating_ && fraction_ ? fraction_->load() : 0.0; }

 signals:
  void tier1_finished(const flopcast::gui::Outcome& outcome);
  void simulation_finished(const flopcast::gui::Outcome& outcome);

 private:
  void start_next_tier1();

  const Catalogs& catalogs_;
  QFutureWatcher<Outcome> tier1_watcher_;
  std::map<int, Request> pending_;            // newest request per scenario
  std::map<int, Request> whole_run_pending_;  // the second pass of scenarios with failures, after every edit
  Request running_;                           // the tier-1 request in flight
  bool tier1_running_ = false;
  QFutureWatcher<Outcome> sim_watcher_;
  std::shared_ptr<std::atomic<bool>> cancel_;
  std::shared_ptr<std::atomic<double>> fraction_;
  bool simulating_ = false;
  QElapsedTimer sim_clock_;
};

}  // namespace flopcast::gui
