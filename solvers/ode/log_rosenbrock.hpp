// Private: log-time, stiffly stable Rosenbrock-W integrators for per-mode systems whose
// components couple only through a few scalars (the risk, the schedule).
//
// The system dy/dt = f(t, y) is integrated in τ = ln(1 + t), dy/dτ = (1 + t) f, so a horizon of
// many decades of steps t costs a number of integrator steps proportional to the number of
// decades. Two Rosenbrock-W methods (second order or better for *any* Jacobian approximation J,
// L-stable with the exact one) in the transformed form of Hairer & Wanner (Solving ODEs II, IV.7):
//
//   (I/(hγ) − J) u_i = F(τ_n + α_i h, y_n + Σ_{j<i} a_ij u_j) + Σ_{j<i} (c_ij/h) u_j,
//   y_{n+1} = y_n + Σ m_i u_i,   error estimate Σ (m_i − m̂_i) u_i,
//
//   * ros2: ROS2 of Verwer, Spee, Blom & Hundsdorfer (SIAM J. Sci. Comput. 20, 1999),
//     γ = 1 + 1/√2, order 2, embedded linearly implicit Euler (order 1);
//   * ros34pw2: ROS34PW2 of Rang & Angermann (BIT 45, 2005), γ = 0.4358665215, 4 stages,
//     W-order 3, stiffly accurate, embedded order 2 — its error estimate is second order, so
//     it needs far fewer steps than ROS2 at equal tolerance.
//
// J = s·(diag(jd) + Σ_k u_k v_kᵀ), s = dt/dτ = 1 + t: the diagonal of ∂f/∂y (optionally a
// small dense block in front) plus the rank-r coupling through scalars, frozen at (τ_n, y_n) and
// inverted with the Woodbury identity in O(r² n); jd and u are stored in single precision (a
// W-method only needs an approximate J). All O(n) work runs in fixed chunks (chunked.hpp): fused
// loops, deterministic reductions, no allocation while stepping. Dense output: a cubic Hermite
// interpolant in τ (of the logarithm for positive quantities) of only the recorded quantities from
// their values and τ-derivatives at both ends of the step, so record times never force steps. A
// step limit and non-finite states end the run with a status.
//
// Tolerances: the local error estimate of each component is held below
// local_safety·(abs_tol + rel_tol·|y|). Relative errors of decaying components add up from step
// to step, so with local_safety = 1/4 the global error of the risk stays at or below rel_tol
// on the test problems (a single exponential decay over 27 e-folds is the worst seen).
#pragma once

#include <Eigen/Core>
#include <Eigen/LU>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "chunked.hpp"
#include "signdyn/trajectory.hpp"

