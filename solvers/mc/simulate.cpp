// Monte Carlo replica engine (see signdyn/simulate.hpp and replica_engine.hpp).
//
// Replicas run in parallel (OpenMP, dynamic schedule), each with its own stream
// Rng(seed, replica) and its own workspace, and store their exact risk and ρ_j at the record
// steps. The mean and standard error are then reduced sequentially in replica order, so the
// result is bit-identical for any thread count.
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <limits>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "blas.hpp"
#include "replica_engine.hpp"
#include "signdyn/error.hpp"
#include "signdyn/msign.hpp"
#include "signdyn/rng.hpp"
#include "signdyn/simulate.hpp"
#include "update_rules.hpp"

namespace signdyn {
namespace detail {
namespace {

// A recorded value (risk or ρ_j) above this counts as divergence: its square, needed for the
// standard error, would overflow. An O(1) risk that grew 150 decades has diverged in any case.
constexpr double kMaxRecordedValue = 1e150;
// Steps between progress/cancel checks inside a replica.
constexpr std::int64_t kTickSteps = 64;

// Throws ConfigError (or Error for API misuse) unless the inputs describe a valid run.
void validate(const Problem& p, const OptimizerSpec& spec, const SimulateOptions& o) {
  if (p.d < 1 || p.m < 1 || p.lambda.size() != p.d || p.b.size() != p.d ||
      (p.O.size() > 0 && !p.has_rotation())) {
    throw Error(
        "simulate: the Problem is inconsistent (sizes of lambda, b, O do not match d); "
        "build it with make_problem()");
  }
  if (!p.is_diagonal() && !p.has_rotation() && !rotation_equivariant(spec.kind)) {
    throw ConfigError("problem.d",
                      "problem.d = " + std::to_string(p.d) + ": the Monte Carlo of " +
                          std::string(to_string(spec.kind)) +
                          " in a generic basis runs in the true basis and needs the dense d×d "
                          "Haar rotation, formed only for d <= " +
                          std::to_string(kMaxRealisedBasis) +
                          "; use a smaller d, the diagonal basis, or `signdyn ode` (its "
                          "concentration form needs no rotation)");
  }
  if (o.record_steps.empty()) {
    throw ConfigError("run.records",
                      "simulate: no record steps given; use record_steps(steps, "
                      "records) to build them");
  }
  for (std::size_t i = 0; i < o.record_steps.size(); ++i) {
    if (o.record_steps[i] < 0 || (i > 0 && o.record_steps[i] <= o.record_steps[i - 1])) {
      throw ConfigError("run.records",
                        "simulate: record steps must be >= 0 and strictly "
                        "ascending (entry " +
                            std::to_string(i) + " = " + std::to_string(o.record_steps[i]) + ")");
    }
  }
  for (Eigen::Index i = 0; i < o.modes.size(); ++i) {
    if (o.modes(i) < 1 || o.modes(i) > p.d) {
      throw ConfigError("run.modes", "simulate: recorded mode " + std::to_string(o.modes(i)) +
                                         " is outside [1, d = " + std::to_string(p.d) + "]");
    }
  }
  if (o.replicas < 1) {
    throw ConfigError("run.replicas",
                      "run.replicas = " + std::to_string(o.replicas) + ": must be an integer >= 1");
  }
  if (o.threads < 0) {
    throw ConfigError(
        "threads", "threads = " + std::to_string(o.threads) + ": must be >= 0 (0 = all available)");
  }
  if (spec.batch < 1) {
    throw ConfigError("optimizer.batch", "optimizer.batch = " + std::to_string(spec.batch) +
                                             ": must be an integer >= 1");
  }
  if (!std::isfinite(spec.lr) || spec.lr < 0.0) {
    throw ConfigError("optimizer.lr",
                      "optimizer.lr = " + format_value(spec.lr) + ": must be finite and >= 0");
  }
  if (spec.kind == OptimizerKind::muon) {
    if (!std::isfinite(spec.momentum) || spec.momentum < 0.0 || spec.momentum >= 1.0) {
      throw ConfigError("optimizer.momentum",
                        "optimizer.momentum = " + format_value(spec.momentum) +
                            ": Muon's momentum μ must be in [0, 1)");
    }
    if (spec.ns_steps < 0) {
      throw ConfigError("optimizer.ns_steps",
                        "optimizer.ns_steps = " + std::to_string(spec.ns_steps) +
                            ": the number of Newton–Schulz steps must be "
                            ">= 0 (5 is Muon's default)");
    }
  }
  if (spec.schedule.kind == ScheduleKind::power) {
    if (!std::isfinite(spec.schedule.k0) || spec.schedule.k0 <= 0.0) {
      throw ConfigError("optimizer.schedule.k0",
                        "optimizer.schedule.k0 = " + format_value(spec.schedule.k0) +
                            ": must be finite and > 0 (steps)");
    }
    if (!std::isfinite(spec.schedule.gamma)) {
      throw ConfigError(
          "optimizer.schedule.gamma",
          "optimizer.schedule.gamma = " + format_value(spec.schedule.gamma) + ": must be finite");
    }
  }
}

// How one replica ended.
struct ReplicaEnd {
  std::int64_t records_done = 0;    // records stored (a prefix of the record steps)
  std::int64_t diverged_step = -1;  // step at which the state became non-finite, or −1
};

// Shared progress counter; only OpenMP thread 0 (the calling thread) invokes the callback.
class Progress {
 public:
  Progress(const ProgressFn& fn, double total_steps) : fn_(fn), total_(total_steps) {}

