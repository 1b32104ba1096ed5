// Tests of the log-time ROS2 integrator (solvers/ode/log_rosenbrock.hpp) on linear systems
// with known solutions, and of the SGD ODE built on it against its exact references.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <tuple>
#include <unsupported/Eigen/MatrixFunctions>

#include "../../../solvers/ode/log_rosenbrock.hpp"
#include "signdyn/dynamics.hpp"

namespace signdyn {
namespace {

// The test systems observe their states directly: value = y, rate = f.
void observe_states(Eigen::Index n, const double* y, const double* f, double* value, double* rate) {
  for (Eigen::Index i = 0; i < n; ++i) {
    value[i] = y[i];
    rate[i] = f[i];
  }
}

using detail::LogRosenbrock;
using detail::LogRosenbrockOptions;

// dy/dt = η(t) (diag(−a) + Σ_k u_k v_kᵀ) y with η(t) = (1 + t/k0)^(−g): the exact solution is
// y(t) = exp(M ∫₀ᵗ η) y0. `exact_jacobian = false` gives the integrator a wrong coupling in J
// (×0.5; the stiff diagonal stays exact): a W-method keeps its order with any J.
class LinearSystem {
 public:
  LinearSystem(Eigen::VectorXd a, Eigen::MatrixXd U, Eigen::MatrixXd V, double k0, double g,
               bool exact_jacobian)
      : a_(std::move(a)),
        U_(std::move(U)),
        V_(std::move(V)),
        k0_(k0),
        g_(g),
        exact_(exact_jacobian) {}

  Eigen::MatrixXd matrix() const {
    Eigen::MatrixXd M = U_ * V_.transpose();
    M.diagonal() -= a_;
    return M;
  }
  double eta_integral(double t) const {
    return k0_ / (1.0 - g_) * (std::pow(1.0 + t / k0_, 1.0 - g_) - 1.0);
  }

  Eigen::Index size() const { return a_.size(); }
  int rank() const { return static_cast<int>(U_.cols()); }
  const double* coupling(int k) const { return V_.col(k).data(); }
  int linear_scalars() const { return static_cast<int>(V_.cols()); }
  const double* scalar_weights(int l) const { return V_.col(l).data(); }
  int accumulators() const { return 0; }
  int outputs() const { return static_cast<int>(a_.size()); }
  bool prepare(double t, const double*, const double* s) {
    eta_ = std::pow(1.0 + t / k0_, -g_);
    for (Eigen::Index k = 0; k < V_.cols(); ++k) s_[k] = s[k];
    return true;
  }
  void evaluate(Eigen::Index b, Eigen::Index e, const double* y, double* f, float* jd, float* u,
                double*) const {
    for (Eigen::Index i = b; i < e; ++i) {
      double fi = -a_(i) * y[i];
      for (Eigen::Index k = 0; k < U_.cols(); ++k) fi += U_(i, k) * s_[k];
      f[i] = eta_ * fi;
      if (jd != nullptr) {
        const double dj = 1.0, uj = exact_ ? 1.0 : 0.5;
        jd[i] = static_cast<float>(-dj * eta_ * a_(i));
        for (int k = 0; k < rank(); ++k)
          u[k * size() + i] = static_cast<float>(uj * eta_ * U_(i, k));
      }
    }
  }
  void observe(const double* y, const double* f, const double*, double* value, double* rate) const {
    observe_states(size(), y, f, value, rate);
  }
  bool blown_up() const { return false; }