namespace signdyn::detail {

inline constexpr int kMaxCouplingRank = 4;   // r: low-rank terms of the Jacobian
inline constexpr int kMaxLinearScalars = 4;  // L: linear functionals of the state a system uses
inline constexpr int kMaxAccumulators = 4;   // sums a system accumulates while evaluating
inline constexpr int kMaxStages = 4;

enum class RosenbrockMethod { ros2, ros34pw2 };

struct LogRosenbrockOptions {
  RosenbrockMethod method = RosenbrockMethod::ros34pw2;
  double rel_tol = 1e-6;       // target relative accuracy, per component (max norm)
  double abs_tol = 1e-12;      // target absolute accuracy, per component
  double local_safety = 0.25;  // local error per step ≤ local_safety·(abs_tol + rel_tol·|y|)
  std::int64_t max_steps = 1000000;
  double max_step = 1.0;    // largest step in τ = ln(1 + t)
  double fixed_step = 0.0;  // > 0: constant step in τ without error control (order tests)
};

struct LogRosenbrockStats {
  RunStatus status = RunStatus::completed;
  std::string message;
  std::int64_t steps = 0;        // accepted steps
  std::int64_t rejected = 0;     // rejected steps
  std::int64_t evaluations = 0;  // right-hand-side evaluations (each O(n))
};

/// A Rosenbrock-W method in transformed form: stage couplings a, c (strictly lower), stage
/// times alpha, weights m of the solution and mhat of the embedded one.
struct RosenbrockTableau {
  int stages = 0;
  int order = 0;           // order of the solution
  int embedded_order = 0;  // order of the embedded solution (sets the controller exponent)
  double gamma = 0.0;
  double a[kMaxStages][kMaxStages] = {};
  double c[kMaxStages][kMaxStages] = {};
  double alpha[kMaxStages] = {};
  double m[kMaxStages] = {};
  double mhat[kMaxStages] = {};
};

/// The transformed tableau of `method` (ROS34PW2 is converted from its published k-form).
inline RosenbrockTableau rosenbrock_tableau(RosenbrockMethod method) {
  RosenbrockTableau t;
  if (method == RosenbrockMethod::ros2) {
    // (I − γhJ) k1 = hF(y); (I − γhJ) k2 = hF(y + k1) − 2k1; y1 = y + 3/2 k1 + 1/2 k2;
    // with u_i = γ k_i: a21 = 1/γ, c21 = −2/γ, m = (3/2, 1/2)/γ, Euler mhat = (1, 0)/γ.
    const double g = 1.0 + 1.0 / std::sqrt(2.0);
    t.stages = 2;
    t.order = 2;
    t.embedded_order = 1;
    t.gamma = g;
    t.a[1][0] = 1.0 / g;
    t.c[1][0] = -2.0 / g;
    t.alpha[1] = 1.0;
    t.m[0] = 1.5 / g;
    t.m[1] = 0.5 / g;
    t.mhat[0] = 1.0 / g;
    return t;
  }
  // ROS34PW2 in k-form: (I − γhJ) k_i = hF(y + Σ α_ij k_j) + hJ Σ_{j<i} γ_ij k_j.
  const double g = 4.3586652150845900e-01;
  Eigen::Matrix4d A = Eigen::Matrix4d::Zero(), Gam = Eigen::Matrix4d::Zero();
  A(1, 0) = 8.7173304301691801e-01;
  A(2, 0) = 8.4457060015369423e-01;
  A(2, 1) = -1.1299064236397981e-01;
  A(3, 2) = 1.0;
  Gam(1, 0) = -8.7173304301691801e-01;
  Gam(2, 0) = -9.0338057013044082e-01;
  Gam(2, 1) = 5.4180672388095326e-02;
  Gam(3, 0) = 2.4212380706095346e-01;
  Gam(3, 1) = -1.2232505839045147e+00;
  Gam(3, 2) = 5.4526025533510214e-01;
  Gam.diagonal().setConstant(g);
  Eigen::RowVector4d b, bh;
  b << 2.4212380706095346e-01, -1.2232505839045147e+00, 1.5452602553351023e+00,
      4.3586652150845900e-01;
  bh << 3.7810903145819369e-01, -9.6042292212423178e-02, 5.0000000000000000e-01,
      2.1793326075422950e-01;
  const Eigen::Matrix4d Ginv = Gam.inverse();
  const Eigen::Matrix4d At = A * Ginv;
  const Eigen::RowVector4d m = b * Ginv, mh = bh * Ginv;
  t.stages = 4;
  t.order = 3;
  t.embedded_order = 2;
  t.gamma = g;
  for (int i = 0; i < 4; ++i) {
    t.alpha[i] = A.row(i).sum();
    t.m[i] = m(i);
    t.mhat[i] = mh(i);
    for (int j = 0; j < i; ++j) {
      t.a[i][j] = At(i, j);
      t.c[i][j] = -Ginv(i, j);
    }
  }
  return t;
}

// System concept (arrays have size() entries unless stated; t is the step count):
//   Eigen::Index size() const;
//   int rank() const;                          // r ≤ kMaxCouplingRank
//   const double* coupling(int k) const;       // v_k of J = diag(jd) + Σ_k u_k v_kᵀ
//   int linear_scalars() const;                // L ≤ kMaxLinearScalars
//   const double* scalar_weights(int l) const; // w_l: the system needs s_l = Σ_i w_li y_i
//   int accumulators() const;                  // A ≤ kMaxAccumulators
//   int outputs() const;                       // recorded quantities (risk, modes, ...)
//   bool prepare(double t, const double* y, const double* s);
//       global quantities of state y at time t given its linear sums s; false when not finite
//   void evaluate(Eigen::Index begin, Eigen::Index end, const double* y, double* f, float* jd,
//                 float* u, double* acc) const;
//       on [begin, end) at the prepared state: f = dy/dt, and (when not null) jd = diag ∂f/∂y
//       and u_k (row k at u + k·size()); adds its A sums into acc
//   void observe(const double* y, const double* f, const double* acc, double* value,
//                double* rate) const;
//       recorded quantities and their d/dt at the prepared and fully evaluated state
//   const double* scale_floor() const;   (optional)
//       per-component floor under |y| in the relative tolerance (e.g. for components that
//       cross zero): the error of component i is measured against
//       abs_tol + rel_tol·max(|y_i|, |y_i'|, floor_i)
//   bool linear_coupling_by_differences() const;   (optional)
//       true: the low-rank part is instead u_l vᵀ_l with v_l = scalar_weights(l) and
//       u_l = ∂f/∂s_l by a one-sided difference in the linear sum s_l (one extra prepare and
//       evaluation per sum at each accepted state, counted as evaluations), l < L
//   bool dense_output_from_values() const;   (optional)
//       true: the dense output takes its end slopes from the quadratic through the last three
//       step ends instead of the recorded rates (for systems whose stiff components make the
//       rates at a step end unreliable; see quadratic_slopes)
//   int dense_block() const;   (optional, with dense_jacobian())
//   const double* dense_jacobian() const;
//       the leading dense_block() = b components get a dense b×b Jacobian block (row-major
//       ∂f_i/∂y_j, i, j < b, valid after an evaluate with jd on the chunk holding them) in
//       place of their jd entries: the stage equations of those components are solved with an
//       LU factorisation of I/(hγ) − sJ_b once per step (for a small group of strongly coupled,
//       stiff components whose diagonal alone misleads the W-method)
//   bool blown_up() const;
//       at an accepted, prepared state: true when the dynamics have left any sensible range
//       (e.g. the risk grew by orders of magnitude); the run then ends as `diverged`
template <class System>
class LogRosenbrock {
 public:
  LogRosenbrock(System& system, LogRosenbrockOptions options)
      : sys_(system), opt_(options), tab_(rosenbrock_tableau(options.method)), n_(system.size()) {
    y_.resize(n_);
    ys_.resize(n_);
    f0_.resize(n_);
    jd_.resize(n_);
    rank_ = sys_.rank();
    if constexpr (requires { sys_.linear_coupling_by_differences(); })
      if (sys_.linear_coupling_by_differences()) {
        rank_ = sys_.linear_scalars();
        fd_lin_ = true;
        fd_full_.assign(static_cast<std::size_t>(rank_) * n_, 0.0);
      }
    u_.resize(static_cast<std::size_t>(std::max(1, rank_)) * n_);
    for (int i = 0; i < tab_.stages; ++i) stage_[i].assign(n_, 0.0);
    for (auto* v : {&v0_, &m0_, &v1_, &m1_, &vr_}) v->assign(sys_.outputs(), 0.0);
    if constexpr (requires { sys_.dense_output_from_values(); })
      from_values_ = sys_.dense_output_from_values();
    if constexpr (requires { sys_.dense_block(); })
      nb_ = std::min<Eigen::Index>(sys_.dense_block(), n_);
    jb_.setZero(nb_, nb_);
    xb_.setZero(nb_);
  }

