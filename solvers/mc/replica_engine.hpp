// solvers/mc/replica_engine.hpp: the replica engine behind simulate(), with the frame exposed.
#pragma once

#include <cstddef>

#include "signdyn/optimizer.hpp"
#include "signdyn/problem.hpp"
#include "signdyn/simulate.hpp"
#include "signdyn/trajectory.hpp"

namespace signdyn::detail {

/// The coordinates a replica's residual Δ is kept in.
/// eigenbasis: Δ_eig = OᵀΔ, batches X = Z diag(√λ); exact for rotation-equivariant rules.
/// true_basis: Δ itself, batches X_true = X_eig Oᵀ; needed for SignSGD in a generic basis.
enum class Frame { eigenbasis, true_basis };

/// The frame simulate() uses for this optimizer and basis (eigenbasis unless the rule is not
/// rotation-equivariant and the basis is generic).
Frame default_frame(const Problem& problem, OptimizerKind kind);

/// Doubles of per-replica records held at once; replicas are reduced in chunks this size allows.
inline constexpr std::size_t kDefaultRecordBudget = std::size_t{8} << 20;  // 64 MiB

/// simulate() in a given frame. true_basis with a diagonal problem is the eigenbasis run.
/// Used by simulate() and by tests (an equivariant rule must give the same curves in both;
/// a small record_budget forces the chunked reduction, which must not change any result).
Trajectory simulate_in_frame(const Problem& problem, const OptimizerSpec& optimizer,
                             const SimulateOptions& options, Frame frame,
                             std::size_t record_budget = kDefaultRecordBudget);

}  // namespace signdyn::detail
