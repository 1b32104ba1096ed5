// Tests of the SignSVD spectral coefficients: κ roots, the s_i quadrature and its closed-form
// limits (docs/theory/signsvd.md §2).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <numbers>

#include "../../../solvers/ode/signsvd_coefficients.hpp"
#include "signdyn/error.hpp"

namespace signdyn::detail {
namespace {

constexpr double kInf = kInfiniteOutputs;

Eigen::ArrayXd power_law(Eigen::Index d, double alpha) {
  Eigen::ArrayXd lambda(d);
  for (Eigen::Index j = 0; j < d; ++j) lambda(j) = std::pow(static_cast<double>(j + 1), -2 * alpha);
  return lambda;
}

// ∫ √x dMP_γ(x) for the Marchenko–Pastur law of XᵀX/B with ratio γ = d/B (atom at 0 for γ > 1):
// x = (1+γ) + 2√γ cos θ turns it into (2/π)∫_0^π sin²θ / √(1+γ + 2√γ cos θ) dθ, a smooth
// periodic integrand for γ ≠ 1 (trapezoid, spectrally accurate).
double mp_mean_sqrt(double gamma) {
  const int n = 20000;
  const double c = 1 + gamma, r = 2 * std::sqrt(gamma);
  double sum = 0.0;
  for (int k = 1; k < n; ++k) {
    const double th = std::numbers::pi * k / n;
    sum += std::pow(std::sin(th), 2) / std::sqrt(c + r * std::cos(th));
  }
  return (r * r / (2 * std::numbers::pi * gamma)) * sum * (std::numbers::pi / n);
}

// Brute-force s_i: (1/π) ∫ z^{1/2} λ_i/(λ_i + κ(z)) d ln z on a fine grid, with κ(z) found by
// root-finding at every node (an independent route to the same integral), plus the two tails.
Eigen::ArrayXd brute_force_s(const Eigen::ArrayXd& lambda, double batch, double m) {
  const double kappa_r = kappa_of_scale(lambda, batch, m, 0.0);
  const double v_lo = std::log(std::max(kappa_r, lambda.minCoeff())) - 50;
  const double v_hi = std::log(lambda.maxCoeff() + kappa_r) + 50;
  const double h = 0.05;
  const int n = static_cast<int>((v_hi - v_lo) / h) + 1;
  Eigen::ArrayXd acc = Eigen::ArrayXd::Zero(lambda.size());
  for (int k = 0; k < n; ++k) {
    const double z = std::exp(v_lo + h * k);
    const double kappa = kappa_of_scale(lambda, batch, m, z);
    const double w = (k == 0 || k == n - 1 ? 0.5 : 1.0) * h * std::sqrt(z) / std::numbers::pi;
    acc += w * lambda / (lambda + kappa);
  }
  const double z_lo = std::exp(v_lo), z_hi = std::exp(v_lo + h * (n - 1));
  acc += (2 / std::numbers::pi) *
         (std::sqrt(z_lo) * lambda / (lambda + kappa_r) + lambda / std::sqrt(z_hi));
  return acc;
}

// κ_q solves df(κ_q) = q to round-off; leverage values of theory-derivations §8 item 2
// (their α = 1 is our α = 1/2, d = 200).
TEST(SignsvdCoefficients, KappaRootAndLeverageAnchors) {
  const Eigen::ArrayXd lambda = power_law(200, 0.5);
  for (double q : {1.0, 10.0, 50.0, 199.0}) {
    const double kappa = solve_kappa(lambda, q);
    EXPECT_NEAR(degrees_of_freedom(lambda, kappa), q, 1e-12 * q) << "q = " << q;
  }
  EXPECT_NEAR(solve_kappa(lambda, 1), 5.61903, 1e-5);
  EXPECT_NEAR(solve_kappa(lambda, 10), 0.426124, 1e-6);
  EXPECT_NEAR(solve_kappa(lambda, 50), 0.0460588, 1e-7);
  const SignsvdCoefficients c10 = signsvd_coefficients(lambda, 10, 200);
  EXPECT_NEAR(c10.n(0), 0.70120, 1e-5);
  EXPECT_NEAR(c10.n(9), 0.19007, 1e-5);
  EXPECT_NEAR(c10.n(99), 0.02293, 1e-5);
  EXPECT_EQ(solve_kappa(lambda, 200), 0.0);  // q ≥ d: no regularisation
}

// z(κ) = κ(1 − df/B)(1 − df/m) (evaluated naively away from κ_r) and κ(z) invert each other;
// z is increasing in κ.
TEST(SignsvdCoefficients, ScaleMapInvertsAndIsMonotone) {
  const Eigen::ArrayXd lambda = power_law(300, 0.75);
  for (double batch : {1.0, 16.0, 300.0, 1000.0, kInf}) {
    for (double m : {8.0, 300.0, kInf}) {
      double previous = 0.0;
      for (double z : {1e-9, 1e-6, 1e-3, 0.1, 1.0, 10.0, 1e4}) {
        const double kappa = kappa_of_scale(lambda, batch, m, z);
        EXPECT_GT(kappa, previous);
        previous = kappa;
        const double df = degrees_of_freedom(lambda, kappa);
        const double naive =
            kappa * (std::isinf(batch) ? 1 : 1 - df / batch) * (std::isinf(m) ? 1 : 1 - df / m);
        if (z >= 1e-3) {
          EXPECT_NEAR(naive, z, 1e-10 * z) << "B=" << batch << " m=" << m;
        }
        // Round trip: κ is known to ~ε·κ, and dz/dκ = O(1), so z to 1e-11 z + O(ε κ).
        EXPECT_NEAR(scale_of_kappa(lambda, batch, m, kappa), z, 1e-11 * z + 1e-13 * kappa);
      }
    }
  }
}

// B = m = ∞: κ(z) = z and s_i = (1/π)∫ z^{-1/2} λ_i/(λ_i + z) dz = √λ_i exactly.
TEST(SignsvdCoefficients, InfiniteBatchGivesSquareRoot) {
  const Eigen::ArrayXd lambda = power_law(500, 1.0);
  const SignsvdCoefficients c = signsvd_coefficients(lambda, kInf, kInf);
  EXPECT_LT(((c.s - lambda.sqrt()) / lambda.sqrt()).abs().maxCoeff(), 1e-11);
  EXPECT_TRUE((c.n == 1.0).all());
}

// Isotropic K: s_i = ∫√x dMP_γ with γ = d/B (m = ∞) or γ = d/m (B = ∞), to quadrature accuracy;
// γ = 1 has the closed form 8/(3π).
TEST(SignsvdCoefficients, IsotropicMatchesMarchenkoPastur) {
  const Eigen::Index d = 64;
  const Eigen::ArrayXd lambda = Eigen::ArrayXd::Ones(d);
  EXPECT_NEAR(signsvd_coefficients(lambda, 64, kInf).s(0), 8 / (3 * std::numbers::pi), 1e-11);
  for (double q : {16.0, 48.0, 128.0, 1024.0}) {
    const double expected = mp_mean_sqrt(d / q);
    EXPECT_NEAR(signsvd_coefficients(lambda, q, kInf).s(0), expected, 1e-10) << "B = " << q;
    EXPECT_NEAR(signsvd_coefficients(lambda, kInf, q).s(7), expected, 1e-10) << "m = " << q;
  }
}

// Isotropic K with B = m = d: Σ̂^{1/2}YYᵀΣ̂^{1/2}/m is a product of two square Wisharts, whose
// limit law is Fuss–Catalan FC_2 with E x^{1/2} = Γ(5/2)/(Γ(3/2)Γ(3)) = 3/4.
TEST(SignsvdCoefficients, DoubleWishartMatchesFussCatalan) {
  const Eigen::ArrayXd lambda = Eigen::ArrayXd::Constant(100, 2.0);
  // Scaling: λ = 2 multiplies Σ̂ by 2, hence s by √2.
  EXPECT_NEAR(signsvd_coefficients(lambda, 100, 100).s(3), 0.75 * std::sqrt(2.0), 1e-11);
}

// The log-κ trapezoid agrees with a brute-force log-z quadrature that root-finds κ(z) at every
// node, to 1e-10 relative, in every rank regime (B < d, B = d, B > d; m < B, m = ∞).
TEST(SignsvdCoefficients, QuadratureMatchesBruteForce) {
  const Eigen::ArrayXd lambda = power_law(120, 0.5);
  for (auto [batch, m] : {std::pair{1.0, kInf},
                          {4.0, 120.0},
                          {32.0, 8.0},
                          {120.0, 120.0},
                          {500.0, 30.0},
                          {500.0, 500.0},
                          {2000.0, kInf}}) {
    const SignsvdCoefficients c = signsvd_coefficients(lambda, batch, m);
    const Eigen::ArrayXd ref = brute_force_s(lambda, batch, m);
    EXPECT_LT(((c.s - ref) / ref).abs().maxCoeff(), 1e-10) << "B=" << batch << " m=" << m;
  }
}

// A much finer and wider rule (h = 0.1, margin 60) changes s_i by < 1e-12 relative: the
// default rule has converged (its error is ~1e-14, the round-off of a few hundred terms).
TEST(SignsvdCoefficients, QuadratureConvergedInStep) {
  const Eigen::ArrayXd lambda = power_law(1000, 0.75);
  for (auto [batch, m] : {std::pair{8.0, 1000.0}, {1000.0, 1000.0}, {4096.0, 250.0}}) {
    const Eigen::ArrayXd coarse = signsvd_coefficients(lambda, batch, m).s;
    const Eigen::ArrayXd fine = signsvd_coefficients(lambda, batch, m, {0.1, 60.0}).s;
    EXPECT_LT(((coarse - fine) / fine).abs().maxCoeff(), 1e-12) << "B=" << batch << " m=" << m;
  }
}

// Small B (m = ∞): κ(u) ≈ κ_1 + u² when λ_max ≪ κ_1, so s_i ≈ λ_i/√(λ_i + κ_1) — SGD-like,
// ∝ λ_i in the tail — with relative error O(Σλ²/(tr K)²) (docs/theory/signsvd.md §2.3).
TEST(SignsvdCoefficients, BatchOneLimitIsSgdLike) {
  const Eigen::ArrayXd lambda = power_law(20000, 0.25);  // λ_j = j^{-1/2}, flat enough
  const SignsvdCoefficients c = signsvd_coefficients(lambda, 1, kInf);
  const double trace = lambda.sum(), order = lambda.square().sum() / (trace * trace);
  const Eigen::ArrayXd limit = lambda / (lambda + c.kappa_r).sqrt();
  EXPECT_LT(((c.s - limit) / limit).abs().maxCoeff(), 3 * order) << "order " << order;
}

// Noise coefficients: Σ_i n_i = rank = min(B, m, d) (a projector of that rank), with the rank-m
// analogue λ_i/(λ_i + κ_m) when m < min(B, d), and n_i = 1 when B, m ≥ d.
TEST(SignsvdCoefficients, NoiseCoefficientsSumToRank) {
  const Eigen::ArrayXd lambda = power_law(256, 0.5);
  for (auto [batch, m, rank] : {std::tuple{16.0, 256.0, 16.0},
                                {1024.0, 64.0, 64.0},
                                {64.0, 64.0, 64.0},
                                {1024.0, 1024.0, 256.0},
                                {300.0, kInf, 256.0}}) {
    const SignsvdCoefficients c = signsvd_coefficients(lambda, batch, m);
    EXPECT_NEAR(c.n.sum(), rank, 1e-10 * rank);
    EXPECT_EQ(c.rank, rank);
  }
  const SignsvdCoefficients low_rank = signsvd_coefficients(lambda, 1024, 64);
  EXPECT_NEAR(low_rank.n(0), 1 / (1 + solve_kappa(lambda, 64)), 1e-14);
}

// Bad input is reported, not computed: zero eigenvalues, B < 1.
TEST(SignsvdCoefficients, RejectsInvalidInput) {
  Eigen::ArrayXd lambda = power_law(10, 0.5);
  EXPECT_THROW(signsvd_coefficients(lambda, 0.5, 10), Error);
  lambda(3) = 0.0;
  EXPECT_THROW(signsvd_coefficients(lambda, 4, 10), Error);
}

// Cost: O(d · nodes); d = 10^6 (α = 1/2, B = 256) stays within a couple of seconds.
TEST(SignsvdCoefficients, MillionModesIsFast) {
  const Eigen::ArrayXd lambda = power_law(1000000, 0.5);
  const auto start = std::chrono::steady_clock::now();
  const SignsvdCoefficients c = signsvd_coefficients(lambda, 256, 1000000);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(c.s.allFinite());
  EXPECT_NEAR(c.n.sum(), 256, 1e-8 * 256);
  EXPECT_LT(seconds, 5.0) << c.nodes << " nodes";
  std::printf("d = 1e6: %d nodes, %.2f s\n", c.nodes, seconds);
}

}  // namespace
}  // namespace signdyn::detail
