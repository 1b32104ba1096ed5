// SGD deterministic dynamics: the exact expected map and its continuous-time ODE (theory.md §2).
#include "sgd.hpp"

#include <boost/numeric/odeint.hpp>
#include <boost/numeric/odeint/external/eigen/eigen.hpp>
#include <chrono>

#include "theory_recorder.hpp"

namespace signdyn::detail {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Thrown by the observer to abort odeint once the state has blown up.
struct StopIntegration {};

}  // namespace

Trajectory sgd_exact_map(const Problem& problem, const OptimizerSpec& optimizer,
                         const TheoryOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  TheoryRecorder recorder(problem, optimizer, options, "exact_map");
  const Eigen::ArrayXd lambda = problem.lambda.array();
  const Eigen::ArrayXd lambda2 = lambda.square();
  const double sigma2 = problem.sigma * problem.sigma;
  const double inv_batch = 1.0 / static_cast<double>(optimizer.batch);
  Eigen::ArrayXd rho = problem.b.array().square();

  const auto& steps = options.record_steps;
  std::size_t next = 0;
  for (std::int64_t k = 0; next < steps.size(); ++k) {
    if (k == steps[next]) {
      if (!recorder.record(next, rho.matrix())) break;
      ++next;
      if (next == steps.size()) break;
    }
    const double lr = optimizer.schedule.lr_at(optimizer.lr, static_cast<double>(k));
    const double two_r = (lambda * rho).sum() + sigma2;  // 2R = Σ λ_i ρ_i + σ²
    const double c = lr * lr * inv_batch;
    // One fused pass: ρ_j ← (1 − ηλ_j)² ρ_j + (η²/B)(λ_j² ρ_j + λ_j · 2R).
    rho = (1.0 - lr * lambda).square() * rho + c * (lambda2 * rho + lambda * two_r);
  }
  return std::move(recorder).take(seconds_since(start));
}

Trajectory sgd_ode(const Problem& problem, const OptimizerSpec& optimizer,
                   const TheoryOptions& options) {
  namespace odeint = boost::numeric::odeint;
  using State = Eigen::VectorXd;
  const auto start = std::chrono::steady_clock::now();
  TheoryRecorder recorder(problem, optimizer, options, "ode_dopri5");

  const Eigen::ArrayXd lambda = problem.lambda.array();
  const double sigma2 = problem.sigma * problem.sigma;
  const double inv_batch = 1.0 / static_cast<double>(optimizer.batch);
  auto rhs = [&](const State& rho, State& drho, double t) {
    const double lr = optimizer.schedule.lr_at(optimizer.lr, t);
    const double two_r = lambda.matrix().dot(rho) + sigma2;
    if (!is_finite_risk(two_r)) {
      recorder.stop(RunStatus::diverged, "risk is not finite near step " +
                                             std::to_string(static_cast<long long>(t)) +
                                             "; lower optimizer.lr (the dynamics are unstable)");
      throw StopIntegration{};
    }
    drho.array() = -2.0 * lr * lambda * rho.array() + (lr * lr * inv_batch * two_r) * lambda;
  };

  std::vector<double> times(options.record_steps.begin(), options.record_steps.end());
  State rho = problem.b.array().square().matrix();
  std::size_t next = 0;
  auto observer = [&](const State& x, double /*t*/) {
    if (!recorder.record(next, x)) throw StopIntegration{};
    ++next;
  };
  // The first step is at most one optimizer step: the dynamics change on the scale 1/(ηλ_1).
  const double dt0 = 1e-3;
  try {
    odeint::integrate_times(
        odeint::make_dense_output(options.abs_tol, options.rel_tol,
                                  odeint::runge_kutta_dopri5<State, double, State, double,
                                                             odeint::vector_space_algebra>()),
        rhs, rho, times.begin(), times.end(), dt0, observer, odeint::max_step_checker(1000000));
  } catch (const StopIntegration&) {
    // Recorded as diverged by the recorder.
  } catch (const odeint::odeint_error& e) {
    recorder.stop(RunStatus::stalled, std::string("the ODE integrator gave up: ") + e.what() +
                                          "; loosen theory.rel_tol or lower optimizer.lr");
  }
  return std::move(recorder).take(seconds_since(start));
}

}  // namespace signdyn::detail
