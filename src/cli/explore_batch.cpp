// Private: the batch-size transition: risk curves and initial per-mode drift rates against B.
#include <algorithm>
#include <cmath>

#include "explore.hpp"
#include "signdyn/error.hpp"

namespace signdyn::cli {
namespace {

// ρ_j after one step at rate lr (records 0 and 1, every mode), from predict().
Trajectory one_step(const Problem& problem, OptimizerSpec optimizer, double lr,
                    const TheorySpec& theory) {
  optimizer.lr = lr;
  optimizer.schedule = Schedule{};  // the drift is a property of the update, not the schedule
  TheoryOptions options;
  options.record_steps = {0, 1};
  options.modes = record_modes(problem.d, 0);
  options.solver = theory.solver;
  options.rel_tol = std::min(theory.rel_tol, 1e-10);
  options.abs_tol = std::min(theory.abs_tol, 1e-16);
  Trajectory tr = predict(problem, optimizer, options);
  if (tr.status != RunStatus::completed || tr.t.size() != 2)
    throw Error("drift rates: the dynamics of " + std::string(to_string(optimizer.kind)) +
                " did not complete one step at lr " + std::to_string(lr) + ": " + tr.message);
  return tr;
}

}  // namespace

Eigen::VectorXd initial_drift_rates(const Problem& problem, const OptimizerSpec& optimizer,
                                    const TheorySpec& theory) {
  // Probe once to size η so that the fastest mode moves by a relative 1e-6 in one step:
  // large enough against round-off, small enough that O(η²) terms of the drift are negligible.
  double eta = optimizer.lr * 1e-3;
  for (int attempt = 0; attempt < 3; ++attempt) {
    const Trajectory probe = one_step(problem, optimizer, eta, theory);
    const Eigen::ArrayXd rel =
        ((probe.rho.row(0) - probe.rho.row(1)).array() / probe.rho.row(0).array()).abs();
    const double worst = rel.maxCoeff();
    if (!(worst > 0) || !std::isfinite(worst)) break;
    const double next = eta * 1e-6 / worst;
    if (std::abs(std::log(next / eta)) < std::log(3.0)) break;
    eta = next;
  }
  const Trajectory one = one_step(problem, optimizer, eta, theory);
  const Trajectory two = one_step(problem, optimizer, 2.0 * eta, theory);
  // ρ(1) = ρ − η a ρ + η² c: D(η) = (ρ − ρ(1))/(η ρ) = a − η c/ρ, so a = 2 D(η) − D(2η).
  const Eigen::ArrayXd rho0 = one.rho.row(0).transpose().array();
  const Eigen::ArrayXd d1 = (rho0 - one.rho.row(1).transpose().array()) / (eta * rho0);
  const Eigen::ArrayXd d2 = (rho0 - two.rho.row(1).transpose().array()) / (2.0 * eta * rho0);
  return 2.0 * d1 - d2;
}

Eigen::VectorXd linear_drift_rates(const Problem& problem, const OptimizerSpec& optimizer,
                                   const TheorySpec& theory, double signal_fraction) {
  if (!(signal_fraction > 0 && signal_fraction < 1))
    throw Error("drift rates: the signal fraction must be in (0, 1)");
  Problem noisy = problem;
  const double signal = (problem.lambda.array() * problem.b.array().square()).sum();
  noisy.sigma = std::sqrt(std::max(signal, problem.sigma * problem.sigma) / signal_fraction);
  return initial_drift_rates(noisy, optimizer, theory);
}

Eigen::VectorXd local_log_slope(const Eigen::VectorXd& lambda, const Eigen::VectorXd& a,
                                double half_width) {
  const Eigen::Index n = lambda.size();
  Eigen::VectorXd slope = Eigen::VectorXd::Constant(n, std::numeric_limits<double>::quiet_NaN());
  for (Eigen::Index j = 0; j < n; ++j) {
    if (!(lambda(j) > 0)) continue;
    // Modes within half_width of ln λ_j, and at least the neighbours j − 1 and j + 1.
    Eigen::Index lo = std::max<Eigen::Index>(j - 1, 0), hi = std::min(j + 1, n - 1);
    const double centre = std::log(lambda(j));
    while (lo > 0 && lambda(lo - 1) > 0 &&
           std::abs(std::log(lambda(lo - 1)) - centre) <= half_width)
      --lo;
    while (hi + 1 < n && lambda(hi + 1) > 0 &&
           std::abs(std::log(lambda(hi + 1)) - centre) <= half_width)
      ++hi;
    slope(j) = fitted_log_slope(lambda, a, lo + 1, hi + 1);
  }
  return slope;
}

double fitted_log_slope(const Eigen::VectorXd& lambda, const Eigen::VectorXd& a,
                        Eigen::Index j_first, Eigen::Index j_last) {
  std::vector<double> x, y;
  for (Eigen::Index j = std::max<Eigen::Index>(j_first, 1); j <= std::min(j_last, lambda.size());
       ++j)
    if (lambda(j - 1) > 0 && a(j - 1) > 0) {
      x.push_back(std::log(lambda(j - 1)));
      y.push_back(std::log(a(j - 1)));
    }
  if (x.size() < 2) return std::numeric_limits<double>::quiet_NaN();
  const double n = static_cast<double>(x.size());
  double mx = 0, my = 0;
  for (std::size_t k = 0; k < x.size(); ++k) mx += x[k] / n, my += y[k] / n;
  double sxx = 0, sxy = 0;
  for (std::size_t k = 0; k < x.size(); ++k) {
    sxx += (x[k] - mx) * (x[k] - mx);
    sxy += (x[k] - mx) * (y[k] - my);
  }
  return sxx > 0 ? sxy / sxx : std::numeric_limits<double>::quiet_NaN();
}

BatchTransition compute_batch_transition(
    const Experiment& base, const BatchTransitionOptions& options,
    const std::function<void(std::size_t, std::size_t)>& progress) {
  if (options.batches.empty() || options.optimizers.empty())
    throw Error("batch transition: the batch and optimizer lists must not be empty");
  const Problem problem = make_problem(base.problem);
  std::vector<OptimizerSpec> specs;
  for (OptimizerKind kind : options.optimizers) {
    const auto it = std::find_if(base.optimizers.begin(), base.optimizers.end(),
                                 [&](const OptimizerSpec& o) { return o.kind == kind; });
    if (it == base.optimizers.end())
      throw ConfigError("optimizer.name", "batch transition: optimizer '" +
                                              std::string(to_string(kind)) +
                                              "' is not in optimizer.name");
    if (!has_theory(problem, *it))
      throw Error("batch transition: no deterministic dynamics for '" +
                  std::string(to_string(kind)) + "' yet; choose others with --optimizers");
    specs.push_back(*it);
  }

  BatchTransition bt;
  bt.batches = options.batches;
  for (const OptimizerSpec& o : specs) bt.methods.emplace_back(to_string(o.kind));
  bt.lambda = problem.lambda;
  bt.fit_first = options.fit_first;
  // Default range: modes fit_first..d/4, at least three modes when d allows.
  bt.fit_last = options.fit_last > 0
                    ? options.fit_last
                    : std::max<Eigen::Index>(problem.d / 4, std::min(problem.d, bt.fit_first + 2));
  const std::vector<std::int64_t> steps = record_steps(base.run.steps, base.run.records);
  bt.t.assign(steps.begin(), steps.end());
  const std::size_t nm = specs.size(), nB = bt.batches.size(), nt = bt.t.size();
  const auto d = static_cast<std::size_t>(problem.d);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  bt.risk.assign(nm * nB * nt, nan);
  bt.lr.assign(nm * nB, nan);
  bt.drift.assign(nm * nB * d, nan);
  bt.drift_initial.assign(nm * nB * d, nan);
  bt.drift_exponent.assign(nm * nB, nan);
  bt.drift_initial_exponent.assign(nm * nB, nan);

  std::size_t done = 0;
  for (std::size_t m = 0; m < nm; ++m) {
    double start = specs[m].lr;
    for (std::size_t b = 0; b < nB; ++b) {
      OptimizerSpec opt = specs[m];
      opt.batch = bt.batches[b];
      if (options.tune_lr) {
        LrSearchOptions search = options.search;
        search.lr_start = start;
        const LrSearchResult r = optimal_lr(problem, opt, base.run.steps, base.theory, search);
        if (r.converged) opt.lr = start = r.lr;
      }
      bt.lr[m * nB + b] = opt.lr;
      TheoryOptions to;
      to.record_steps = steps;
      to.modes = Eigen::VectorXi::Ones(1);
      to.solver = base.theory.solver;
      to.rel_tol = base.theory.rel_tol;
      to.abs_tol = base.theory.abs_tol;
      const Trajectory tr = predict(problem, opt, to);
      for (Eigen::Index i = 0; i < tr.risk.size(); ++i)
        bt.risk[(m * nB + b) * nt + static_cast<std::size_t>(i)] = tr.risk(i);
      const Eigen::VectorXd a = linear_drift_rates(problem, opt, base.theory);
      const Eigen::VectorXd a0 = initial_drift_rates(problem, opt, base.theory);
      for (std::size_t j = 0; j < d; ++j) {
        bt.drift[(m * nB + b) * d + j] = a(Eigen::Index(j));
        bt.drift_initial[(m * nB + b) * d + j] = a0(Eigen::Index(j));
      }
      bt.drift_exponent[m * nB + b] = fitted_log_slope(bt.lambda, a, bt.fit_first, bt.fit_last);
      bt.drift_initial_exponent[m * nB + b] =
          fitted_log_slope(bt.lambda, a0, bt.fit_first, bt.fit_last);
      if (progress) progress(++done, nm * nB);
    }
  }
  return bt;
}

}  // namespace signdyn::cli