  /// Integrates y from t = 0 to record_times.back() (ascending, ≥ 0) and calls
  /// record(i, values) with the system's outputs at each record time (return false to stop).
  /// On return y holds the state at the last accepted step.
  template <class Record>
  LogRosenbrockStats integrate(Eigen::Ref<Eigen::VectorXd> y,
                               const std::vector<double>& record_times, Record&& record) {
    LogRosenbrockStats stats;
    const int n_out = sys_.outputs();
    if (record_times.empty()) return stats;
    std::copy(y.data(), y.data() + n_, y_.data());
    const double tau_end = std::log1p(record_times.back());

    double tau = 0.0;
    hp_ = 0.0;
    if (!prepare_and_evaluate(0.0, y_.data(), stats) || sys_.blown_up()) {
      stats.status = RunStatus::diverged;
      stats.message = "the initial state is not finite";
      return finish(stats, y);
    }
    sys_.observe(y_.data(), f0_.data(), acc_.data(), v0_.data(), m0_.data());  // d/dτ = d/dt
    std::size_t next = 0;
    while (next < record_times.size() && record_times[next] <= 0.0) {
      if (!record(next, static_cast<const double*>(v0_.data()))) return finish(stats, y);
      ++next;
    }

    double h = opt_.fixed_step > 0.0 ? opt_.fixed_step : initial_step();
    const double exponent = 1.0 / (tab_.embedded_order + 1);
    bool last_rejected = false;
    while (next < record_times.size() && tau < tau_end) {
      if (stats.steps + stats.rejected >= opt_.max_steps) {
        stats.status = RunStatus::stalled;
        stats.message =
            "the ODE integrator reached its step limit (" + std::to_string(opt_.max_steps) +
            " steps) at step t = " + std::to_string(std::expm1(tau)) + "; loosen theory.rel_tol";
        return finish(stats, y);
      }
      const bool at_end = tau + h >= tau_end * (1.0 - 1e-14);
      if (at_end) h = tau_end - tau;
      const double t1 = std::expm1(tau + h);
      const double err = attempt_step(tau, h, stats);
      if (debug_) std::fprintf(stderr, "tau %.4f h %.3e err %.3e\n", tau, h, err);
      const bool accept = opt_.fixed_step > 0.0 ? std::isfinite(err) : err <= 1.0;
      if (accept) {
        // ys_ holds y_{n+1}: evaluate there (f, J) and take it as the current state.
        if (!prepare_and_evaluate(t1, ys_.data(), stats) || sys_.blown_up()) {
          stats.status = RunStatus::diverged;
          stats.message = "the state stopped being finite near step t = " + std::to_string(t1) +
                          "; lower optimizer.lr (the dynamics are unstable)";
          return finish(stats, y);
        }
        std::swap(y_, ys_);
        sys_.observe(y_.data(), f0_.data(), acc_.data(), v1_.data(), m1_.data());
        if (debug_)
          std::fprintf(stderr, "accepted t %.9g value0 %.12g rate0 %.6g\n", t1, v1_[0], m1_[0]);
        for (int q = 0; q < n_out; ++q) m1_[q] *= 1.0 + t1;  // d/dτ = (1 + t) d/dt
        const double tau1 = at_end ? tau_end : tau + h;
        while (next < record_times.size()) {
          const double tau_r = std::log1p(record_times[next]);
          if (tau_r > tau1 && !at_end) break;
          const double theta = std::clamp((tau_r - tau) / h, 0.0, 1.0);
          hermite(theta, h, vr_.data(), n_out);
          if (!record(next, static_cast<const double*>(vr_.data()))) return finish(stats, y);
          ++next;
        }
        vp_ = v0_;  // the step's start becomes the previous step end
        hp_ = h;
        std::swap(v0_, v1_);
        std::swap(m0_, m1_);
        tau = tau1;
        ++stats.steps;
        if (opt_.fixed_step <= 0.0) {
          double fac = err > 0.0 ? 0.9 * std::pow(err, -exponent) : 5.0;
          fac = std::clamp(fac, 0.2, last_rejected ? 1.0 : 5.0);
          h = std::min(h * fac, opt_.max_step);
        }
        last_rejected = false;
      } else {
        if (opt_.fixed_step > 0.0) {
          stats.status = RunStatus::diverged;
          stats.message = "the state stopped being finite near step t = " + std::to_string(t1) +
                          "; lower optimizer.lr (the dynamics are unstable)";
          return finish(stats, y);
        }
        ++stats.rejected;
        last_rejected = true;
        h *= std::isfinite(err) ? std::clamp(0.9 * std::pow(err, -exponent), 0.1, 0.9) : 0.1;
        if (h < 1e-13 * std::max(1.0, tau)) {
          stats.status = RunStatus::stalled;
          stats.message = "the ODE integrator could not meet the tolerance near step t = " +
                          std::to_string(std::expm1(tau)) +
                          " (step size underflow); loosen theory.rel_tol or lower optimizer.lr";
          return finish(stats, y);
        }
      }
    }
    return finish(stats, y);
  }

