// Private: SignSVD deterministic dynamics (theory.md §4, docs/theory/signsvd.md).
#pragma once

#include <memory>

#include "signdyn/dynamics.hpp"
#include "signsvd_driver.hpp"

namespace signdyn::detail {

/// Which deterministic equivalent supplies the drift A_i = E⟨Δ_i, M_i⟩/m.
enum class SignsvdClosure {
  row,           // theory.md §4: A_i = ρ_i/√(m(ρ_i + 2R/(B s_i²))), s_i at m = ∞
  row_finite_m,  // the same with the finite-m s_i (double Marchenko–Pastur, signsvd.md §2.2)
  de,       // two-stage deterministic equivalent (signsvd.md §4); at B = 1 the closure's exact law
  de_only,  // the deterministic equivalent at every B (no B = 1 law)
};

/// The closure used by predict() (chosen by Monte Carlo, validation/signsvd).
inline constexpr SignsvdClosure kDefaultSignsvdClosure = SignsvdClosure::de;

/// Mode compression of the deterministic-equivalent ODE (signsvd.md §4.5, mode_groups.hpp):
/// unrecorded modes with λ_j and b_j² within relative `width` (0: signsvd_group_width(rel_tol))
/// share one state. `automatic` compresses when that at least halves the states, `on` always,
/// `off` never. Only the ode solver with the de/de_only closures is compressed.
struct SignsvdCompression {
  enum class Mode { automatic, on, off };
  Mode mode = Mode::automatic;
  double width = 0.0;
};

/// Group width for an ODE tolerance: ε = √(10·rel_tol), at most 0.05 (the compression error of
/// the risk, measured ≈ ε²/300, stays ~ rel_tol/30; signsvd.md §4.5).
double signsvd_group_width(double rel_tol);

/// The SignSVD step model of the given closure for this problem and optimizer: precomputes
/// s_i and n_i once (O(d · nodes)); each evaluation is O(d). With `groups` (de and de_only
/// closures only) the model is per group of modes (mode_groups.hpp); `fixed_point_tol` is the
/// relative residual at which the equivalent's fixed points count as solved.
std::unique_ptr<StepModel> make_signsvd_model(const Problem& problem,
                                              const OptimizerSpec& optimizer,
                                              SignsvdClosure closure,
                                              const ModeGroups* groups = nullptr,
                                              double fixed_point_tol = 1e-13);

/// E ρ_j(t) and R(t) under SignSVD: the expected one-step map (exact_map) or its ODE (ode; by
/// Dormand–Prince when horizon × fastest initial rate 2ηA_j/ρ_j ≤ 100, else in log time by
/// ROS34PW2, signsvd.md §4.5).
Trajectory signsvd_predict(const Problem& problem, const OptimizerSpec& optimizer,
                           const TheoryOptions& options,
                           SignsvdClosure closure = kDefaultSignsvdClosure,
                           const SignsvdCompression& compression = SignsvdCompression{});

}  // namespace signdyn::detail
