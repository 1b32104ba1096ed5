// THE key test of the replica engine: Monte Carlo SGD against the exact expected recursion of
// theory.md §2 (a few lines, implemented here so solvers/mc and solvers/ode stay independent):
//   ρ_j(k+1) = (1 − η_kλ_j)² ρ_j + (η_k²/B) [λ_j² ρ_j + λ_j (Σ_i λ_i ρ_i + σ²)],  ρ_j(0) = b_j².
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "replica_engine.hpp"
#include "signdyn/problem.hpp"
#include "signdyn/simulate.hpp"

namespace signdyn {
namespace {

struct Expected {
  Eigen::VectorXd risk;  // E R at the record steps
  Eigen::MatrixXd rho;   // E ρ_j at the record steps, one column per recorded mode
};

// Iterates the exact expected-energy recursion of SGD (with_noise_term = false drops the
// η²/B term: a deliberately wrong recursion used to show the comparison has power).
Expected expected_sgd(const Problem& p, const OptimizerSpec& spec,
                      const std::vector<std::int64_t>& steps, const Eigen::VectorXi& modes,
                      bool with_noise_term = true) {
  Expected out{Eigen::VectorXd(steps.size()), Eigen::MatrixXd(steps.size(), modes.size())};
  Eigen::VectorXd rho = p.b.cwiseAbs2();
  const double s2 = p.sigma * p.sigma;
  const double B = static_cast<double>(spec.batch);
  std::size_t next = 0;
  for (std::int64_t k = 0; next < steps.size(); ++k) {
    if (k == steps[next]) {
      out.risk(next) = 0.5 * p.lambda.dot(rho) + 0.5 * s2;
      for (Eigen::Index i = 0; i < modes.size(); ++i) out.rho(next, i) = rho(modes(i) - 1);
      ++next;
    }
    const double lr = spec.schedule.lr_at(spec.lr, static_cast<double>(k));
    const double total = p.lambda.dot(rho) + s2;  // Σ_i λ_i ρ_i + σ²
    for (Eigen::Index j = 0; j < p.d; ++j) {
      const double l = p.lambda(j);
      const double noise = with_noise_term ? (lr * lr / B) * (l * l * rho(j) + l * total) : 0.0;
      rho(j) = (1.0 - lr * l) * (1.0 - lr * l) * rho(j) + noise;
    }
  }
  return out;
}

// Threshold z* in standard errors for `n` simultaneous comparisons of Monte Carlo means with
// their expectations, so that under the normal approximation all n pass with probability
// ≥ 1 − family_alpha (Bonferroni: P(|Z| > z*) = erfc(z*/√2) = family_alpha / n), and never
// below the single-comparison rule of 4 SE. For n = 1 this is 4 SE; for the ~150 comparisons
// of one case below (≈30 records × risk and 4 modes) it is ≈4.5 SE.
double z_threshold(int n, double family_alpha = 1e-3) {
  double lo = 0.0, hi = 40.0;
  for (int it = 0; it < 200; ++it) {
    const double mid = 0.5 * (lo + hi);
    (std::erfc(mid / std::sqrt(2.0)) > family_alpha / n ? lo : hi) = mid;
  }
  return std::max(4.0, hi);
}

// Outcome of comparing a Monte Carlo trajectory with an expectation, quantity by quantity
// (the risk and ρ_j of every recorded mode, at every record).
struct Comparison {
  int comparisons = 0;
  int outside = 0;     // |z| > threshold
  double worst_z = 0;  // max |z|
  double threshold = 0;
};

Comparison compare(const Trajectory& mc, const Expected& e) {
  Comparison c;
  c.comparisons = static_cast<int>(mc.t.size() * (1 + mc.modes.size()));
  c.threshold = z_threshold(c.comparisons);
  auto check = [&](double mean, double se, double expected) {
    const double z = std::abs(mean - expected) / se;
    c.worst_z = std::max(c.worst_z, z);
    c.outside += z > c.threshold;
  };
  for (Eigen::Index i = 0; i < mc.t.size(); ++i) {
    check(mc.risk(i), mc.risk_se(i), e.risk(i));
    for (Eigen::Index j = 0; j < mc.modes.size(); ++j) {
      check(mc.rho(i, j), mc.rho_se(i, j), e.rho(i, j));
    }
  }
  return c;
}

struct Case {
  std::string name;
  ProblemSpec problem;
  OptimizerSpec sgd;
  std::int64_t steps;
  std::int64_t replicas;
};

ProblemSpec spec_of(Eigen::Index d, Eigen::Index m, double sigma, double alpha, double beta,
                    BasisKind basis, bool normalise) {
  ProblemSpec s;
  s.d = d;
  s.m = m;
  s.sigma = sigma;
  s.alpha = alpha;
  s.beta = beta;
  s.basis = basis;
  s.basis_seed = 3;
  s.normalise_trace = normalise;
  s.normalise_target = normalise;
  return s;
}

OptimizerSpec sgd_of(double lr, std::int64_t batch) {
  OptimizerSpec o;
  o.kind = OptimizerKind::sgd;
  o.lr = lr;
  o.batch = batch;
  return o;
}

std::vector<Case> cases() {
  std::vector<Case> out;
  out.push_back({"diagonal_d32_B4", spec_of(32, 16, 0.5, 0.5, 0.5, BasisKind::diagonal, false),
                 sgd_of(0.3, 4), 400, 300});
  out.push_back({"generic_d48_B8_normalised",
                 spec_of(48, 24, 0.5, 0.75, 0.25, BasisKind::generic, true), sgd_of(2.0, 8), 400,
                 300});
  Case power{"power_schedule_d32_B2", spec_of(32, 32, 1.0, 0.6, 0.4, BasisKind::diagonal, true),
             sgd_of(0.8, 2), 400, 300};
  power.sgd.schedule.kind = ScheduleKind::power;
  power.sgd.schedule.k0 = 20.0;
  power.sgd.schedule.gamma = 0.7;
  out.push_back(power);
  // B = 1, tr K = 1: the recursion's map has spectral radius 1 at lr ≈ 1.51 (mean-square
  // stability edge); lr = 0.9 is 60% of it, where the η²/B term dominates the dynamics. Closer to
  // the edge the replica distribution of the risk is heavy-tailed (Kesten): at lr = 1.35 with
  // 400 replicas the MC mean sat up to 21% below the exact mean with |z| up to 7 (4% at 40000
  // replicas), so a standard-error test is not meaningful there without far more replicas.
  out.push_back({"noise_dominated_B1", spec_of(16, 16, 0.2, 0.5, 0.5, BasisKind::generic, true),
                 sgd_of(0.9, 1), 300, 400});
  return out;
}

SimulateOptions options_for(const Case& c, const Problem& p) {
  SimulateOptions o;
  o.record_steps = record_steps(c.steps, 30);
  o.modes = record_modes(p.d, 4);
  o.replicas = c.replicas;
  o.seed = 1;  // the default seed
  return o;
}

// Stochastic (fixed seeds): the MC mean risk and ρ_j lie within z* SE of the exact recursion at
// every record (z* = 4 SE per comparison, raised to ≈4.5 by Bonferroni for the ~150 comparisons
// of a case: family-wise false-alarm 1e-3 per case), for both bases, a power schedule and a step
// size where the η²/B noise term dominates. Calibration over 263 (case, seed) runs of this
// engine: plain 4 SE per comparison failed in 4 runs (1.5%), z* ≈ 4.5 in 1 (seed 17 of the first
// case, |z| = 4.7 on ρ_1 at its noise floor, where the replica distribution is skewed); the 160
// runs at seeds 200–239 all stayed below 4.11.
TEST(SgdRecursion, MonteCarloMatchesExactExpectedRecursion) {
  for (const Case& c : cases()) {
    const Problem p = make_problem(c.problem);
    const SimulateOptions o = options_for(c, p);
    const Trajectory mc = simulate(p, c.sgd, o);
    ASSERT_EQ(mc.status, RunStatus::completed) << c.name << ": " << mc.message;
    ASSERT_EQ(mc.t.size(), static_cast<Eigen::Index>(o.record_steps.size()));
    const Expected e = expected_sgd(p, c.sgd, o.record_steps, o.modes);
    const Comparison cmp = compare(mc, e);
    EXPECT_EQ(cmp.outside, 0) << c.name << ": stochastic, tolerance = " << cmp.threshold
                              << " SE from " << c.replicas << " replicas over " << cmp.comparisons
                              << " comparisons; worst |z| = " << cmp.worst_z;
    std::printf("%s: worst |z| = %.2f (threshold %.2f), risk %.4g -> %.4g\n", c.name.c_str(),
                cmp.worst_z, cmp.threshold, mc.risk(0), mc.risk(mc.risk.size() - 1));
  }
}

// The criterion has power: the recursion without its η²/B term (exact only as B → ∞) is
// rejected by the same z* at most records in the noise-dominated case.
TEST(SgdRecursion, WrongRecursionWithoutNoiseTermIsRejected) {
  const Case c = cases().back();
  const Problem p = make_problem(c.problem);
  const SimulateOptions o = options_for(c, p);
  const Trajectory mc = simulate(p, c.sgd, o);
  const Comparison right = compare(mc, expected_sgd(p, c.sgd, o.record_steps, o.modes));
  const Comparison wrong = compare(mc, expected_sgd(p, c.sgd, o.record_steps, o.modes, false));
  EXPECT_EQ(right.outside, 0);
  EXPECT_GT(wrong.outside, right.comparisons / 4) << "worst |z| = " << wrong.worst_z;
  std::printf("without the noise term: %d of %d comparisons outside %.2f SE, worst |z| = %.1f\n",
              wrong.outside, wrong.comparisons, wrong.threshold, wrong.worst_z);
}

// SGD is rotation-equivariant: run in the true basis (X_true = X Oᵀ, Δ_true = OΔ) with the same
// streams it gives the eigenbasis curves up to round-off (relative 1e-9 after 400 steps).
TEST(SgdRecursion, TrueBasisFrameEqualsEigenbasisFrame) {
  const Case c = cases()[1];
  const Problem p = make_problem(c.problem);
  SimulateOptions o = options_for(c, p);
  o.replicas = 8;
  const Trajectory eig = detail::simulate_in_frame(p, c.sgd, o, detail::Frame::eigenbasis);
  const Trajectory tru = detail::simulate_in_frame(p, c.sgd, o, detail::Frame::true_basis);
  ASSERT_EQ(eig.t.size(), tru.t.size());
  for (Eigen::Index i = 0; i < eig.t.size(); ++i) {
    EXPECT_NEAR(tru.risk(i), eig.risk(i), 1e-9 * eig.risk(i)) << "record " << i;
    for (Eigen::Index j = 0; j < eig.modes.size(); ++j) {
      EXPECT_NEAR(tru.rho(i, j), eig.rho(i, j), 1e-9 * eig.rho(i, j)) << "record " << i;
    }
  }
}

}  // namespace
}  // namespace signdyn