 private:
  using Small =
      Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, 0, kMaxCouplingRank, kMaxCouplingRank>;
  using SmallVec = Eigen::Matrix<double, Eigen::Dynamic, 1, 0, kMaxCouplingRank, 1>;

  LogRosenbrockStats finish(LogRosenbrockStats& stats, Eigen::Ref<Eigen::VectorXd> y) {
    std::copy(y_.data(), y_.data() + n_, y.data());
    return stats;
  }

  // Cubic Hermite interpolation at τ_n + θh of each recorded quantity; a quantity positive at
  // both ends is interpolated as its logarithm (exact for a decay e^{−a t} locally in τ, which
  // a cubic in the value itself resolves badly over a large step).
  void hermite(double theta, double h, double* out, int n) const {
    const double t2 = theta * theta, t3 = t2 * theta;
    const double h00 = 2 * t3 - 3 * t2 + 1, h10 = t3 - 2 * t2 + theta;
    const double h01 = -2 * t3 + 3 * t2, h11 = t3 - t2;
    for (int q = 0; q < n; ++q) {
      if (v0_[q] > 0.0 && v1_[q] > 0.0) {
        const double l0 = std::log(v0_[q]), l1 = std::log(v1_[q]);
        double d0 = h * m0_[q] / v0_[q], d1 = h * m1_[q] / v1_[q];
        if ((from_values_ || !consistent(l1 - l0, d0, d1)) && hp_ > 0.0 && vp_[q] > 0.0)
          quadratic_slopes(std::log(vp_[q]), l0, l1, h, d0, d1);
        limit_slopes(l1 - l0, d0, d1);
        const double l = h00 * l0 + h10 * d0 + h01 * l1 + h11 * d1;
        out[q] = std::exp(l);
        if (debug_ && !std::isfinite(out[q]))
          std::fprintf(stderr, "hermite q %d theta %g h %g v0 %g m0 %g v1 %g m1 %g\n", q, theta, h,
                       v0_[q], m0_[q], v1_[q], m1_[q]);
      } else {
        double d0 = h * m0_[q], d1 = h * m1_[q];
        if ((from_values_ || !consistent(v1_[q] - v0_[q], d0, d1)) && hp_ > 0.0)
          quadratic_slopes(vp_[q], v0_[q], v1_[q], h, d0, d1);
        limit_slopes(v1_[q] - v0_[q], d0, d1);
        out[q] = h00 * v0_[q] + h10 * d0 + h01 * v1_[q] + h11 * d1;
      }
    }
  }

  // Fritsch–Carlson limiter on the end slopes d0, d1 (per step) of a cubic Hermite over a step
  // whose values differ by `delta`: slopes against the chord's sign are set to 0 and slopes
  // over three times the chord are scaled down, so the interpolant stays between its end
  // values. A stiff component a little off its slow manifold at a step end makes f there (and
  // so the recorded rates) far larger than the actual change of the quantity over the step;
  // unlimited, the dense output then swings by up to percents between records. Slopes that
  // agree with the chord (α, β ∈ [0, 3], α² + β² ≤ 9) are left alone.
  // End slopes that agree with the chord (those limit_slopes leaves alone).
  static bool consistent(double delta, double d0, double d1) {
    if (delta == 0.0) return d0 == 0.0 && d1 == 0.0;
    const double a = d0 / delta, b = d1 / delta;
    return a >= 0.0 && b >= 0.0 && a * a + b * b <= 9.0;
  }

  // In their place (the recorded rates are then not the quantity's actual rate of change; see
  // limit_slopes), the end slopes of the quadratic through the previous step end (at −h_prev),
  // the step's start (0) and its end (h), per step: a second-order estimate from values only.
  void quadratic_slopes(double vp, double v0, double v1, double h, double& d0, double& d1) const {
    const double f01 = (v1 - v0) / h, fp0 = (v0 - vp) / hp_;
    const double f2 = (f01 - fp0) / (h + hp_);
    d0 = h * (f01 - f2 * h);
    d1 = h * (f01 + f2 * h);
  }

  static void limit_slopes(double delta, double& d0, double& d1) {
    if (delta == 0.0) {
      d0 = d1 = 0.0;
      return;
    }
    const double a = d0 / delta, b = d1 / delta;
    if (a < 0.0) d0 = 0.0;
    if (b < 0.0) d1 = 0.0;
    const double r2 = std::max(a, 0.0) * std::max(a, 0.0) + std::max(b, 0.0) * std::max(b, 0.0);
    if (r2 > 9.0) {
      const double scale = 3.0 / std::sqrt(r2);
      d0 *= scale;
      d1 *= scale;
    }
  }

