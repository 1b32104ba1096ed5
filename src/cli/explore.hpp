// Private: regime exploration on the deterministic dynamics: ODE-optimal learning rates,
// the (α, β) phase diagram of two optimizers, and the batch-size transition of per-mode drifts.
// Everything here calls the dynamics only through has_theory()/predict().
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "signdyn/config.hpp"
#include "signdyn/dynamics.hpp"
#include "signdyn/problem.hpp"
#include "signdyn/trajectory.hpp"

namespace signdyn::cli {

// ---------------------------------------------------------------------------------------------
// Optimal learning rate

/// Settings of the 1-D search in ln η.
struct LrSearchOptions {
  double lr_start = 0.0;        // first guess; ≤ 0: the optimizer's configured lr
  double bracket_factor = 4.0;  // first bracketing step, a factor on η (> 1); it doubles in ln η
  double log_tol = 0.01;        // stop when the bracket in ln η is narrower than this
  int max_evaluations = 80;     // budget of risk evaluations, bracketing included
};

/// Outcome of the search: the best η found and every evaluation made.
struct LrSearchResult {
  double lr = std::numeric_limits<double>::quiet_NaN();
  double risk = std::numeric_limits<double>::infinity();
  bool converged = false;                            // a bracket was found and narrowed to log_tol
  std::string message;                               // why not, when not converged
  std::vector<double> lr_evaluated, risk_evaluated;  // in evaluation order
};

/// Minimises risk_at(η) over η > 0 by bracketing in ln η (steps ×factor, doubling) and then
/// golden-section search; a non-finite value counts as +∞ (a divergent η), so the search
/// moves away from it. Finds the local minimum of a unimodal function of ln η.
LrSearchResult minimise_over_log_lr(const std::function<double(double lr)>& risk_at,
                                    const LrSearchOptions& options);

/// The deterministic risk R(T) at step `horizon` for this optimizer with base rate `lr`
/// (schedule kept); +∞ when the dynamics diverge or stall or the risk is not finite. Throws
/// Error when the dynamics return a risk below the noise floor σ²/2 (impossible for ρ_j ≥ 0).
double theory_final_risk(const Problem& problem, OptimizerSpec optimizer, double lr,
                         std::int64_t horizon, const TheorySpec& theory);

/// The learning rate minimising the deterministic R(horizon) of `optimizer` (theory needed).
/// An lr at which predict() throws a numerical Error counts as +∞; `message` names the first.
LrSearchResult optimal_lr(const Problem& problem, const OptimizerSpec& optimizer,
                          std::int64_t horizon, const TheorySpec& theory,
                          const LrSearchOptions& options);

// ---------------------------------------------------------------------------------------------
// Phase diagram

/// Which of two optimizers wins, horizon by horizon, at their own optimal learning rates.
enum class Phase : int {
  failed = -1,       // a search did not converge or a risk is not finite
  first_better = 0,  // the first optimizer's risk is lower at every horizon (ties allowed)
  second_better = 1,
  trade_off = 2,  // each wins at some horizon
  tie = 3,        // within the tie tolerance at every horizon
};

/// Canonical name of a phase ("first_better", ...).
std::string to_string(Phase phase);

/// Classifies two risk sequences over the same horizons: a horizon where the relative
/// difference |R₁ − R₂| / min(R₁, R₂) is at most tie_tol counts for neither.
Phase classify_phase(const std::vector<double>& risk_first, const std::vector<double>& risk_second,
                     double tie_tol);

/// Least-squares fit of ln y = c − γ ln t; `gamma` is the decay exponent (y ~ t^(−γ)),
/// `gamma_se` its standard error from the residuals (0 with two points), NaN if < 2 points.
struct PowerLawFit {
  double gamma = std::numeric_limits<double>::quiet_NaN();
  double gamma_se = std::numeric_limits<double>::quiet_NaN();
  double log_prefactor = std::numeric_limits<double>::quiet_NaN();
};
PowerLawFit fit_power_law(const std::vector<double>& t, const std::vector<double>& y);

struct PhaseDiagramOptions {
  std::vector<double> alphas, betas;   // grid of λ_j = j^(−2α), b_j = j^(−β)
  std::vector<std::int64_t> horizons;  // ascending steps T at which each lr is tuned
  OptimizerKind first = OptimizerKind::signsgd;
  OptimizerKind second = OptimizerKind::signsvd;
  double tie_tol = 1e-3;
  LrSearchOptions search;
};

/// The map and everything behind it. Arrays are row-major: [method][α][β][horizon] for the
/// per-horizon quantities, [α][β] for the phase, [method][α][β] for the fitted exponents.
struct PhaseDiagram {
  std::vector<double> alphas, betas;
  std::vector<std::int64_t> horizons;
  std::vector<std::string> methods;  // the two optimizer names
  std::vector<double> lr_opt, risk_opt, excess_risk_opt;
  std::vector<double> gamma, gamma_se;  // excess risk at the optimal lr ~ T^(−γ)
  std::vector<double> lr_exponent;      // optimal lr ~ T^(−δ): δ
  std::vector<int> phase;               // Phase values
  std::vector<int> winner;              // [α][β][horizon]: 0, 1, or −1 for a tie/failure
  double noise_floor = 0.0;             // σ²/2, subtracted for the excess risk
  std::vector<std::string> notes;       // searches that failed, or met numerical failures
  std::size_t index(std::size_t method, std::size_t ia, std::size_t ib, std::size_t ih) const {
    return ((method * alphas.size() + ia) * betas.size() + ib) * horizons.size() + ih;
  }
};

/// Runs the lr searches over the grid on the problem of `base` (its α, β replaced) and the
/// optimizers' settings of `base` (batch, schedule...; lr is the first guess). Throws Error
/// when an optimizer has no deterministic dynamics. `progress(done, total)` after each point.
PhaseDiagram compute_phase_diagram(const Experiment& base, const PhaseDiagramOptions& options,
                                   const std::function<void(std::size_t, std::size_t)>& progress);

// ---------------------------------------------------------------------------------------------
// Batch-size transition

/// Initial drift rate of every mode, a_j = −(1/(η ρ_j)) dρ_j/dt at t = 0 in the limit η → 0
/// (the learning-rate-free part of the dynamics: SGD gives 2λ_j). Computed from one step of
/// predict() at two small rates η and 2η, Richardson-extrapolated to cancel the O(η²) noise.
Eigen::VectorXd initial_drift_rates(const Problem& problem, const OptimizerSpec& optimizer,
                                    const TheorySpec& theory);

/// Small-signal (noise-dominated) drift rates: initial_drift_rates on the same problem with
/// the label noise raised so that the signal Σ_j λ_j b_j² is `signal_fraction` of σ². This is
/// the preconditioner of the linearised dynamics (SGD: 2λ_j; SignSVD: ∝ s_j, theory.md §4;
/// SignSGD: ∝ √λ_j diagonal, ∝ λ_j generic, §3), free of the saturation of the top modes.
Eigen::VectorXd linear_drift_rates(const Problem& problem, const OptimizerSpec& optimizer,
                                   const TheorySpec& theory, double signal_fraction = 1e-6);

/// Local exponent d ln a / d ln λ at every mode: the least-squares slope of ln a on ln λ over
/// the modes within `half_width` of ln λ_j (at least j − 1, j, j + 1), which averages the
/// mode-to-mode scatter of a realised rotation; NaN where λ or a is not positive.
Eigen::VectorXd local_log_slope(const Eigen::VectorXd& lambda, const Eigen::VectorXd& a,
                                double half_width = 0.35);

/// Least-squares slope of ln a against ln λ over modes j in [j_first, j_last] (1-based).
double fitted_log_slope(const Eigen::VectorXd& lambda, const Eigen::VectorXd& a,
                        Eigen::Index j_first, Eigen::Index j_last);

struct BatchTransitionOptions {
  std::vector<std::int64_t> batches;         // ascending batch sizes B
  std::vector<OptimizerKind> optimizers;     // e.g. signsgd, signsvd
  bool tune_lr = true;                       // ODE-optimal lr at the horizon for each B
  Eigen::Index fit_first = 2, fit_last = 0;  // modes of the exponent fit; 0: d/4 (≥ 3 modes)
  LrSearchOptions search;
};

struct BatchTransition {
  std::vector<std::int64_t> batches;
  std::vector<std::string> methods;
  Eigen::VectorXd lambda;                      // λ_j, all modes
  std::vector<double> t;                       // record steps of the risk curves
  std::vector<double> risk;                    // [method][batch][record]
  std::vector<double> lr;                      // [method][batch]
  std::vector<double> drift;                   // [method][batch][mode]: small-signal a_j
  std::vector<double> drift_initial;           // [method][batch][mode]: a_j at W_0 = 0
  std::vector<double> drift_exponent;          // [method][batch]: fitted slope of drift
  std::vector<double> drift_initial_exponent;  // [method][batch]: same for drift_initial
  Eigen::Index fit_first = 0, fit_last = 0;
};

/// Risk curves (deterministic, record grid of `base.run`) and drift rates for every
/// batch size and optimizer on the problem of `base`. Throws Error for a missing theory.
BatchTransition compute_batch_transition(
    const Experiment& base, const BatchTransitionOptions& options,
    const std::function<void(std::size_t, std::size_t)>& progress);

}  // namespace signdyn::cli
