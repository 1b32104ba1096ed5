// Private: SGD deterministic dynamics (theory.md §2).
#pragma once

#include "signdyn/dynamics.hpp"

namespace signdyn::detail {

/// Iterates the exact expected one-step map of E ρ_j under minibatch SGD (exact at any d):
/// ρ_j ← (1 − η_k λ_j)² ρ_j + (η_k²/B)[λ_j² ρ_j + λ_j(Σ_i λ_i ρ_i + σ²)]. O(d) per step.
Trajectory sgd_exact_map(const Problem& problem, const OptimizerSpec& optimizer,
                         const TheoryOptions& options);

/// Integrates the continuous-time limit dρ_j/dt = −2η(t)λ_j ρ_j + (η(t)²/B) λ_j (Σ_i λ_i ρ_i + σ²)
/// in log time with the stiff Rosenbrock-W integrator of log_rosenbrock.hpp (dense output).
Trajectory sgd_ode(const Problem& problem, const OptimizerSpec& optimizer,
                   const TheoryOptions& options);

}  // namespace signdyn::detail
