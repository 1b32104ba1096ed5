// Private: exact SGD dynamics of the bilinear problem (docs/theory/bilinear.md).
#pragma once

#include <Eigen/Core>
#include <vector>

#include "signdyn/bilinear.hpp"

namespace signdyn::detail {

/// One step of the exact expected map of E ρ_kl under minibatch SGD (Wick; bilinear.md):
/// ρ_kl ← (1 − η μ_k λ_l)² ρ_kl + (η²/B)[μ_k λ_l 2R + 2 μ_k λ_l² Σ_i μ_i ρ_il
///        + 2 μ_k² λ_l Σ_j λ_j ρ_kj + 3 μ_k² λ_l² ρ_kl], 2R = Σ μ λ ρ + σ². O(n_out n_in).
/// `row` (n_out) and `col` (n_in) are workspace; nothing is allocated.
void bilinear_sgd_step(const BilinearProblem& p, double lr, Eigen::Index batch,
                       Eigen::Ref<Eigen::MatrixXd> rho, Eigen::Ref<Eigen::VectorXd> row,
                       Eigen::Ref<Eigen::VectorXd> col);

/// Expected risk (and, if keep_rho, E ρ) of constant-lr minibatch SGD at the given ascending
/// step counts, from E ρ(0) = rho0; throws ConfigError on lr ≤ 0, batch < 1 or bad records.
struct BilinearSgdCurve {
  std::vector<long> steps;           // the record steps
  std::vector<double> risk;          // E R at each record
  std::vector<Eigen::MatrixXd> rho;  // E ρ at each record (empty unless keep_rho)
};
BilinearSgdCurve bilinear_sgd_exact_map(const BilinearProblem& p, double lr, Eigen::Index batch,
                                        const Eigen::Ref<const Eigen::MatrixXd>& rho0,
                                        const std::vector<long>& record_steps, bool keep_rho);

}  // namespace signdyn::detail
