// Tests of the mode groups (solvers/ode/mode_groups.hpp) and of the mode-compressed SignSVD ODE
// (docs/theory/signsvd.md §4.5): the compressed risk curve reproduces the per-mode one.
#include "../../../solvers/ode/mode_groups.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "../../../solvers/ode/signsvd.hpp"
#include "signdyn/dynamics.hpp"

namespace signdyn::detail {
namespace {

// λ_j = j^(−1.2), b_j² = j^(−0.8) (the benchmark's spectrum), σ = 0.5, d = m.
Problem power_law(Eigen::Index d) {
  Problem p;
  p.d = p.m = d;
  p.sigma = 0.5;
  p.lambda.resize(d);
  p.b.resize(d);
  for (Eigen::Index j = 0; j < d; ++j) {
    p.lambda(j) = std::pow(static_cast<double>(j + 1), -1.2);
    p.b(j) = std::pow(static_cast<double>(j + 1), -0.4);
  }
  return p;
}

// Σ w λ̄ = Σ λ and Σ w λ̄ b̄² = Σ λ b² exactly, every mode within relative ε of its group's mean λ
// and b̄², the kept modes alone, and the head (where λ_j/λ_{j+1} > 1 + ε) ungrouped.
TEST(ModeGroups, ConserveTracesAndStayWithinWidth) {
  const Problem p = power_law(20000);
  const Eigen::ArrayXd lambda = p.lambda.array(), b2 = p.b.array().square();
  Eigen::VectorXi keep(2);
  keep << 5000, 20000;
  for (double eps : {0.01, 0.05}) {
    const ModeGroups g = group_modes(lambda, b2, eps, keep);
    EXPECT_NEAR((g.weight * g.lambda).sum() / lambda.sum(), 1.0, 1e-13);
    EXPECT_NEAR((g.weight * g.lambda * g.b2).sum() / (lambda * b2).sum(), 1.0, 1e-13);
    EXPECT_EQ(g.weight.sum(), 20000.0);
    EXPECT_LT(g.size(), 20000 / 10);  // the tail is compressed
    for (Eigen::Index j = 0; j < p.d; ++j) {
      const Eigen::Index c = g.of[static_cast<std::size_t>(j)];
      ASSERT_LE(std::abs(lambda(j) / g.lambda(c) - 1.0), eps * (1 + 1e-12)) << j;
      ASSERT_LE(std::abs(b2(j) / g.b2(c) - 1.0), eps * (1 + 1e-12)) << j;
    }
    for (int k : {4999, 19999}) EXPECT_EQ(g.weight(g.of[k]), 1.0);
    EXPECT_EQ(g.of[0], 0);
    EXPECT_EQ(g.weight(g.of[9]), 1.0);  // λ_10/λ_11 = 1.12
  }
}

// The compressed ODE (compression forced on, width 0.05: the largest signsvd_group_width gives;
// 256 modes become 81 entries) against the per-mode ODE at d = m = 256 over 3000 steps (3.5
// decades, the log-time integrator), B = 16 (equivalent) and B = 1 (exact law). The compression
// error measured this way is 5e-6 (B = 16) and 4e-6 (B = 1), ≈ ε²/500 (signsvd.md §4.5); both
// runs take the same steps to within a few, so 5e-5 relative in the risk at every record bounds
// it with a 10× margin. A compression that dropped the weights or the conservation of Σλ and
// Σλb² would miss it by orders of magnitude.
TEST(SignsvdCompression, ReproducesPerModeOde) {
  const Problem p = power_law(256);
  for (int batch : {16, 1}) {
    OptimizerSpec opt;
    opt.kind = OptimizerKind::signsvd;
    opt.batch = batch;
    opt.lr = 0.1 * std::sqrt(256.0 / 100.0);
    TheoryOptions o;
    o.record_steps = record_steps(30000, 40);
    o.modes = record_modes(p.d, 4);
    o.solver = TheorySolver::ode;
    o.rel_tol = 1e-4;
    o.abs_tol = 1e-14;
    SignsvdCompression on{SignsvdCompression::Mode::on, 0.05}, off{SignsvdCompression::Mode::off};
    const Trajectory a = signsvd_predict(p, opt, o, kDefaultSignsvdClosure, on);
    const Trajectory b = signsvd_predict(p, opt, o, kDefaultSignsvdClosure, off);
    ASSERT_EQ(a.status, RunStatus::completed) << a.message;
    ASSERT_EQ(b.status, RunStatus::completed) << b.message;
    ASSERT_EQ(a.risk.size(), b.risk.size());
    EXPECT_LT(a.risk(a.risk.size() - 1), 0.3 * a.risk(0));  // the curve moves
    EXPECT_EQ(a.solver, "ode_rosenbrock");
    double worst = 0.0;
    for (Eigen::Index i = 0; i < a.risk.size(); ++i)
      worst = std::max(worst, std::abs(a.risk(i) / b.risk(i) - 1.0));
    EXPECT_LT(worst, 5e-5) << "B = " << batch;
    std::printf("B = %d: compressed vs per-mode risk, max relative difference %.2e\n", batch,
                worst);
    // The recorded modes are their own groups: their energies agree to the same order.
    for (Eigen::Index i = 0; i < a.rho.rows(); ++i)
      for (Eigen::Index k = 0; k < a.rho.cols(); ++k)
        EXPECT_NEAR(a.rho(i, k), b.rho(i, k), 1e-3 * b.rho(i, k) + 1e-12) << "B = " << batch;
  }
}

}  // namespace
}  // namespace signdyn::detail
