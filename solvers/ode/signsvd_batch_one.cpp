// The exact (Gaussian-row closure) SignSVD law at B = 1 by double Laplace integrals.
#include "signsvd_batch_one.hpp"

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
  Eigen::ArrayXd acc = Eigen::ArrayXd::Zero(lambda_.size());
  for (double b = b_lo; b <= b_hi; b += step_) {
    const double v = std::exp(b);
    const double noise_factor = std::exp(-v * sigma2_);
    for (double a = a_lo; a <= a_hi; a += step_) {
      const double u = std::exp(a);
      const double lp = log_product(lambda_, weight_, rho, u, v);
      const double w = step_ * step_ * std::sqrt(u * v) * noise_factor * std::exp(lp);
      if (w < 1e-300) continue;
      acc += w * lambda_ / (1.0 + 2.0 * lambda_ * (u + v * rho));
    }
  }
  drift = rho * (c_m_ / m_) * acc / std::numbers::pi;
  noise = noise_;
}

}  // namespace signdyn::detail
