// Tests of the SignSVD deterministic dynamics: the deterministic equivalent of the drift
// (docs/theory/signsvd.md §4) and the predict() paths.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "../../../solvers/ode/signsvd.hpp"
#include "../../../solvers/ode/signsvd_batch_one.hpp"
#include "../../../solvers/ode/signsvd_coefficients.hpp"
#include "../../../solvers/ode/signsvd_de.hpp"
#include "signdyn/dynamics.hpp"

namespace signdyn::detail {
namespace {

Eigen::ArrayXd harmonic(Eigen::Index d) {
  Eigen::ArrayXd x(d);
  for (Eigen::Index j = 0; j < d; ++j) x(j) = 1.0 / static_cast<double>(j + 1);
  return x;
}

Problem make_test_problem(Eigen::Index d, Eigen::Index m, double alpha, double beta, double sigma) {
  ProblemSpec spec;
  spec.d = d;
  spec.m = m;
  spec.sigma = sigma;
  spec.alpha = alpha;
  spec.beta = beta;
  return make_problem(spec);
}

TheoryOptions options_for(std::int64_t steps, Eigen::Index d, TheorySolver solver) {
  TheoryOptions o;
  o.record_steps = record_steps(steps, 40);
  o.modes = record_modes(d, 0);
  o.solver = solver;
  return o;
}

// The deterministic equivalent reproduces the drift table of theory-derivations §8 item 3
// (d = m = 200, λ_j = ρ_j = 1/j, σ = 1): E⟨Δ_j, M_j⟩/ρ_j, printed there to 4 digits.
TEST(SignsvdDe, ReproducesPublishedDriftTable) {
  const Eigen::ArrayXd lambda = harmonic(200), rho = harmonic(200);
  const int modes[6] = {1, 3, 10, 30, 100, 200};
  const double table[3][6] = {{3.011, 1.237, 0.387, 0.130, 0.0391, 0.0195},
                              {10.92, 10.38, 4.748, 1.741, 0.538, 0.271},
                              {14.09, 24.13, 40.67, 47.26, 29.71, 19.62}};
  const double batches[3] = {1, 10, 800};
  for (int b = 0; b < 3; ++b) {
    SignsvdDeSolver solver(lambda, batches[b], 200, 1.0);
    Eigen::ArrayXd drift, noise;
    solver.evaluate(rho, drift, noise);
    for (int k = 0; k < 6; ++k) {
      const int j = modes[k] - 1;
      const double value = 200 * drift(j) / rho(j);
      EXPECT_NEAR(value, table[b][k], 6e-4 * table[b][k] + 5e-4)
          << "B = " << batches[b] << ", j = " << modes[k];
    }
  }
}

// As ρ → 0 the drift is noise-dominated, Σ_L → (σ²/B)Σ̂, and the deterministic equivalent
// reduces to A_j = ρ_j √(B/(σ² m)) s_j with the double Marchenko–Pastur s_j; its stage-1
// quadrature uses 4th-order differences at h = 0.25 (error ~h⁴/30 ≈ 1e-4). The noise
// coefficient at m < min(B, d) is the rank-m leverage λ_j/(λ_j + κ_m).
TEST(SignsvdDe, NoiseLimitIsDoubleMarchenkoPastur) {
  const Eigen::ArrayXd lambda = harmonic(150);
  for (auto [batch, m] : {std::pair{8.0, 150.0}, {64.0, 32.0}, {400.0, 150.0}, {400.0, 600.0}}) {
    SignsvdDeSolver solver(lambda, batch, m, 1.0);
    const Eigen::ArrayXd rho = Eigen::ArrayXd::Constant(150, 1e-12);
    Eigen::ArrayXd drift, noise;
    solver.evaluate(rho, drift, noise);
    const SignsvdCoefficients c = signsvd_coefficients(lambda, batch, m);
    const Eigen::ArrayXd expected = rho * std::sqrt(batch / m) * c.s;
    EXPECT_LT((drift / expected - 1).abs().maxCoeff(), 1e-4) << "B=" << batch << " m=" << m;
    EXPECT_LT((noise * m - c.n).abs().maxCoeff(), 1e-9) << "B=" << batch << " m=" << m;
  }
}

// At κ ≫ every scale, V_j(κ) → d_j/κ with d_j = λ_j²ρ_j + λ_j·2R/B (2R = Σλρ + σ²) and
// T_j(κ) → λ_j/κ: the fixed point's large-κ expansion. (The exact E[Σ_L]_jj has λ_j²ρ_j(1 + 1/B):
// the Gaussian equivalent drops the O(1/B) self-term, see signsvd.md §4.)
TEST(SignsvdDe, LargeKappaExpansion) {
  const Eigen::ArrayXd lambda = harmonic(100), rho = 0.5 * harmonic(100).sqrt();
  const double batch = 20, sigma = 0.7, kappa = 1e7;
  SignsvdDeSolver solver(lambda, batch, 100, sigma);
  Eigen::ArrayXd t, v;
  solver.resolvents(rho, kappa, t, v);
  const double two_r = (lambda * rho).sum() + sigma * sigma;
  const Eigen::ArrayXd dj = lambda.square() * rho + lambda * two_r / batch;
  // Relative corrections are O(d_j/κ) and O(1/(Bκ)·Σ): far below 1e-5 here.
  EXPECT_LT((v * kappa / dj - 1).abs().maxCoeff(), 1e-5);
  EXPECT_LT((t * kappa / lambda - 1).abs().maxCoeff(), 1e-5);
}

// Where every mode is noise-dominated (ρ_j ≪ 2R/(B s_j²)) the row closure with the finite-m s_i
// and the deterministic equivalent coincide to first order in the signal Σλρ/σ².
TEST(SignsvdDe, RowClosureAgreesInNoiseDominatedState) {
  const Problem p = make_test_problem(120, 120, 0.5, 0.5, 1.0);
  OptimizerSpec opt;
  opt.kind = OptimizerKind::signsvd;
  opt.batch = 16;
  const Eigen::ArrayXd rho = 1e-4 * p.b.array().square();
  auto row = make_signsvd_model(p, opt, SignsvdClosure::row_finite_m);
  auto de = make_signsvd_model(p, opt, SignsvdClosure::de);
  Eigen::ArrayXd a1, n1, a2, n2;
  row->evaluate(rho, 0, a1, n1);
  de->evaluate(rho, 0, a2, n2);
  const double signal = (p.lambda.array() * rho).sum() / (p.sigma * p.sigma);  // ≈ 1e-4
  EXPECT_LT((a1 / a2 - 1).abs().maxCoeff(), 10 * signal + 2e-4);
  EXPECT_LT((n1 / n2 - 1).abs().maxCoeff(), 1e-12);
}

// B = 1 under the Gaussian-row closure: A_j = ρ_j (c_m/m) E[x_j²/(‖x‖ s)], N_j = E[x_j²/‖x‖²]/m,
// s² = Σ x_i²ρ_i + σ². The double-Laplace quadrature matches direct sampling of these
// expectations within 4 standard errors, and is converged in its step (0.5 vs 0.25: 1e-8).
TEST(SignsvdBatchOne, MatchesSampledExpectations) {
  const Eigen::Index d = 32;
  const double m = 40, sigma = 0.5;
  const Eigen::ArrayXd lambda = harmonic(d), rho = harmonic(d).sqrt();
  SignsvdBatchOneSolver coarse(lambda, m, sigma, 0.5), fine(lambda, m, sigma, 0.25);
  Eigen::ArrayXd a, n, a2, n2;
  coarse.evaluate(rho, a, n);
  fine.evaluate(rho, a2, n2);
  EXPECT_LT((a / a2 - 1).abs().maxCoeff(), 1e-8);
  EXPECT_LT((n / n2 - 1).abs().maxCoeff(), 1e-8);
  std::mt19937_64 gen(7);
  std::normal_distribution<double> normal;
  const int samples = 100000;
  Eigen::ArrayXd sa = Eigen::ArrayXd::Zero(d), sa2 = sa, sn = sa, sn2 = sa, x(d);
  for (int k = 0; k < samples; ++k) {
    for (Eigen::Index j = 0; j < d; ++j) x(j) = std::sqrt(lambda(j)) * normal(gen);
    const double norm2 = x.square().sum(), s2 = (x.square() * rho).sum() + sigma * sigma;
    const Eigen::ArrayXd fa = x.square() / std::sqrt(norm2 * s2), fn = x.square() / norm2;
    sa += fa;
    sa2 += fa.square();
    sn += fn;
    sn2 += fn.square();
  }
  const double c_m = std::sqrt(2.0) * std::exp(std::lgamma((m + 1) / 2) - std::lgamma(m / 2));
  for (Eigen::Index j : {0, 1, 4, 31}) {
    const double mean_a = sa(j) / samples, se_a = std::sqrt(sa2(j) / samples - mean_a * mean_a);
    const double mean_n = sn(j) / samples, se_n = std::sqrt(sn2(j) / samples - mean_n * mean_n);
    EXPECT_NEAR(a(j), rho(j) * c_m / m * mean_a,
                4 * rho(j) * c_m / m * se_a / std::sqrt(double(samples)))
        << "j = " << j + 1;
    EXPECT_NEAR(n(j), mean_n / m, 4 * se_n / std::sqrt(double(samples)) / m) << "j = " << j + 1;
  }
}

// The expected-map driver: R(0) = ½Σλ_j b_j² + σ²/2 exactly, R decreases through the transient,
// and at constant lr the map settles where drift balances noise, 2A_j = ηN_j (row closure:
// cheap enough for the 20000 steps the slowest tail mode needs).
TEST(SignsvdPredict, MapReachesItsFixedPoint) {
  const Problem p = make_test_problem(64, 64, 0.5, 0.5, 0.5);
  OptimizerSpec opt;
  opt.kind = OptimizerKind::signsvd;
  opt.batch = 8;
  opt.lr = 0.05;
  ASSERT_TRUE(has_theory(p, opt));
  auto model = make_signsvd_model(p, opt, SignsvdClosure::row_finite_m);
  const Trajectory tr = iterate_step_model(p, opt, options_for(20000, 64, TheorySolver::exact_map),
                                           *model, "expected_map");
  ASSERT_EQ(tr.status, RunStatus::completed);
  EXPECT_NEAR(tr.risk(0), risk_from_rho(p, p.b.array().square().matrix()), 1e-15);
  EXPECT_LT(tr.risk(tr.risk.size() - 1), 0.2 * tr.risk(0));
  const Eigen::ArrayXd rho_end = tr.rho.row(tr.rho.rows() - 1).transpose().array();
  Eigen::ArrayXd drift, noise;
  model->evaluate(rho_end, 0, drift, noise);
  EXPECT_LT(((2 * drift - opt.lr * noise) / (opt.lr * noise)).abs().maxCoeff(), 1e-3);
}

// The ODE is the small-step limit of the expected map: halving η while doubling the horizon
// brings the two solvers' risks together at rate O(η) (here the gap at least halves).
TEST(SignsvdPredict, OdeIsTheSmallStepLimitOfTheMap) {
  const Problem p = make_test_problem(48, 48, 0.5, 0.5, 0.5);
  OptimizerSpec opt;
  opt.kind = OptimizerKind::signsvd;
  opt.batch = 8;
  double previous_gap = 0.0;
  for (double lr : {0.04, 0.02, 0.01}) {
    opt.lr = lr;
    const auto steps = static_cast<std::int64_t>(std::lround(8.0 / lr));
    TheoryOptions o = options_for(steps, 48, TheorySolver::exact_map);
    o.record_steps = {0, steps / 4, steps / 2, steps};
    const Trajectory map = predict(p, opt, o);
    o.solver = TheorySolver::ode;
    const Trajectory ode = predict(p, opt, o);
    double gap = 0.0;
    for (Eigen::Index i = 0; i < map.risk.size(); ++i)
      gap = std::max(gap, std::abs(map.risk(i) / ode.risk(i) - 1));
    if (previous_gap > 0.0) {
      EXPECT_LT(gap, 0.6 * previous_gap) << "lr = " << lr;
    }
    previous_gap = gap;
  }
  EXPECT_LT(previous_gap, 5e-3);
}

}  // namespace
}  // namespace signdyn::detail