 private:
  Eigen::VectorXd a_;
  Eigen::MatrixXd U_, V_;
  double k0_, g_;
  bool exact_;
  double eta_ = 1.0;
  double s_[4] = {};
};

LinearSystem stiff_test_system(bool exact_jacobian, double rate_scale = 1.0) {
  // Rates from 1e-3 to 1e3 (stiff over the horizon) and a rank-2 coupling; all eigenvalues
  // of M are negative (−1e3 … −1.005e-3), and some components change sign along the way.
  Eigen::VectorXd a(6);
  a << 1e3, 30.0, 1.0, 0.1, 1e-2, 1e-3;
  a *= rate_scale;
  Eigen::MatrixXd U(6, 2), V(6, 2);
  U << 0.5, 0.1, 0.2, -0.3, 0.1, 0.05, -0.05, 0.02, 0.01, 0.02, 0.003, -0.001;
  U *= 0.02;
  V << 0.3, 0.0, 0.2, 0.5, 0.4, 0.1, 0.1, 0.3, 0.5, 0.2, 0.2, 0.9;
  return LinearSystem(a, U, V, 50.0, 0.3, exact_jacobian);
}

// Final-time max relative error of a fixed-step run against the matrix exponential.
double fixed_step_error(LinearSystem& sys, double h, double horizon,
                        detail::RosenbrockMethod method) {
  LogRosenbrockOptions o;
  o.method = method;
  o.fixed_step = h;
  LogRosenbrock<LinearSystem> integ(sys, o);
  Eigen::VectorXd y0 = Eigen::VectorXd::LinSpaced(sys.size(), 1.0, 2.0);
  const Eigen::VectorXd exact = (sys.matrix() * sys.eta_integral(horizon)).exp() * y0;
  Eigen::VectorXd last(sys.size());
  Eigen::VectorXd y = y0;
  const auto stats = integ.integrate(y, {0.0, horizon}, [&](std::size_t i, const double* v) {
    if (i == 1) last = Eigen::Map<const Eigen::VectorXd>(v, sys.size());
    return true;
  });
  EXPECT_EQ(stats.status, RunStatus::completed);
  const double err = ((last - exact).array() / exact.array()).abs().maxCoeff();
  if (std::getenv("SIGNDYN_TEST_VERBOSE"))
    std::printf("h %g method %d err %.3e exact %s\n", h, static_cast<int>(method), err, "");
  return err;
}

// ROS2 is second order in τ: halving the step divides the global error by ≈ 4.
TEST(LogRosenbrock, Ros2IsSecondOrderOnStiffLinearSystem) {
  LinearSystem sys = stiff_test_system(true);
  const auto m = detail::RosenbrockMethod::ros2;
  const double e1 = fixed_step_error(sys, 0.05, 1e4, m);
  const double e2 = fixed_step_error(sys, 0.025, 1e4, m);
  const double e3 = fixed_step_error(sys, 0.0125, 1e4, m);
  EXPECT_NEAR(std::log2(e1 / e2), 2.0, 0.3);
  EXPECT_NEAR(std::log2(e2 / e3), 2.0, 0.3);
}

// ROS34PW2 is third order in τ: halving the step divides the global error by ≈ 8.
TEST(LogRosenbrock, Ros34pw2IsThirdOrderOnStiffLinearSystem) {
  LinearSystem sys = stiff_test_system(true);
  const auto m = detail::RosenbrockMethod::ros34pw2;
  const double e1 = fixed_step_error(sys, 0.1, 1e4, m);
  const double e2 = fixed_step_error(sys, 0.05, 1e4, m);
  const double e3 = fixed_step_error(sys, 0.025, 1e4, m);
  EXPECT_NEAR(std::log2(e1 / e2), 3.0, 0.3);
  EXPECT_NEAR(std::log2(e2 / e3), 3.0, 0.3);
}

// W-method property: the orders hold with a wrong J (coupling ×0.5) on a non-stiff problem
// (rates ×1e-3, horizon t = 30, so h·|J| ≲ 1: the asymptotic regime of the order conditions).
TEST(LogRosenbrock, OrdersHoldWithApproximateJacobian) {
  LinearSystem sys = stiff_test_system(false, 1e-3);
  for (auto [m, order, h] : {std::tuple{detail::RosenbrockMethod::ros2, 2.0, 0.05},
                             std::tuple{detail::RosenbrockMethod::ros34pw2, 3.0, 0.2}}) {
    const double e2 = fixed_step_error(sys, h, 30.0, m);
    const double e3 = fixed_step_error(sys, h / 2, 30.0, m);
    const double e4 = fixed_step_error(sys, h / 4, 30.0, m);
    EXPECT_NEAR(std::log2(e2 / e3), order, 0.3);
    EXPECT_NEAR(std::log2(e3 / e4), order, 0.3);
  }
}

// Adaptive steps meet the tolerance: the global error (max norm relative to the solution's
// max norm; components cross zero) stays within a few tolerances at every record, including
// interpolated ones, and record times do not change the steps taken (dense output).
TEST(LogRosenbrock, AdaptiveErrorAndRecordsDoNotForceSteps) {
  LinearSystem sys = stiff_test_system(true);
  LogRosenbrockOptions o;
  o.rel_tol = 1e-6;
  o.abs_tol = 1e-14;
  const Eigen::VectorXd y0 = Eigen::VectorXd::LinSpaced(6, 1.0, 2.0);
  const Eigen::MatrixXd M = sys.matrix();
  std::vector<double> few = {0.0, 1e5}, many = {0.0};
  for (int i = 0; i <= 400; ++i) many.push_back(std::pow(10.0, 5.0 * i / 400.0));
  double max_err = 0.0;
  LogRosenbrock<LinearSystem> a(sys, o);
  Eigen::VectorXd y = y0;
  const auto sa = a.integrate(y, many, [&](std::size_t i, const double* v) {
    const Eigen::VectorXd exact = (M * sys.eta_integral(many[i])).exp() * y0;
    const Eigen::VectorXd got = Eigen::Map<const Eigen::VectorXd>(v, 6);
    max_err = std::max(max_err, (got - exact).cwiseAbs().maxCoeff() / exact.cwiseAbs().maxCoeff());
    return true;
  });
  LogRosenbrock<LinearSystem> b(sys, o);
  y = y0;
  const auto sb = b.integrate(y, few, [](std::size_t, const double*) { return true; });
  EXPECT_EQ(sa.steps, sb.steps);
  EXPECT_LT(max_err, 1e-5);   // interpolated records included
  EXPECT_LT(sa.steps, 5000);  // ≈ 3200 at 1e-6 over five decades
}

// The step limit ends a run as `stalled` with a message instead of looping.
TEST(LogRosenbrock, StepLimitIsAStatus) {
  LinearSystem sys = stiff_test_system(true);
  LogRosenbrockOptions o;
  o.rel_tol = 1e-12;
  o.max_steps = 50;
  LogRosenbrock<LinearSystem> integ(sys, o);
  Eigen::VectorXd y = Eigen::VectorXd::Ones(6);
  int records = 0;
  const auto stats = integ.integrate(y, {0.0, 1.0, 1e6}, [&](std::size_t, const double*) {
    ++records;
    return true;
  });
  EXPECT_EQ(stats.status, RunStatus::stalled);
  EXPECT_FALSE(stats.message.empty());
  EXPECT_GE(records, 1);
}

// dy/dt = η(t) (A y + U Vᵀ y), A = the dense 2×2 block B on components 0, 1 and diag(−a) on the
// rest. The integrator gets B as dense_block() (or, with `block = false`, only B's diagonal as
// jd) and the coupling U through the linear sums s = Vᵀy by differences.
class BlockSystem {
 public:
  BlockSystem(Eigen::Matrix2d B, Eigen::VectorXd a, Eigen::MatrixXd U, Eigen::MatrixXd V,
              bool block)
      : B_(B), a_(std::move(a)), U_(std::move(U)), V_(std::move(V)), block_(block) {}