  // Linear sums s_l = Σ_i w_li y_i of a state.
  std::array<double, kMaxLinearScalars> linear_sums(const double* y) {
    const int L = sys_.linear_scalars();
    std::array<const double*, kMaxLinearScalars> w{};
    for (int l = 0; l < L; ++l) w[l] = sys_.scalar_weights(l);
    return chunked_reduce<kMaxLinearScalars>(n_, partials_,
                                             [&](Eigen::Index b, Eigen::Index e, double* acc) {
                                               for (int l = 0; l < L; ++l) {
                                                 double s = 0.0;
                                                 for (Eigen::Index i = b; i < e; ++i)
                                                   s += w[l][i] * y[i];
                                                 acc[l] = s;
                                               }
                                             });
  }

  // Prepares the system at (t, y) and evaluates f, jd, u into f0_, jd_, u_ (and acc_).
  bool prepare_and_evaluate(double t, const double* y, LogRosenbrockStats& stats) {
    const auto s = linear_sums(y);
    for (int l = 0; l < sys_.linear_scalars(); ++l)
      if (!std::isfinite(s[l])) return false;
    // Coupling through the linear sums by differences: f at s + δ_l e_l over the whole state.
    std::array<double, kMaxLinearScalars> dl{};
    if (fd_lin_)
      for (int l = 0; l < rank_; ++l) {
        auto sl = s;
        dl[l] = 1e-7 * std::abs(s[l]) + 1e-300;
        sl[l] += dl[l];
        const bool ok = sys_.prepare(t, y, sl.data());
        ++stats.evaluations;
        double* fl = fd_full_.data() + static_cast<std::size_t>(l) * n_;
        if (!ok) {
          dl[l] = 0.0;
          continue;
        }
        chunked_reduce<kMaxAccumulators>(n_, partials_,
                                         [&](Eigen::Index b, Eigen::Index e, double* acc) {
                                           sys_.evaluate(b, e, y, fl, nullptr, nullptr, acc);
                                         });
      }
    if (!sys_.prepare(t, y, s.data())) return false;
    ++stats.evaluations;
    const int A = sys_.accumulators();
    float* u = u_.data();
    const auto sums = chunked_reduce<kMaxAccumulators + 1>(
        n_, partials_, [&](Eigen::Index b, Eigen::Index e, double* acc) {
          sys_.evaluate(b, e, y, f0_.data(), jd_.data(), u, acc);
          double bad = 0.0;
          for (Eigen::Index i = b; i < e; ++i) bad += std::isfinite(f0_[i]) ? 0.0 : 1.0;
          acc[kMaxAccumulators] = bad;
        });
    for (int a = 0; a < A; ++a) acc_[a] = sums[a];
    if constexpr (requires { sys_.dense_jacobian(); })
      if (nb_ > 0)
        jb_ = Eigen::Map<
            const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
            sys_.dense_jacobian(), nb_, nb_);
    if (fd_lin_)
      for (int l = 0; l < rank_; ++l) {
        const double* fl = fd_full_.data() + static_cast<std::size_t>(l) * n_;
        float* ul = u_.data() + static_cast<std::size_t>(l) * n_;
        const double inv = dl[l] > 0.0 ? 1.0 / dl[l] : 0.0;
        chunked_for(n_, [&](Eigen::Index b, Eigen::Index e) {
          for (Eigen::Index i = b; i < e; ++i)
            ul[i] = static_cast<float>(inv > 0.0 ? (fl[i] - f0_[i]) * inv : 0.0);
        });
      }
    bool finite = sums[kMaxAccumulators] == 0.0;
    for (int a = 0; a < A; ++a) finite = finite && std::isfinite(acc_[a]);
    return finite;
  }

  double initial_step() {
    // Max-norm sizes of y and dy/dτ (s = 1 at t = 0): Hairer–Nørsett–Wanner's first guess.
    const double rtol = opt_.rel_tol, atol = opt_.abs_tol;
    const double* y = y_.data();
    const double* f = f0_.data();
    const auto r = chunked_reduce<2>(n_, partials_,
                                     [&](Eigen::Index b, Eigen::Index e, double* acc) {
                                       for (Eigen::Index i = b; i < e; ++i) {
                                         const double sc = atol + rtol * std::abs(y[i]);
                                         acc[0] = std::max(acc[0], std::abs(y[i]) / sc);
                                         acc[1] = std::max(acc[1], std::abs(f[i]) / sc);
                                       }
                                     },
                                     {true, true});
    const double h = (r[0] < 1e-5 || r[1] < 1e-5) ? 1e-6 : 0.01 * r[0] / r[1];
    return std::clamp(h, 1e-8, opt_.max_step);
  }

  // w = s0 (I − s0 G)⁻¹ p: the Woodbury correction of M = D − s0 U Vᵀ, so that
  // M⁻¹ r = D⁻¹ (r + U w) with D = I/(hγ) − s0 diag(jd), G = Vᵀ D⁻¹ U, p = Vᵀ D⁻¹ r.
  SmallVec woodbury(const Small& G, const double* p, double s0) const {
    const int r = rank_;
    SmallVec w(r);
    if (r == 0) return w;
    SmallVec pv(r);
    for (int k = 0; k < r; ++k) pv(k) = p[k];
    const Small M = Small::Identity(r, r) - s0 * G;
    w = s0 * M.partialPivLu().solve(pv);
    return w;
  }

  // One step of size h from (τ, y_) with f0_, jd_, u_ at its start; writes y_{n+1} into ys_ and
  // returns the scaled error (max norm; ∞ when a stage is not finite).
  double attempt_step(double tau, double h, LogRosenbrockStats& stats) {
    const bool low_rank = rank_ > 0;
    if (tab_.stages == 4)
      return low_rank ? step_t<4, true>(tau, h, stats) : step_t<4, false>(tau, h, stats);
    return low_rank ? step_t<2, true>(tau, h, stats) : step_t<2, false>(tau, h, stats);
  }

