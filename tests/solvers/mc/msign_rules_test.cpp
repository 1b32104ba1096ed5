// Tests of the SignSVD and Muon update rules (theory.md §1) against references written here
// with Eigen alone (independent of src/linalg), and of the engine running them.
#include <gtest/gtest.h>

#include <Eigen/SVD>
#include <algorithm>
#include <cmath>
#include <limits>

#include "replica_engine.hpp"
#include "signdyn/error.hpp"
#include "signdyn/problem.hpp"
#include "signdyn/simulate.hpp"
#include "update_rules.hpp"

namespace signdyn {
namespace {

// Rank-truncated polar factor U_r V_rᵀ of G (σ_i > max(d, m)·ε·σ_max), by Jacobi SVD.
Eigen::MatrixXd reference_msign(const Eigen::MatrixXd& G) {
  const Eigen::JacobiSVD<Eigen::MatrixXd> svd(G, Eigen::ComputeThinU | Eigen::ComputeThinV);
  const Eigen::VectorXd& s = svd.singularValues();
  const double tol = std::max(G.rows(), G.cols()) * std::numeric_limits<double>::epsilon() * s(0);
  Eigen::Index r = 0;
  while (r < s.size() && s(r) > tol) ++r;
  return svd.matrixU().leftCols(r) * svd.matrixV().leftCols(r).transpose();
}

// Muon's NS_k(G/‖G‖_F) with the quintic (3.4445, −4.7750, 2.0315), literally as in theory.md.
Eigen::MatrixXd reference_newton_schulz(const Eigen::MatrixXd& G, int steps) {
  Eigen::MatrixXd X = G / G.norm();
  for (int k = 0; k < steps; ++k) {
    const Eigen::MatrixXd A = X * X.transpose();
    X = 3.4445 * X - 4.7750 * A * X + 2.0315 * A * A * X;
  }
  return X;
}

struct Batch {
  Eigen::MatrixXd X, resid;
};

Batch random_batch(Eigen::Index B, Eigen::Index d, Eigen::Index m, std::uint64_t stream) {
  Rng rng(99, stream);
  Batch b{Eigen::MatrixXd(B, d), Eigen::MatrixXd(B, m)};
  rng.fill_normal(b.X);
  rng.fill_normal(b.resid);
  return b;
}

Problem sized(Eigen::Index d, Eigen::Index m) {
  Problem p;
  p.d = d;
  p.m = m;
  return p;
}

OptimizerSpec spec_of(OptimizerKind kind, std::int64_t batch, double momentum = 0.0,
                      bool nesterov = false) {
  OptimizerSpec o;
  o.kind = kind;
  o.batch = batch;
  o.momentum = momentum;
  o.nesterov = nesterov;
  return o;
}

// SignSVD step: Δ' = Δ − η msign((1/B) Xᵀ resid), on the rank-B route (B = 2 < min(d, m)) and
// the full-SVD route (B = 6 ≥ min(d, m) = 5); agreement to round-off (1e-12).
TEST(SignSvdRule, OneStepEqualsReferencePolarFactor) {
  const Eigen::Index d = 7, m = 5;
  for (Eigen::Index B : {2, 6}) {
    const Batch b = random_batch(B, d, m, static_cast<std::uint64_t>(B));
    Eigen::MatrixXd delta = Eigen::MatrixXd::Ones(d, m);
    const Eigen::MatrixXd expected =
        delta - 0.1 * reference_msign(b.X.transpose() * b.resid / static_cast<double>(B));
    detail::SignSvdRule rule(sized(d, m), spec_of(OptimizerKind::signsvd, B));
    ASSERT_TRUE(rule.step(0.1, b.X, b.resid, delta));
    EXPECT_LT((delta - expected).cwiseAbs().maxCoeff(), 1e-12) << "B = " << B;
  }
}

// A zero gradient (resid = 0) leaves Δ unchanged for SignSVD and Muon (msign(0) := 0).
TEST(SignSvdRule, ZeroGradientGivesNoUpdate) {
  const Batch b = random_batch(3, 6, 4, 1);
  const Eigen::MatrixXd zero = Eigen::MatrixXd::Zero(3, 4);
  Eigen::MatrixXd delta = Eigen::MatrixXd::Ones(6, 4);
  detail::SignSvdRule signsvd(sized(6, 4), spec_of(OptimizerKind::signsvd, 3));
  detail::MuonRule muon(sized(6, 4), spec_of(OptimizerKind::muon, 3, 0.9));
  detail::MuonRule muon_plain(sized(6, 4), spec_of(OptimizerKind::muon, 3));
  EXPECT_TRUE(signsvd.step(0.5, b.X, zero, delta));
  EXPECT_TRUE(muon.step(0.5, b.X, zero, delta));
  EXPECT_TRUE(muon_plain.step(0.5, b.X, zero, delta));
  EXPECT_EQ(delta, Eigen::MatrixXd::Ones(6, 4));
}

// Muon without momentum: Δ' = Δ − η NS_5(G/‖G‖_F), both Gram sides (d < m and d > m).
TEST(MuonRule, OneStepEqualsReferenceNewtonSchulz) {
  for (auto [d, m] : {std::pair<Eigen::Index, Eigen::Index>{5, 8}, {8, 5}}) {
    const Batch b = random_batch(4, d, m, 7);
    Eigen::MatrixXd delta = Eigen::MatrixXd::Zero(d, m);
    const Eigen::MatrixXd expected =
        -0.2 * reference_newton_schulz(b.X.transpose() * b.resid / 4.0, 5);
    detail::MuonRule rule(sized(d, m), spec_of(OptimizerKind::muon, 4));
    ASSERT_TRUE(rule.step(0.2, b.X, b.resid, delta));
    EXPECT_LT((delta - expected).cwiseAbs().maxCoeff(), 1e-12) << "d = " << d << ", m = " << m;
  }
}

// Muon without momentum on the factored route (4B ≤ 3·min(d, m): NS_5 run on the B×B core of
// G, never formed) equals the literal dense reference NS_5(G/‖G‖_F) to round-off (1e-12), for
// both orientations, a rank-deficient batch (a repeated sample), and over two steps.
TEST(MuonRule, FactoredRouteEqualsReferenceNewtonSchulz) {
  for (auto [d, m] : {std::pair<Eigen::Index, Eigen::Index>{12, 9}, {9, 12}}) {
    const Eigen::Index B = 3;
    Batch b1 = random_batch(B, d, m, 21);
    const Batch b2 = random_batch(B, d, m, 22);
    b1.X.row(2) = b1.X.row(0);
    const Eigen::MatrixXd expected =
        -0.2 * (reference_newton_schulz(b1.X.transpose() * b1.resid / 3.0, 5) +
                reference_newton_schulz(b2.X.transpose() * b2.resid / 3.0, 5));
    detail::MuonRule rule(sized(d, m), spec_of(OptimizerKind::muon, B));
    Eigen::MatrixXd delta = Eigen::MatrixXd::Zero(d, m);
    ASSERT_TRUE(rule.step(0.2, b1.X, b1.resid, delta));
    ASSERT_TRUE(rule.step(0.2, b2.X, b2.resid, delta));
    EXPECT_LT((delta - expected).cwiseAbs().maxCoeff(), 1e-12) << "d = " << d << ", m = " << m;
  }
}

// Muon with momentum over two steps: V₁ = G₁, V₂ = μV₁ + G₂; heavy ball updates along V_k,
// Nesterov along G_k + μV_k (theory.md §1).
TEST(MuonRule, MomentumAndNesterovFollowTheirDefinitions) {
  const Eigen::Index d = 6, m = 5, B = 3;
  const double mu = 0.9, lr = 0.05;
  const Batch b1 = random_batch(B, d, m, 11), b2 = random_batch(B, d, m, 12);
  const Eigen::MatrixXd G1 = b1.X.transpose() * b1.resid / 3.0;
  const Eigen::MatrixXd G2 = b2.X.transpose() * b2.resid / 3.0;
  const Eigen::MatrixXd V1 = G1, V2 = mu * V1 + G2;
  for (bool nesterov : {false, true}) {
    const Eigen::MatrixXd D1 = nesterov ? Eigen::MatrixXd(G1 + mu * V1) : V1;
    const Eigen::MatrixXd D2 = nesterov ? Eigen::MatrixXd(G2 + mu * V2) : V2;
    const Eigen::MatrixXd expected =
        -lr * (reference_newton_schulz(D1, 5) + reference_newton_schulz(D2, 5));
    detail::MuonRule rule(sized(d, m), spec_of(OptimizerKind::muon, B, mu, nesterov));
    Eigen::MatrixXd delta = Eigen::MatrixXd::Zero(d, m);
    ASSERT_TRUE(rule.step(lr, b1.X, b1.resid, delta));
    ASSERT_TRUE(rule.step(lr, b2.X, b2.resid, delta));
    EXPECT_LT((delta - expected).cwiseAbs().maxCoeff(), 1e-12) << "nesterov = " << nesterov;
  }
}

Problem generic_problem() {
  ProblemSpec s;
  s.d = 24;
  s.m = 16;
  s.alpha = 0.6;
  s.beta = 0.4;
  s.basis = BasisKind::generic;
  s.normalise_trace = true;
  return make_problem(s);
}

SimulateOptions run_options(int threads) {
  SimulateOptions o;
  o.record_steps = record_steps(150, 12);
  o.modes = record_modes(24, 4);
  o.replicas = 9;
  o.seed = 3;
  o.threads = threads;
  return o;
}

// SignSVD and Muon runs (with OpenBLAS inside the replicas) are bit-identical for 1 and 2
// threads, and complete with a decreasing risk at a small lr. Muon: with momentum and B ≥ min(d,
// m) (dense NS), and without momentum at B = 4 (NS on the B×B core).
TEST(MsignRules, EngineRunsAreIdenticalForAnyThreadCount) {
  const Problem p = generic_problem();
  OptimizerSpec signsvd = spec_of(OptimizerKind::signsvd, 4);
  signsvd.lr = 0.01;
  OptimizerSpec muon = spec_of(OptimizerKind::muon, 32, 0.9, true);  // B ≥ min(d, m): full rank
  muon.lr = 0.01;
  OptimizerSpec muon_core = spec_of(OptimizerKind::muon, 4);
  muon_core.lr = 0.01;
  for (const OptimizerSpec& spec : {signsvd, muon, muon_core}) {
    const Trajectory one = simulate(p, spec, run_options(1));
    const Trajectory two = simulate(p, spec, run_options(2));
    ASSERT_EQ(one.status, RunStatus::completed) << one.message;
    EXPECT_EQ(one.optimizer, std::string(to_string(spec.kind)));
    EXPECT_EQ(one.risk, two.risk);
    EXPECT_EQ(one.risk_se, two.risk_se);
    EXPECT_EQ(one.rho, two.rho);
    EXPECT_EQ(one.rho_se, two.rho_se);
    EXPECT_LT(one.risk(one.risk.size() - 1), one.risk(0));
  }
}

// msign(OG) = O msign(G): SignSVD in the true basis reproduces the eigenbasis run with the same
// streams up to round-off (relative 1e-9 over 150 steps).
TEST(MsignRules, SignSvdTrueBasisFrameEqualsEigenbasisFrame) {
  const Problem p = generic_problem();
  OptimizerSpec spec = spec_of(OptimizerKind::signsvd, 4);
  spec.lr = 0.01;
  const SimulateOptions o = run_options(2);
  const Trajectory eig = detail::simulate_in_frame(p, spec, o, detail::Frame::eigenbasis);
  const Trajectory tru = detail::simulate_in_frame(p, spec, o, detail::Frame::true_basis);
  for (Eigen::Index i = 0; i < eig.t.size(); ++i) {
    EXPECT_NEAR(tru.risk(i), eig.risk(i), 1e-9 * eig.risk(i)) << "record " << i;
  }
}

// Muon's momentum outside [0, 1) and negative Newton–Schulz steps are ConfigErrors.
TEST(MsignRules, MuonRejectsInvalidSettings) {
  const Problem p = generic_problem();
  OptimizerSpec muon = spec_of(OptimizerKind::muon, 4, 1.0);
  try {
    simulate(p, muon, run_options(1));
    ADD_FAILURE() << "accepted momentum 1";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), "optimizer.momentum");
  }
  muon.momentum = 0.5;
  muon.ns_steps = -1;
  try {
    simulate(p, muon, run_options(1));
    ADD_FAILURE() << "accepted ns_steps -1";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), "optimizer.ns_steps");
  }
}

}  // namespace
}  // namespace signdyn
