// Private: collects the bilinear risk and recorded ρ_kl into a theory Trajectory.
#include "bilinear_recorder.hpp"

#include <utility>

#include "signdyn/error.hpp"
#include "theory_recorder.hpp"

namespace signdyn::detail {

BilinearTheoryRecorder::BilinearTheoryRecorder(const BilinearProblem& problem,
                                               const OptimizerSpec& optimizer,
                                               const TheoryOptions& options, std::string solver)
    : problem_(problem) {
  const Eigen::MatrixXi& pairs = options.mode_pairs;
  if (pairs.size() > 0 &&
      (pairs.cols() != 2 || pairs.col(0).minCoeff() < 1 || pairs.col(1).minCoeff() < 1 ||
       pairs.col(0).maxCoeff() > problem.n_out || pairs.col(1).maxCoeff() > problem.n_in))
    throw Error("predict_bilinear: mode_pairs must be n × 2 with 1 <= k <= n_out = " +
                std::to_string(problem.n_out) +
                " and 1 <= l <= n_in = " + std::to_string(problem.n_in));
  const auto n_rec = static_cast<Eigen::Index>(options.record_steps.size());
  const Eigen::Index n_modes = pairs.size() > 0 ? pairs.rows() : 0;
  out_.method = "theory";
  out_.optimizer = std::string(to_string(optimizer.kind));
  out_.solver = std::move(solver);
  out_.batch = optimizer.batch;
  out_.lr = optimizer.lr;
  out_.mode_pairs = n_modes > 0 ? pairs : Eigen::MatrixXi(0, 2);
  out_.modes = n_modes > 0 ? Eigen::VectorXi(pairs.col(0)) : Eigen::VectorXi(0);
  out_.t.resize(n_rec);
  for (Eigen::Index i = 0; i < n_rec; ++i)
    out_.t(i) = static_cast<double>(options.record_steps[static_cast<std::size_t>(i)]);
  out_.risk = Eigen::VectorXd::Zero(n_rec);
  out_.risk_se = Eigen::VectorXd::Zero(n_rec);
  out_.rho = Eigen::MatrixXd::Zero(n_rec, n_modes);
  out_.rho_se = Eigen::MatrixXd::Zero(n_rec, n_modes);
}

bool BilinearTheoryRecorder::record(std::size_t index,
                                    const Eigen::Ref<const Eigen::MatrixXd>& rho) {
  const double risk = bilinear_risk_from_rho(problem_, rho);
  if (!is_finite_risk(risk)) {
    stop(RunStatus::diverged, "risk is not finite (or above 1e150) at step " +
                                  std::to_string(static_cast<long long>(out_.t(index))) +
                                  "; lower optimizer.lr (the dynamics are unstable)");
    return false;
  }
  const auto i = static_cast<Eigen::Index>(index);
  out_.risk(i) = risk;
  for (Eigen::Index c = 0; c < out_.mode_pairs.rows(); ++c)
    out_.rho(i, c) = rho(out_.mode_pairs(c, 0) - 1, out_.mode_pairs(c, 1) - 1);
  stored_ = index + 1;
  return true;
}

void BilinearTheoryRecorder::stop(RunStatus status, std::string message) {
  if (out_.status != RunStatus::completed) return;
  out_.status = status;
  out_.message = std::move(message);
}

Trajectory BilinearTheoryRecorder::take(double wall_seconds) && {
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
