// Drivers for closures of the expected one-step map (SignSVD and Muon): per-step iteration and
// the continuous-time ODE.
#include "signsvd_driver.hpp"

#include <boost/numeric/odeint.hpp>
#include <boost/numeric/odeint/external/eigen/eigen.hpp>
#include <chrono>
#include <string>

#include "theory_recorder.hpp"

namespace signdyn::detail {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Thrown from inside odeint to stop at a blow-up.
struct StopIntegration {};

}  // namespace

Trajectory iterate_step_model(const Problem& problem, const OptimizerSpec& optimizer,
                              const TheoryOptions& options, StepModel& model,
                              const std::string& solver_name) {
  const auto start = std::chrono::steady_clock::now();
  TheoryRecorder recorder(problem, optimizer, options, solver_name);
  Eigen::ArrayXd rho = problem.b.array().square();
  Eigen::ArrayXd drift(rho.size()), noise(rho.size());
  const auto& steps = options.record_steps;
  std::size_t next = 0;
  for (std::int64_t k = 0; next < steps.size(); ++k) {
    if (k == steps[next]) {
      if (!recorder.record(next, rho.matrix())) break;
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
                                const std::string& solver_name) {
  namespace odeint = boost::numeric::odeint;
  using State = Eigen::VectorXd;
  const auto start = std::chrono::steady_clock::now();
  TheoryRecorder recorder(problem, optimizer, options, solver_name);
  Eigen::ArrayXd rho_a(problem.d), drift(problem.d), noise(problem.d);
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
  State rho = problem.b.array().square().matrix();
  std::size_t next = 0;
  auto observer = [&](const State& x, double /*t*/) {
    if (!recorder.record(next, x.array().max(0.0).matrix())) throw StopIntegration{};
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
