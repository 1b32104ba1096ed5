// solvers/mc/bilinear_frame.hpp: the bilinear Monte Carlo with the frame exposed (for tests).
#pragma once

#include "replica_engine.hpp"
#include "signdyn/bilinear_simulate.hpp"

namespace signdyn::detail {

/// The frame simulate_bilinear() uses: the eigenbases unless the rule is not
/// rotation-equivariant (SignSGD) and a side of the problem has a generic basis.
Frame default_bilinear_frame(const BilinearProblem& problem, OptimizerKind kind);

/// simulate_bilinear() in a given frame; true_basis with a diagonal problem is the eigenbasis
/// run. An equivariant rule (SGD, SignSVD, Muon) gives the same curves in both frames up to
/// round-off, which the tests check.
BilinearMcCurve simulate_bilinear_in_frame(const BilinearProblem& problem,
                                           const OptimizerSpec& optimizer,
                                           const BilinearSimulateOptions& options, Frame frame);

}  // namespace signdyn::detail
