// Tests of the bilinear Monte Carlo (signdyn/bilinear_simulate.hpp): two steps against a hand
// computation with the dense gradient, thread-count independence, and SGD against the exact
// expected map of docs/theory/bilinear.md within 4 SE.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "../../../solvers/ode/bilinear_sgd.hpp"
#include "signdyn/bilinear.hpp"
#include "signdyn/bilinear_simulate.hpp"
#include "signdyn/error.hpp"
#include "signdyn/msign.hpp"
#include "signdyn/rng.hpp"

namespace signdyn {
namespace {

BilinearProblem test_problem(Eigen::Index n_out, Eigen::Index n_in) {
  BilinearSpec s;
  s.n_out = n_out;
  s.n_in = n_in;
  s.sigma = 0.3;
  s.alpha_out = 0.5;
  s.alpha_in = 0.75;
  s.beta_out = 0.4;
  s.beta_in = 0.6;
  return make_bilinear_problem(s);
}

// Risk after two steps of one replica, recomputed by hand from its draws with the dense
// gradient G = (1/B) A_outᵀ diag(r) A_in (SGD) and its exact polar factor by SVD (SignSVD).
double hand_two_steps(const BilinearProblem& p, BilinearMethod method, double lr,
                      Eigen::Index batch, std::uint64_t seed, std::uint64_t replica) {
  Rng rng(seed, replica);
  Eigen::MatrixXd delta(p.n_out, p.n_in), a_out(batch, p.n_out), a_in(batch, p.n_in);
  Eigen::VectorXd eps(batch), r(batch);
  sample_bilinear_initial_residual(p, rng, delta);
  MsignSvd svd(p.n_out, p.n_in);
  Eigen::MatrixXd q(p.n_out, p.n_in);
  for (int step = 0; step < 2; ++step) {
    sample_bilinear_batch(p, rng, a_out, a_in, eps);
    r = (a_out * delta * a_in.transpose()).diagonal() - eps;
    const Eigen::MatrixXd g = a_out.transpose() * r.asDiagonal() * a_in / double(batch);
    if (method == BilinearMethod::sgd) {
      delta -= lr * g;
    } else {
      EXPECT_TRUE(svd.compute(g, q).ok());
      delta -= lr * q;
    }
  }
  return bilinear_risk(p, delta);
}

// SGD applies Δ ← Δ − η G and SignSVD Δ ← Δ − η msign(G) to the documented draws; the rank-B
// factors (diag(r) A_out, A_in) give the same polar factor as the SVD of the dense G.
TEST(SimulateBilinear, TwoStepsEqualTheHandComputation) {
  const BilinearProblem p = test_problem(7, 5);
  for (const BilinearMethod method : {BilinearMethod::sgd, BilinearMethod::signsvd}) {
    for (const Eigen::Index batch : {1, 3, 6}) {
      BilinearSimulateOptions o;
      o.method = method;
      o.lr = 0.2;
      o.batch = batch;
      o.replicas = 2;
      o.seed = 9;
      o.record_steps = {0, 2};
      const BilinearMcCurve c = simulate_bilinear(p, o);
      ASSERT_EQ(c.risk.size(), 2u);
      const double expected = 0.5 * (hand_two_steps(p, method, 0.2, batch, 9, 0) +
                                     hand_two_steps(p, method, 0.2, batch, 9, 1));
      EXPECT_NEAR(c.risk[1], expected, 1e-12 * expected)
          << "method " << int(method) << " batch " << batch;
      EXPECT_EQ(c.diverged, 0);
    }
  }
}

// Sums are reduced in replica order: 1 and 2 threads give identical curves.
TEST(SimulateBilinear, ResultsDoNotDependOnTheThreadCount) {
  const BilinearProblem p = test_problem(6, 6);
  BilinearSimulateOptions o;
  o.method = BilinearMethod::signsvd;
  o.lr = 0.05;
  o.batch = 2;
  o.replicas = 37;
  o.record_steps = {0, 3, 10};
  o.threads = 1;
  const BilinearMcCurve one = simulate_bilinear(p, o);
  o.threads = 2;
  const BilinearMcCurve two = simulate_bilinear(p, o);
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
  o.lr = -1.0;
  EXPECT_THROW(simulate_bilinear(p, o), ConfigError);
  o.lr = 0.1;
  o.batch = 0;
  EXPECT_THROW(simulate_bilinear(p, o), ConfigError);
  o.batch = 1;
  o.replicas = 1;
  EXPECT_THROW(simulate_bilinear(p, o), ConfigError);
  o.replicas = 4;
  o.record_steps = {2, 2};
  EXPECT_THROW(simulate_bilinear(p, o), ConfigError);
}

// SGD Monte Carlo (n_out = n_in = 8, B = 2, 20000 replicas) equals the exact expected map in
// E R and every E ρ_kl within 4 SE at every record (docs/theory/bilinear.md §3).
TEST(SimulateBilinear, SgdMatchesTheExactExpectedMap) {
  const BilinearProblem p = test_problem(8, 8);
  BilinearSimulateOptions o;
  o.method = BilinearMethod::sgd;
  o.lr = 0.15;
  o.batch = 2;
  o.replicas = 20000;
  o.seed = 77;
  o.record_steps = {0, 1, 2, 4, 8, 16, 32, 64, 128, 256};
  const BilinearMcCurve mc = simulate_bilinear(p, o);
  const detail::BilinearSgdCurve exact = detail::bilinear_sgd_exact_map(
      p, o.lr, o.batch, bilinear_initial_rho(p), o.record_steps, true);
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
