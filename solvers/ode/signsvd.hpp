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

/// The SignSVD step model of the given closure for this problem and optimizer: precomputes
/// s_i and n_i once (O(d · nodes)); each evaluation is O(d).
std::unique_ptr<StepModel> make_signsvd_model(const Problem& problem,
                                              const OptimizerSpec& optimizer,
                                              SignsvdClosure closure);

/// E ρ_j(t) and R(t) under SignSVD: the expected one-step map (exact_map) or its ODE (ode).
Trajectory signsvd_predict(const Problem& problem, const OptimizerSpec& optimizer,
                           const TheoryOptions& options,
                           SignsvdClosure closure = kDefaultSignsvdClosure);

}  // namespace signdyn::detail
