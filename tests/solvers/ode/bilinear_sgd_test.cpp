// Tests of the exact expected SGD map of the bilinear problem (docs/theory/bilinear.md §2)
// against a direct Monte Carlo average of the SGD recursion.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "../../../solvers/ode/bilinear_sgd.hpp"
#include "signdyn/bilinear.hpp"
#include "signdyn/error.hpp"
#include "signdyn/rng.hpp"

namespace signdyn {
namespace {

// Which Wick terms the naive reference map keeps (all, for the exact map).
struct Terms {
  bool cross = true;      // 2 μ_k λ_l² Σ_i μ_i ρ_il + 2 μ_k² λ_l Σ_j λ_j ρ_kj
  double diagonal = 3.0;  // coefficient of μ_k² λ_l² ρ_kl (4 from Wick, −1 from (E G)²)
};

// Entry-by-entry reference of the one-step map, O((n_out n_in)²), with optional dropped terms.
Eigen::MatrixXd reference_step(const BilinearProblem& p, double lr, double batch,
                               const Eigen::MatrixXd& rho, const Terms& terms) {
  double two_r = p.sigma * p.sigma;
  for (Eigen::Index i = 0; i < p.n_out; ++i)
    for (Eigen::Index j = 0; j < p.n_in; ++j) two_r += p.mu(i) * p.lambda(j) * rho(i, j);
  Eigen::MatrixXd next(p.n_out, p.n_in);
  for (Eigen::Index k = 0; k < p.n_out; ++k) {
    for (Eigen::Index l = 0; l < p.n_in; ++l) {
      const double mu = p.mu(k), lam = p.lambda(l);
      double col = 0.0, row = 0.0;
      for (Eigen::Index i = 0; i < p.n_out; ++i) col += p.mu(i) * rho(i, l);
      for (Eigen::Index j = 0; j < p.n_in; ++j) row += p.lambda(j) * rho(k, j);
      double second = mu * lam * two_r + terms.diagonal * mu * mu * lam * lam * rho(k, l);
      if (terms.cross) second += 2.0 * mu * lam * lam * col + 2.0 * mu * mu * lam * row;
      const double a = 1.0 - lr * mu * lam;
      next(k, l) = a * a * rho(k, l) + lr * lr / batch * second;
    }
  }
  return next;
}

// Mean and standard error over replicas of the risk and of every ρ_kl at each record.
struct McCurve {
  std::vector<double> risk, risk_se;
  std::vector<Eigen::MatrixXd> rho, rho_se;
};

// Direct Monte Carlo of SGD: Δ ← Δ − η (1/B) A_outᵀ diag(r) A_in, r = diag(A_out Δ A_inᵀ) − ε,
// from Δ_0 = −W*, one Rng stream per replica; exact risk of each replica's Δ at the records.
McCurve monte_carlo_sgd(const BilinearProblem& p, double lr, Eigen::Index batch, int replicas,
                        const std::vector<long>& records) {
  const std::size_t n_rec = records.size();
  std::vector<double> sum(n_rec, 0.0), sum_sq(n_rec, 0.0);
  const Eigen::MatrixXd zero = Eigen::MatrixXd::Zero(p.n_out, p.n_in);
  std::vector<Eigen::MatrixXd> rho_sum(n_rec, zero), rho_sq(n_rec, zero);
  Eigen::MatrixXd delta(p.n_out, p.n_in), a_out(batch, p.n_out), a_in(batch, p.n_in);
  Eigen::MatrixXd grad(p.n_out, p.n_in);
  Eigen::VectorXd eps(batch), r(batch);
  for (int rep = 0; rep < replicas; ++rep) {
    Rng rng(2024, static_cast<std::uint64_t>(rep));
    sample_bilinear_initial_residual(p, rng, delta);
    long step = 0;
    for (std::size_t i = 0; i < n_rec; ++i) {
      for (; step < records[i]; ++step) {
        sample_bilinear_batch(p, rng, a_out, a_in, eps);
        bilinear_residuals(a_out, a_in, delta, eps, r);
        grad.noalias() = a_out.transpose() * r.asDiagonal() * a_in;
        delta -= (lr / static_cast<double>(batch)) * grad;
      }
      const double risk = bilinear_risk(p, delta);
      sum[i] += risk;
      sum_sq[i] += risk * risk;
      rho_sum[i] += delta.cwiseAbs2();
      rho_sq[i] += delta.cwiseAbs2().cwiseAbs2();
    }
  }
  McCurve c;
  const double n = replicas;
  for (std::size_t i = 0; i < n_rec; ++i) {
    const double mean = sum[i] / n;
    c.risk.push_back(mean);
    c.risk_se.push_back(std::sqrt(std::max(sum_sq[i] / n - mean * mean, 0.0) / (n - 1.0)));
    const Eigen::MatrixXd m = rho_sum[i] / n;
    c.rho.push_back(m);
    c.rho_se.push_back(((rho_sq[i] / n - m.cwiseAbs2()).cwiseMax(0.0) / (n - 1.0)).cwiseSqrt());
  }
  return c;
}

BilinearProblem test_problem() {
  BilinearSpec s;
  s.n_out = 8;
  s.n_in = 8;
  s.sigma = 0.3;
  s.alpha_out = 0.5;
  s.alpha_in = 0.75;
  s.beta_out = 0.4;
  s.beta_in = 0.6;
  return make_bilinear_problem(s);
}

// The O(n_out n_in) step equals the entry-by-entry Wick formula.
TEST(BilinearSgdMap, FastStepEqualsEntryByEntryFormula) {
  const BilinearProblem p = test_problem();
  Rng rng(1, 0);
  Eigen::MatrixXd rho(p.n_out, p.n_in);
  rng.fill_normal(rho);
  rho = rho.cwiseAbs2();
  Eigen::MatrixXd fast = rho;
  Eigen::VectorXd row(p.n_out), col(p.n_in);
  detail::bilinear_sgd_step(p, 0.3, 3, fast, row, col);
  const Eigen::MatrixXd ref = reference_step(p, 0.3, 3.0, rho, Terms{});
  EXPECT_LT((fast - ref).cwiseAbs().maxCoeff(), 1e-14 * ref.cwiseAbs().maxCoeff());
}

// Bad optimizer input is a ConfigError naming the field.
TEST(BilinearSgdMap, RejectsBadLearningRateAndBatch) {
  const BilinearProblem p = test_problem();
  const Eigen::MatrixXd rho0 = bilinear_initial_rho(p);
  EXPECT_THROW(detail::bilinear_sgd_exact_map(p, 0.0, 2, rho0, {0, 1}, false), ConfigError);
  EXPECT_THROW(detail::bilinear_sgd_exact_map(p, 0.1, 0, rho0, {0, 1}, false), ConfigError);
  EXPECT_THROW(detail::bilinear_sgd_exact_map(p, 0.1, 2, rho0, {3, 1}, false), ConfigError);
}

// E R and E ρ_kl of the exact map equal the Monte Carlo average of SGD within 4 SE at every
// record (n_out = n_in = 8, B = 2); dropping a Wick term moves the map many SE away.
TEST(BilinearSgdMap, MatchesMonteCarloSgdAndEveryTermMatters) {
  const BilinearProblem p = test_problem();
  const double lr = 0.15;  // at 0.2 the ρ distribution is so heavy-tailed that the SE is unreliable
  const Eigen::Index batch = 2;
  const std::vector<long> records = {0, 1, 2, 4, 8, 16, 32, 64, 128, 256};
  const detail::BilinearSgdCurve exact =
      detail::bilinear_sgd_exact_map(p, lr, batch, bilinear_initial_rho(p), records, true);
  const McCurve mc = monte_carlo_sgd(p, lr, batch, 20000, records);

  for (std::size_t i = 0; i < records.size(); ++i) {
    EXPECT_NEAR(mc.risk[i], exact.risk[i], 4.0 * mc.risk_se[i]) << "step " << records[i];
    for (Eigen::Index k = 0; k < p.n_out; ++k) {
      for (Eigen::Index l = 0; l < p.n_in; ++l) {
        EXPECT_NEAR(mc.rho[i](k, l), exact.rho[i](k, l), 4.0 * mc.rho_se[i](k, l))
            << "step " << records[i] << " mode (" << k << ", " << l << ")";
      }
    }
  }

  // Power: a map missing the cross terms (measured 41 SE), or with diagonal coefficient 1
  // instead of 3 (7.3 SE), fails the 4-SE check above with margin at some record.
  for (const Terms wrong : {Terms{false, 3.0}, Terms{true, 1.0}}) {
    Eigen::MatrixXd rho = bilinear_initial_rho(p);
    long step = 0;
    double worst = 0.0;
    for (std::size_t i = 0; i < records.size(); ++i) {
      for (; step < records[i]; ++step) rho = reference_step(p, lr, 2.0, rho, wrong);
      for (Eigen::Index k = 0; k < p.n_out; ++k)
        for (Eigen::Index l = 0; l < p.n_in; ++l)
          if (mc.rho_se[i](k, l) > 0.0)
            worst = std::max(worst, std::abs(mc.rho[i](k, l) - rho(k, l)) / mc.rho_se[i](k, l));
    }
    EXPECT_GT(worst, 6.0) << "cross " << wrong.cross << " diagonal " << wrong.diagonal;
  }
}

}  // namespace
}  // namespace signdyn