  // The step with the stage count S and the presence of a low-rank Jacobian part fixed at
  // compile time, so that the per-element loops unroll and vectorise. Sweeps: (0) G, p1 when
  // low-rank; then per stage i = 1..S−1 a formation sweep (finish u_{i−1} = D⁻¹(rhs + U w),
  // form Y_i and its linear sums) and an evaluation sweep (rhs_i = s_i f(Y_i) +
  // Σ_j (c_ij/h) u_j, and p_i when low-rank); a final sweep forms y_{n+1} and the error.
  template <int S, bool LowRank>
  double step_t(double tau, double h, LogRosenbrockStats& stats) {
    constexpr int R = kMaxCouplingRank;
    const RosenbrockTableau& T = tab_;
    const int r = LowRank ? rank_ : 0;
    const int L = sys_.linear_scalars();
    const Eigen::Index n = n_;
    const double s0 = std::exp(tau);
    // J_τ = s(τ)·J_t grows like e^τ within the step; the W-method may use any J, and taking
    // s at the middle of the step halves the mismatch in the stiff components.
    const double sj = std::exp(tau + 0.5 * h);
    const double inv_hg = 1.0 / (h * T.gamma);
    std::array<const double*, R> v{};
    for (int k = 0; k < r; ++k) v[k] = fd_lin_ ? sys_.scalar_weights(k) : sys_.coupling(k);
    std::array<const double*, kMaxLinearScalars> wl{};
    for (int l = 0; l < L; ++l) wl[l] = sys_.scalar_weights(l);
    const double* __restrict y = y_.data();
    const double* __restrict f0 = f0_.data();
    const float* __restrict jd = jd_.data();
    const float* __restrict U = u_.data();
    double* __restrict ys = ys_.data();
    std::array<double*, kMaxStages> st{};
    for (int i = 0; i < S; ++i) st[i] = stage_[i].data();

    // D = I/(hγ) − s diag(jd), with the dense block D_b = I/(hγ) − s J_b on [0, nb): its LU, and
    // with a low-rank part Z = D_b⁻ᵀ V_b, so that Vᵀ D⁻¹ x sums z_k·x over the block.
    const Eigen::Index nb = nb_;
    Eigen::Matrix<double, Eigen::Dynamic, R> Z(nb, R);
    if (nb > 0) {
      Eigen::MatrixXd M = -sj * jb_;
      M.diagonal().array() += inv_hg;
      lu_.compute(M);
      for (int k = 0; k < r; ++k)
        Z.col(k) = lu_.transpose().solve(Eigen::Map<const Eigen::VectorXd>(v[k], nb));
    }
    auto vd_of = [&](int k, Eigen::Index i, double di) { return i < nb ? Z(i, k) : v[k][i] * di; };

    Small G(r, r);
    SmallVec w(r);
    // The dense block's finished stage: x_b = D_b⁻¹ (rhs_b + U_b w), rhs_b = s0 f0 for the first
    // stage, else the stage's right-hand side held in place.
    auto solve_block = [&](int done) {
      if (nb == 0) return;
      Eigen::VectorXd rhs(nb);
      for (Eigen::Index q = 0; q < nb; ++q) {
        double x = done == 0 ? s0 * f0[q] : st[done][q];
        for (int k = 0; k < r; ++k) x += U[k * n + q] * w(k);
        rhs(q) = x;
      }
      xb_ = lu_.solve(rhs);
    };
    if constexpr (LowRank) {
      const auto sums =
          chunked_reduce<R * R + R>(n, partials_, [&](Eigen::Index b, Eigen::Index e, double* acc) {
            for (Eigen::Index i = b; i < e; ++i) {
              const double di = 1.0 / (inv_hg - sj * jd[i]);
              for (int k = 0; k < r; ++k) {
                const double vd = vd_of(k, i, di);
                acc[R * R + k] += vd * s0 * f0[i];
                for (int l = 0; l < r; ++l) acc[k * R + l] += vd * U[l * n + i];
              }
            }
          });
      for (int k = 0; k < r; ++k)
        for (int l = 0; l < r; ++l) G(k, l) = sums[k * R + l];
      w = woodbury(G, sums.data() + R * R, sj);
    }

    // Formation sweep for stage I (1 ≤ I ≤ S−1), or the final sweep (I = S).
    auto form = [&]<int I>() -> double {
      constexpr int done = I - 1;
      double* __restrict ud = st[done];
      const double* __restrict u0 = st[0];
      const double* __restrict u1 = S > 1 ? st[1] : st[0];
      const double* __restrict u2 = S > 2 ? st[2] : st[0];
      const double* __restrict u3 = S > 3 ? st[3] : st[0];
      auto finish_u = [&](Eigen::Index q) {
        double num = done == 0 ? s0 * f0[q] : ud[q];
        if constexpr (LowRank)
          for (int k = 0; k < r; ++k) num += U[k * n + q] * w(k);
        ud[q] = num / (inv_hg - sj * jd[q]);
      };
      auto combo = [&](const double(&c)[kMaxStages], Eigen::Index q, int upto) {
        double x = 0.0;
        if (upto > 0) x += c[0] * u0[q];
        if (upto > 1) x += c[1] * u1[q];
        if (upto > 2) x += c[2] * u2[q];
        if (upto > 3) x += c[3] * u3[q];
        return x;
      };
      solve_block(done);
      // [b, e) ∩ dense block: the stage is x_b; returns where the diagonal part starts.
      auto block_part = [&](Eigen::Index b, Eigen::Index e) {
        const Eigen::Index stop = std::min(e, nb);
        for (Eigen::Index q = b; q < stop; ++q) ud[q] = xb_(q);
        return std::max(b, stop);
      };
      if constexpr (I < S) {
        const auto sums = chunked_reduce<kMaxLinearScalars>(
            n, partials_, [&](Eigen::Index b, Eigen::Index e, double* acc) {
              if constexpr (!LowRank) {
                const Eigen::Index bd = block_part(b, e);
                for (Eigen::Index q = b; q < bd; ++q) ys[q] = y[q] + combo(T.a[I], q, I);
                form_kernel<done>(bd, e, y, f0, ud, jd, st[0], S > 1 ? st[1] : st[0],
                                  S > 2 ? st[2] : st[0], ys, s0, sj, inv_hg, T.a[I]);
              } else {
                for (Eigen::Index q = b; q < e; ++q) {
                  if (q < nb)
                    ud[q] = xb_(q);
                  else
                    finish_u(q);
                  ys[q] = y[q] + combo(T.a[I], q, I);
                }
              }
              for (int l = 0; l < L; ++l) {
                double sum = 0.0;
                for (Eigen::Index q = b; q < e; ++q) sum += wl[l][q] * ys[q];
                acc[l] = sum;
              }
            });
        for (int l = 0; l < L; ++l)
          if (!std::isfinite(sums[l])) return std::numeric_limits<double>::infinity();
        const double ti = std::expm1(tau + T.alpha[I] * h);
        if (!sys_.prepare(ti, ys, sums.data())) return std::numeric_limits<double>::infinity();
        ++stats.evaluations;
        const double si = 1.0 + ti;
        double cs[kMaxStages] = {};
        for (int j = 0; j < I; ++j) cs[j] = T.c[I][j] / h;
        double* __restrict ri = st[I];
        const auto ps =
            chunked_reduce<R + 1>(n, partials_, [&](Eigen::Index b, Eigen::Index e, double* acc) {
              double scratch[kMaxAccumulators] = {};
              sys_.evaluate(b, e, ys, ri, nullptr, nullptr, scratch);
              double bad = 0.0;
              for (Eigen::Index q = b; q < e; ++q) {
                const double rq = si * ri[q] + combo(cs, q, I);
                ri[q] = rq;
                bad += std::isfinite(rq) ? 0.0 : 1.0;
              }
              acc[R] = bad;
              if constexpr (LowRank)
                for (Eigen::Index q = b; q < e; ++q) {
                  const double di = 1.0 / (inv_hg - sj * jd[q]);
                  for (int k = 0; k < r; ++k) acc[k] += vd_of(k, q, di) * ri[q];
                }
            });
        if (ps[R] > 0.0) return std::numeric_limits<double>::infinity();
        if constexpr (LowRank) w = woodbury(G, ps.data(), sj);
        return 0.0;
      } else {
        const double rtol = opt_.local_safety * opt_.rel_tol;
        const double atol = opt_.local_safety * opt_.abs_tol;
        const double* floor = nullptr;
        if constexpr (requires { sys_.scale_floor(); }) floor = sys_.scale_floor();
        double me[kMaxStages] = {};
        for (int j = 0; j < S; ++j) me[j] = T.m[j] - T.mhat[j];
        const auto err = chunked_reduce<1>(
            n, partials_,
            [&](Eigen::Index b, Eigen::Index e, double* acc) {
              double emax = 0.0, bad = 0.0;
              if constexpr (!LowRank) {
                const double* p1 = S > 1 ? st[1] : st[0];
                const double* p2 = S > 2 ? st[2] : st[0];
                const Eigen::Index bd = block_part(b, e);
                for (Eigen::Index q = b; q < bd; ++q) {
                  const double ynew = y[q] + combo(T.m, q, S);
                  ys[q] = ynew;
                  double mag = std::max(std::abs(y[q]), std::abs(ynew));
                  if (floor != nullptr) mag = std::max(mag, floor[q]);
                  const double ratio = std::abs(combo(me, q, S)) / (atol + rtol * mag);
                  emax = std::max(emax, ratio);
                  bad += ratio == ratio ? 0.0 : 1.0;  // NaN
                }
                emax = std::max(
                    emax, floor != nullptr
                              ? error_kernel<S - 1, true>(bd, e, y, ud, jd, st[0], p1, p2, ys,
                                                          floor, sj, inv_hg, T.m, me, atol, rtol)
                              : error_kernel<S - 1, false>(bd, e, y, ud, jd, st[0], p1, p2, ys,
                                                           floor, sj, inv_hg, T.m, me, atol, rtol));
              } else {
                for (Eigen::Index q = b; q < e; ++q) {
                  if (q < nb)
                    ud[q] = xb_(q);
                  else
                    finish_u(q);
                  const double ynew = y[q] + combo(T.m, q, S);
                  const double est = combo(me, q, S);
                  ys[q] = ynew;
                  double mag = std::max(std::abs(y[q]), std::abs(ynew));
                  if (floor != nullptr) mag = std::max(mag, floor[q]);
                  const double ratio = std::abs(est) / (atol + rtol * mag);
                  emax = std::max(emax, ratio);
                  bad += ratio == ratio ? 0.0 : 1.0;  // NaN
                }
              }
              acc[0] = bad > 0.0 ? HUGE_VAL : emax;
              if (debug_ && emax > 0.5)
                for (Eigen::Index q = b; q < e; ++q) {
                  double mag = std::max(std::abs(y[q]), std::abs(ys[q]));
                  if (floor != nullptr) mag = std::max(mag, floor[q]);
                  const double ratio = std::abs(combo(me, q, S)) / (atol + rtol * mag);
                  if (ratio >= 0.999 * emax)
                    std::fprintf(stderr, "  worst %ld y %.4e ynew %.4e ratio %.3g\n", (long)q, y[q],
                                 ys[q], ratio);
                }
            },
            {true});
        return err[0];
      }
    };
    double bad = 0.0;
    if constexpr (S >= 2) bad = form.template operator()<1>();
    if constexpr (S >= 3) {
      if (bad == 0.0) bad = form.template operator()<2>();
    }
    if constexpr (S >= 4) {
      if (bad == 0.0) bad = form.template operator()<3>();
    }
    if (bad != 0.0) return bad;
    return form.template operator()<S>();
  }

