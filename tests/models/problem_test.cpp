// Tests of the problem of theory.md §1: validation, the Haar basis, exact risks, sampling.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "signdyn/error.hpp"
#include "signdyn/problem.hpp"

namespace signdyn {
namespace {

// Expects make_problem(spec) to throw a ConfigError whose field is `field`.
void expect_config_error(const ProblemSpec& spec, const std::string& field) {
  try {
    make_problem(spec);
    ADD_FAILURE() << "accepted an invalid spec; expected an error on " << field;
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), field) << e.what();
  }
}

// Impossible specs are ConfigErrors naming the dotted field.
TEST(MakeProblem, RejectsImpossibleSpecsNamingTheField) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  ProblemSpec s;
  s.d = 0;
  expect_config_error(s, "problem.d");
  s = {};
  s.m = -2;
  expect_config_error(s, "problem.m");
  s = {};
  s.sigma = -0.1;
  expect_config_error(s, "problem.sigma");
  s = {};
  s.alpha = -0.5;  // ascending "eigenvalues"
  expect_config_error(s, "problem.covariance.alpha");
  s = {};
  s.alpha = nan;
  expect_config_error(s, "problem.covariance.alpha");
  s = {};
  s.alpha = 400.0;  // 2^(−800) underflows to 0
  expect_config_error(s, "problem.covariance.alpha");
  s = {};
  s.beta = std::numeric_limits<double>::infinity();
  expect_config_error(s, "problem.target.beta");
  s = {};
  s.covariance = CovarianceKind::from_file;  // no path
  expect_config_error(s, "problem.covariance.path");
}

// Beyond kMaxRealisedBasis a generic basis is not formed (a dense 10^6 × 10^6 rotation would take
// 7 TiB): the problem is generic without O, and the true-basis risk, which needs O, refuses.
TEST(MakeProblem, LargeGenericBasisIsNotFormed) {
  ProblemSpec s;
  s.d = 1000000;
  s.m = 1;
  s.basis = BasisKind::generic;
  const Problem p = make_problem(s);
  EXPECT_FALSE(p.is_diagonal());
  EXPECT_FALSE(p.has_rotation());
  EXPECT_EQ(p.O.size(), 0);
  EXPECT_EQ(p.lambda.size(), 1000000);
  EXPECT_THROW(risk_true_basis(p, Eigen::MatrixXd::Zero(s.d, 1)), Error);
  s.d = kMaxRealisedBasis < 64 ? kMaxRealisedBasis : 64;
  EXPECT_TRUE(make_problem(s).has_rotation());
}

// make_problem applies the spectrum, target, normalisations and basis of the spec.
TEST(MakeProblem, BuildsNormalisedSpectraAndBasis) {
  ProblemSpec s;
  s.d = 40;
  s.m = 10;
  s.sigma = 0.3;
  s.alpha = 0.8;
  s.beta = 0.2;
  s.normalise_trace = true;
  s.normalise_target = true;
  s.basis = BasisKind::generic;
  const Problem p = make_problem(s);
  EXPECT_EQ(p.d, 40);
  EXPECT_EQ(p.m, 10);
  EXPECT_EQ(p.sigma, 0.3);
  EXPECT_NEAR(p.lambda.sum(), 1.0, 1e-14);
  EXPECT_NEAR(p.lambda.dot(p.b.cwiseAbs2()), 1.0, 1e-14);
  EXPECT_NEAR(p.lambda(9) / p.lambda(0), std::pow(10.0, -1.6), 1e-14);
  EXPECT_EQ(p.O.rows(), 40);
  EXPECT_FALSE(p.is_diagonal());
  s.basis = BasisKind::diagonal;
  EXPECT_EQ(make_problem(s).O.size(), 0);
}

// OᵀO = I to round-off (1e-12), and O is a function of the seed alone.
TEST(HaarOrthogonal, IsOrthogonalAndDeterministicBySeed) {
  const Eigen::MatrixXd O = haar_orthogonal(60, 7);
  EXPECT_LT((O.transpose() * O - Eigen::MatrixXd::Identity(60, 60)).cwiseAbs().maxCoeff(), 1e-12);
  EXPECT_EQ(O, haar_orthogonal(60, 7));
  EXPECT_NE(O, haar_orthogonal(60, 8));
}

// Haar measure: O_11 is symmetric with E[O_11] = 0 and E[O_11²] = 1/d (O_11² ~ Beta(1/2,
// (d−1)/2), variance 2(d−1)/(d²(d+2))); stochastic, tolerance 4 SE over n seeds. Without the
// sign fix of diag(R), Householder QR gives O_11 < 0 always and the first check fails.
TEST(HaarOrthogonal, FirstEntryHasHaarMoments) {
  const int d = 6, n = 4000;
  double s1 = 0, s2 = 0;
  for (int seed = 1; seed <= n; ++seed) {
    const double o11 = haar_orthogonal(d, static_cast<std::uint64_t>(seed))(0, 0);
    s1 += o11;
    s2 += o11 * o11;
  }
  const double se1 = std::sqrt(1.0 / d / n);
  const double se2 = std::sqrt(2.0 * (d - 1) / (double(d) * d * (d + 2)) / n);
  EXPECT_NEAR(s1 / n, 0.0, 4 * se1) << "stochastic: tolerance = 4 SE from n = " << n;
  EXPECT_NEAR(s2 / n, 1.0 / d, 4 * se2) << "stochastic: tolerance = 4 SE from n = " << n;
}

