// Fast check of predict() for SignSVD and Muon against a direct simulation of the optimizer
// (docs/theory/signsvd.md; the full grid against the project's Monte Carlo engine is in
// validation/signsvd). The simulation here is an independent reference written from the update
// rules of theory.md §1 alone, in the eigenbasis (SignSVD and Muon are rotation-equivariant):
// Δ ← Δ − η msign(G) or Δ ← Δ − η NS_k(G/‖G‖_F), computed on the B×B core of the rank-B gradient.
#include <gtest/gtest.h>

#include <Eigen/QR>
#include <Eigen/SVD>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "signdyn/dynamics.hpp"

namespace signdyn {
namespace {

struct Simulation {
  Eigen::VectorXd risk, se, rho0;  // mean risk and its standard error per record; mean ρ_j(0)
};

Eigen::MatrixXd newton_schulz(const Eigen::MatrixXd& g, int steps) {
  Eigen::MatrixXd x = g / g.norm();
  for (int k = 0; k < steps; ++k) {
    const Eigen::MatrixXd a = x * x.transpose();
    x = 3.4445 * x + (-4.7750 * a + 2.0315 * a * a) * x;
  }
  return x;
}

// The update for a rank-B gradient G ∝ Xᵀ R = Q_x (R_x R_rᵀ) Q_rᵀ: both msign and NS_k act on the
// B×B core only (they are odd matrix functions, equivariant under the orthonormal factors).
// ns_steps = 0: msign(G) = Q_x U Vᵀ Q_rᵀ from the SVD of the core; else NS_k(G/‖G‖_F).
Eigen::MatrixXd update_low_rank(const Eigen::MatrixXd& xt, const Eigen::MatrixXd& rt,
                                int ns_steps) {
  Eigen::HouseholderQR<Eigen::MatrixXd> qx(xt), qr(rt);
  const Eigen::Index b = xt.cols();
  const Eigen::MatrixXd qx_thin = qx.householderQ() * Eigen::MatrixXd::Identity(xt.rows(), b);
  const Eigen::MatrixXd qr_thin = qr.householderQ() * Eigen::MatrixXd::Identity(rt.rows(), b);
  const Eigen::MatrixXd rx = qx.matrixQR().topRows(b).triangularView<Eigen::Upper>();
  const Eigen::MatrixXd rr = qr.matrixQR().topRows(b).triangularView<Eigen::Upper>();
  const Eigen::MatrixXd core = rx * rr.transpose();
  if (ns_steps > 0) return qx_thin * newton_schulz(core, ns_steps) * qr_thin.transpose();
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(core, Eigen::ComputeFullU | Eigen::ComputeFullV);
  return qx_thin * (svd.matrixU() * svd.matrixV().transpose()) * qr_thin.transpose();
}

Simulation simulate_reference(const Problem& p, const OptimizerSpec& opt,
                              const std::vector<std::int64_t>& records, int replicas) {
  const Eigen::Index d = p.d, m = p.m, b = opt.batch;
  Eigen::MatrixXd sums = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(records.size()), 2);
  Eigen::VectorXd rho0 = Eigen::VectorXd::Zero(d);
  std::mt19937_64 gen(2024);
  std::normal_distribution<double> normal;
  const Eigen::ArrayXd sqrt_lambda = p.lambda.array().sqrt();
  for (int r = 0; r < replicas; ++r) {
    Eigen::MatrixXd delta(d, m), x(b, d), res(b, m);
    for (Eigen::Index j = 0; j < d; ++j)
      for (Eigen::Index c = 0; c < m; ++c) delta(j, c) = -p.b(j) * normal(gen);
    rho0 += delta.rowwise().squaredNorm() / static_cast<double>(m);
    std::size_t next = 0;
    for (std::int64_t k = 0; next < records.size(); ++k) {
      if (k == records[next]) {
        const double risk =
            0.5 * (p.lambda.array() * (delta.rowwise().squaredNorm().array() / m)).sum() +
            0.5 * p.sigma * p.sigma;
        sums(static_cast<Eigen::Index>(next), 0) += risk;
        sums(static_cast<Eigen::Index>(next), 1) += risk * risk;
        if (++next == records.size()) break;
      }
      for (Eigen::Index i = 0; i < b; ++i)
        for (Eigen::Index j = 0; j < d; ++j) x(i, j) = sqrt_lambda(j) * normal(gen);
      res = x * delta;
      for (Eigen::Index i = 0; i < b; ++i)
        for (Eigen::Index c = 0; c < m; ++c) res(i, c) -= p.sigma * normal(gen);
      delta -= opt.lr * update_low_rank(x.transpose(), res.transpose(),
                                        opt.kind == OptimizerKind::muon ? opt.ns_steps : 0);
    }
  }
  Simulation out;
  const double n = replicas;
  out.risk = sums.col(0) / n;
  out.se = ((sums.col(1) / n - out.risk.cwiseAbs2()) / (n - 1)).cwiseMax(0.0).cwiseSqrt();
  out.rho0 = rho0 / n;
  return out;
}

// E R(t) from predict() agrees with the simulated mean within 4 standard errors plus the finite-d
// bias of the deterministic equivalent. That bias is measured in validation/README.md: the
// maximum relative risk error over the curve falls with d as 2.4% (d = 128), 0.9% (256), 0.6%
// (512), 0.3% (1024) at B = 64, and is 2.8% at d = 128, B = 16; at d = m = 64 we allow 5% of R.
// The theory starts from the simulation's mean realised ρ_j(0) (the initial sampling error is
// common to all records and not what is checked).
void check_against_reference(OptimizerKind kind, int ns_steps) {
  ProblemSpec spec;
  spec.d = 64;
  spec.m = 64;
  spec.sigma = 0.5;
  const Problem p = make_problem(spec);
  OptimizerSpec opt;
  opt.kind = kind;
  opt.batch = 8;
  opt.lr = 0.04;
  opt.ns_steps = ns_steps;
  const std::vector<std::int64_t> records = {0, 10, 25, 50, 100, 200, 400};
  const Simulation sim = simulate_reference(p, opt, records, 48);
  Problem start = p;
  start.b = sim.rho0.cwiseSqrt();
  TheoryOptions o;
  o.record_steps = records;
  o.modes = record_modes(p.d, 4);
  const Trajectory th = predict(start, opt, o);
  ASSERT_EQ(th.status, RunStatus::completed);
  for (std::size_t i = 1; i < records.size(); ++i) {
    const auto k = static_cast<Eigen::Index>(i);
    if (std::getenv("SIGNDYN_VERBOSE"))
      std::printf("k=%lld sim %.5f se %.5f theory %.5f rel %+.4f z %+.2f\n",
                  static_cast<long long>(records[i]), sim.risk(k), sim.se(k), th.risk(k),
                  th.risk(k) / sim.risk(k) - 1, (th.risk(k) - sim.risk(k)) / sim.se(k));
    EXPECT_NEAR(th.risk(k), sim.risk(k), 4 * sim.se(k) + 0.05 * sim.risk(k))
        << "step " << records[i] << ", se " << sim.se(k);
  }
  // The risk must have moved well beyond that band, or the check would be empty.
  EXPECT_LT(sim.risk(static_cast<Eigen::Index>(records.size()) - 1), 0.6 * sim.risk(0));
}

TEST(SignsvdAgainstSimulation, SmallProblemRiskCurve) {
  check_against_reference(OptimizerKind::signsvd, 0);
}

TEST(MuonAgainstSimulation, SmallProblemRiskCurve) {
  check_against_reference(OptimizerKind::muon, 5);
}

}  // namespace
}  // namespace signdyn