  Eigen::MatrixXd matrix() const {
    Eigen::MatrixXd M = U_ * V_.transpose();
    M.diagonal().tail(a_.size()) -= a_;
    M.topLeftCorner(2, 2) += B_;
    return M;
  }
  double eta_integral(double t) const { return 50.0 / 0.7 * (std::pow(1.0 + t / 50.0, 0.7) - 1.0); }

  Eigen::Index size() const { return 2 + a_.size(); }
  int rank() const { return 0; }
  const double* coupling(int) const { return nullptr; }
  bool linear_coupling_by_differences() const { return true; }
  int dense_block() const { return block_ ? 2 : 0; }
  const double* dense_jacobian() const { return jac_; }
  int linear_scalars() const { return static_cast<int>(V_.cols()); }
  const double* scalar_weights(int l) const { return V_.col(l).data(); }
  int accumulators() const { return 0; }
  int outputs() const { return static_cast<int>(size()); }
  bool prepare(double t, const double*, const double* s) {
    eta_ = std::pow(1.0 + t / 50.0, -0.3);
    for (Eigen::Index k = 0; k < V_.cols(); ++k) s_[k] = s[k];
    return true;
  }
  void evaluate(Eigen::Index b, Eigen::Index e, const double* y, double* f, float* jd, float*,
                double*) const {
    for (Eigen::Index i = b; i < e; ++i) {
      double fi = i < 2 ? B_(i, 0) * y[0] + B_(i, 1) * y[1] : -a_(i - 2) * y[i];
      for (Eigen::Index k = 0; k < U_.cols(); ++k) fi += U_(i, k) * s_[k];
      f[i] = eta_ * fi;
      if (jd != nullptr) {
        jd[i] = static_cast<float>(eta_ * (i < 2 ? B_(i, i) : -a_(i - 2)));
        if (i < 2)
          for (int j = 0; j < 2; ++j) jac_[2 * i + j] = eta_ * B_(i, j);
      }
    }
  }
  void observe(const double* y, const double* f, const double*, double* value, double* rate) const {
    observe_states(size(), y, f, value, rate);
  }
  bool blown_up() const { return false; }

