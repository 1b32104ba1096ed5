// Drivers for closures of the expected one-step map (SignSVD and Muon): per-step iteration and
// the continuous-time ODE.
#include "signsvd_driver.hpp"

#include <boost/numeric/odeint.hpp>
#include <boost/numeric/odeint/external/eigen/eigen.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "signdyn/error.hpp"
#include "system_driver.hpp"
#include "theory_recorder.hpp"

namespace signdyn::detail {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Thrown from inside odeint to stop at a blow-up.
struct StopIntegration {};

// The initial state: b_j² per mode, or b̄_g² per group.
Eigen::ArrayXd initial_state(const Problem& problem, const ModeGroups* groups) {
  return groups != nullptr ? groups->b2 : Eigen::ArrayXd(problem.b.array().square());
}

// Records the state (per mode, or per group with the groups' weights) as record `index`.
bool record_state(TheoryRecorder& recorder, const Problem& problem, const TheoryOptions& options,
                  const ModeGroups* groups, std::size_t index, const Eigen::ArrayXd& rho) {
  if (groups == nullptr) return recorder.record(index, rho.matrix());
  const double risk =
      0.5 * (groups->weight * groups->lambda * rho).sum() + 0.5 * problem.sigma * problem.sigma;
  std::vector<double> modes(static_cast<std::size_t>(options.modes.size()));
  for (Eigen::Index k = 0; k < options.modes.size(); ++k)
    modes[static_cast<std::size_t>(k)] =
        rho(groups->of[static_cast<std::size_t>(options.modes(k) - 1)]);
  return recorder.record_values(index, risk, modes.data());
}

// A StepModel as a System of log_rosenbrock.hpp: the model is evaluated once per stage in
// prepare() (it is global: the equivalent's fixed point couples all modes), the per-mode right-
// hand side and the diagonal Jacobian −2η A_j/ρ_j are then read in chunks.
class StepModelSystem {
 public:
  StepModelSystem(const Problem& problem, const OptimizerSpec& optimizer,
                  const TheoryOptions& options, StepModel& model, const ModeGroups* groups)
      : optimizer_(optimizer), model_(model), sigma2_(problem.sigma * problem.sigma) {
    const Eigen::Index n = groups != nullptr ? groups->size() : problem.d;
    risk_weight_ = groups != nullptr ? Eigen::ArrayXd(groups->weight * groups->lambda)
                                     : Eigen::ArrayXd(problem.lambda.array());
    for (Eigen::Index k = 0; k < options.modes.size(); ++k) {
      const auto j = static_cast<std::size_t>(options.modes(k) - 1);
      record_.push_back(groups != nullptr ? groups->of[j] : static_cast<Eigen::Index>(j));
    }
    rho_.resize(n);
    drift_.resize(n);
    noise_.resize(n);
  }

  Eigen::Index size() const { return rho_.size(); }
  int rank() const { return 0; }
  const double* coupling(int) const { return nullptr; }
  int linear_scalars() const { return 1; }
  const double* scalar_weights(int) const { return risk_weight_.data(); }  // Σ w λ ρ = 2R − σ²
  int accumulators() const { return 1; }
  int outputs() const { return 1 + static_cast<int>(record_.size()); }

  bool prepare(double t, const double* y, const double* s) {
    lr_ = optimizer_.schedule.lr_at(optimizer_.lr, t);
    two_r_ = s[0] + sigma2_;
    if (two_r0_ < 0.0) two_r0_ = two_r_;
    if (!is_finite_risk(two_r_)) return false;
    // Energies are ≥ 0; the integrator's stages may probe slightly below.
    rho_ = Eigen::Map<const Eigen::ArrayXd>(y, rho_.size()).max(0.0);
    model_.evaluate(rho_, t, drift_, noise_);
    return drift_.allFinite() && noise_.allFinite();
  }

  // The expected risk of a stable run never grows by six orders of magnitude.
  bool blown_up() const { return two_r_ > 1e6 * std::max(two_r0_, 1.0); }

  void evaluate(Eigen::Index begin, Eigen::Index end, const double* /*y*/, double* f, float* jd,
                float* /*u*/, double* acc) const {
    double dr = 0.0;
    for (Eigen::Index i = begin; i < end; ++i) {
      f[i] = -2.0 * lr_ * drift_(i) + lr_ * lr_ * noise_(i);
      dr += risk_weight_(i) * f[i];
    }
    if (jd != nullptr)
      for (Eigen::Index i = begin; i < end; ++i)
        jd[i] = rho_(i) > 0.0 ? static_cast<float>(-2.0 * lr_ * drift_(i) / rho_(i)) : 0.0f;
    acc[0] += dr;
  }

