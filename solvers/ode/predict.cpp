// Dispatch from an optimizer to its deterministic dynamics (see signdyn/dynamics.hpp).
#include <string>

#include "muon.hpp"
#include "sgd.hpp"
#include "signdyn/dynamics.hpp"
#include "signdyn/error.hpp"
#include "signsgd.hpp"
#include "signsvd.hpp"
#include "theory_recorder.hpp"

namespace signdyn {

bool has_theory(const Problem& /*problem*/, const OptimizerSpec& optimizer) {
  if (optimizer.kind == OptimizerKind::signsgd) return optimizer.momentum == 0.0;  // signsgd.md
  if (optimizer.kind == OptimizerKind::signsvd) return optimizer.momentum == 0.0;  // signsvd.md
  if (optimizer.kind == OptimizerKind::muon)  // signsvd.md §5: no momentum yet
    return optimizer.momentum == 0.0 && optimizer.ns_steps >= 1;
  return optimizer.kind == OptimizerKind::sgd;
}

namespace {

Trajectory dispatch(const Problem& problem, const OptimizerSpec& optimizer,
                    const TheoryOptions& options) {
  if (optimizer.kind == OptimizerKind::signsgd)
    return detail::signsgd_predict(problem, optimizer, options);
  if (optimizer.kind == OptimizerKind::signsvd)
    return detail::signsvd_predict(problem, optimizer, options);
  if (optimizer.kind == OptimizerKind::muon)
    return detail::muon_predict(problem, optimizer, options);
  switch (options.solver) {
    case TheorySolver::exact_map:
      return detail::sgd_exact_map(problem, optimizer, options);
    case TheorySolver::ode:
      return detail::sgd_ode(problem, optimizer, options);
  }
  throw Error("predict: unknown theory solver");
}

}  // namespace

Trajectory predict(const Problem& problem, const OptimizerSpec& optimizer,
                   const TheoryOptions& options) {
  if (options.record_steps.empty() || options.record_steps.front() != 0)
    throw Error("predict: record steps must start at step 0");
  if (!has_theory(problem, optimizer))
    throw Error("no deterministic dynamics for optimizer '" +
                std::string(to_string(optimizer.kind)) +
                "' yet; use run.methods = [\"mc\"] for it");
  try {
    return dispatch(problem, optimizer, options);
  } catch (const NumericalError& e) {
    // A solver that failed on valid input: the run ends `stalled` after the initial record
    // (ρ_j(0) = b_j²), with the reason, like an integrator that hit its step limit.
    detail::TheoryRecorder recorder(problem, optimizer, options, "failed");
    recorder.record(0, problem.b.array().square().matrix());
    recorder.stop(RunStatus::stalled, e.what());
    return std::move(recorder).take(0.0);
  }
}

}  // namespace signdyn
