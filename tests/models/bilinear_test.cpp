// Tests of the bilinear problem of theory.md §1 ("Second family"): validation, exact risk
// against sampled losses, the sampler's covariances and the initial residual.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <string>

#include "signdyn/bilinear.hpp"
#include "signdyn/error.hpp"
#include "signdyn/problem.hpp"
#include "signdyn/rng.hpp"

namespace signdyn {
namespace {

// Expects make_bilinear_problem(spec) to throw a ConfigError whose field is `field`.
void expect_config_error(const BilinearSpec& spec, const std::string& field) {
  try {
    make_bilinear_problem(spec);
    ADD_FAILURE() << "accepted an invalid spec; expected an error on " << field;
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), field) << e.what();
    EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
  }
}

// Impossible specs are ConfigErrors naming the dotted field.
TEST(MakeBilinearProblem, RejectsImpossibleSpecsNamingTheField) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  BilinearSpec s;
  s.n_out = 0;
  expect_config_error(s, "bilinear.n_out");
  s = {};
  s.n_in = -3;
  expect_config_error(s, "bilinear.n_in");
  s = {};
  s.sigma = -0.1;
  expect_config_error(s, "bilinear.sigma");
  s = {};
  s.alpha_out = nan;
  expect_config_error(s, "bilinear.alpha_out");
  s = {};
  s.alpha_in = -1.0;
  expect_config_error(s, "bilinear.alpha_in");
  s = {};
  s.beta_out = -0.5;
  expect_config_error(s, "bilinear.beta_out");
  s = {};
  s.beta_in = std::numeric_limits<double>::infinity();
  expect_config_error(s, "bilinear.beta_in");
}

// μ_k = k^(−2α_out), λ_l = l^(−2α_in), b_k = k^(−β_out), c_l = l^(−β_in).
TEST(MakeBilinearProblem, PowerLawSpectraAndTargets) {
  BilinearSpec s;
  s.n_out = 5;
  s.n_in = 7;
  s.alpha_out = 0.75;
  s.alpha_in = 0.4;
  s.beta_out = 1.1;
  s.beta_in = 0.3;
  const BilinearProblem p = make_bilinear_problem(s);
  ASSERT_EQ(p.mu.size(), 5);
  ASSERT_EQ(p.lambda.size(), 7);
  for (int k = 1; k <= 5; ++k) {
    EXPECT_NEAR(p.mu(k - 1), std::pow(k, -1.5), 1e-15);
    EXPECT_NEAR(p.b(k - 1), std::pow(k, -1.1), 1e-15);
  }
  for (int l = 1; l <= 7; ++l) {
    EXPECT_NEAR(p.lambda(l - 1), std::pow(l, -0.8), 1e-15);
    EXPECT_NEAR(p.c(l - 1), std::pow(l, -0.3), 1e-15);
  }
}

// Each side's spectrum on its own: isotropic ones, or a file's values sorted descending; a
// file with the wrong count is a ConfigError naming the side's path key and its dimension.
TEST(MakeBilinearProblem, IsotropicAndFileSpectraPerSide) {
  const std::string path = testing::TempDir() + "signdyn_bilinear_spectrum.txt";
  std::ofstream(path) << "# K_in eigenvalues\n0.25 1.0\n0.5  # middle\n";
  BilinearSpec s;
  s.n_out = 4;
  s.n_in = 3;
  s.covariance_out = CovarianceKind::isotropic;
  s.covariance_in = CovarianceKind::from_file;
  s.file_in = path;
  const BilinearProblem p = make_bilinear_problem(s);
  EXPECT_EQ(p.mu, Eigen::VectorXd::Ones(4));
  EXPECT_EQ(p.lambda, Eigen::Vector3d(1.0, 0.5, 0.25));
  EXPECT_TRUE(p.is_diagonal());

  s.n_in = 5;
  try {
    make_bilinear_problem(s);
    ADD_FAILURE() << "a 3-value file was accepted for n_in = 5";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), "problem.bilinear.path_in");
    EXPECT_NE(std::string(e.what()).find("problem.bilinear.n_in = 5"), std::string::npos)
        << e.what();
  }
  s.file_in.clear();
  expect_config_error(s, "bilinear.path_in");
  std::remove(path.c_str());
}