  void add(std::int64_t steps) { done_.fetch_add(steps, std::memory_order_relaxed); }

  // Calls the callback from thread 0: at the first check, then at most every 0.1 s (so a
  // callback that cancels takes effect at once, however short the run).
  void maybe_report() {
    if (!fn_ || omp_get_thread_num() != 0) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double done = static_cast<double>(done_.load(std::memory_order_relaxed));
    fn_(total_ > 0.0 ? std::min(done / total_, 1.0) : 1.0);
  }

 private:
  const ProgressFn& fn_;
  double total_;
  std::atomic<std::int64_t> done_{0};
  std::chrono::steady_clock::time_point last_{};  // the clock's epoch: the first check reports
};

// Buffers of one replica, sized once.
struct Workspace {
  Workspace(const Problem& p, Eigen::Index batch, Frame frame)
      : delta(p.d, p.m), X(batch, p.d), E(batch, p.m), resid(batch, p.m) {
    if (frame == Frame::true_basis) {
      delta_eig.resize(p.d, p.m);
      X_true.resize(batch, p.d);
    }
  }
  Eigen::MatrixXd delta;      // Δ in the frame of the run (d×m)
  Eigen::MatrixXd delta_eig;  // true basis only: Δ_eig = OᵀΔ at record steps (d×m)
  Eigen::MatrixXd X;          // minibatch in K's eigenbasis (B×d)
  Eigen::MatrixXd E;          // label noise (B×m)
  Eigen::MatrixXd resid;      // XΔ − E (B×m)
  Eigen::MatrixXd X_true;     // true basis only: X Oᵀ (B×d)
};

// Runs replica r to the horizon (or to divergence), writing its exact risk and ρ at each
// record step into risk_out[rec] and rho_out[rec·n_modes + i].
template <class Rule, Frame frame>
ReplicaEnd run_replica(const Problem& p, const OptimizerSpec& spec, const SimulateOptions& o,
                       std::int64_t r, double* risk_out, double* rho_out, Progress& progress,
                       const std::atomic<bool>& cancel) {
  Rng rng(o.seed, static_cast<std::uint64_t>(r));
  Workspace ws(p, spec.batch, frame);
  Rule rule(p, spec);
  const Eigen::Index n_modes = o.modes.size();
  const double inv_m = 1.0 / static_cast<double>(p.m);

  if constexpr (frame == Frame::true_basis) {
    sample_initial_residual(p, rng, ws.delta_eig);
    gemm(false, false, 1.0, p.O, ws.delta_eig, 0.0, ws.delta);  // Δ = O Δ_eig
  } else {
    sample_initial_residual(p, rng, ws.delta);
  }

  ReplicaEnd end;
  const auto& steps = o.record_steps;
  const std::int64_t horizon = steps.back();
  std::size_t next = 0;
  std::int64_t reported = 0;  // steps already added to the progress counter
  for (std::int64_t k = 0;; ++k) {
    if (k == steps[next]) {
      if constexpr (frame == Frame::true_basis)
        gemm(true, false, 1.0, p.O, ws.delta, 0.0, ws.delta_eig);
      const Eigen::MatrixXd& delta_eig = frame == Frame::true_basis ? ws.delta_eig : ws.delta;
      const double risk = risk_eigenbasis(p, delta_eig);
      bool representable = std::isfinite(risk) && risk <= kMaxRecordedValue;
      risk_out[next] = risk;
      for (Eigen::Index i = 0; i < n_modes; ++i) {
        const double rho = delta_eig.row(o.modes(i) - 1).squaredNorm() * inv_m;
        representable = representable && std::isfinite(rho) && rho <= kMaxRecordedValue;
        rho_out[next * n_modes + i] = rho;
      }
      if (!representable) {
        end.diverged_step = k;
        break;
      }
      end.records_done = static_cast<std::int64_t>(++next);
      if (next == steps.size()) break;
    }
    sample_batch_eigenbasis(p, rng, ws.X, ws.E);
    if constexpr (frame == Frame::true_basis) gemm(false, true, 1.0, ws.X, p.O, 0.0, ws.X_true);
    const Eigen::MatrixXd& X = frame == Frame::true_basis ? ws.X_true : ws.X;
    ws.resid = ws.E;
    gemm(false, false, 1.0, X, ws.delta, -1.0, ws.resid);  // resid = XΔ − E
    if (!ws.resid.allFinite() ||
        !rule.step(spec.schedule.lr_at(spec.lr, static_cast<double>(k)), X, ws.resid, ws.delta)) {
      end.diverged_step = k;
      break;
    }
    if ((k + 1) % kTickSteps == 0) {
      progress.add(k + 1 - reported);
      reported = k + 1;
      progress.maybe_report();
      if (cancel.load(std::memory_order_relaxed)) break;
    }
  }
  progress.add(horizon - reported);  // a replica that stopped early counts as done
  return end;
}

// Welford accumulator over replicas, one slot per recorded value, fed in replica order.
struct MeanVar {
  explicit MeanVar(std::size_t n) : count(n, 0), mean(n, 0.0), m2(n, 0.0) {}
  void add(std::size_t i, double x) {
    ++count[i];
    const double dx = x - mean[i];
    mean[i] += dx / static_cast<double>(count[i]);
    m2[i] += dx * (x - mean[i]);
  }
  // Standard error of the mean: sample sd / √n (NaN for a single replica).
  double se(std::size_t i) const {
    if (count[i] < 2) return std::numeric_limits<double>::quiet_NaN();
    const double n = static_cast<double>(count[i]);
    return std::sqrt(m2[i] / (n - 1.0) / n);
  }
  std::vector<std::int64_t> count;
  std::vector<double> mean, m2;
};

template <class Rule, Frame frame>
Trajectory run_replicas(const Problem& p, const OptimizerSpec& spec, const SimulateOptions& o,
                        std::size_t record_budget) {
  const auto start = std::chrono::steady_clock::now();
  const std::size_t n_rec = o.record_steps.size();
  const std::size_t n_modes = static_cast<std::size_t>(o.modes.size());
  const std::int64_t R = o.replicas;
  const int threads = o.threads > 0 ? o.threads : omp_get_max_threads();

  // Replicas are reduced chunk by chunk so that recording every mode of many replicas stays
  // within record_budget doubles (but a chunk always gives every thread a few replicas).
  const std::size_t per_replica = n_rec * (1 + n_modes);
  const std::int64_t chunk = std::clamp<std::int64_t>(
      static_cast<std::int64_t>(record_budget / per_replica),
      std::min<std::int64_t>(R, 4 * static_cast<std::int64_t>(threads)), R);
  std::vector<double> risk_buf(static_cast<std::size_t>(chunk) * n_rec);
  std::vector<double> rho_buf(static_cast<std::size_t>(chunk) * n_rec * n_modes);
  std::vector<ReplicaEnd> ends(static_cast<std::size_t>(chunk));

  MeanVar risk_acc(n_rec), rho_acc(n_rec * n_modes);
  std::int64_t n_valid = static_cast<std::int64_t>(n_rec);
  std::int64_t first_bad_step = -1, first_bad_replica = -1, n_diverged = 0;

  // OpenBLAS runs single-threaded inside the replicas (one replica per core, and results
  // independent of the thread count); the previous setting is restored on exit.
  const BlasThreadsGuard blas_guard(1);

  Progress progress(o.progress,
                    static_cast<double>(R) * static_cast<double>(o.record_steps.back()));
  std::atomic<bool> cancel{false};
  std::exception_ptr error;
  std::mutex error_mutex;

  for (std::int64_t r0 = 0; r0 < R && !cancel.load(); r0 += chunk) {
    const std::int64_t r1 = std::min(R, r0 + chunk);
#pragma omp parallel num_threads(threads)
    {
      // Eigen parallelises a product only outside an active parallel region, up to
      // omp_get_max_threads(); a team of one thread (threads = 1) is not active, so an Eigen
      // GEMM here would still fork a nested team. Capping this thread's nested teams at 1 keeps
      // every Eigen product single-threaded (checked: Eigen::nbThreads() reads 1 here). The
      // setting is local to this region's implicit task and does not leak out of simulate().
      // BLAS calls are single-threaded through blas_guard above.
      omp_set_num_threads(1);
#pragma omp for schedule(dynamic)
      for (std::int64_t r = r0; r < r1; ++r) {
        if (cancel.load(std::memory_order_relaxed)) continue;
        const std::size_t slot = static_cast<std::size_t>(r - r0);
        try {
          ends[slot] =
              run_replica<Rule, frame>(p, spec, o, r, &risk_buf[slot * n_rec],
                                       rho_buf.data() + slot * n_rec * n_modes, progress, cancel);
        } catch (...) {
          const std::lock_guard<std::mutex> lock(error_mutex);
          if (!error) error = std::current_exception();
          cancel.store(true);
        }
      }
    }
    if (error) std::rethrow_exception(error);

    // Sequential reduction in replica order: independent of the thread count.
    for (std::int64_t r = r0; r < r1; ++r) {
      const std::size_t slot = static_cast<std::size_t>(r - r0);
      const ReplicaEnd& end = ends[slot];
      for (std::int64_t rec = 0; rec < end.records_done; ++rec) {
        const std::size_t i = static_cast<std::size_t>(rec);
        risk_acc.add(i, risk_buf[slot * n_rec + i]);
        for (std::size_t j = 0; j < n_modes; ++j) {
          rho_acc.add(i * n_modes + j, rho_buf[(slot * n_rec + i) * n_modes + j]);
        }
      }
      n_valid = std::min(n_valid, end.records_done);
      if (end.diverged_step >= 0) {
        ++n_diverged;
        if (first_bad_step < 0 || end.diverged_step < first_bad_step) {
          first_bad_step = end.diverged_step;
          first_bad_replica = r;
        }
      }
    }
  }
  if (o.progress) o.progress(1.0);

  Trajectory tr;
  tr.method = "mc";
  tr.optimizer = std::string(to_string(spec.kind));
  tr.solver = "replicas";
  tr.batch = spec.batch;
  tr.lr = spec.lr;
  tr.seed = o.seed;
  tr.replicas = R;
  tr.modes = o.modes;
  const Eigen::Index n_out = static_cast<Eigen::Index>(n_valid);
  const Eigen::Index nm = static_cast<Eigen::Index>(n_modes);
  tr.t.resize(n_out);
  tr.risk.resize(n_out);
  tr.risk_se.resize(n_out);
  tr.rho.resize(n_out, nm);
  tr.rho_se.resize(n_out, nm);
  for (Eigen::Index rec = 0; rec < n_out; ++rec) {
    const std::size_t i = static_cast<std::size_t>(rec);
    tr.t(rec) = static_cast<double>(o.record_steps[i]);
    tr.risk(rec) = risk_acc.mean[i];
    tr.risk_se(rec) = risk_acc.se(i);
    for (Eigen::Index j = 0; j < nm; ++j) {
      const std::size_t ij = i * n_modes + static_cast<std::size_t>(j);
      tr.rho(rec, j) = rho_acc.mean[ij];
      tr.rho_se(rec, j) = rho_acc.se(ij);
    }
  }
  if (n_diverged > 0) {
    tr.status = RunStatus::diverged;
    tr.message = "replica " + std::to_string(first_bad_replica) + " diverged (detected at step " +
                 std::to_string(first_bad_step) +
                 ": non-finite residual or update, or risk or ρ above 1e150; " +
                 std::to_string(n_diverged) + " of " + std::to_string(R) +
                 " replicas diverged); records up to step " +
                 (n_out > 0 ? std::to_string(o.record_steps[static_cast<std::size_t>(n_out - 1)])
                            : std::string("(none)")) +
                 " are kept. optimizer.lr = " + format_value(spec.lr) +
                 " is likely too large for this spectrum and batch: reduce it";
  }
  tr.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return tr;
}

template <Frame frame>
Trajectory dispatch_rule(const Problem& p, const OptimizerSpec& spec, const SimulateOptions& o,
                         std::size_t record_budget) {
  switch (spec.kind) {
    case OptimizerKind::sgd:
      return run_replicas<SgdRule, frame>(p, spec, o, record_budget);
    case OptimizerKind::signsgd:
      return run_replicas<SignSgdRule, frame>(p, spec, o, record_budget);
    case OptimizerKind::signsvd:
      return run_replicas<SignSvdRule, frame>(p, spec, o, record_budget);
    case OptimizerKind::muon:
      return run_replicas<MuonRule, frame>(p, spec, o, record_budget);
  }
  throw Error("simulate: unknown optimizer kind " + std::to_string(static_cast<int>(spec.kind)));
}

}  // namespace

Frame default_frame(const Problem& problem, OptimizerKind kind) {
  return rotation_equivariant(kind) || problem.is_diagonal() ? Frame::eigenbasis
                                                             : Frame::true_basis;
}

Trajectory simulate_in_frame(const Problem& problem, const OptimizerSpec& optimizer,
                             const SimulateOptions& options, Frame frame,
                             std::size_t record_budget) {
  validate(problem, optimizer, options);
  if (frame == Frame::true_basis && !problem.is_diagonal()) {
    if (!problem.has_rotation())
      throw Error("simulate_in_frame: the true basis needs the realised rotation O (d <= " +
                  std::to_string(kMaxRealisedBasis) + ")");
    return dispatch_rule<Frame::true_basis>(problem, optimizer, options, record_budget);
  }
  return dispatch_rule<Frame::eigenbasis>(problem, optimizer, options, record_budget);
}

}  // namespace detail

Trajectory simulate(const Problem& problem, const OptimizerSpec& optimizer,
                    const SimulateOptions& options) {
  return detail::simulate_in_frame(problem, optimizer, options,
                                   detail::default_frame(problem, optimizer.kind));
}

}  // namespace signdyn