// A small generic-basis problem with noise.
Problem small_problem(BasisKind basis) {
  ProblemSpec s;
  s.d = 6;
  s.m = 3;
  s.sigma = 0.5;
  s.alpha = 0.6;
  s.beta = 0.3;
  s.basis = basis;
  s.basis_seed = 11;
  return make_problem(s);
}

// The exact risk (1/(2m)) tr(ΔᵀKΔ) + σ²/2 equals the sample mean of (1/(2m))‖Wᵀx − y‖² over
// fresh (x, y) within 4 standard errors (stochastic: n = 40000 samples).
TEST(Risk, ExactRiskMatchesSampledLoss) {
  for (BasisKind basis : {BasisKind::diagonal, BasisKind::generic}) {
    const Problem p = small_problem(basis);
    const Eigen::MatrixXd O = p.is_diagonal() ? Eigen::MatrixXd::Identity(p.d, p.d) : p.O;
    Rng rng(3, 0);
    Eigen::MatrixXd Z(p.d, p.m), W(p.d, p.m);
    rng.fill_normal(Z);
    rng.fill_normal(W);
    W *= 0.3;
    const Eigen::MatrixXd W_star = O * p.b.asDiagonal() * Z;
    const double exact = risk_true_basis(p, W - W_star);

    const int n = 40000;
    double s1 = 0, s2 = 0;
    Eigen::VectorXd z(p.d), eps(p.m);
    for (int i = 0; i < n; ++i) {
      for (Eigen::Index j = 0; j < p.d; ++j) z(j) = rng.normal() * std::sqrt(p.lambda(j));
      for (Eigen::Index j = 0; j < p.m; ++j) eps(j) = p.sigma * rng.normal();
      const Eigen::VectorXd x = O * z;
      const Eigen::VectorXd y = W_star.transpose() * x + eps;
      const double loss = (W.transpose() * x - y).squaredNorm() / (2.0 * p.m);
      s1 += loss;
      s2 += loss * loss;
    }
    const double mean = s1 / n, se = std::sqrt((s2 / n - mean * mean) / (n - 1));
    EXPECT_NEAR(mean, exact, 4 * se) << "stochastic: tolerance = 4 SE from n = " << n;
  }
}

// Rotation: risk_true_basis(OΔ_eig) = risk_eigenbasis(Δ_eig) = risk_from_rho(ρ(Δ_eig)).
TEST(Risk, TrueBasisEqualsEigenbasisAfterRotation) {
  const Problem p = small_problem(BasisKind::generic);
  Rng rng(5, 0);
  Eigen::MatrixXd delta_eig(p.d, p.m);
  rng.fill_normal(delta_eig);
  const double r_eig = risk_eigenbasis(p, delta_eig);
  EXPECT_NEAR(risk_true_basis(p, p.O * delta_eig), r_eig, 1e-14 * r_eig);
  EXPECT_NEAR(risk_from_rho(p, rho_eigenbasis(delta_eig)), r_eig, 1e-14 * r_eig);
  // ρ_j = ‖Δ_j‖²/m by definition.
  EXPECT_NEAR(rho_eigenbasis(delta_eig)(2), delta_eig.row(2).squaredNorm() / p.m, 1e-15);
}

// Δ_0 = −diag(b) Z: ρ_j(0) = b_j² χ²_m/m, so E ρ_j(0) = b_j² (4 SE, SE = b_j² √(2/m)).
TEST(Sampling, InitialResidualHasEnergyBSquared) {
  ProblemSpec s;
  s.d = 4;
  s.m = 20000;
  s.beta = 0.7;
  const Problem p = make_problem(s);
  Rng rng(9, 0);
  Eigen::MatrixXd delta(p.d, p.m);
  sample_initial_residual(p, rng, delta);
  const Eigen::VectorXd rho = rho_eigenbasis(delta);
  for (Eigen::Index j = 0; j < p.d; ++j) {
    const double b2 = p.b(j) * p.b(j);
    EXPECT_NEAR(rho(j), b2, 4 * b2 * std::sqrt(2.0 / p.m)) << "stochastic: 4 SE, mode " << j + 1;
  }
  // Modes are independent: the column mean of Δ_1j Δ_2j is 0 (4 SE, SE = b_1 b_2 / √m).
  EXPECT_NEAR((delta.row(0).array() * delta.row(1).array()).mean(), 0.0,
              4 * p.b(0) * p.b(1) / std::sqrt(p.m));
}

// A batch in the eigenbasis has Var X_·j = λ_j and Var E = σ² (4 SE, SE = v √(2/n)).
TEST(Sampling, BatchHasEigenbasisCovariance) {
  ProblemSpec s;
  s.d = 5;
  s.m = 3;
  s.sigma = 0.7;
  s.alpha = 1.0;
  const Problem p = make_problem(s);
  const int n = 20000;
  Rng rng(2, 0);
  Eigen::MatrixXd X(n, p.d), E(n, p.m);
  sample_batch_eigenbasis(p, rng, X, E);
  for (Eigen::Index j = 0; j < p.d; ++j) {
    const double var = X.col(j).squaredNorm() / n;
    EXPECT_NEAR(var, p.lambda(j), 4 * p.lambda(j) * std::sqrt(2.0 / n)) << "stochastic: 4 SE";
  }
  for (Eigen::Index j = 0; j < p.m; ++j) {
    const double var = E.col(j).squaredNorm() / n;
    const double s2 = p.sigma * p.sigma;
    EXPECT_NEAR(var, s2, 4 * s2 * std::sqrt(2.0 / n)) << "stochastic: 4 SE";
  }
}

}  // namespace
}  // namespace signdyn
