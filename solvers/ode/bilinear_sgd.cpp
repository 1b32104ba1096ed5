// Exact expected SGD map of the bilinear problem (docs/theory/bilinear.md §2).
#include "bilinear_sgd.hpp"

#include <cassert>
#include <cmath>
#include <sstream>
#include <string>

#include "signdyn/error.hpp"

namespace signdyn::detail {

void bilinear_sgd_step(const BilinearProblem& p, double lr, Eigen::Index batch,
                       Eigen::Ref<Eigen::MatrixXd> rho, Eigen::Ref<Eigen::VectorXd> row,
                       Eigen::Ref<Eigen::VectorXd> col) {
  assert(rho.rows() == p.n_out && rho.cols() == p.n_in);
  assert(row.size() == p.n_out && col.size() == p.n_in);
  row.noalias() = rho * p.lambda;                          // Σ_j λ_j ρ_kj
  col.noalias() = rho.transpose() * p.mu;                  // Σ_i μ_i ρ_il
  const double two_r = p.mu.dot(row) + p.sigma * p.sigma;  // 2R
  const double noise = lr * lr / static_cast<double>(batch);
  for (Eigen::Index l = 0; l < p.n_in; ++l) {
    const double lam = p.lambda(l);
    const double cross_in = 2.0 * lam * lam * col(l);
    for (Eigen::Index k = 0; k < p.n_out; ++k) {
      const double mu = p.mu(k);
      const double ml = mu * lam;
      const double contraction = 1.0 - lr * ml;
      const double r = rho(k, l);
      rho(k, l) =
          contraction * contraction * r +
          noise * (ml * two_r + mu * cross_in + 2.0 * mu * mu * lam * row(k) + 3.0 * ml * ml * r);
    }
  }
}

BilinearSgdCurve bilinear_sgd_exact_map(const BilinearProblem& p, double lr, Eigen::Index batch,
                                        const Eigen::Ref<const Eigen::MatrixXd>& rho0,
                                        const std::vector<long>& record_steps, bool keep_rho) {
  if (!std::isfinite(lr) || lr <= 0.0) {
    std::ostringstream s;
    s << "optimizer.lr = " << lr << ": the learning rate must be finite and > 0";
    throw ConfigError("optimizer.lr", s.str());
  }
  if (batch < 1) {
    throw ConfigError("optimizer.batch", "optimizer.batch = " + std::to_string(batch) +
                                             ": the batch size must be an integer >= 1");
  }
  for (std::size_t i = 0; i < record_steps.size(); ++i) {
    if (record_steps[i] < 0 || (i > 0 && record_steps[i] <= record_steps[i - 1])) {
      throw ConfigError("records", "record steps must be >= 0 and strictly ascending (entry " +
                                       std::to_string(i) + " = " + std::to_string(record_steps[i]) +
                                       ")");
    }
  }
  if (rho0.rows() != p.n_out || rho0.cols() != p.n_in) {
    throw Error("bilinear_sgd_exact_map: rho0 is " + std::to_string(rho0.rows()) + "×" +
                std::to_string(rho0.cols()) + ", expected n_out×n_in = " + std::to_string(p.n_out) +
                "×" + std::to_string(p.n_in));
  }
  BilinearSgdCurve curve;
  Eigen::MatrixXd rho = rho0;
  Eigen::VectorXd row(p.n_out), col(p.n_in);
  long step = 0;
  for (const long target : record_steps) {
    for (; step < target; ++step) bilinear_sgd_step(p, lr, batch, rho, row, col);
    curve.steps.push_back(step);
    curve.risk.push_back(bilinear_risk_from_rho(p, rho));
    if (keep_rho) curve.rho.push_back(rho);
  }
  return curve;
}

}  // namespace signdyn::detail
