// Tests of the rate bins (solvers/ode/rate_bins.hpp): the bins' widths and the compression error
// of a sum of exponential decays.
#include "../../../solvers/ode/rate_bins.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace signdyn::detail {
namespace {

// 20000 rates log-uniform over four decades with random positive weights.
struct Modes {
  std::vector<double> c, a;
};

Modes random_modes(int n, unsigned seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Modes m;
  for (int i = 0; i < n; ++i) {
    m.c.push_back(std::pow(10.0, -4.0 * u(gen)));
    m.a.push_back(0.1 + u(gen));
  }
  return m;
}

// Every mode lies within relative ε of its bin's weighted mean rate, the bins cover four decades
// with at most ln(10⁴)/ln(1+ε) + 1 of them (some empty), and Σ amounts = Σ weights.
TEST(RateBins, WidthAndConservation) {
  const Modes m = random_modes(20000, 1);
  for (double eps : {1e-3, 1e-2, 0.1}) {
    const RateBins bins = rate_bins(m.c, eps);
    const auto dec = binned_decays(bins, m.c, m.a);
    double total = 0.0, binned = 0.0;
    for (std::size_t i = 0; i < m.c.size(); ++i) {
      ASSERT_GE(bins.bin[i], 0);
      EXPECT_LE(std::abs(m.c[i] / dec[bins.bin[i]].rate - 1.0), eps * (1.0 + 1e-12));
      total += m.a[i];
    }
    for (const auto& b : dec) binned += b.amount;
    EXPECT_NEAR(binned, total, 1e-10 * total);
    EXPECT_LE(bins.count, static_cast<int>(std::log(1e4) / std::log1p(eps)) + 2);
    EXPECT_GE(bins.count, static_cast<int>(0.5 * std::min(20000.0, std::log(1e4) / eps)));
  }
}

// Σ_i a_i e^{−c_i R} against Σ_b A_b e^{−c̄_b R} over R from 10⁻¹ to 10⁶ (x = c R through the
// whole decay of every bin): the error is at most (ε²/8) max_x x² e^{−x(1−ε)} ≈ 0.068 ε² of
// Σ a_i, and it is second order: ε/4 gives about 1/16 of the error.
TEST(RateBins, DecayErrorIsSecondOrder) {
  const Modes m = random_modes(20000, 2);
  double total = 0.0;
  for (double a : m.a) total += a;
  auto worst = [&](double eps) {
    const RateBins bins = rate_bins(m.c, eps);
    const auto dec = binned_decays(bins, m.c, m.a);
    double err = 0.0;
    for (double R = 0.1; R < 1e6; R *= 1.2) {
      double exact = 0.0, approx = 0.0;
      for (std::size_t i = 0; i < m.c.size(); ++i) exact += m.a[i] * std::exp(-m.c[i] * R);
      for (const auto& b : dec) approx += b.amount * std::exp(-b.rate * R);
      err = std::max(err, std::abs(approx - exact) / total);
    }
    return err;
  };
  const double coarse = worst(0.04), fine = worst(0.01);
  const double k = 1.0 - 0.04;  // (ε²/8)·max_x x² e^{−kx} = (ε²/8)·4e^{−2}/k², k = 1 − ε
  const double bound = 0.04 * 0.04 / 8.0 * 4.0 * std::exp(-2.0) / (k * k);
  EXPECT_LT(coarse, bound);
  EXPECT_GT(coarse, 0.0);
  EXPECT_GT(coarse / fine, 8.0);  // 16 for a pure ε² law
  EXPECT_LT(coarse / fine, 32.0);
}

// Rates ≤ 0 are left out of the bins; ε = √rel_tol/10, at most 1e-2.
TEST(RateBins, NonDecayingModesAndWidth) {
  const RateBins bins = rate_bins({1.0, 0.0, 0.5, -1.0}, 0.01);
  EXPECT_EQ(bins.count, 2);
  EXPECT_EQ(bins.bin[1], -1);
  EXPECT_EQ(bins.bin[3], -1);
  EXPECT_DOUBLE_EQ(bin_width_for(1e-4), 1e-3);
  EXPECT_DOUBLE_EQ(bin_width_for(1e-1), 1e-2);
}

}  // namespace
}  // namespace signdyn::detail
