// Tests of the Monte Carlo vs theory comparison.
#include <gtest/gtest.h>

#include <cmath>

#include "signdyn/compare.hpp"

namespace signdyn {
namespace {

Trajectory make(std::initializer_list<double> t, std::initializer_list<double> risk,
                std::initializer_list<double> se) {
  Trajectory tr;
  tr.t = Eigen::Map<const Eigen::VectorXd>(t.begin(), static_cast<Eigen::Index>(t.size()));
  tr.risk = Eigen::Map<const Eigen::VectorXd>(risk.begin(), static_cast<Eigen::Index>(risk.size()));
  tr.risk_se = Eigen::Map<const Eigen::VectorXd>(se.begin(), static_cast<Eigen::Index>(se.size()));
  return tr;
}

// Only shared record times are compared; z = difference / SE, relative error against theory.
TEST(CompareRisk, SharedTimesZScoresAndRelativeErrors) {
  const Trajectory mc = make({0, 1, 2, 4}, {1.0, 0.9, 0.8, 0.5}, {0.01, 0.01, 0.02, 0.05});
  const Trajectory th = make({0, 2, 3, 4}, {1.0, 0.84, 0.7, 0.4}, {0, 0, 0, 0});
  const Comparison c = compare_risk(mc, th);
  ASSERT_EQ(c.t.size(), 3);
  EXPECT_EQ(c.t(1), 2.0);
  EXPECT_NEAR(c.z(1), (0.8 - 0.84) / 0.02, 1e-12);
  EXPECT_NEAR(c.rel_error(2), (0.5 - 0.4) / 0.4, 1e-12);
  EXPECT_NEAR(c.max_abs_z, 2.0, 1e-12);
  EXPECT_EQ(c.count_within(1.9), 1);
  EXPECT_EQ(c.count_within(2.0), 3);
}

// A difference with zero standard error is infinitely significant, not silently zero.
TEST(CompareRisk, ZeroStandardErrorWithDifferenceIsInfinite) {
  const Comparison c = compare_risk(make({0}, {1.0}, {0.0}), make({0}, {0.5}, {0.0}));
  EXPECT_TRUE(std::isinf(c.z(0)));
  EXPECT_EQ(c.count_within(4.0), 0);
}

}  // namespace
}  // namespace signdyn