  void observe(const double* y, const double* f, const double* acc, double* value,
               double* rate) const {
    value[0] = 0.5 * two_r_;  // R = ½ (Σ w λ ρ + σ²)
    rate[0] = 0.5 * acc[0];
    for (std::size_t k = 0; k < record_.size(); ++k) {
      value[1 + k] = y[record_[k]];
      rate[1 + k] = f[record_[k]];
    }
  }

 private:
  const OptimizerSpec& optimizer_;
  StepModel& model_;
  double sigma2_;
  Eigen::ArrayXd risk_weight_, rho_, drift_, noise_;
  std::vector<Eigen::Index> record_;  // state index of each recorded mode
  double lr_ = 0.0, two_r_ = 0.0, two_r0_ = -1.0;
};

}  // namespace

Trajectory integrate_step_model_stiff(const Problem& problem, const OptimizerSpec& optimizer,
                                      const TheoryOptions& options, StepModel& model,
                                      const ModeGroups* groups) {
  if (options.solver != TheorySolver::ode)
    throw Error("integrate_step_model_stiff: the options must ask for the ode solver");
  StepModelSystem system(problem, optimizer, options, model, groups);
  return run_system(system, initial_state(problem, groups).matrix(), problem, optimizer, options);
}

Trajectory iterate_step_model(const Problem& problem, const OptimizerSpec& optimizer,
                              const TheoryOptions& options, StepModel& model,
                              const std::string& solver_name, const ModeGroups* groups) {
  const auto start = std::chrono::steady_clock::now();
  TheoryRecorder recorder(problem, optimizer, options, solver_name);
  Eigen::ArrayXd rho = initial_state(problem, groups);
  Eigen::ArrayXd drift(rho.size()), noise(rho.size());
  const auto& steps = options.record_steps;
  std::size_t next = 0;
  for (std::int64_t k = 0; next < steps.size(); ++k) {
    if (k == steps[next]) {
      if (!record_state(recorder, problem, options, groups, next, rho)) break;
      ++next;
      if (next == steps.size()) break;
    }
    const double lr = optimizer.schedule.lr_at(optimizer.lr, static_cast<double>(k));
    model.evaluate(rho, static_cast<double>(k), drift, noise);
    // ‖Δ_i − ηM_i‖² ≥ 0 exactly; the closure can undershoot below 0 only through round-off of a
    // mode that is removed within one step, so clamp there.
    rho = (rho - 2.0 * lr * drift + lr * lr * noise).max(0.0);
  }
  return std::move(recorder).take(seconds_since(start));
}

Trajectory integrate_step_model(const Problem& problem, const OptimizerSpec& optimizer,
                                const TheoryOptions& options, StepModel& model,
                                const std::string& solver_name, const ModeGroups* groups) {
  namespace odeint = boost::numeric::odeint;
  using State = Eigen::VectorXd;
  const auto start = std::chrono::steady_clock::now();
  TheoryRecorder recorder(problem, optimizer, options, solver_name);
  const Eigen::ArrayXd rho0 = initial_state(problem, groups);
  Eigen::ArrayXd rho_a(rho0.size()), drift(rho0.size()), noise(rho0.size());
  auto rhs = [&](const State& rho, State& drho, double t) {
    if (!rho.allFinite()) {
      recorder.stop(RunStatus::diverged, "the ODE state is not finite near step " +
                                             std::to_string(static_cast<long long>(t)) +
                                             "; lower optimizer.lr");
      throw StopIntegration{};
    }
    const double lr = optimizer.schedule.lr_at(optimizer.lr, t);
    rho_a = rho.array().max(0.0);  // energies are ≥ 0; the adaptive stepper may probe below
    model.evaluate(rho_a, t, drift, noise);
    drho.array() = -2.0 * lr * drift + lr * lr * noise;
  };
  std::vector<double> times(options.record_steps.begin(), options.record_steps.end());
  State rho = rho0.matrix();
  std::size_t next = 0;
  auto observer = [&](const State& x, double /*t*/) {
    if (!record_state(recorder, problem, options, groups, next, x.array().max(0.0)))
      throw StopIntegration{};
    ++next;
  };
  try {
    odeint::integrate_times(
        odeint::make_dense_output(options.abs_tol, options.rel_tol,
                                  odeint::runge_kutta_dopri5<State, double, State, double,
                                                             odeint::vector_space_algebra>()),
        rhs, rho, times.begin(), times.end(), 1e-3, observer, odeint::max_step_checker(1000000));
  } catch (const StopIntegration&) {
    // Recorded by the recorder.
  } catch (const odeint::odeint_error& e) {
    recorder.stop(RunStatus::stalled, std::string("the ODE integrator gave up: ") + e.what() +
                                          "; loosen theory.rel_tol or lower optimizer.lr");
  }
  return std::move(recorder).take(seconds_since(start));
}

}  // namespace signdyn::detail
