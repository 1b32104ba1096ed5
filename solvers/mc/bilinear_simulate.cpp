// Monte Carlo of the four optimizers on the bilinear problem (signdyn/bilinear_simulate.hpp).
#include "signdyn/bilinear_simulate.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <mutex>
#include <sstream>
#include <string>

#include "bilinear_frame.hpp"
#include "blas.hpp"
#include "signdyn/error.hpp"
#include "signdyn/msign.hpp"
#include "signdyn/rng.hpp"
#include "update_rules.hpp"

namespace signdyn {

namespace {

// Throws ConfigError naming the field for options no run can use.
void validate(const OptimizerSpec& spec, const BilinearSimulateOptions& o) {
  if (!std::isfinite(spec.lr) || spec.lr <= 0.0) {
    std::ostringstream s;
    s << "optimizer.lr = " << spec.lr << ": the learning rate must be finite and > 0";
    throw ConfigError("optimizer.lr", s.str());
  }
  if (spec.batch < 1) {
    throw ConfigError("optimizer.batch", "optimizer.batch = " + std::to_string(spec.batch) +
                                             ": the batch size must be an integer >= 1");
  }
  if (o.replicas < 2) {
    throw ConfigError("simulate.replicas", "simulate.replicas = " + std::to_string(o.replicas) +
                                               ": need >= 2 replicas for a standard error");
  }
  if (o.record_steps.empty()) {
    throw ConfigError("records", "no record steps: give at least one step count >= 0");
  }
  for (std::size_t i = 0; i < o.record_steps.size(); ++i) {
    if (o.record_steps[i] < 0 || (i > 0 && o.record_steps[i] <= o.record_steps[i - 1])) {
      throw ConfigError("records", "record steps must be >= 0 and strictly ascending (entry " +
                                       std::to_string(i) + " = " +
                                       std::to_string(o.record_steps[i]) + ")");
    }
  }
}

// Runs replica r with update rule `Rule` in `frame` and writes its risk (n_rec) and, if
// rho != nullptr, its ρ (n_rec × n_out·n_in, in the eigenbases) at the records; returns false if
// it diverged (the remaining records read +inf). The random draws are the same in both frames:
// the true-basis run rotates the eigenbasis draws, x_out = O_out x̃_out, x_in = O_in x̃_in, and
// keeps Δ = O_out Δ̃ O_inᵀ.
template <class Rule>
bool run_replica(const BilinearProblem& p, const OptimizerSpec& spec,
                 const BilinearSimulateOptions& o, detail::Frame frame, std::int64_t r,
                 double* risk, double* rho) {
  const Eigen::Index B = spec.batch;
  const bool rotate_out = frame == detail::Frame::true_basis && p.O_out.size() > 0;
  const bool rotate_in = frame == detail::Frame::true_basis && p.O_in.size() > 0;
  Rng rng(o.seed, static_cast<std::uint64_t>(r));
  Eigen::MatrixXd delta(p.n_out, p.n_in), a_out(B, p.n_out), a_in(B, p.n_in), x(B, p.n_out);
  Eigen::MatrixXd out_delta(B, p.n_in);
  // True-basis workspace: rotated batch factors, and Δ̃ (with a half-rotated buffer) at records.
  Eigen::MatrixXd a_out_t(rotate_out ? B : 0, p.n_out), a_in_t(rotate_in ? B : 0, p.n_in);
  const bool rotated = rotate_out || rotate_in;
  Eigen::MatrixXd delta_eig(rotated ? p.n_out : 0, p.n_in), half(rotated ? p.n_out : 0, p.n_in);
  Eigen::VectorXd eps(B), resid(B);
  Rule rule(p.n_out, p.n_in, spec);
  const Eigen::Index n_modes = p.n_out * p.n_in;

  // Δ̃ → Δ = O_out Δ̃ O_inᵀ, or with `back` Δ → Δ̃ = O_outᵀ Δ O_in, for the sides that rotate.
  const auto rotate = [&](const Eigen::MatrixXd& from, Eigen::MatrixXd& out, bool back) {
    const Eigen::MatrixXd* src = &from;
    if (rotate_out) {
      detail::gemm(back, false, 1.0, p.O_out, *src, 0.0, half);
      src = &half;
    }
    if (rotate_in)
      detail::gemm(false, !back, 1.0, *src, p.O_in, 0.0, out);
    else
      out = *src;
  };

  sample_bilinear_initial_residual(p, rng, delta);
  if (rotated) {
    delta_eig = delta;
    rotate(delta_eig, delta, false);
  }
  long step = 0;
  bool alive = true;
  for (std::size_t i = 0; i < o.record_steps.size(); ++i) {
    for (; alive && step < o.record_steps[i]; ++step) {
      sample_bilinear_batch(p, rng, a_out, a_in, eps);
      // Rows of A_out, A_in are x̃ᵀ; in the true basis they are x̃ᵀ O_sideᵀ.
      if (rotate_out) detail::gemm(false, true, 1.0, a_out, p.O_out, 0.0, a_out_t);
      if (rotate_in) detail::gemm(false, true, 1.0, a_in, p.O_in, 0.0, a_in_t);
      const Eigen::MatrixXd& ao = rotate_out ? a_out_t : a_out;
      const Eigen::MatrixXd& ai = rotate_in ? a_in_t : a_in;
      out_delta.noalias() = ao * delta;  // r_b = (A_out Δ)_b · a_in,b − ε_b, one GEMM
      resid = out_delta.cwiseProduct(ai).rowwise().sum() - eps;
      x.noalias() = resid.asDiagonal() * ao;  // G = (1/B) xᵀ a_in, rank ≤ B
      // The rules' G = (1/B) Xᵀ R with X = diag(r) A_out (B×n_out) and R = A_in (B×n_in).
      if (!x.allFinite() ||
          !rule.step(spec.schedule.lr_at(spec.lr, static_cast<double>(step)), x, ai, delta)) {
        alive = false;
      }
    }
    if (alive && !delta.allFinite()) alive = false;
    if (!alive) {
      risk[i] = std::numeric_limits<double>::infinity();
      if (rho) {
        std::fill(rho + i * n_modes, rho + (i + 1) * n_modes,
                  std::numeric_limits<double>::infinity());
      }
      continue;
    }
    if (rotated) rotate(delta, delta_eig, true);
    const Eigen::MatrixXd& eig = rotated ? delta_eig : delta;
    risk[i] = bilinear_risk(p, eig);
    if (rho) {
      Eigen::Map<Eigen::MatrixXd>(rho + i * n_modes, p.n_out, p.n_in) = eig.cwiseAbs2();
    }
  }
  return alive;
}

// The replica runner for the optimizer's update rule.
using ReplicaFn = bool (*)(const BilinearProblem&, const OptimizerSpec&,
                           const BilinearSimulateOptions&, detail::Frame, std::int64_t, double*,
                           double*);
ReplicaFn replica_runner(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::sgd:
      return &run_replica<detail::SgdRule>;
    case OptimizerKind::signsgd:
      return &run_replica<detail::SignSgdRule>;
    case OptimizerKind::signsvd:
      return &run_replica<detail::SignSvdRule>;
    case OptimizerKind::muon:
      return &run_replica<detail::MuonRule>;
  }
  throw Error("simulate_bilinear: unknown optimizer kind");
}

}  // namespace