// A generic side holds a Haar rotation: orthogonal, fixed by the seed, and the two sides draw
// from different streams (O_out ≠ O_in at n_out = n_in); a diagonal side holds none.
TEST(MakeBilinearProblem, GenericBasesAreSeededHaarRotationsPerSide) {
  BilinearSpec s;
  s.n_out = 9;
  s.n_in = 9;
  s.basis_out = BasisKind::generic;
  s.basis_in = BasisKind::generic;
  s.basis_seed = 4;
  const BilinearProblem p = make_bilinear_problem(s);
  ASSERT_EQ(p.O_out.rows(), 9);
  ASSERT_EQ(p.O_in.rows(), 9);
  EXPECT_FALSE(p.is_diagonal());
  const Eigen::MatrixXd eye = Eigen::MatrixXd::Identity(9, 9);
  EXPECT_LT((p.O_out.transpose() * p.O_out - eye).norm(), 1e-13);
  EXPECT_LT((p.O_in.transpose() * p.O_in - eye).norm(), 1e-13);
  EXPECT_GT((p.O_out - p.O_in).norm(), 1.0);
  EXPECT_EQ(p.O_out, haar_orthogonal(9, 4));
  EXPECT_EQ(p.O_out, make_bilinear_problem(s).O_out);

  s.basis_in = BasisKind::diagonal;
  const BilinearProblem half = make_bilinear_problem(s);
  EXPECT_EQ(half.O_in.size(), 0);
  EXPECT_EQ(half.O_out, p.O_out);
  EXPECT_FALSE(half.is_diagonal());

  s.n_out = kMaxBilinearGenericSide + 1;
  s.n_in = 2;
  expect_config_error(s, "bilinear.n_out");
}

BilinearProblem small_problem() {
  BilinearSpec s;
  s.n_out = 6;
  s.n_in = 4;
  s.sigma = 0.3;
  s.alpha_out = 0.6;
  s.alpha_in = 0.8;
  s.beta_out = 0.5;
  s.beta_in = 0.7;
  return make_bilinear_problem(s);
}

// The exact risk ½ tr(K_out Δ K_in Δᵀ) + σ²/2 equals the mean sampled loss ½ r² within 4 SE,
// and the two exact forms (from Δ and from ρ = Δ∘Δ) agree.
TEST(BilinearRisk, ExactRiskMatchesSampledLoss) {
  const BilinearProblem p = small_problem();
  Rng rng(7, 0);
  Eigen::MatrixXd delta(p.n_out, p.n_in);
  rng.fill_normal(delta);
  delta *= 0.3;  // noise and signal of comparable size, so the check sees both terms
  const double exact = bilinear_risk(p, delta);
  EXPECT_NEAR(exact, bilinear_risk_from_rho(p, delta.cwiseAbs2()), 1e-14 * exact);

  const Eigen::Index batch = 64;
  const int batches = 4000;
  Eigen::MatrixXd a_out(batch, p.n_out), a_in(batch, p.n_in);
  Eigen::VectorXd eps(batch), r(batch);
  double sum = 0.0, sum_sq = 0.0;
  for (int i = 0; i < batches; ++i) {
    sample_bilinear_batch(p, rng, a_out, a_in, eps);
    bilinear_residuals(a_out, a_in, delta, eps, r);
    for (Eigen::Index b = 0; b < batch; ++b) {
      const double loss = 0.5 * r(b) * r(b);
      sum += loss;
      sum_sq += loss * loss;
    }
  }
  const double n = static_cast<double>(batch) * batches;
  const double mean = sum / n;
  const double se = std::sqrt((sum_sq / n - mean * mean) / n);
  EXPECT_NEAR(mean, exact, 4.0 * se) << "se " << se;
  // The check has power: dropping the noise term σ²/2 would be many SE away.
  EXPECT_GT(0.5 * p.sigma * p.sigma, 8.0 * se);
}

// Residuals: r_b = a_out,bᵀ Δ a_in,b − ε_b, against a dense product.
TEST(BilinearRisk, ResidualsAreThePredictionMinusLabel) {
  const BilinearProblem p = small_problem();
  Rng rng(3, 1);
  Eigen::MatrixXd delta(p.n_out, p.n_in), a_out(5, p.n_out), a_in(5, p.n_in);
  Eigen::VectorXd eps(5), r(5);
  rng.fill_normal(delta);
  sample_bilinear_batch(p, rng, a_out, a_in, eps);
  bilinear_residuals(a_out, a_in, delta, eps, r);
  const Eigen::VectorXd expected = (a_out * delta * a_in.transpose()).diagonal() - eps;
  EXPECT_LT((r - expected).cwiseAbs().maxCoeff(), 1e-13);
}

