// Private: collects risk and ρ_j at record times into a theory Trajectory.
#include "theory_recorder.hpp"

#include <utility>

namespace signdyn::detail {

TheoryRecorder::TheoryRecorder(const Problem& problem, const OptimizerSpec& optimizer,
                               const TheoryOptions& options, std::string solver)
    : problem_(problem) {
  const auto n_rec = static_cast<Eigen::Index>(options.record_steps.size());
  out_.method = "theory";
  out_.optimizer = std::string(to_string(optimizer.kind));
  out_.solver = std::move(solver);
  out_.batch = optimizer.batch;
  out_.lr = optimizer.lr;
  out_.modes = options.modes;
  out_.t.resize(n_rec);
  for (Eigen::Index i = 0; i < n_rec; ++i)
    out_.t(i) = static_cast<double>(options.record_steps[static_cast<std::size_t>(i)]);
  out_.risk = Eigen::VectorXd::Zero(n_rec);
  out_.risk_se = Eigen::VectorXd::Zero(n_rec);
  out_.rho = Eigen::MatrixXd::Zero(n_rec, options.modes.size());
  out_.rho_se = Eigen::MatrixXd::Zero(n_rec, options.modes.size());
}

bool TheoryRecorder::record(std::size_t index, const Eigen::Ref<const Eigen::VectorXd>& rho) {
  const double risk = risk_from_rho(problem_, rho);
  if (!is_finite_risk(risk)) {
    stop(RunStatus::diverged, "risk is not finite (or above 1e150) at step " +
                                  std::to_string(static_cast<long long>(out_.t(index))) +
                                  "; lower optimizer.lr (the dynamics are unstable)");
    return false;
  }
  const auto i = static_cast<Eigen::Index>(index);
  out_.risk(i) = risk;
  for (Eigen::Index k = 0; k < out_.modes.size(); ++k) out_.rho(i, k) = rho(out_.modes(k) - 1);
  stored_ = index + 1;
  return true;
}

bool TheoryRecorder::record_values(std::size_t index, double risk, const double* rho_modes) {
  if (!is_finite_risk(risk)) {
    stop(RunStatus::diverged, "risk is not finite (or above 1e150) at step " +
                                  std::to_string(static_cast<long long>(out_.t(index))) +
                                  "; lower optimizer.lr (the dynamics are unstable)");
    return false;
  }
  const auto i = static_cast<Eigen::Index>(index);
  out_.risk(i) = risk;
  for (Eigen::Index k = 0; k < out_.modes.size(); ++k) out_.rho(i, k) = rho_modes[k];
  stored_ = index + 1;
  return true;
}

void TheoryRecorder::stop(RunStatus status, std::string message) {
  if (out_.status != RunStatus::completed) return;  // keep the first reason
  out_.status = status;
  out_.message = std::move(message);
}

Trajectory TheoryRecorder::take(double wall_seconds) && {
  const auto n = static_cast<Eigen::Index>(stored_);
  out_.t.conservativeResize(n);
  out_.risk.conservativeResize(n);
  out_.risk_se.conservativeResize(n);
  out_.rho.conservativeResize(n, Eigen::NoChange);
  out_.rho_se.conservativeResize(n, Eigen::NoChange);
  out_.wall_seconds = wall_seconds;
  return std::move(out_);
}

}  // namespace signdyn::detail
