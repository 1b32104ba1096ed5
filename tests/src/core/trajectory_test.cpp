// Tests of the record grids.
#include <gtest/gtest.h>

#include "signdyn/optimizer.hpp"
#include "signdyn/trajectory.hpp"

namespace signdyn {
namespace {

// Record steps start at 0, end at the horizon, and increase strictly.
TEST(RecordSteps, LogSpacedStrictlyIncreasingWithEnds) {
  for (std::int64_t steps : {1, 7, 100, 12345}) {
    const auto t = record_steps(steps, 30);
    ASSERT_GE(t.size(), 2u);
    EXPECT_EQ(t.front(), 0);
    EXPECT_EQ(t.back(), steps);
    for (std::size_t i = 1; i < t.size(); ++i) EXPECT_GT(t[i], t[i - 1]);
  }
  // Far from the rounding-collision region the grid is geometric: 10 points per decade.
  const auto t = record_steps(1000000, 61);
  EXPECT_EQ(t.back(), 1000000);
  EXPECT_NEAR(static_cast<double>(t[t.size() - 1]) / t[t.size() - 2], std::pow(10.0, 0.1), 1e-4);
}

// Mode grids are 1-based, strictly increasing, start at 1 and end at d.
TEST(RecordModes, OneBasedIncreasingAndCoverEnds) {
  const auto all = record_modes(10, 0);
  ASSERT_EQ(all.size(), 10);
  EXPECT_EQ(all(0), 1);
  EXPECT_EQ(all(9), 10);
  const auto some = record_modes(1000, 16);
  EXPECT_EQ(some(0), 1);
  EXPECT_EQ(some(some.size() - 1), 1000);
  EXPECT_LE(some.size(), 16);
  for (Eigen::Index i = 1; i < some.size(); ++i) EXPECT_GT(some(i), some(i - 1));
}

// Bilinear mode pairs: all n_out·n_in row-major for count 0; otherwise log-spaced along the
// diagonal of the (log k, log l) plane from (1, 1) to (n_out, n_in), no repeats.
TEST(RecordModePairs, AllOrLogDiagonal) {
  const Eigen::MatrixXi all = record_mode_pairs(3, 2, 0);
  Eigen::MatrixXi expected(6, 2);
  expected << 1, 1, 1, 2, 2, 1, 2, 2, 3, 1, 3, 2;
  EXPECT_EQ(all, expected);

  const Eigen::MatrixXi square = record_mode_pairs(64, 64, 8);
  Eigen::MatrixXi diagonal(8, 2);
  diagonal << 1, 1, 2, 2, 3, 3, 6, 6, 11, 11, 20, 20, 35, 35, 64, 64;
  EXPECT_EQ(square, diagonal);

  const Eigen::MatrixXi wide = record_mode_pairs(1000, 10, 16);
  ASSERT_EQ(wide.cols(), 2);
  EXPECT_EQ(wide(0, 0), 1);
  EXPECT_EQ(wide(0, 1), 1);
  EXPECT_EQ(wide(wide.rows() - 1, 0), 1000);
  EXPECT_EQ(wide(wide.rows() - 1, 1), 10);
  for (Eigen::Index i = 1; i < wide.rows(); ++i) {
    EXPECT_GE(wide(i, 0), wide(i - 1, 0));
    EXPECT_GE(wide(i, 1), wide(i - 1, 1));
    EXPECT_TRUE(wide(i, 0) != wide(i - 1, 0) || wide(i, 1) != wide(i - 1, 1));
  }
  EXPECT_EQ(record_mode_pairs(5, 4, 1).rows(), 1);
}

// The power schedule is η_0 (1 + k/k0)^(−γ).
TEST(Schedule, PowerScheduleFormula) {
  Schedule s{ScheduleKind::power, 100.0, 0.5};
  EXPECT_DOUBLE_EQ(s.lr_at(0.2, 0), 0.2);
  EXPECT_NEAR(s.lr_at(0.2, 300), 0.2 / 2.0, 1e-15);
  Schedule c;
  EXPECT_DOUBLE_EQ(c.lr_at(0.2, 1e6), 0.2);
}

}  // namespace
}  // namespace signdyn
