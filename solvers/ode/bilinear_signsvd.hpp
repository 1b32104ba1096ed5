// Private: SignSVD dynamics of the bilinear problem (docs/theory/bilinear.md, "SignSVD").
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <vector>

#include "signdyn/bilinear.hpp"

namespace signdyn::detail {

/// How the one-step conditional moments of SignSVD are evaluated (bilinear.md, SignSVD §3).
struct BilinearSignsvdOptions {
  int samples = 32;                // draws of (Δ, minibatch) per evaluation of the moments
  double bin_ratio = 1.15;         // mode-index bins [i, ⌈ratio·i⌉) per side, pooled per pair
  double refresh_tolerance = 0.1;  // re-evaluate when ln R or ln(R − σ²/2) moved by this much
  long max_interval = 0;           // and at least every this many steps (0: no such limit)
  std::uint64_t seed = 1;          // evaluation e draws its sample s from Rng(seed, e·samples + s)
  int threads = 0;                 // OpenMP threads over samples; 0 = omp_get_max_threads()
  double cg_tolerance = 1e-4;      // relative residual of the solve S w = r (Rao–Blackwell)
  long cg_max_iterations = 500;    // its iteration cap
};

/// Dense numbering of the index bins of one side: bin[i] for i = 0..n−1 (index i+1), and the
/// count. Bin edges are e_0 = 1, e_{b+1} = max(e_b + 1, ⌈ratio·e_b⌉); the head indices that the
/// ratio cannot split stay single.
struct IndexBins {
  int count = 0;
  std::vector<int> bin;
};

/// Bins 1..n by the rule above; throws Error unless n ≥ 1 and ratio > 1.
IndexBins bilinear_index_bins(Eigen::Index n, double ratio);

/// Drift rate and noise of one SignSVD step at the energies ρ, under the Gaussian closure
/// Δ = √ρ ∘ Z: rate_kl ≈ E[Δ_kl M_kl]/ρ_kl and noise_kl ≈ E[M_kl²], M = msign(G). The drift is
/// Rao–Blackwellised: E[Δ_kl M_kl] = E[ρ_kl H_kl M_kl], H = A_outᵀ diag(S⁻¹r) A_in the
/// conditional mean of Δ/ρ given the batch and its residuals (S = Cov(r | batch), solved by CG).
struct BilinearSignsvdMoments {
  Eigen::MatrixXd rate;    // n_out×n_in, pooled per bin pair: Σ ρ∘H∘M / (samples·Σ ρ)
  Eigen::MatrixXd noise;   // n_out×n_in, bin-pair mean of M² shaped by the leverage product
  long cg_iterations = 0;  // conjugate-gradient iterations summed over the samples
};

/// Evaluates the moments above from options.samples draws of the closure (evaluation number
/// `evaluation` selects the streams); deterministic for any thread count. Throws Error if an
/// msign fails.
BilinearSignsvdMoments bilinear_signsvd_moments(const BilinearProblem& p, Eigen::Index batch,
                                                const Eigen::Ref<const Eigen::MatrixXd>& rho,
                                                const BilinearSignsvdOptions& options,
                                                std::uint64_t evaluation);

/// Leverage of one side at rank q: l_i = v_i/(v_i + κ) with Σ_i l_i = q (all 1 when q ≥ n).
Eigen::VectorXd bilinear_leverage(const Eigen::VectorXd& v, double q);

/// Expected risk (and, if keep_rho, E ρ) of constant-lr minibatch SignSVD at the ascending
/// record steps: the map ρ ← max(ρ − 2η rate∘ρ + η² noise, 0) with the moments refreshed as in
/// options. Throws ConfigError on lr ≤ 0, batch < 1, bad records or bad options.
struct BilinearSignsvdCurve {
  std::vector<long> steps;           // the record steps
  std::vector<double> risk;          // E R at each record
  std::vector<Eigen::MatrixXd> rho;  // E ρ at each record (empty unless keep_rho)
  long evaluations = 0;              // moment evaluations made
  long cg_iterations = 0;            // conjugate-gradient iterations over all evaluations
};
BilinearSignsvdCurve bilinear_signsvd_map(const BilinearProblem& p, double lr, Eigen::Index batch,
                                          const Eigen::Ref<const Eigen::MatrixXd>& rho0,
                                          const std::vector<long>& record_steps, bool keep_rho,
                                          const BilinearSignsvdOptions& options = {});

}  // namespace signdyn::detail
