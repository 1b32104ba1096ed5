// Tests of the SignSGD update rule and of its basis dependence (theory.md §1, §3).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "replica_engine.hpp"
#include "signdyn/problem.hpp"
#include "signdyn/simulate.hpp"
#include "update_rules.hpp"

namespace signdyn {
namespace {

// sign(0) = 0 (also for −0), ±1 otherwise.
TEST(SignSgd, SignOfZeroIsZero) {
  EXPECT_EQ(detail::sign_of(0.0), 0.0);
  EXPECT_EQ(detail::sign_of(-0.0), 0.0);
  EXPECT_EQ(detail::sign_of(1e-300), 1.0);
  EXPECT_EQ(detail::sign_of(-3.5), -1.0);
}

// One step from a known Δ: Δ' = Δ − η sign(Xᵀ resid), computed by hand. X has a zero column
// and resid is chosen so that G_11 = 0 as well: those entries of Δ must not move.
TEST(SignSgd, OneStepEqualsHandComputedUpdate) {
  Problem p;
  p.d = 3;
  p.m = 2;
  OptimizerSpec spec;
  spec.kind = OptimizerKind::signsgd;
  spec.batch = 2;
  Eigen::MatrixXd X(2, 3), resid(2, 2), delta(3, 2);
  X << 1, 0, 2,  //
      1, 0, -1;
  resid << 1, 2,  //
      -1, 1;
  delta << 0.5, -0.25,  //
      1.0, 2.0,         //
      -1.0, 0.0;
  // B·G = Xᵀ resid = [[0, 3], [0, 0], [3, 3]] → sign = [[0, 1], [0, 0], [1, 1]].
  Eigen::MatrixXd expected(3, 2);
  expected << 0.5, -0.25 - 0.1,  //
      1.0, 2.0,                  //
      -1.0 - 0.1, 0.0 - 0.1;
  detail::SignSgdRule rule(p, spec);
  EXPECT_TRUE(rule.step(0.1, X, resid, delta));
  EXPECT_EQ(delta, expected);
}

// The same hand example for SGD: Δ' = Δ − (η/B) Xᵀ resid.
TEST(Sgd, OneStepEqualsHandComputedUpdate) {
  Problem p;
  p.d = 3;
  p.m = 2;
  OptimizerSpec spec;
  spec.batch = 2;
  Eigen::MatrixXd X(2, 3), resid(2, 2), delta = Eigen::MatrixXd::Zero(3, 2);
  X << 1, 0, 2,  //
      1, 0, -1;
  resid << 1, 2,  //
      -1, 1;
  Eigen::MatrixXd expected(3, 2);
  expected << 0, -0.1 * 3 / 2,  //
      0, 0,                     //
      -0.1 * 3 / 2, -0.1 * 3 / 2;
  detail::SgdRule rule(p, spec);
  EXPECT_TRUE(rule.step(0.1, X, resid, delta));
  EXPECT_NEAR((delta - expected).cwiseAbs().maxCoeff(), 0.0, 1e-16);
}

// SignSGD is not rotation-equivariant (theory.md §1, §3): with the same streams, the diagonal
// and generic bases at d = m = 32 give mean risk curves that differ by more than 4 combined
// standard errors at the horizon (stochastic; 100 replicas each).
TEST(SignSgd, DiagonalAndGenericBasesDiffer) {
  ProblemSpec s;
  s.d = 32;
  s.m = 32;
  s.sigma = 0.5;
  s.alpha = 1.0;
  s.beta = 0.5;
  OptimizerSpec spec;
  spec.kind = OptimizerKind::signsgd;
  spec.lr = 0.005;
  spec.batch = 4;
  SimulateOptions o;
  o.record_steps = record_steps(300, 10);
  o.modes = record_modes(s.d, 3);
  o.replicas = 100;
  const Trajectory diag = simulate(make_problem(s), spec, o);
  s.basis = BasisKind::generic;
  const Problem generic = make_problem(s);
  ASSERT_EQ(detail::default_frame(generic, spec.kind), detail::Frame::true_basis);
  const Trajectory gen = simulate(generic, spec, o);
  ASSERT_EQ(diag.status, RunStatus::completed);
  ASSERT_EQ(gen.status, RunStatus::completed);
  // Same W*_eig draws: the initial risks agree up to the round-off of Oᵀ(OΔ).
  EXPECT_NEAR(diag.risk(0), gen.risk(0), 1e-13 * diag.risk(0));
  const Eigen::Index last = diag.t.size() - 1;
  const double se = std::hypot(diag.risk_se(last), gen.risk_se(last));
  std::printf("SignSGD risk at t = %g: diagonal %.5g ± %.2g, generic %.5g ± %.2g\n", diag.t(last),
              diag.risk(last), diag.risk_se(last), gen.risk(last), gen.risk_se(last));
  EXPECT_GT(std::abs(diag.risk(last) - gen.risk(last)), 4.0 * se) << "stochastic: 4 SE";
}

}  // namespace
}  // namespace signdyn