// Sample covariance of columns i, j of A against cov(i, j) = v_i δ_ij, each entry within 4 SE
// (Var(x_i x_j) = v_i v_j (1 + δ_ij) for independent centred Gaussians).
void expect_covariance(const Eigen::MatrixXd& sum_xx, double n, const Eigen::VectorXd& v_row,
                       const Eigen::VectorXd& v_col, bool diagonal, const char* what) {
  for (Eigen::Index i = 0; i < sum_xx.rows(); ++i) {
    for (Eigen::Index j = 0; j < sum_xx.cols(); ++j) {
      const bool same = diagonal && i == j;
      const double expected = same ? v_row(i) : 0.0;
      const double se = std::sqrt(v_row(i) * v_col(j) * (same ? 2.0 : 1.0) / n);
      EXPECT_NEAR(sum_xx(i, j) / n, expected, 4.0 * se) << what << " (" << i << ", " << j << ")";
    }
  }
}

// The sampler draws x_out ~ N(0, diag μ), x_in ~ N(0, diag λ), ε ~ N(0, σ²), all independent.
TEST(BilinearSampler, CovariancesAreTheSpectraAndFactorsAreIndependent) {
  const BilinearProblem p = small_problem();
  Rng rng(11, 2);
  const Eigen::Index batch = 50;
  const int batches = 2000;
  Eigen::MatrixXd a_out(batch, p.n_out), a_in(batch, p.n_in);
  Eigen::VectorXd eps(batch);
  Eigen::MatrixXd s_out = Eigen::MatrixXd::Zero(p.n_out, p.n_out);
  Eigen::MatrixXd s_in = Eigen::MatrixXd::Zero(p.n_in, p.n_in);
  Eigen::MatrixXd s_cross = Eigen::MatrixXd::Zero(p.n_out, p.n_in);
  Eigen::VectorXd s_eps_out = Eigen::VectorXd::Zero(p.n_out);
  double s_eps = 0.0;
  for (int i = 0; i < batches; ++i) {
    sample_bilinear_batch(p, rng, a_out, a_in, eps);
    s_out += a_out.transpose() * a_out;
    s_in += a_in.transpose() * a_in;
    s_cross += a_out.transpose() * a_in;
    s_eps_out += a_out.transpose() * eps;
    s_eps += eps.squaredNorm();
  }
  const double n = static_cast<double>(batch) * batches;
  expect_covariance(s_out, n, p.mu, p.mu, true, "K_out");
  expect_covariance(s_in, n, p.lambda, p.lambda, true, "K_in");
  expect_covariance(s_cross, n, p.mu, p.lambda, false, "cross");
  const double var = p.sigma * p.sigma;
  EXPECT_NEAR(s_eps / n, var, 4.0 * var * std::sqrt(2.0 / n));
  expect_covariance(Eigen::MatrixXd(s_eps_out), n, p.mu, Eigen::VectorXd::Constant(1, var), false,
                    "noise-x_out");
}

// Δ_0 = −W*: E Δ_kl = 0, E Δ_kl² = b_k² c_l² (bilinear_initial_rho), within 4 SE per entry.
TEST(BilinearSampler, InitialResidualHasTheTargetEnergies) {
  const BilinearProblem p = small_problem();
  Rng rng(5, 3);
  const int draws = 20000;
  Eigen::MatrixXd delta(p.n_out, p.n_in);
  Eigen::MatrixXd sum = Eigen::MatrixXd::Zero(p.n_out, p.n_in);
  Eigen::MatrixXd sum_sq = Eigen::MatrixXd::Zero(p.n_out, p.n_in);
  for (int i = 0; i < draws; ++i) {
    sample_bilinear_initial_residual(p, rng, delta);
    sum += delta;
    sum_sq += delta.cwiseAbs2();
  }
  const Eigen::MatrixXd rho0 = bilinear_initial_rho(p);
  for (Eigen::Index k = 0; k < p.n_out; ++k) {
    for (Eigen::Index l = 0; l < p.n_in; ++l) {
      const double v = rho0(k, l);
      EXPECT_NEAR(rho0(k, l), p.b(k) * p.b(k) * p.c(l) * p.c(l), 1e-15);
      EXPECT_NEAR(sum(k, l) / draws, 0.0, 4.0 * std::sqrt(v / draws));
      EXPECT_NEAR(sum_sq(k, l) / draws, v, 4.0 * v * std::sqrt(2.0 / draws));
    }
  }
}

}  // namespace
}  // namespace signdyn
