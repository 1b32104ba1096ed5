// signdyn/trajectory.hpp: the unit of output shared by Monte Carlo and theory (design.md).
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <vector>

namespace signdyn {

enum class RunStatus { completed, diverged, stalled };

/// Canonical name of a status ("completed", "diverged", "stalled").
std::string to_string(RunStatus status);

/// Risk and per-mode energies at record times. t is the step count k (time t = k).
/// For theory runs risk_se and rho_se are zero. modes are 1-based mode indices j.
/// Bilinear family: column i of rho is ρ_kl for the pair (k, l) = mode_pairs.row(i), 1-based,
/// and modes(i) = k; for the regression family mode_pairs is empty (0 × 0).
struct Trajectory {
  std::string method;     // "mc" or "theory"
  std::string optimizer;  // "sgd", "signsgd", "signsvd", "muon"
  std::string solver;     // how it was computed, e.g. "replicas", "exact_map", "ode_rosenbrock"
  std::int64_t batch = 0;
  double lr = 0.0;
  std::uint64_t seed = 0;
  std::int64_t replicas = 0;  // Monte Carlo replicas (0 for theory)
  double wall_seconds = 0.0;
  RunStatus status = RunStatus::completed;
  std::string message;  // why a run stopped early; empty when completed

  Eigen::VectorXd t;           // record times (steps), ascending, length n_rec
  Eigen::VectorXd risk;        // R(t)
  Eigen::VectorXd risk_se;     // standard error of the Monte Carlo mean (0 for theory)
  Eigen::VectorXi modes;       // recorded mode indices j (1-based), length n_modes
  Eigen::MatrixXd rho;         // ρ_j(t), n_rec × n_modes
  Eigen::MatrixXd rho_se;      // standard error of ρ_j(t), n_rec × n_modes
  Eigen::MatrixXi mode_pairs;  // bilinear: (k, l) of each rho column, n_modes × 2; else 0 × 0
};

/// Log-spaced integer record steps in [0, steps]: 0, then about `records` values from 1 to
/// steps, rounded and deduplicated; always includes 0 and steps.
std::vector<std::int64_t> record_steps(std::int64_t steps, std::int64_t records);

/// `count` log-spaced 1-based mode indices in [1, d] (all modes if count == 0 or count ≥ d).
Eigen::VectorXi record_modes(Eigen::Index d, Eigen::Index count);

/// Bilinear family: 1-based mode pairs (k, l), one per row (n × 2). count ≤ 0: all
/// n_out·n_in pairs, row-major (k outer). Otherwise `count` points log-spaced along the diagonal
/// of the (log k, log l) plane, k_i = round(n_out^s_i), l_i = round(n_in^s_i), s_i = i/(count−1),
/// from (1, 1) to (n_out, n_in), repeats dropped (so (k, k) when n_out = n_in).
Eigen::MatrixXi record_mode_pairs(Eigen::Index n_out, Eigen::Index n_in, Eigen::Index count);

}  // namespace signdyn
