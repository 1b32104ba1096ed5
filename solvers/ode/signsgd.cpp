// SignSGD deterministic dynamics: dispatch by basis (docs/theory/signsgd.md).
#include "signsgd.hpp"

#include "signdyn/error.hpp"

namespace signdyn::detail {

namespace {
// Largest d for which the generic basis uses the realised O (O(d²) per evaluation and an O(d³)
// set-up); beyond it the concentration form (O(d)) is used.
constexpr Eigen::Index kMaxRealisedGeneric = 4096;
}  // namespace

Trajectory signsgd_predict(const Problem& problem, const OptimizerSpec& optimizer,
                           const TheoryOptions& options) {
  if (problem.is_diagonal()) return signsgd_diagonal(problem, optimizer, options);
  if (problem.d <= kMaxRealisedGeneric && problem.O.rows() == problem.d)
    return signsgd_generic_exact(problem, optimizer, options);
  return signsgd_generic_concentrated(problem, optimizer, options);
}

}  // namespace signdyn::detail
