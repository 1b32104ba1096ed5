// Muon deterministic dynamics: the SignSVD equivalent at every step, corrected by the spectral
// factors of the Newton–Schulz map (docs/theory/signsvd.md §5).
#include "muon.hpp"

#include <cmath>
#include <string>

#include "muon_de.hpp"
#include "refreshed_factors.hpp"
#include "signdyn/error.hpp"
#include "signsvd_de.hpp"

namespace signdyn::detail {
namespace {

class MuonModel final : public StepModel {
 public:
  MuonModel(const Problem& problem, const OptimizerSpec& optimizer, double refresh_tol)
      : signsvd_(problem.lambda.array(), static_cast<double>(optimizer.batch),
                 static_cast<double>(problem.m), problem.sigma),
        muon_(problem.lambda.array(), static_cast<double>(optimizer.batch),
              static_cast<double>(problem.m), problem.sigma,
              MuonPolynomial{3.4445, -4.7750, 2.0315, optimizer.ns_steps}),
        factors_(problem.lambda.array(), problem.sigma * problem.sigma, refresh_tol) {}

  void evaluate(const Eigen::ArrayXd& rho, double /*t*/, Eigen::ArrayXd& drift,
                Eigen::ArrayXd& noise) override {
    signsvd_.evaluate(rho, drift, noise);
    // A_j and N_j are > 0 for every mode with λ_j, ρ_j > 0; exact zeros keep factor 1.
    factors_.apply(
        rho, drift, noise,
        [this, &drift, &noise](const Eigen::ArrayXd& r, Eigen::ArrayXd& a, Eigen::ArrayXd& n) {
          // The factors A^Muon/A^polar and N^Muon/N^polar, both from the same
          // Stieltjes densities (the polar factor's Stieltjes route reproduces the
          // SignSVD equivalent to < 5e-3), applied to the SignSVD equivalent.
          Eigen::ArrayXd am, nm, a1, n1;
          muon_.evaluate(r, am, nm, a1, n1);
          a = (a1 > 0.0).select(drift * am / a1, drift);
          n = (n1 > 0.0).select(noise * nm / n1, noise);
        });
  }

 private:
  SignsvdDeSolver signsvd_;
  MuonDeSolver muon_;
  RefreshedFactors factors_;
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
