// SignSVD deterministic dynamics: the row closure of theory.md §4 on precomputed spectral
// coefficients (docs/theory/signsvd.md §3).
#include "signsvd.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "refreshed_factors.hpp"
#include "signdyn/error.hpp"
#include "signsvd_batch_one.hpp"
#include "signsvd_coefficients.hpp"
#include "signsvd_de.hpp"

namespace signdyn::detail {
namespace {

// Row closure: A_i = ρ_i / √(m (ρ_i + 2R q_i)), q_i = 1/(B s_i²); N_i = n_i/m.
class SignsvdRowModel final : public StepModel {
 public:
  SignsvdRowModel(const Problem& problem, const OptimizerSpec& optimizer, double m_for_s)
      : lambda_(problem.lambda.array()),
        sigma2_(problem.sigma * problem.sigma),
        m_(static_cast<double>(problem.m)) {
    const double batch = static_cast<double>(optimizer.batch);
    const SignsvdCoefficients c = signsvd_coefficients(lambda_, batch, m_for_s);
    // The noise coefficient is the projector's diagonal, rank min(B, m, d), whichever s_i is used.
    const SignsvdCoefficients cn =
        std::isinf(m_for_s) ? signsvd_coefficients(lambda_, batch, m_) : c;
    q_ = 1.0 / (batch * c.s.square());
    noise_ = cn.n / m_;
  }

  void evaluate(const Eigen::ArrayXd& rho, double /*t*/, Eigen::ArrayXd& drift,
                Eigen::ArrayXd& noise) override {
    const double two_r = (lambda_ * rho).sum() + sigma2_;  // 2R = Σ λ_i ρ_i + σ²
    // ρ_i + 2R q_i = 0 only when ρ_i = 0 and R = 0: then the drift is 0 too.
    drift = rho * (m_ * (rho + two_r * q_)).max(1e-300).rsqrt();
    noise = noise_;
  }

 private:
  Eigen::ArrayXd lambda_;
  double sigma2_, m_;
  Eigen::ArrayXd q_, noise_;
};

// The spectrum the equivalent-based models work on (every mode, or one entry per group with its
// multiplicity) and the fixed-point tolerance of the equivalent.
struct ModelSpectrum {
  Eigen::ArrayXd lambda, weight;
  double tolerance;
  ModelSpectrum(const Problem& problem, const ModeGroups* groups, double tol)
      : lambda(groups != nullptr ? groups->lambda : Eigen::ArrayXd(problem.lambda.array())),
        weight(groups != nullptr ? groups->weight : Eigen::ArrayXd::Ones(problem.d)),
        tolerance(tol) {}
};

// Gaussian-row deterministic equivalent (theory-derivations §5), O(d · nodes · iterations).
class SignsvdDeModel final : public StepModel {
 public:
  SignsvdDeModel(const Problem& problem, const OptimizerSpec& optimizer, const ModelSpectrum& spec)
      : solver_(spec.lambda, static_cast<double>(optimizer.batch), static_cast<double>(problem.m),
                problem.sigma, spec.weight) {
    solver_.set_tolerance(spec.tolerance);
  }

  void evaluate(const Eigen::ArrayXd& rho, double /*t*/, Eigen::ArrayXd& drift,
                Eigen::ArrayXd& noise) override {
    solver_.evaluate(rho, drift, noise);
  }

 private:
  SignsvdDeSolver solver_;
};

// B = 1: the closure's exact law (signsvd_batch_one.hpp), applied as factors on the equivalent
// that are refreshed when the risk or the excess risk has moved by more than 5% (the factors are
// smooth in the state; the law costs O(d · nodes²) per evaluation).
class SignsvdBatchOneModel final : public StepModel {
 public:
  SignsvdBatchOneModel(const Problem& problem, const ModelSpectrum& spec, double refresh_tol)
      : de_(spec.lambda, 1.0, static_cast<double>(problem.m), problem.sigma, spec.weight),
        exact_(spec.lambda, static_cast<double>(problem.m), problem.sigma, 0.5, spec.weight),
        factors_(spec.weight * spec.lambda, problem.sigma * problem.sigma, refresh_tol) {
    de_.set_tolerance(spec.tolerance);
  }

  void evaluate(const Eigen::ArrayXd& rho, double /*t*/, Eigen::ArrayXd& drift,
                Eigen::ArrayXd& noise) override {
    de_.evaluate(rho, drift, noise);
    factors_.apply(rho, drift, noise,
                   [this](const Eigen::ArrayXd& r, Eigen::ArrayXd& a, Eigen::ArrayXd& n) {
                     exact_.evaluate(r, a, n);
                   });
  }