 private:
  Eigen::Matrix2d B_;
  Eigen::VectorXd a_;
  Eigen::MatrixXd U_, V_;
  bool block_;
  double eta_ = 1.0;
  double s_[4] = {};
  mutable double jac_[4] = {};
};

// A dense block with strong off-diagonal coupling (eigenvalues −10 and −1990 against a diagonal
// of −1000) and a rank-1 coupling through the linear sum: with the block and the coupling by
// differences the adaptive run meets the tolerance at every record; with the block's diagonal
// alone the step shrinks like 1/(1 + t) and it runs into the step limit.
TEST(LogRosenbrock, DenseBlockAndCouplingByDifferences) {
  Eigen::Matrix2d B;
  B << -1000.0, 990.0, 990.0, -1000.0;
  Eigen::VectorXd a(3);
  a << 30.0, 1.0, 1e-2;
  Eigen::MatrixXd U(5, 1), V(5, 1);
  U << 0.3, -0.2, 0.5, 0.1, 0.05;
  V << 0.4, 0.3, 0.2, 0.5, 0.9;
  U *= 0.5;
  LogRosenbrockOptions o;
  o.rel_tol = 1e-6;
  o.abs_tol = 1e-14;
  o.max_steps = 50000;  // measured: 3 350 steps with the block, the 10⁶ limit without it
  const Eigen::VectorXd y0 = Eigen::VectorXd::LinSpaced(5, 1.0, 2.0);
  std::vector<double> times = {0.0};
  for (int i = 0; i <= 200; ++i) times.push_back(std::pow(10.0, 4.0 * i / 200.0));
  std::int64_t steps[2] = {};
  for (int with_block = 0; with_block < 2; ++with_block) {
    BlockSystem sys(B, a, U, V, with_block == 1);
    const Eigen::MatrixXd M = sys.matrix();
    LogRosenbrock<BlockSystem> integ(sys, o);
    Eigen::VectorXd y = y0;
    double max_err = 0.0;
    const auto st = integ.integrate(y, times, [&](std::size_t i, const double* v) {
      const Eigen::VectorXd exact = (M * sys.eta_integral(times[i])).exp() * y0;
      const Eigen::VectorXd got = Eigen::Map<const Eigen::VectorXd>(v, 5);
      max_err =
          std::max(max_err, (got - exact).cwiseAbs().maxCoeff() / exact.cwiseAbs().maxCoeff());
      return true;
    });
    if (with_block == 1) {
      EXPECT_EQ(st.status, RunStatus::completed);
      EXPECT_LT(max_err, 1e-5);
    }
    steps[with_block] = st.steps;
    if (std::getenv("SIGNDYN_TEST_VERBOSE"))
      std::printf("block %d steps %lld evaluations %lld err %.3e\n", with_block,
                  static_cast<long long>(st.steps), static_cast<long long>(st.evaluations),
                  max_err);
  }
  EXPECT_LT(10 * steps[1], steps[0]);
}

Problem sgd_problem(Eigen::Index d, double alpha, double beta, double sigma) {
  ProblemSpec spec;
  spec.d = d;
  spec.m = d;
  spec.sigma = sigma;
  spec.alpha = alpha;
  spec.beta = beta;
  return make_problem(spec);
}

// At η = 1e-7 (ηλ_1 = 1e-7) the ODE matches the exact SGD map to ≤ 1e-6 relative over the
// curve: their gap is O(ηλ_1) at fixed ηt (here ηt ≤ 0.4).
TEST(SgdOdeRosenbrock, MatchesExactMapAtTinyLearningRate) {
  const Problem p = sgd_problem(16, 0.6, 0.4, 0.5);
  OptimizerSpec opt;
  opt.lr = 1e-7;
  opt.batch = 4;
  TheoryOptions o;
  o.record_steps = record_steps(4000000, 25);
  o.modes = record_modes(16, 0);
  o.solver = TheorySolver::exact_map;
  const Trajectory map = predict(p, opt, o);
  o.solver = TheorySolver::ode;
  o.rel_tol = 1e-8;
  const Trajectory ode = predict(p, opt, o);
  ASSERT_EQ(map.t.size(), ode.t.size());
  const double gap = ((map.risk - ode.risk).array() / map.risk.array()).abs().maxCoeff();
  EXPECT_LT(gap, 1e-6);
}

// Self-convergence over a long horizon with a schedule: halving the tolerance changes the
// risk by less than the tolerance.
TEST(SgdOdeRosenbrock, SelfConvergenceOverSevenDecades) {
  const Problem p = sgd_problem(1000, 0.6, 0.4, 0.5);
  OptimizerSpec opt;
  opt.lr = 0.2;
  opt.batch = 4;
  opt.schedule = Schedule{ScheduleKind::power, 1000.0, 0.3};
  TheoryOptions o;
  o.record_steps = record_steps(10000000, 100);
  o.modes = record_modes(1000, 8);
  o.solver = TheorySolver::ode;
  for (double tol : {1e-3, 1e-5}) {
    o.rel_tol = tol;
    o.abs_tol = 1e-14;
    const Trajectory coarse = predict(p, opt, o);
    o.rel_tol = tol / 2;
    const Trajectory fine = predict(p, opt, o);
    ASSERT_EQ(coarse.status, RunStatus::completed) << coarse.message;
    const double change = ((coarse.risk - fine.risk).array() / fine.risk.array()).abs().maxCoeff();
    EXPECT_LT(change, tol) << "rel_tol " << tol;
  }
}

}  // namespace
}  // namespace signdyn