  // Vectorisable kernels of the sweeps without a low-rank part (the common case): finish the
  // last stage u_d = D⁻¹ rhs (rhs is s0 f0 for the first stage, else read in place), and form
  // y + Σ_j c_j u_j with the finished stage as the last term. Distinct restrict pointers let the
  // compiler vectorise; the finished stage is used from a register, never re-read.
  template <int Done>
  static void form_kernel(Eigen::Index b, Eigen::Index e, const double* __restrict y,
                          const double* __restrict f0, double* __restrict ud,
                          const float* __restrict jd, const double* __restrict p0,
                          const double* __restrict p1, const double* __restrict p2,
                          double* __restrict out, double s0, double sj, double inv_hg,
                          const double* c) {
    const double c0 = c[0], c1 = c[1], c2 = c[2], cd = c[Done];
    for (Eigen::Index q = b; q < e; ++q) {
      const double num = Done == 0 ? s0 * f0[q] : ud[q];
      const double uq = num / (inv_hg - sj * static_cast<double>(jd[q]));
      ud[q] = uq;
      double x = y[q] + cd * uq;
      if constexpr (Done > 0) x += c0 * p0[q];
      if constexpr (Done > 1) x += c1 * p1[q];
      if constexpr (Done > 2) x += c2 * p2[q];
      out[q] = x;
    }
  }

