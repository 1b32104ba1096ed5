// signdyn/bilinear_simulate.hpp: Monte Carlo of SGD and SignSVD on the bilinear problem.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <vector>

#include "signdyn/bilinear.hpp"

namespace signdyn {

enum class BilinearMethod { sgd, signsvd };

/// How to run the bilinear Monte Carlo: method, constant lr, batch, replicas, records.
struct BilinearSimulateOptions {
  BilinearMethod method = BilinearMethod::sgd;
  double lr = 0.1;
  Eigen::Index batch = 1;
  std::int64_t replicas = 100;
  std::uint64_t seed = 1;          // replica r draws from Rng(seed, r)
  std::vector<long> record_steps;  // ascending step counts at which to record (0 allowed)
  bool keep_rho = true;            // also average ρ_kl (n_out·n_in doubles per record)
  int threads = 0;                 // OpenMP threads; 0 = omp_get_max_threads()
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

/// Runs independent replicas of Δ ← Δ − η G (SGD) or Δ ← Δ − η msign(G) (SignSVD) in the
/// eigenbases, G = (1/B) A_outᵀ diag(r) A_in, from Δ_0 = −W*. Per replica, Rng(seed, r) draws
/// Δ_0 (sample_bilinear_initial_residual), then each step's batch (sample_bilinear_batch).
/// msign(G) uses the rank-≤B factors diag(r) A_out and A_in (MsignFactored: the low-rank QR
/// route when it pays off). Throws ConfigError on lr ≤ 0, batch < 1, replicas < 2 or records
/// that are not ascending and ≥ 0.
BilinearMcCurve simulate_bilinear(const BilinearProblem& p, const BilinearSimulateOptions& o);

}  // namespace signdyn
