// Dispatch from an optimizer to the deterministic dynamics of the bilinear family
// (see signdyn/bilinear_dynamics.hpp and docs/theory/bilinear.md).
//
// SGD, SignSGD (bilinear_signsgd.*) and SignSVD (bilinear_signsvd.*) are plugged in; another
// optimizer's bilinear theory would return true in has_bilinear_theory() and add its branch to
// dispatch(); it receives the problem, the optimizer and the TheoryOptions (record_steps,
// mode_pairs) and returns a Trajectory, most easily filled with BilinearTheoryRecorder
// (bilinear_recorder.hpp) from the full E ρ (n_out × n_in) at each record step.
#include <chrono>
#include <string>

#include "bilinear_recorder.hpp"
#include "bilinear_sgd.hpp"
#include "bilinear_signsgd.hpp"
#include "bilinear_signsvd.hpp"
#include "signdyn/bilinear_dynamics.hpp"
#include "signdyn/error.hpp"

namespace signdyn {

std::string missing_bilinear_theory(const BilinearProblem& problem,
                                    const OptimizerSpec& optimizer) {
  const bool constant = optimizer.schedule.kind == ScheduleKind::constant;
  switch (optimizer.kind) {
    case OptimizerKind::sgd:  // the exact map takes any schedule; SGD is rotation-equivariant
      return "";
    case OptimizerKind::signsvd:  // rotation-equivariant, so any basis
      return constant ? ""
                      : "its map takes a constant rate (optimizer.schedule.kind = \"constant\")";
    case OptimizerKind::signsgd:
      if (!problem.is_diagonal())
        return "its closure is the diagonal basis's, and SignSGD is not rotation-equivariant "
               "(problem.bilinear.basis_out = basis_in = \"diagonal\")";
      return constant ? ""
                      : "its map takes a constant rate (optimizer.schedule.kind = \"constant\")";
    case OptimizerKind::muon:
      return "not derived yet";
  }
  return "unknown optimizer";
}

bool has_bilinear_theory(const BilinearProblem& problem, const OptimizerSpec& optimizer) {
  return missing_bilinear_theory(problem, optimizer).empty();
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// SGD: the exact expected map of bilinear.md §2, one step at a time with the scheduled rate
// lr_k (the map is per step, so any schedule is exact).
Trajectory bilinear_sgd_predict(const BilinearProblem& problem, const OptimizerSpec& optimizer,
                                const TheoryOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  detail::BilinearTheoryRecorder recorder(problem, optimizer, options, "exact_map");
  Eigen::MatrixXd rho = bilinear_initial_rho(problem);
  Eigen::VectorXd row(problem.n_out), col(problem.n_in);
  const auto& steps = options.record_steps;
  std::size_t next = 0;
  for (std::int64_t k = 0; next < steps.size(); ++k) {
    if (k == steps[next]) {
      if (!recorder.record(next, rho)) break;
      if (++next == steps.size()) break;
    }
    const double lr = optimizer.schedule.lr_at(optimizer.lr, static_cast<double>(k));
    detail::bilinear_sgd_step(problem, lr, optimizer.batch, rho, row, col);
  }
  return std::move(recorder).take(seconds_since(start));
}

// Draws of the closure per evaluation of the SignSVD moments, by batch: the validated settings
// of validation/bilinear_signsvd/README.md (the prediction's own sampling noise is largest at
// small B, where each draw is one rank-one direction).
int signsvd_samples(Eigen::Index batch) {
  if (batch < 4) return 256;
  if (batch < 256) return 64;
  return 8;
}

// SignSVD: the refreshed one-step map of bilinear.md "SignSVD" (moments from fixed-seed draws
// of the Gaussian closure, so the curve is deterministic).
Trajectory bilinear_signsvd_predict(const BilinearProblem& problem, const OptimizerSpec& optimizer,
                                    const TheoryOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  detail::BilinearTheoryRecorder recorder(problem, optimizer, options, "refreshed_map");
  detail::BilinearSignsvdOptions so;
  so.samples = signsvd_samples(optimizer.batch);
  const std::vector<long> steps(options.record_steps.begin(), options.record_steps.end());
  const detail::BilinearSignsvdCurve curve = detail::bilinear_signsvd_map(
      problem, optimizer.lr, optimizer.batch, bilinear_initial_rho(problem), steps, true, so);
  for (std::size_t i = 0; i < curve.rho.size(); ++i)
    if (!recorder.record(i, curve.rho[i])) break;
  return std::move(recorder).take(seconds_since(start));
}

// SignSGD: the mean-sign closure of bilinear.md §6 (diagonal basis, constant lr).
Trajectory bilinear_signsgd_predict(const BilinearProblem& problem, const OptimizerSpec& optimizer,
                                    const TheoryOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  detail::BilinearTheoryRecorder recorder(problem, optimizer, options, "sign_closure_map");
  const std::vector<long> steps(options.record_steps.begin(), options.record_steps.end());
  const detail::BilinearSgdCurve curve =
      detail::bilinear_signsgd_map(problem, optimizer.lr, optimizer.batch, steps, true);
  for (std::size_t i = 0; i < curve.rho.size(); ++i)
    if (!recorder.record(i, curve.rho[i])) break;
  return std::move(recorder).take(seconds_since(start));
}

Trajectory dispatch(const BilinearProblem& problem, const OptimizerSpec& optimizer,
                    const TheoryOptions& options) {
  switch (optimizer.kind) {
    case OptimizerKind::sgd:
      return bilinear_sgd_predict(problem, optimizer, options);
    case OptimizerKind::signsvd:
      return bilinear_signsvd_predict(problem, optimizer, options);
    case OptimizerKind::signsgd:
      return bilinear_signsgd_predict(problem, optimizer, options);
    case OptimizerKind::muon:
      break;
  }
  throw Error("predict_bilinear: no dispatch for optimizer '" +
              std::string(to_string(optimizer.kind)) + "'");
}

}  // namespace

Trajectory predict_bilinear(const BilinearProblem& problem, const OptimizerSpec& optimizer,
                            const TheoryOptions& options) {
  if (options.record_steps.empty() || options.record_steps.front() != 0)
    throw Error("predict_bilinear: record steps must start at step 0");
  for (std::size_t i = 1; i < options.record_steps.size(); ++i)
    if (options.record_steps[i] <= options.record_steps[i - 1])
      throw Error("predict_bilinear: record steps must be strictly ascending");
  if (optimizer.batch < 1)
    throw ConfigError("optimizer.batch", "optimizer.batch = " + std::to_string(optimizer.batch) +
                                             ": the batch size must be an integer >= 1");
  if (const std::string why = missing_bilinear_theory(problem, optimizer); !why.empty())
    throw Error("no deterministic dynamics for optimizer '" +
                std::string(to_string(optimizer.kind)) + "' on the bilinear family: " + why +
                "; use run.methods = [\"mc\"] for it");
  return dispatch(problem, optimizer, options);
}

}  // namespace signdyn
