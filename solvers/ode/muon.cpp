// Muon deterministic dynamics: the SignSVD equivalent at every step, corrected by the spectral
// factors of the Newton–Schulz map (docs/theory/signsvd.md §5).
#include "muon.hpp"

#include <cmath>
#include <string>

#include "muon_de.hpp"
#include "signdyn/error.hpp"
#include "signsvd_de.hpp"

namespace signdyn::detail {
namespace {

class MuonModel final : public StepModel {
 public:
  MuonModel(const Problem& problem, const OptimizerSpec& optimizer, double refresh_tol)
      : lambda_(problem.lambda.array()),
        sigma2_(problem.sigma * problem.sigma),
        refresh_tol_(refresh_tol),
        signsvd_(lambda_, static_cast<double>(optimizer.batch), static_cast<double>(problem.m),
                 problem.sigma),
        muon_(lambda_, static_cast<double>(optimizer.batch), static_cast<double>(problem.m),
              problem.sigma, MuonPolynomial{3.4445, -4.7750, 2.0315, optimizer.ns_steps}) {}

  void evaluate(const Eigen::ArrayXd& rho, double /*t*/, Eigen::ArrayXd& drift,
                Eigen::ArrayXd& noise) override {
    signsvd_.evaluate(rho, drift, noise);
    const double excess = 0.5 * (lambda_ * rho).sum(), risk = excess + 0.5 * sigma2_;
    const bool stale = drift_factor_.size() == 0 ||
                       std::abs(std::log(risk / risk_ref_)) > refresh_tol_ ||
                       std::abs(std::log(excess / excess_ref_)) > refresh_tol_;
    if (stale) {
      Eigen::ArrayXd a_mu, n_mu;
      muon_.evaluate(rho, a_mu, n_mu);
      // A_j and N_j are > 0 for every mode with λ_j, ρ_j > 0; guard exact zeros.
      drift_factor_ = (drift > 0.0).select(a_mu / drift, 1.0);
      noise_factor_ = (noise > 0.0).select(n_mu / noise, 1.0);
      risk_ref_ = risk;
      excess_ref_ = excess;
    }
    drift *= drift_factor_;
    noise *= noise_factor_;
  }

 private:
  Eigen::ArrayXd lambda_;
  double sigma2_, refresh_tol_;
  SignsvdDeSolver signsvd_;
  MuonDeSolver muon_;
  Eigen::ArrayXd drift_factor_, noise_factor_;
  double risk_ref_ = 0.0, excess_ref_ = 0.0;
};

}  // namespace

std::unique_ptr<StepModel> make_muon_model(const Problem& problem, const OptimizerSpec& optimizer,
                                           double refresh_tol) {
  if (optimizer.batch < 1)
    throw ConfigError("optimizer.batch", "optimizer.batch must be >= 1 for the Muon theory");
  if (optimizer.momentum != 0.0)
    throw ConfigError("optimizer.momentum",
                      "the Muon theory has no momentum yet; set optimizer.momentum = 0");
  if (optimizer.ns_steps < 1)
    throw ConfigError("optimizer.ns_steps", "the Muon theory needs optimizer.ns_steps >= 1");
  if (!(problem.lambda.array() > 0.0).all())
    throw Error("Muon theory: the spectrum must be strictly positive");
  return std::make_unique<MuonModel>(problem, optimizer, refresh_tol);
}

Trajectory muon_predict(const Problem& problem, const OptimizerSpec& optimizer,
                        const TheoryOptions& options, double refresh_tol) {
  auto model = make_muon_model(problem, optimizer, refresh_tol);
  switch (options.solver) {
    case TheorySolver::exact_map:
      return iterate_step_model(problem, optimizer, options, *model, "expected_map");
    case TheorySolver::ode:
      return integrate_step_model(problem, optimizer, options, *model, "ode_dopri5");
  }
  throw Error("predict: unknown theory solver");
}

}  // namespace signdyn::detail
