#include "runner.hpp"

#include <QtConcurrent/QtConcurrentRun>

namespace flopcast::gui {

Outcome run_request(const Request& request, const Catalogs& catalogs, const std::atomic<bool>* cancel,
                    std::atomic<double>* fraction) {
  Outcome outcome;
  outcome.id = request.id;
  outcome.tier = request.tier;
  try {
    outcome.evaluation = std::make_shared<const Evaluation>(evaluate_scenario(
        request.json, request.label, request.base_dir, catalogs, request.tier, cancel, request.whole_run,
        fraction != nullptr ? std::function<void(double)>([fraction](double f) { fraction->store(f); })
                            : std::function<void(double)>()));
  } catch (const InputError& error) {
    outcome.problems = error.problems();
  } catch (const Cancelled&) {
    outcome.cancelled = true;
  } catch (const std::exception& error) {
    // ModelError, IoError, or a bug: shown, never fatal to the window.
    outcome.error = error.what();
  }
  return outcome;
}

Runner::Runner(const Catalogs& catalogs, QObject* parent) : QObject(parent), catalogs_(catalogs) {
  connect(&tier1_watcher_, &QFutureWatcher<Outcome>::finished, this, [this] {
    tier1_running_ = false;
    Outcome outcome = tier1_watcher_.result();
    // A newer edit of the same scenario is waiting: this result is already stale, show the newer one instead.
    const bool stale = pending_.count(outcome.id) > 0;
    if (!stale && !running_.whole_run && outcome.evaluation && outcome.evaluation->result.scenario.failures) {
      Request second = running_;
      second.whole_run = true;
      whole_run_pending_[outcome.id] = std::move(second);
      outcome.whole_run_follows = true;
    }
    if (!stale) emit tier1_finished(outcome);
    start_next_tier1();
  });
  connect(&sim_watcher_, &QFutureWatcher<Outcome>::finished, this, [this] {
    simulating_ = false;
    emit simulation_finished(sim_watcher_.result());
  });
}

Runner::~Runner() {
  // Nothing may outlive the catalogs the workers read: stop the simulation and wait for both.
  if (cancel_) cancel_->store(true);
  tier1_watcher_.waitForFinished();
  sim_watcher_.waitForFinished();
}

void Runner::request_tier1(Request request) {
  request.tier = Tier::analytical;
  request.whole_run = false;
  whole_run_pending_.erase(request.id);
  pending_[request.id] = std::move(request);
  if (!tier1_running_) start_next_tier1();
}

void Runner::start_next_tier1() {
  // Edits first: the whole runs wait until every edit has its step-level result.
  auto& queue = pending_.empty() ? whole_run_pending_ : pending_;
  if (queue.empty()) return;
  Request request = std::move(queue.begin()->second);
  queue.erase(queue.begin());
  running_ = request;
  tier1_running_ = true;
  const Catalogs* catalogs = &catalogs_;
  tier1_watcher_.setFuture(
      QtConcurrent::run([request = std::move(request), catalogs] { return run_request(request, *catalogs, nullptr); }));
}

bool Runner::simulate(Request request) {
  if (simulating_) return false;
  if (request.tier == Tier::analytical) request.tier = Tier::replica;
  simulating_ = true;
  cancel_ = std::make_shared<std::atomic<bool>>(false);
  fraction_ = std::make_shared<std::atomic<double>>(0.0);
  sim_clock_.start();
  const Catalogs* catalogs = &catalogs_;
  sim_watcher_.setFuture(
      QtConcurrent::run([request = std::move(request), catalogs, cancel = cancel_, fraction = fraction_] {
        return run_request(request, *catalogs, cancel.get(), fraction.get());
      }));
  return true;
}

void Runner::cancel_simulation() {
  if (cancel_) cancel_->store(true);
}

bool Runner::idle() const {
  return !tier1_running_ && pending_.empty() && whole_run_pending_.empty() && !simulating_;
}

double Runner::simulation_elapsed_s() const {
  return simulating_ ? sim_clock_.elapsed() / 1e3 : 0.0;
}

}  // namespace flopcast::gui
