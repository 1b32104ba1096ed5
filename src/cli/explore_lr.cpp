// Private: the ODE-optimal learning rate, a bracketing + golden-section search in ln η.
#include <cmath>
#include <limits>

#include "explore.hpp"
#include "signdyn/error.hpp"

namespace signdyn::cli {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kGolden = 0.3819660112501051;  // (3 − √5)/2
constexpr double kMaxLogRange = 120.0;          // |ln η − ln η_start| explored at most (e^120)

}  // namespace

LrSearchResult minimise_over_log_lr(const std::function<double(double lr)>& risk_at,
                                    const LrSearchOptions& options) {
  if (!(options.lr_start > 0.0) || !std::isfinite(options.lr_start))
    throw Error("lr search: the starting learning rate must be positive and finite");
  if (!(options.bracket_factor > 1.0))
    throw Error("lr search: the bracketing factor must exceed 1");
  if (!(options.log_tol > 0.0)) throw Error("lr search: the tolerance in ln lr must be positive");

  LrSearchResult result;
  const double x0 = std::log(options.lr_start);
  auto f = [&](double x) {
    const double lr = std::exp(x);
    double r = risk_at(lr);
    if (!std::isfinite(r)) r = kInf;
    result.lr_evaluated.push_back(lr);
    result.risk_evaluated.push_back(r);
    return r;
  };
  auto budget_left = [&] {
    return static_cast<int>(result.lr_evaluated.size()) < options.max_evaluations;
  };
  auto finish = [&](double x, double fx, bool converged, std::string message) {
    result.lr = std::exp(x);
    result.risk = fx;
    result.converged = converged;
    result.message = std::move(message);
    return result;
  };

  // Bracket: lo < mid < hi with f(mid) ≤ f(lo), f(hi).
  const double h = std::log(options.bracket_factor);
  double lo = x0, mid = x0, hi = x0;
  double f_mid = f(x0);
  const double f_0 = f_mid;
  const double f_p = f(x0 + h);
  int direction = 0;
  if (f_p < f_0) {
    direction = +1;
  } else {
    const double f_n = f(x0 - h);
    if (f_n < f_0 || (std::isinf(f_0) && std::isinf(f_n))) {
      direction = -1, hi = x0, mid = x0 - h, f_mid = f_n;
    } else if (f_n == f_0 && f_p == f_0) {
      direction = +1;  // flat: η too small to move the risk at all
    } else {
      lo = x0 - h, hi = x0 + h;  // f(x0) is already below both neighbours
    }
  }
  if (direction == +1) {
    lo = x0, mid = x0 + h, f_mid = f_p;
    for (double step = 2.0 * h;; step *= 2.0) {
      if (!budget_left() || mid - x0 > kMaxLogRange)
        return finish(mid, f_mid, false,
                      "no minimum found: the risk keeps decreasing as lr grows (last lr " +
                          std::to_string(std::exp(mid)) + ")");
      const double x = mid + step, fx = f(x);
      if (!(fx <= f_mid)) {
        hi = x;
        break;
      }
      lo = mid, mid = x, f_mid = fx;
    }
  } else if (direction == -1) {
    for (double step = 2.0 * h;; step *= 2.0) {
      if (!budget_left() || x0 - mid > kMaxLogRange)
        return finish(
            mid, f_mid, false,
            std::isinf(f_mid)
                ? "every lr tried diverged (down to " + std::to_string(std::exp(mid)) + ")"
                : "no minimum found: the risk keeps decreasing as lr shrinks (last lr " +
                      std::to_string(std::exp(mid)) + ")");
      const double x = mid - step, fx = f(x);
      if (!(fx < f_mid || std::isinf(f_mid))) {
        lo = x;
        break;
      }
      hi = mid, mid = x, f_mid = fx;
    }
  }

  // Golden section inside [lo, hi], keeping the best point as mid.
  while (hi - lo > options.log_tol) {
    if (!budget_left())
      return finish(mid, f_mid, false,
                    "evaluation budget exhausted with the bracket still " +
                        std::to_string(hi - lo) + " wide in ln lr");
    const bool right = hi - mid > mid - lo;
    const double x = right ? mid + kGolden * (hi - mid) : mid - kGolden * (mid - lo);
    const double fx = f(x);
    if (fx < f_mid) {
      (right ? lo : hi) = mid;
      mid = x, f_mid = fx;
    } else {
      (right ? hi : lo) = x;
    }
  }
  if (std::isinf(f_mid)) return finish(mid, f_mid, false, "every lr tried diverged");
  return finish(mid, f_mid, true, "");
}

double theory_final_risk(const Problem& problem, OptimizerSpec optimizer, double lr,
                         std::int64_t horizon, const TheorySpec& theory) {
  if (horizon < 1) throw Error("lr search: the horizon must be at least 1 step");
  optimizer.lr = lr;
  TheoryOptions options;
  options.record_steps = {0, horizon};
  options.modes = Eigen::VectorXi::Ones(1);
  options.solver = theory.solver;
  options.rel_tol = theory.rel_tol;
  options.abs_tol = theory.abs_tol;
  const Trajectory tr = predict(problem, optimizer, options);
  if (tr.status != RunStatus::completed || tr.t.size() != 2 || tr.t(1) != double(horizon))
    return kInf;
  if (!std::isfinite(tr.risk(1))) return kInf;
  // R = ½ Σ λ_j ρ_j + σ²/2 with ρ_j ≥ 0: a risk below the noise floor is not a risk.
  const double floor = 0.5 * problem.sigma * problem.sigma;
  if (tr.risk(1) < floor - 1e-12 * (1.0 + floor))
    throw Error("the " + std::string(to_string(optimizer.kind)) + " dynamics gave R(" +
                std::to_string(horizon) + ") = " + std::to_string(tr.risk(1)) +
                ", below the noise floor sigma^2/2 = " + std::to_string(floor) +
                " (a negative rho_j): not a valid risk");
  return tr.risk(1);
}

LrSearchResult optimal_lr(const Problem& problem, const OptimizerSpec& optimizer,
                          std::int64_t horizon, const TheorySpec& theory,
                          const LrSearchOptions& options) {
  if (!has_theory(problem, optimizer))
    throw Error("lr search: no deterministic dynamics for optimizer '" +
                std::string(to_string(optimizer.kind)) + "' yet");
  LrSearchOptions o = options;
  if (!(o.lr_start > 0.0)) o.lr_start = optimizer.lr;
  // A numerical failure of the dynamics at one lr (e.g. a fixed point that does not converge)
  // counts as +∞ there, like a divergence; the first such failure is reported in `message`.
  std::string failure;
  LrSearchResult r = minimise_over_log_lr(
      [&](double lr) {
        try {
          return theory_final_risk(problem, optimizer, lr, horizon, theory);
        } catch (const Error& e) {
          if (failure.empty())
            failure = "the dynamics failed at lr " + std::to_string(lr) + ": " + e.what();
          return kInf;
        }
      },
      o);
  if (!failure.empty()) r.message += (r.message.empty() ? "" : "; ") + failure;
  return r;
}

}  // namespace signdyn::cli
