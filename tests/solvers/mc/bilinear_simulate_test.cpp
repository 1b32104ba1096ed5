// Tests of the bilinear Monte Carlo (signdyn/bilinear_simulate.hpp): two steps of each optimizer
// against a hand computation with the dense gradient (SignSGD also in a generic basis),
// equivariant rules identical in both frames, thread-count independence, and SGD against the
// exact expected map of docs/theory/bilinear.md within 4 SE.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "../../../solvers/mc/bilinear_frame.hpp"
#include "../../../solvers/ode/bilinear_sgd.hpp"
#include "signdyn/bilinear.hpp"
#include "signdyn/bilinear_simulate.hpp"
#include "signdyn/error.hpp"
#include "signdyn/msign.hpp"
#include "signdyn/rng.hpp"

namespace signdyn {
namespace {

BilinearSpec test_spec(Eigen::Index n_out, Eigen::Index n_in) {
  BilinearSpec s;
  s.n_out = n_out;
  s.n_in = n_in;
  s.sigma = 0.3;
  s.alpha_out = 0.5;
  s.alpha_in = 0.75;
  s.beta_out = 0.4;
  s.beta_in = 0.6;
  return s;
}

BilinearProblem test_problem(Eigen::Index n_out, Eigen::Index n_in) {
  return make_bilinear_problem(test_spec(n_out, n_in));
}

OptimizerSpec spec_of(OptimizerKind kind, double lr, Eigen::Index batch) {
  OptimizerSpec s;
  s.kind = kind;
  s.lr = lr;
  s.batch = batch;
  return s;
}

// Risk after two steps of one replica, recomputed by hand from its draws with the dense
// gradient G = (1/B) A_outᵀ diag(r) A_in: SGD, its entrywise sign (SignSGD), its exact polar
// factor by SVD (SignSVD), Muon's quintic NS_5(G/‖G‖_F) on the dense G; the second step uses
// the power schedule's η_1 = η_0 (1 + 1/k0)^(−γ).
//
// A generic side (O_out, O_in non-empty) is computed in the true basis from the definition:
// x = O x̃ for the drawn x̃, W* = O_out W̃* O_inᵀ, and Δ̃ = O_outᵀ Δ O_in for the risk.
double hand_two_steps(const BilinearProblem& p, const OptimizerSpec& spec, std::uint64_t seed,
                      std::uint64_t replica) {
  const OptimizerKind method = spec.kind;
  const Eigen::Index batch = spec.batch;
  const Eigen::MatrixXd o_out =
      p.O_out.size() ? p.O_out : Eigen::MatrixXd::Identity(p.n_out, p.n_out);
  const Eigen::MatrixXd o_in = p.O_in.size() ? p.O_in : Eigen::MatrixXd::Identity(p.n_in, p.n_in);
  Rng rng(seed, replica);
  Eigen::MatrixXd delta(p.n_out, p.n_in), a_out(batch, p.n_out), a_in(batch, p.n_in);
  Eigen::VectorXd eps(batch), r(batch);
  sample_bilinear_initial_residual(p, rng, delta);
  delta = (o_out * delta * o_in.transpose()).eval();
  MsignSvd svd(p.n_out, p.n_in);
  MsignNewtonSchulz newton_schulz(p.n_out, p.n_in, NewtonSchulzOptions{5});
  Eigen::MatrixXd q(p.n_out, p.n_in);
  for (int step = 0; step < 2; ++step) {
    const double lr = spec.schedule.lr_at(spec.lr, step);
    sample_bilinear_batch(p, rng, a_out, a_in, eps);
    a_out = (a_out * o_out.transpose()).eval();  // rows x_outᵀ = x̃_outᵀ O_outᵀ
    a_in = (a_in * o_in.transpose()).eval();
    r = (a_out * delta * a_in.transpose()).diagonal() - eps;
    const Eigen::MatrixXd g = a_out.transpose() * r.asDiagonal() * a_in / double(batch);
    switch (method) {
      case OptimizerKind::sgd:
        delta -= lr * g;
        break;
      case OptimizerKind::signsgd:
        delta -= lr * g.array().sign().matrix();
        break;
      case OptimizerKind::signsvd:
        EXPECT_TRUE(svd.compute(g, q).ok());
        delta -= lr * q;
        break;
      case OptimizerKind::muon:
        EXPECT_TRUE(newton_schulz.compute(g, q).ok());
        delta -= lr * q;
        break;
    }
  }
  return bilinear_risk(p, o_out.transpose() * delta * o_in);
}

// Each optimizer applies its update (theory.md §1) to the documented draws, with the power
// schedule's η_k; the rank-B factors (diag(r) A_out, A_in) give the same polar factor and the
// same Newton–Schulz output as the dense G.
TEST(SimulateBilinear, TwoStepsEqualTheHandComputation) {
  const BilinearProblem p = test_problem(7, 5);
  for (const OptimizerKind method :
       {OptimizerKind::sgd, OptimizerKind::signsgd, OptimizerKind::signsvd, OptimizerKind::muon}) {
    for (const Eigen::Index batch : {1, 3, 6}) {
      OptimizerSpec spec = spec_of(method, 0.2, batch);
      spec.schedule.kind = ScheduleKind::power;
      spec.schedule.k0 = 2.0;
      spec.schedule.gamma = 1.0;  // η_1 = η_0 / 1.5
      BilinearSimulateOptions o;
      o.replicas = 2;
      o.seed = 9;
      o.record_steps = {0, 2};
      const BilinearMcCurve c = simulate_bilinear(p, spec, o);
      ASSERT_EQ(c.risk.size(), 2u);
      const double expected = 0.5 * (hand_two_steps(p, spec, 9, 0) + hand_two_steps(p, spec, 9, 1));
      EXPECT_NEAR(c.risk[1], expected, 1e-12 * expected) << to_string(method) << " batch " << batch;
      EXPECT_EQ(c.diverged, 0);
    }
  }
}

// Sums are reduced in replica order: 1 and 2 threads give identical curves.
TEST(SimulateBilinear, ResultsDoNotDependOnTheThreadCount) {
  const BilinearProblem p = test_problem(6, 6);
  const OptimizerSpec spec = spec_of(OptimizerKind::signsvd, 0.05, 2);
  BilinearSimulateOptions o;
  o.replicas = 37;
  o.record_steps = {0, 3, 10};
  o.threads = 1;
  const BilinearMcCurve one = simulate_bilinear(p, spec, o);
  o.threads = 2;
  std::vector<double> fractions;
  o.progress = [&fractions](double f) { fractions.push_back(f); };
  const BilinearMcCurve two = simulate_bilinear(p, spec, o);
  ASSERT_FALSE(fractions.empty());
  EXPECT_DOUBLE_EQ(fractions.back(), 1.0);
  EXPECT_EQ(one.risk, two.risk);
  EXPECT_EQ(one.risk_se, two.risk_se);
  ASSERT_EQ(one.rho.size(), two.rho.size());
  for (std::size_t i = 0; i < one.rho.size(); ++i) EXPECT_EQ(one.rho[i], two.rho[i]);
}

// Invalid options are ConfigErrors naming the field.
TEST(SimulateBilinear, RejectsInvalidOptions) {
  const BilinearProblem p = test_problem(3, 3);
  BilinearSimulateOptions o;
  o.record_steps = {0, 1};
  OptimizerSpec spec = spec_of(OptimizerKind::sgd, -1.0, 1);
  EXPECT_THROW(simulate_bilinear(p, spec, o), ConfigError);
  spec.lr = 0.1;
  spec.batch = 0;
  EXPECT_THROW(simulate_bilinear(p, spec, o), ConfigError);
  spec.batch = 1;
  o.replicas = 1;
  EXPECT_THROW(simulate_bilinear(p, spec, o), ConfigError);
  o.replicas = 4;
  o.record_steps = {2, 2};
  EXPECT_THROW(simulate_bilinear(p, spec, o), ConfigError);
}

// A generic bilinear problem (Haar rotations on both sides, or on the output side only).
BilinearProblem generic_problem(Eigen::Index n_out, Eigen::Index n_in, bool both) {
  BilinearSpec s = test_spec(n_out, n_in);
  s.basis_out = BasisKind::generic;
  s.basis_in = both ? BasisKind::generic : BasisKind::diagonal;
  s.basis_seed = 3;
  return make_bilinear_problem(s);
}

// SignSGD is not rotation-equivariant: with a generic side it runs in the true basis, and two
// steps equal the hand computation from the definition x = O x̃ (the sign of the true-basis
// gradient). The eigenbasis route gives a different risk, so the test sees a missing rotation.
TEST(SimulateBilinear, SignSgdInAGenericBasisRunsInTheTrueBasis) {
  for (const bool both : {true, false}) {
    const BilinearProblem p = generic_problem(7, 5, both);
    for (const Eigen::Index batch : {1, 3}) {
      const OptimizerSpec spec = spec_of(OptimizerKind::signsgd, 0.2, batch);
      BilinearSimulateOptions o;
      o.replicas = 2;
      o.seed = 9;
      o.record_steps = {0, 2};
      EXPECT_EQ(detail::default_bilinear_frame(p, spec.kind), detail::Frame::true_basis);
      const BilinearMcCurve c = simulate_bilinear(p, spec, o);
      const double expected = 0.5 * (hand_two_steps(p, spec, 9, 0) + hand_two_steps(p, spec, 9, 1));
      EXPECT_NEAR(c.risk[1], expected, 1e-12 * expected) << "batch " << batch << " both " << both;
      EXPECT_NEAR(c.risk[0], bilinear_risk_from_rho(p, c.rho[0]), 1e-12 * c.risk[0]);
      const BilinearMcCurve eig =
          detail::simulate_bilinear_in_frame(p, spec, o, detail::Frame::eigenbasis);
      EXPECT_GT(std::abs(eig.risk[1] - c.risk[1]), 1e-6 * c.risk[1]) << "batch " << batch;
    }
  }
}

// SGD, SignSVD and Muon (with and without momentum) commute with the rotations, so the true-basis
// run equals the eigenbasis run (the default for them) up to round-off, in R and every ρ_kl.
TEST(SimulateBilinear, EquivariantRulesAreTheSameInBothFrames) {
  const BilinearProblem p = generic_problem(8, 6, true);
  std::vector<OptimizerSpec> specs = {
      spec_of(OptimizerKind::sgd, 0.1, 3), spec_of(OptimizerKind::signsvd, 0.05, 2),
      spec_of(OptimizerKind::signsvd, 0.05, 9), spec_of(OptimizerKind::muon, 0.05, 2)};
  specs.push_back(spec_of(OptimizerKind::muon, 0.05, 2));
  specs.back().momentum = 0.9;
  for (const OptimizerSpec& spec : specs) {
    BilinearSimulateOptions o;
    o.replicas = 3;
    o.seed = 5;
    o.record_steps = {0, 3, 12};
    EXPECT_EQ(detail::default_bilinear_frame(p, spec.kind), detail::Frame::eigenbasis);
    const BilinearMcCurve eig = simulate_bilinear(p, spec, o);
    const BilinearMcCurve tru =
        detail::simulate_bilinear_in_frame(p, spec, o, detail::Frame::true_basis);
    for (std::size_t i = 0; i < o.record_steps.size(); ++i) {
      EXPECT_NEAR(tru.risk[i], eig.risk[i], 1e-10 * eig.risk[i])
          << to_string(spec.kind) << " batch " << spec.batch << " step " << o.record_steps[i];
      EXPECT_LT((tru.rho[i] - eig.rho[i]).cwiseAbs().maxCoeff(), 1e-10 * eig.rho[i].maxCoeff())
          << to_string(spec.kind) << " step " << o.record_steps[i];
    }
  }
}

// SGD Monte Carlo (n_out = n_in = 8, B = 2, 20000 replicas) equals the exact expected map in
// E R and every E ρ_kl within 4 SE at every record (docs/theory/bilinear.md §3).
TEST(SimulateBilinear, SgdMatchesTheExactExpectedMap) {
  const BilinearProblem p = test_problem(8, 8);
  const OptimizerSpec spec = spec_of(OptimizerKind::sgd, 0.15, 2);
  BilinearSimulateOptions o;
  o.replicas = 20000;
  o.seed = 77;
  o.record_steps = {0, 1, 2, 4, 8, 16, 32, 64, 128, 256};
  const BilinearMcCurve mc = simulate_bilinear(p, spec, o);
  const detail::BilinearSgdCurve exact = detail::bilinear_sgd_exact_map(
      p, spec.lr, spec.batch, bilinear_initial_rho(p), o.record_steps, true);
  EXPECT_EQ(mc.diverged, 0);
  for (std::size_t i = 0; i < o.record_steps.size(); ++i) {
    EXPECT_NEAR(mc.risk[i], exact.risk[i], 4.0 * mc.risk_se[i]) << "step " << mc.steps[i];
    for (Eigen::Index k = 0; k < p.n_out; ++k) {
      for (Eigen::Index l = 0; l < p.n_in; ++l) {
        EXPECT_NEAR(mc.rho[i](k, l), exact.rho[i](k, l), 4.0 * mc.rho_se[i](k, l))
            << "step " << mc.steps[i] << " mode (" << k << ", " << l << ")";
      }
    }
  }
  // SE small enough that the final-risk check is sharp (relative SE < 0.5%).
  EXPECT_LT(mc.risk_se.back(), 5e-3 * mc.risk.back());
}

}  // namespace
}  // namespace signdyn