  // Final sweep kernel: y_{n+1} and the scaled error (max over the chunk; NaN → ∞).
  template <int Done, bool Floor>
  static double error_kernel(Eigen::Index b, Eigen::Index e, const double* __restrict y,
                             double* __restrict ud, const float* __restrict jd,
                             const double* __restrict p0, const double* __restrict p1,
                             const double* __restrict p2, double* __restrict ys,
                             const double* __restrict floor, double sj, double inv_hg,
                             const double* m, const double* me, double atol, double rtol) {
    double emax = 0.0, bad = 0.0;
    for (Eigen::Index q = b; q < e; ++q) {
      const double uq = ud[q] / (inv_hg - sj * static_cast<double>(jd[q]));
      ud[q] = uq;
      double yn = y[q] + m[Done] * uq, est = me[Done] * uq;
      if constexpr (Done > 0) yn += m[0] * p0[q], est += me[0] * p0[q];
      if constexpr (Done > 1) yn += m[1] * p1[q], est += me[1] * p1[q];
      if constexpr (Done > 2) yn += m[2] * p2[q], est += me[2] * p2[q];
      ys[q] = yn;
      double mag = std::max(std::abs(y[q]), std::abs(yn));
      if constexpr (Floor) mag = std::max(mag, floor[q]);
      const double ratio = std::abs(est) / (atol + rtol * mag);
      emax = std::max(emax, ratio);
      bad += ratio == ratio ? 0.0 : 1.0;
    }
    return bad > 0.0 ? HUGE_VAL : emax;
  }

  System& sys_;
  LogRosenbrockOptions opt_;
  RosenbrockTableau tab_;
  Eigen::Index n_;
  std::vector<double> y_, ys_, f0_;
  std::array<std::vector<double>, kMaxStages> stage_;
  std::vector<float> jd_, u_;
  std::vector<double> partials_;
  std::array<double, kMaxAccumulators> acc_{};
  int rank_ = 0;         // r of the low-rank part: sys_.rank(), or L by differences
  bool fd_lin_ = false;  // u_l = ∂f/∂s_l by differences (linear_coupling_by_differences())
  std::vector<double> fd_full_;
  // Dense Jacobian block (dense_block()): J_b, its LU, the solved stage.
  Eigen::Index nb_ = 0;
  Eigen::MatrixXd jb_;
  Eigen::PartialPivLU<Eigen::MatrixXd> lu_;
  Eigen::VectorXd xb_;
  std::vector<double> v0_, m0_, v1_, m1_, vr_;
  std::vector<double> vp_;  // recorded quantities at the previous step end, hp_ before v0_
  double hp_ = 0.0;
  bool from_values_ = false;  // dense_output_from_values(): quadratic slopes after the 1st step //
                              // recorded quantities and τ-rates at step ends
  bool debug_ = std::getenv("SIGNDYN_ODE_TRACE") != nullptr;
};

}  // namespace signdyn::detail