namespace detail {

Frame default_bilinear_frame(const BilinearProblem& problem, OptimizerKind kind) {
  return rotation_equivariant(kind) || problem.is_diagonal() ? Frame::eigenbasis
                                                             : Frame::true_basis;
}

BilinearMcCurve simulate_bilinear_in_frame(const BilinearProblem& p, const OptimizerSpec& spec,
                                           const BilinearSimulateOptions& o, Frame frame) {
  validate(spec, o);
  const ReplicaFn run_replica_fn = replica_runner(spec.kind);
  const std::size_t n_rec = o.record_steps.size();
  const std::size_t n_modes = o.keep_rho ? static_cast<std::size_t>(p.n_out * p.n_in) : 0;
  const std::int64_t R = o.replicas;
  const int threads = o.threads > 0 ? o.threads : omp_get_max_threads();

  // Replicas run in chunks whose per-replica records fit ~2^24 doubles (and at most about a
  // tenth of the replicas, so progress is reported); each chunk is reduced in replica order,
  // so the sums do not depend on the thread count.
  const std::size_t per_replica = n_rec * (1 + n_modes);
  const std::int64_t by_memory = static_cast<std::int64_t>((std::size_t{1} << 24) / per_replica);
  const std::int64_t by_progress = std::max<std::int64_t>((R + 9) / 10, threads);
  const std::int64_t chunk = std::clamp<std::int64_t>(std::min(by_memory, by_progress),
                                                      std::min<std::int64_t>(R, threads), R);
  std::vector<double> risk_buf(static_cast<std::size_t>(chunk) * n_rec);
  std::vector<double> rho_buf(static_cast<std::size_t>(chunk) * n_rec * n_modes);
  std::vector<char> alive(static_cast<std::size_t>(chunk));
  std::vector<double> risk_sum(n_rec, 0.0), risk_sq(n_rec, 0.0);
  std::vector<double> rho_sum(n_rec * n_modes, 0.0), rho_sq(n_rec * n_modes, 0.0);
  BilinearMcCurve curve;

  const BlasThreadsGuard blas_guard(1);
  std::exception_ptr error;
  std::mutex error_mutex;
  for (std::int64_t r0 = 0; r0 < R; r0 += chunk) {
    const std::int64_t r1 = std::min(R, r0 + chunk);
#pragma omp parallel num_threads(threads)
    {
      omp_set_num_threads(1);  // keep Eigen's products single-threaded inside a replica
#pragma omp for schedule(dynamic)
      for (std::int64_t r = r0; r < r1; ++r) {
        const std::size_t slot = static_cast<std::size_t>(r - r0);
        try {
          alive[slot] = run_replica_fn(p, spec, o, frame, r, &risk_buf[slot * n_rec],
                                       n_modes ? rho_buf.data() + slot * n_rec * n_modes : nullptr);
        } catch (...) {
          const std::lock_guard<std::mutex> lock(error_mutex);
          if (!error) error = std::current_exception();
        }
      }
    }
    if (error) std::rethrow_exception(error);
    for (std::int64_t r = r0; r < r1; ++r) {
      const std::size_t slot = static_cast<std::size_t>(r - r0);
      if (!alive[slot]) ++curve.diverged;
      for (std::size_t i = 0; i < n_rec; ++i) {
        const double v = risk_buf[slot * n_rec + i];
        risk_sum[i] += v;
        risk_sq[i] += v * v;
      }
      const double* rho = rho_buf.data() + slot * n_rec * n_modes;
      for (std::size_t j = 0; j < n_rec * n_modes; ++j) {
        rho_sum[j] += rho[j];
        rho_sq[j] += rho[j] * rho[j];
      }
    }
    if (o.progress) o.progress(static_cast<double>(r1) / static_cast<double>(R));
  }

  const double n = static_cast<double>(R);
  const auto se = [n](double sum, double sq) {
    const double mean = sum / n;
    return std::sqrt(std::max(sq / n - mean * mean, 0.0) / (n - 1.0));
  };
  for (std::size_t i = 0; i < n_rec; ++i) {
    curve.steps.push_back(o.record_steps[i]);
    curve.risk.push_back(risk_sum[i] / n);
    curve.risk_se.push_back(se(risk_sum[i], risk_sq[i]));
    if (!n_modes) continue;
    Eigen::MatrixXd mean(p.n_out, p.n_in), err(p.n_out, p.n_in);
    for (std::size_t j = 0; j < n_modes; ++j) {
      mean.data()[j] = rho_sum[i * n_modes + j] / n;
      err.data()[j] = se(rho_sum[i * n_modes + j], rho_sq[i * n_modes + j]);
    }
    curve.rho.push_back(std::move(mean));
    curve.rho_se.push_back(std::move(err));
  }
  return curve;
}

}  // namespace detail

BilinearMcCurve simulate_bilinear(const BilinearProblem& p, const OptimizerSpec& spec,
                                  const BilinearSimulateOptions& o) {
  return detail::simulate_bilinear_in_frame(p, spec, o,
                                            detail::default_bilinear_frame(p, spec.kind));
}

}  // namespace signdyn