 private:
  SignsvdDeSolver de_;
  SignsvdBatchOneSolver exact_;
  RefreshedFactors factors_;
};

void check_inputs(const Problem& problem, const OptimizerSpec& optimizer) {
  if (optimizer.batch < 1)
    throw ConfigError("optimizer.batch", "optimizer.batch must be >= 1 for the SignSVD theory");
  if (optimizer.momentum != 0.0)
    throw ConfigError("optimizer.momentum",
                      "the SignSVD theory has no momentum; set optimizer.momentum = 0");
  if (problem.lambda.size() != problem.d || problem.b.size() != problem.d)
    throw Error("SignSVD theory: the Problem is inconsistent (sizes of lambda, b and d differ)");
}

}  // namespace

// Horizon × fastest initial relaxation rate above which the ODE is integrated in log time.
constexpr double kStiffHorizon = 100.0;

double signsvd_group_width(double rel_tol) {
  return std::min(0.05, std::sqrt(10.0 * std::max(rel_tol, 0.0)));
}

std::unique_ptr<StepModel> make_signsvd_model(const Problem& problem,
                                              const OptimizerSpec& optimizer,
                                              SignsvdClosure closure, const ModeGroups* groups,
                                              double fixed_point_tol) {
  check_inputs(problem, optimizer);
  if (groups != nullptr && closure != SignsvdClosure::de && closure != SignsvdClosure::de_only)
    throw Error("SignSVD theory: only the deterministic-equivalent closures take mode groups");
  const ModelSpectrum spec(problem, groups, fixed_point_tol);
  switch (closure) {
    case SignsvdClosure::row:
      return std::make_unique<SignsvdRowModel>(problem, optimizer, kInfiniteOutputs);
    case SignsvdClosure::row_finite_m:
      return std::make_unique<SignsvdRowModel>(problem, optimizer, static_cast<double>(problem.m));
    case SignsvdClosure::de:
      if (optimizer.batch == 1) return std::make_unique<SignsvdBatchOneModel>(problem, spec, 0.05);
      return std::make_unique<SignsvdDeModel>(problem, optimizer, spec);
    case SignsvdClosure::de_only:
      return std::make_unique<SignsvdDeModel>(problem, optimizer, spec);
  }
  throw Error("SignSVD theory: unknown closure");
}

Trajectory signsvd_predict(const Problem& problem, const OptimizerSpec& optimizer,
                           const TheoryOptions& options, SignsvdClosure closure,
                           const SignsvdCompression& compression) {
  switch (options.solver) {
    case TheorySolver::exact_map: {
      auto model = make_signsvd_model(problem, optimizer, closure);
      return iterate_step_model(problem, optimizer, options, *model, "expected_map");
    }
    case TheorySolver::ode: {
      // Mode compression (signsvd.md §4.5) for the equivalent-based closures.
      ModeGroups groups;
      bool grouped = false;
      const bool de = closure == SignsvdClosure::de || closure == SignsvdClosure::de_only;
      if (de && compression.mode != SignsvdCompression::Mode::off &&
          (problem.lambda.array() > 0.0).all()) {
        const double width =
            compression.width > 0.0 ? compression.width : signsvd_group_width(options.rel_tol);
        groups =
            group_modes(problem.lambda.array(), problem.b.array().square(), width, options.modes);
        grouped =
            compression.mode == SignsvdCompression::Mode::on || 2 * groups.size() <= problem.d;
      }
      // The equivalent's fixed points need far less than round-off for an ODE at rel_tol:
      // 1e-4·rel_tol changes the risk by ≲ 1e-2·rel_tol (signsvd.md §4.5).
      const double fixed_point_tol = std::clamp(1e-4 * options.rel_tol, 1e-13, 1e-8);
      auto model = make_signsvd_model(problem, optimizer, closure, grouped ? &groups : nullptr,
                                      fixed_point_tol);
      const ModeGroups* g = grouped ? &groups : nullptr;
      // Explicit Dormand–Prince while the horizon is short against the fastest relaxation time
      // (it then needs few steps, also at tight tolerances); the log-time Rosenbrock-W method
      // when it is not (dopri5 would need ≳ horizon·rate/3.3 steps for stability alone).
      const Eigen::ArrayXd rho0 = g != nullptr ? g->b2 : Eigen::ArrayXd(problem.b.array().square());
      Eigen::ArrayXd drift, noise;
      model->evaluate(rho0, 0.0, drift, noise);
      const double lr0 = optimizer.schedule.lr_at(optimizer.lr, 0.0);
      const double rate = 2.0 * std::abs(lr0) * (rho0 > 0.0).select(drift / rho0, 0.0).maxCoeff();
      if (rate * static_cast<double>(options.record_steps.back()) <= kStiffHorizon)
        return integrate_step_model(problem, optimizer, options, *model, "ode_dopri5", g);
      return integrate_step_model_stiff(problem, optimizer, options, *model, g);
    }
  }
  throw Error("predict: unknown theory solver");
}

}  // namespace signdyn::detail
