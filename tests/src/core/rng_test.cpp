// Tests of the counter-based random streams.
#include <gtest/gtest.h>

#include <cmath>

#include "signdyn/rng.hpp"

namespace signdyn {
namespace {

// Same (seed, stream) gives the same sequence; a different stream or seed gives another.
TEST(Rng, StreamsAreReproducibleAndDistinct) {
  Rng a(42, 7), b(42, 7), c(42, 8), e(43, 7);
  for (int i = 0; i < 100; ++i) {
    const double x = a.normal();
    EXPECT_EQ(x, b.normal());
    EXPECT_NE(x, c.normal());
    EXPECT_NE(x, e.normal());
  }
}

// Sample mean, variance and fourth moment of N(0,1) within 5 standard errors (n = 2e5).
TEST(Rng, NormalMomentsMatchStandardGaussian) {
  Rng rng(1, 0);
  const int n = 200000;
  double s1 = 0, s2 = 0, s4 = 0;
  for (int i = 0; i < n; ++i) {
    const double x = rng.normal();
    s1 += x;
    s2 += x * x;
    s4 += x * x * x * x;
  }
  const double mean = s1 / n, var = s2 / n, m4 = s4 / n;
  EXPECT_NEAR(mean, 0.0, 5.0 / std::sqrt(n));       // sd of mean = 1/sqrt(n)
  EXPECT_NEAR(var, 1.0, 5.0 * std::sqrt(2.0 / n));  // var(x^2) = 2
  EXPECT_NEAR(m4, 3.0, 5.0 * std::sqrt(96.0 / n));  // var(x^4) = 105 - 9 = 96
}

// Uniforms lie strictly inside (0, 1) with mean 1/2.
TEST(Rng, UniformIsInsideOpenInterval) {
  Rng rng(3, 1);
  double s = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    const double u = rng.uniform();
    ASSERT_GT(u, 0.0);
    ASSERT_LT(u, 1.0);
    s += u;
  }
  EXPECT_NEAR(s / n, 0.5, 5.0 * std::sqrt(1.0 / 12.0 / n));
}

}  // namespace
}  // namespace signdyn
