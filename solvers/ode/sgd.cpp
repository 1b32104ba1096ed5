// SGD deterministic dynamics: the exact expected map and its continuous-time ODE (theory.md §2).
#include "sgd.hpp"

#include <algorithm>
#include <chrono>

#include "log_rosenbrock.hpp"
#include "theory_recorder.hpp"

namespace signdyn::detail {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

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

namespace {

// dρ_j/dt = −2η(t)λ_j ρ_j + (η(t)²/B) λ_j · 2R, 2R = Σ_i λ_i ρ_i + σ², in the System form of
// log_rosenbrock.hpp: J = diag(−2ηλ) + (η²/B) λ λᵀ (exact, rank one).
class SgdSystem {
 public:
  SgdSystem(const Problem& problem, const OptimizerSpec& optimizer, const Eigen::VectorXi& modes)
      : problem_(problem),
        optimizer_(optimizer),
        modes_(modes),
        sigma2_(problem.sigma * problem.sigma),
        inv_batch_(1.0 / static_cast<double>(optimizer.batch)) {}

  Eigen::Index size() const { return problem_.d; }
  int rank() const { return 1; }
  const double* coupling(int) const { return problem_.lambda.data(); }
  int linear_scalars() const { return 1; }
  const double* scalar_weights(int) const { return problem_.lambda.data(); }
  int accumulators() const { return 1; }
  int outputs() const { return 1 + static_cast<int>(modes_.size()); }

  bool prepare(double t, const double* /*rho*/, const double* s) {
    lr_ = optimizer_.schedule.lr_at(optimizer_.lr, t);
    two_r_ = s[0] + sigma2_;
    if (two_r0_ < 0.0) two_r0_ = two_r_;
    return is_finite_risk(two_r_);
  }

  // The expected risk of a stable run never grows by six orders of magnitude.
  bool blown_up() const { return two_r_ > 1e6 * std::max(two_r0_, 1.0); }

  void evaluate(Eigen::Index begin, Eigen::Index end, const double* rho, double* f, float* jd,
                float* u, double* acc) const {
    const double* lambda = problem_.lambda.data();
    const double noise = lr_ * lr_ * inv_batch_;
    double dr = 0.0;
    for (Eigen::Index i = begin; i < end; ++i) {
      f[i] = lambda[i] * (noise * two_r_ - 2.0 * lr_ * rho[i]);
      dr += lambda[i] * f[i];
    }
    if (jd != nullptr)
      for (Eigen::Index i = begin; i < end; ++i) {
        jd[i] = static_cast<float>(-2.0 * lr_ * lambda[i]);
        u[i] = static_cast<float>(noise * lambda[i]);
      }
    acc[0] += dr;
  }

  void observe(const double* rho, const double* f, const double* acc, double* value,
               double* rate) const {
    value[0] = 0.5 * two_r_;  // R = ½ Σ λ_i ρ_i + σ²/2
    rate[0] = 0.5 * acc[0];
    for (Eigen::Index k = 0; k < modes_.size(); ++k) {
      value[1 + k] = rho[modes_(k) - 1];
      rate[1 + k] = f[modes_(k) - 1];
    }
  }

 private:
  const Problem& problem_;
  const OptimizerSpec& optimizer_;
  const Eigen::VectorXi& modes_;
  double sigma2_, inv_batch_;
  double lr_ = 0.0, two_r_ = 0.0, two_r0_ = -1.0;
};

}  // namespace

Trajectory sgd_ode(const Problem& problem, const OptimizerSpec& optimizer,
                   const TheoryOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  TheoryRecorder recorder(problem, optimizer, options, "ode_rosenbrock");
  SgdSystem system(problem, optimizer, options.modes);
  LogRosenbrockOptions lo;
  lo.rel_tol = options.rel_tol;
  lo.abs_tol = options.abs_tol;
  LogRosenbrock<SgdSystem> integrator(system, lo);
  Eigen::VectorXd rho = problem.b.array().square().matrix();
  const std::vector<double> times(options.record_steps.begin(), options.record_steps.end());
  const auto stats = integrator.integrate(rho, times, [&](std::size_t i, const double* v) {
    return recorder.record_values(i, v[0], v + 1);
  });
  if (stats.status != RunStatus::completed) recorder.stop(stats.status, stats.message);
  return std::move(recorder).take(seconds_since(start));
}

}  // namespace signdyn::detail
