// The exact (Gaussian-row closure) SignSVD law at B = 1 by double Laplace integrals.
#include "signsvd_batch_one.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "signdyn/error.hpp"

namespace signdyn::detail {
namespace {

// ln Π_i (1 + 2λ_i c_i)^{−w_i/2} for c_i = u + v ρ_i.
double log_product(const Eigen::ArrayXd& lambda, const Eigen::ArrayXd& weight,
                   const Eigen::ArrayXd& rho, double u, double v) {
  return -0.5 * (weight * (2.0 * lambda * (u + v * rho)).log1p()).sum();
}

}  // namespace

SignsvdBatchOneSolver::SignsvdBatchOneSolver(const Eigen::ArrayXd& lambda, double m, double sigma,
                                             double step, const Eigen::ArrayXd& weight)
    : lambda_(lambda),
      weight_(weight.size() > 0 ? weight : Eigen::ArrayXd::Ones(lambda.size())),
      m_(m),
      sigma2_(sigma * sigma),
      step_(step) {
  if (!(lambda.minCoeff() > 0.0)) throw Error("SignSVD B = 1 law: λ must be positive");
  if (weight_.size() != lambda_.size())
    throw Error("SignSVD B = 1 law: λ and the mode weights differ in size");
  c_m_ = std::sqrt(2.0) * std::exp(std::lgamma(0.5 * (m + 1)) - std::lgamma(0.5 * m));
  // N_j = (1/m) ∫_0^∞ Π_i (1 + 2λ_i u)^{−1/2} λ_j/(1 + 2λ_j u) du, u = e^a.
  const double trace = (weight_ * lambda).sum();
  const Eigen::ArrayXd zero = Eigen::ArrayXd::Zero(lambda.size());
  noise_ = Eigen::ArrayXd::Zero(lambda.size());
  for (double a = std::log(1e-14 / trace); a <= std::log(1e6 / trace); a += step_) {
    const double u = std::exp(a);
    const double w = step_ * u * std::exp(log_product(lambda, weight_, zero, u, 0.0));
    noise_ += w * lambda / (1.0 + 2.0 * u * lambda);
  }
  noise_ /= m;
}

void SignsvdBatchOneSolver::evaluate(const Eigen::ArrayXd& rho, Eigen::ArrayXd& drift,
                                     Eigen::ArrayXd& noise) const {
  // E[x_j²/(‖x‖ s)] = (1/π) ∫∫ (uv)^{1/2} e^{−vσ²} Π_i(...)^{−1/2} λ_j/(1 + 2λ_j(u + vρ_j)) da db,
  // u = e^a around 1/tr K, v = e^b around 1/(2R): the integrand decays like e^{a/2}, e^{b/2}
  // below and faster than any power above.
  const double trace = (weight_ * lambda_).sum(), two_r = (weight_ * lambda_ * rho).sum() + sigma2_;
  const double a_lo = std::log(1e-16 / trace), a_hi = std::log(1e6 / trace);
  const double b_lo = std::log(1e-16 / two_r), b_hi = std::log(1e6 / two_r);
  // Rows b_r = b_lo + r·h are independent: OpenMP over rows (round-robin static schedule,
  // per-thread sums added in thread order, so the result depends only on the thread count).
  const int rows = static_cast<int>(std::floor((b_hi - b_lo) / step_)) + 1;
  const int cols = static_cast<int>(std::floor((a_hi - a_lo) / step_)) + 1;
  const Eigen::Index n = lambda_.size();
  const int threads = n * rows >= 20000 ? std::max(1, omp_get_max_threads()) : 1;
  std::vector<Eigen::ArrayXd> part(static_cast<std::size_t>(threads), Eigen::ArrayXd::Zero(n));
#pragma omp parallel for schedule(static, 1) num_threads(threads)
  for (int r = 0; r < rows; ++r) {
    Eigen::ArrayXd& acc = part[static_cast<std::size_t>(omp_get_thread_num())];
    const double v = std::exp(b_lo + r * step_);
    const double noise_factor = std::exp(-v * sigma2_);
    double row_max = 0.0, previous = 0.0;
    for (int c = 0; c < cols; ++c) {
      const double u = std::exp(a_lo + c * step_);
      // The product is ≤ 1: a node already negligible without it is skipped unevaluated.
      const double w0 = step_ * step_ * std::sqrt(u * v) * noise_factor;
      if (w0 < 1e-300) continue;
      const double w = w0 * std::exp(log_product(lambda_, weight_, rho, u, v));
      // ln w is concave in a (d ln w/da = ½ − Σ_i w_iλ_iu/(1 + 2λ_i(u + vρ_i)) decreases) and
      // λ_j/(1 + 2λ_j(u + vρ_j)) decreases in u: past the row's peak, once w < 1e-17 of the
      // row's maximum, every later node adds < 1e-17 of the peak node's share (< 1e-15 in all).
      if (w < previous && w < 1e-17 * row_max) break;
      previous = w;
      row_max = std::max(row_max, w);
      if (w < 1e-300) continue;
      acc += w * lambda_ / (1.0 + 2.0 * lambda_ * (u + v * rho));
    }
  }
  Eigen::ArrayXd acc = part[0];
  for (int k = 1; k < threads; ++k) acc += part[static_cast<std::size_t>(k)];
  drift = rho * (c_m_ / m_) * acc / std::numbers::pi;
  noise = noise_;
}

}  // namespace signdyn::detail
