// signdyn/bilinear_simulate.hpp: Monte Carlo of the four optimizers on the bilinear problem.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <functional>
#include <vector>

#include "signdyn/bilinear.hpp"
#include "signdyn/optimizer.hpp"

namespace signdyn {

/// How to run the bilinear Monte Carlo: replicas, seed, records (the optimizer is separate).
struct BilinearSimulateOptions {
  std::int64_t replicas = 100;
  std::uint64_t seed = 1;                // replica r draws from Rng(seed, r)
  std::vector<long> record_steps;        // ascending step counts at which to record (0 allowed)
  bool keep_rho = true;                  // also average ρ_kl (n_out·n_in doubles per record)
  int threads = 0;                       // OpenMP threads; 0 = omp_get_max_threads()
  std::function<void(double)> progress;  // optional; called on the driving thread, fraction done
};

/// Replica averages at the record steps; identical for any thread count.
struct BilinearMcCurve {
  std::vector<long> steps;
  std::vector<double> risk;             // mean exact risk of the replicas' Δ
  std::vector<double> risk_se;          // its standard error over replicas
  std::vector<Eigen::MatrixXd> rho;     // mean ρ_kl = Δ_kl² (empty unless keep_rho)
  std::vector<Eigen::MatrixXd> rho_se;  // standard errors of rho
  std::int64_t diverged = 0;  // replicas stopped on a non-finite Δ or msign failure (risk +inf)
};

/// Runs independent replicas of the optimizer (theory.md §1 update rules: SGD Δ ← Δ − η_k G,
/// SignSGD Δ ← Δ − η_k sign(G), SignSVD Δ ← Δ − η_k msign(G), Muon Δ ← Δ − η_k NS_k(D/‖D‖_F)
/// with its momentum) in the eigenbases, G = (1/B) A_outᵀ diag(r) A_in, from Δ_0 = −W*;
/// η_k follows optimizer.schedule. Per replica, Rng(seed, r) draws Δ_0
/// (sample_bilinear_initial_residual), then each step's batch (sample_bilinear_batch). The
/// gradient is passed to the rule by its rank-≤B factors diag(r) A_out and A_in, so SignSVD
/// and momentum-free Muon take the low-rank route when it pays off. SGD, SignSVD and Muon run in
/// the eigenbases for any basis (they are rotation-equivariant: U(O_out G O_inᵀ) =
/// O_out U(G) O_inᵀ); SignSGD with a generic side runs in the true basis (the same draws
/// rotated, Δ = O_out Δ̃ O_inᵀ), and ρ is reported in the eigenbases. Throws ConfigError on
/// lr ≤ 0, batch < 1, replicas < 2 or records that are not ascending and ≥ 0.
BilinearMcCurve simulate_bilinear(const BilinearProblem& p, const OptimizerSpec& optimizer,
                                  const BilinearSimulateOptions& o);

}  // namespace signdyn
