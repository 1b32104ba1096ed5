// Tests of the SGD deterministic dynamics (theory.md §2).
#include <gtest/gtest.h>

#include <cmath>

#include "signdyn/dynamics.hpp"
#include "signdyn/error.hpp"

namespace signdyn {
namespace {

Problem make_test_problem(Eigen::Index d, double alpha, double beta, double sigma) {
  ProblemSpec spec;
  spec.d = d;
  spec.m = d;
  spec.sigma = sigma;
  spec.alpha = alpha;
  spec.beta = beta;
  return make_problem(spec);
}

TheoryOptions options_for(std::int64_t steps, std::int64_t records, Eigen::Index d,
                          TheorySolver solver) {
  TheoryOptions o;
  o.record_steps = record_steps(steps, records);
  o.modes = record_modes(d, 0);
  o.solver = solver;
  return o;
}

// Two steps of the exact map by hand for d = 2: ρ_j ← (1−ηλ_j)²ρ_j + (η²/B)(λ_j²ρ_j + λ_j·2R).
TEST(SgdExactMap, MatchesHandComputedSteps) {
  const Problem p = make_test_problem(2, 0.5, 0.5, 0.3);  // λ = (1, 1/2), b² = (1, 1/2)
  OptimizerSpec opt;
  opt.lr = 0.4;
  opt.batch = 3;
  const Trajectory tr = predict(p, opt, options_for(2, 3, 2, TheorySolver::exact_map));
  double rho[2] = {1.0, 0.5};
  const double lambda[2] = {1.0, 0.5}, eta = 0.4, B = 3, s2 = 0.09;
  for (int k = 0; k < 2; ++k) {
    const double two_r = lambda[0] * rho[0] + lambda[1] * rho[1] + s2;
    for (int j = 0; j < 2; ++j)
      rho[j] = std::pow(1 - eta * lambda[j], 2) * rho[j] +
               eta * eta / B * (lambda[j] * lambda[j] * rho[j] + lambda[j] * two_r);
  }
  ASSERT_EQ(tr.t(tr.t.size() - 1), 2.0);
  EXPECT_NEAR(tr.rho(tr.t.size() - 1, 0), rho[0], 1e-15);
  EXPECT_NEAR(tr.rho(tr.t.size() - 1, 1), rho[1], 1e-15);
  EXPECT_NEAR(tr.risk(tr.t.size() - 1), 0.5 * (rho[0] + 0.5 * rho[1]) + s2 / 2, 1e-15);
  EXPECT_NEAR(tr.risk(0), 0.5 * (1.0 + 0.25) + s2 / 2, 1e-15);  // R(0) = ½Σλ_j b_j² + σ²/2
}

// Isotropic K (λ_j = 1): ρ(t) = ρ∞ + (ρ0 − ρ∞) e^{−at}, a = 2η − η²d/B, ρ∞ = η²σ²/(B a).
TEST(SgdOde, IsotropicClosedForm) {
  ProblemSpec spec;
  spec.d = 50;
  spec.m = 50;
  spec.sigma = 0.7;
  spec.covariance = CovarianceKind::isotropic;
  spec.target = TargetKind::isotropic;
  const Problem p = make_problem(spec);
  OptimizerSpec opt;
  opt.lr = 0.05;
  opt.batch = 4;
  const Trajectory tr = predict(p, opt, options_for(400, 20, 50, TheorySolver::ode));
  const double a = 2 * opt.lr - opt.lr * opt.lr * 50 / 4.0;
  const double rho_inf = opt.lr * opt.lr * 0.49 / 4.0 / a;
  for (Eigen::Index i = 0; i < tr.t.size(); ++i) {
    const double rho = rho_inf + (1.0 - rho_inf) * std::exp(-a * tr.t(i));
    EXPECT_NEAR(tr.rho(i, 0), rho, 1e-7 * rho) << "t = " << tr.t(i);  // rel_tol 1e-8 per step
  }
}

// The ODE is the η → 0 limit of the exact map at fixed ηt: their gap shrinks ∝ ηλ_1.
TEST(SgdOde, ConvergesToExactMapAsLearningRateShrinks) {
  const Problem p = make_test_problem(200, 0.6, 0.4, 0.5);
  double gaps[2];
  for (int i = 0; i < 2; ++i) {
    OptimizerSpec opt;
    opt.lr = i == 0 ? 1e-2 : 1e-3;
    opt.batch = 2;
    const auto steps = static_cast<std::int64_t>(std::lround(20.0 / opt.lr));  // ηt = 20
    const Trajectory map = predict(p, opt, options_for(steps, 30, 200, TheorySolver::exact_map));
    const Trajectory ode = predict(p, opt, options_for(steps, 30, 200, TheorySolver::ode));
    ASSERT_EQ(map.t.size(), ode.t.size());
    gaps[i] = ((map.risk - ode.risk).array() / map.risk.array()).abs().maxCoeff();
  }
  EXPECT_LT(gaps[0], 0.05);
  EXPECT_GT(gaps[0] / gaps[1], 7.0);  // first order in η: a 10× smaller η gives ~10× smaller gap
  EXPECT_LT(gaps[0] / gaps[1], 13.0);
}

// Halving the tolerance changes the risk by less than the tolerance (self-convergence).
TEST(SgdOde, SelfConvergenceUnderTolerance) {
  const Problem p = make_test_problem(300, 0.75, 0.5, 0.5);
  OptimizerSpec opt;
  opt.lr = 0.3;
  opt.batch = 8;
  opt.schedule = Schedule{ScheduleKind::power, 100.0, 0.6};
  TheoryOptions o = options_for(5000, 40, 300, TheorySolver::ode);
  o.rel_tol = 1e-6;
  o.abs_tol = 1e-12;
  const Trajectory coarse = predict(p, opt, o);
  o.rel_tol = 5e-7;
  const Trajectory fine = predict(p, opt, o);
  const double change = ((coarse.risk - fine.risk).array() / fine.risk.array()).abs().maxCoeff();
  EXPECT_LT(change, 1e-6);
}

// An unstable learning rate is reported as diverged with the finite records kept; no hang.
TEST(SgdDynamics, DivergenceIsAStatusNotACrash) {
  const Problem p = make_test_problem(64, 0.5, 0.5, 0.5);
  OptimizerSpec opt;
  opt.lr = 3.0;  // (1 − ηλ_1)² = 4 > 1
  opt.batch = 1;
  for (TheorySolver solver : {TheorySolver::exact_map, TheorySolver::ode}) {
    const Trajectory tr = predict(p, opt, options_for(100000, 40, 64, solver));
    EXPECT_EQ(tr.status, RunStatus::diverged) << tr.message;
    EXPECT_GE(tr.t.size(), 1);
    EXPECT_LT(tr.t.size(), 41);
    EXPECT_TRUE(tr.risk.allFinite());
  }
}

// Optimizers without implemented dynamics are refused with an explanation.
TEST(Predict, RefusesOptimizerWithoutTheory) {
  const Problem p = make_test_problem(8, 0.5, 0.5, 0.5);
  OptimizerSpec opt;
  opt.kind = OptimizerKind::muon;
  opt.momentum = 0.9;  // Muon has a theory without momentum only (docs/theory/signsvd.md §5)
  EXPECT_FALSE(has_theory(p, opt));
  EXPECT_THROW(predict(p, opt, options_for(10, 5, 8, TheorySolver::exact_map)), Error);
}

}  // namespace
}  // namespace signdyn
