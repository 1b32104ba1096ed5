// SignSVD dynamics of the bilinear problem (docs/theory/bilinear.md, "SignSVD").
#include "bilinear_signsvd.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>

#include "signdyn/error.hpp"
#include "signdyn/msign.hpp"
#include "signdyn/rng.hpp"
#include "signsvd_coefficients.hpp"

namespace signdyn::detail {

IndexBins bilinear_index_bins(Eigen::Index n, double ratio) {
  if (n < 1 || !(ratio > 1.0)) {
    throw Error("bilinear_index_bins: need n >= 1 and ratio > 1 (got n = " + std::to_string(n) +
                ", ratio = " + std::to_string(ratio) + ")");
  }
  IndexBins out;
  out.bin.assign(static_cast<std::size_t>(n), 0);
  long edge = 1;  // first index (1-based) of the current bin
  while (edge <= n) {
    const long next = std::max(edge + 1, static_cast<long>(std::ceil(ratio * edge)));
    for (long i = edge; i < next && i <= n; ++i)
      out.bin[static_cast<std::size_t>(i - 1)] = out.count;
    ++out.count;
    edge = next;
  }
  return out;
}

Eigen::VectorXd bilinear_leverage(const Eigen::VectorXd& v, double q) {
  if (q >= static_cast<double>(v.size())) return Eigen::VectorXd::Ones(v.size());
  const double kappa = solve_kappa(v.array(), q);
  return (v.array() / (v.array() + kappa)).matrix();
}

BilinearSignsvdMoments bilinear_signsvd_moments(const BilinearProblem& p, Eigen::Index batch,
                                                const Eigen::Ref<const Eigen::MatrixXd>& rho,
                                                const BilinearSignsvdOptions& options,
                                                std::uint64_t evaluation) {
  const Eigen::Index n_out = p.n_out, n_in = p.n_in, B = batch;
  const IndexBins bo = bilinear_index_bins(n_out, options.bin_ratio);
  const IndexBins bi = bilinear_index_bins(n_in, options.bin_ratio);
  const Eigen::Index n_bins = static_cast<Eigen::Index>(bo.count) * bi.count;
  const int S = options.samples;
  // Per sample and bin pair: Σ ρ_kl H_kl M_kl (Rao–Blackwellised drift) and Σ M_kl²; reduced in
  // sample order below. The drift denominators Σ_bin ρ_kl are exact.
  Eigen::MatrixXd acc = Eigen::MatrixXd::Zero(2 * n_bins, S);
  std::vector<long> cg_iterations(static_cast<std::size_t>(S), 0);
  const Eigen::MatrixXd rho_c = rho.cwiseMax(0.0);
  const Eigen::MatrixXd sqrt_rho = rho_c.cwiseSqrt();
  const double sigma2 = p.sigma * p.sigma;
  const int threads = options.threads > 0 ? options.threads : omp_get_max_threads();
  const int blas_before = set_blas_threads(1);
  bool failed = false;
#pragma omp parallel num_threads(threads)
  {
    Eigen::MatrixXd delta(n_out, n_in), a_out(B, n_out), a_in(B, n_in), x(B, n_out);
    Eigen::MatrixXd m(n_out, n_in), h(n_out, n_in), bm(B, n_in);
    Eigen::VectorXd eps(B), r(B), w(B), res(B), z(B), dir(B), sdir(B), precond(B);
    MsignFactored msign(n_out, n_in, B);
    // S v for S = Cov(r | A_out, A_in) = J diag(ρ) Jᵀ + σ² I, J_b = vec(a_out,b a_in,bᵀ).
    auto apply_s = [&](const Eigen::VectorXd& v, Eigen::VectorXd& out) {
      x.noalias() = v.asDiagonal() * a_out;
      h.noalias() = x.transpose() * a_in;
      h.array() *= rho_c.array();
      bm.noalias() = a_out * h;
      out = bm.cwiseProduct(a_in).rowwise().sum() + sigma2 * v;
    };
#pragma omp for schedule(dynamic)
    for (int s = 0; s < S; ++s) {
      Rng rng(options.seed,
              evaluation * static_cast<std::uint64_t>(S) + static_cast<std::uint64_t>(s));
      rng.fill_normal(delta);
      delta.array() *= sqrt_rho.array();  // Gaussian closure Δ = √ρ ∘ Z
      sample_bilinear_batch(p, rng, a_out, a_in, eps);
      bilinear_residuals(a_out, a_in, delta, eps, r);
      x.noalias() = r.asDiagonal() * a_out;  // G = (1/B) xᵀ A_in
      const MsignResult mres = msign.compute(x, a_in, m);
      if (mres.status == MsignStatus::zero_input) {
        m.setZero();
      } else if (!mres.ok()) {
#pragma omp atomic write
        failed = true;
        continue;
      }
      // w = S⁻¹ r by conjugate gradients with the Jacobi preconditioner diag S.
      bm.noalias() = a_out.cwiseAbs2() * rho_c;
      precond = (bm.cwiseProduct(a_in.cwiseAbs2()).rowwise().sum().array() + sigma2).inverse();
      w.setZero();
      res = r;
      z = precond.cwiseProduct(res);
      dir = z;
      double rz = res.dot(z);
      const double stop = options.cg_tolerance * r.norm();
      long it = 0;
      while (res.norm() > stop && it < options.cg_max_iterations) {
        apply_s(dir, sdir);
        const double step = rz / dir.dot(sdir);
        w += step * dir;
        res -= step * sdir;
        z = precond.cwiseProduct(res);
        const double rz_next = res.dot(z);
        dir = z + (rz_next / rz) * dir;
        rz = rz_next;
        ++it;
      }
      cg_iterations[static_cast<std::size_t>(s)] = it;
      // E[Δ | A_out, A_in, r] = ρ ∘ H, H = A_outᵀ diag(w) A_in.
      x.noalias() = w.asDiagonal() * a_out;
      h.noalias() = x.transpose() * a_in;
      double* col = acc.col(s).data();
      for (Eigen::Index l = 0; l < n_in; ++l) {
        const Eigen::Index base = static_cast<Eigen::Index>(bi.bin[static_cast<std::size_t>(l)]);
        for (Eigen::Index k = 0; k < n_out; ++k) {
          const Eigen::Index b =
              2 *
              (static_cast<Eigen::Index>(bo.bin[static_cast<std::size_t>(k)]) * bi.count + base);
          const double q = m(k, l);
          col[b] += rho_c(k, l) * h(k, l) * q;
          col[b + 1] += q * q;
        }
      }
    }
  }
  set_blas_threads(blas_before);
  if (failed) throw Error("bilinear_signsvd_moments: an msign of a sampled gradient failed");
  Eigen::VectorXd total = Eigen::VectorXd::Zero(2 * n_bins);
  for (int s = 0; s < S; ++s) total += acc.col(s);  // sample order: thread-count independent
  Eigen::VectorXd rho_bin = Eigen::VectorXd::Zero(n_bins);
  for (Eigen::Index l = 0; l < n_in; ++l) {
    for (Eigen::Index k = 0; k < n_out; ++k) {
      rho_bin(bo.bin[static_cast<std::size_t>(k)] * bi.count +
              bi.bin[static_cast<std::size_t>(l)]) += rho_c(k, l);
    }
  }

  // Noise: the bin pair's mean of M² spread by the leverage product (exact shape at B = 1).
  const double q = static_cast<double>(std::min({B, n_out, n_in}));
  const Eigen::VectorXd lo = bilinear_leverage(p.mu, q), li = bilinear_leverage(p.lambda, q);
  Eigen::VectorXd shape_sum = Eigen::VectorXd::Zero(n_bins);
  for (Eigen::Index l = 0; l < n_in; ++l) {
    for (Eigen::Index k = 0; k < n_out; ++k) {
      shape_sum(bo.bin[static_cast<std::size_t>(k)] * bi.count +
                bi.bin[static_cast<std::size_t>(l)]) += lo(k) * li(l);
    }
  }
  BilinearSignsvdMoments out;
  out.cg_iterations = 0;
  for (long it : cg_iterations) out.cg_iterations += it;
  out.rate.resize(n_out, n_in);
  out.noise.resize(n_out, n_in);
  for (Eigen::Index l = 0; l < n_in; ++l) {
    for (Eigen::Index k = 0; k < n_out; ++k) {
      const Eigen::Index b =
          bo.bin[static_cast<std::size_t>(k)] * bi.count + bi.bin[static_cast<std::size_t>(l)];
      const double num = total(2 * b), msq = total(2 * b + 1), den = S * rho_bin(b);
      out.rate(k, l) = den > 0.0 ? num / den : 0.0;
      out.noise(k, l) = msq / S * lo(k) * li(l) / shape_sum(b);
    }
  }
  return out;
}

namespace {

void validate(double lr, Eigen::Index batch, const std::vector<long>& record_steps,
              const BilinearSignsvdOptions& o) {
  if (!std::isfinite(lr) || lr <= 0.0) {
    std::ostringstream s;
    s << "optimizer.lr = " << lr << ": the learning rate must be finite and > 0";
    throw ConfigError("optimizer.lr", s.str());
  }
  if (batch < 1) {
    throw ConfigError("optimizer.batch", "optimizer.batch = " + std::to_string(batch) +
                                             ": the batch size must be an integer >= 1");
  }
  for (std::size_t i = 0; i < record_steps.size(); ++i) {
    if (record_steps[i] < 0 || (i > 0 && record_steps[i] <= record_steps[i - 1])) {
      throw ConfigError("records", "record steps must be >= 0 and strictly ascending (entry " +
                                       std::to_string(i) + " = " + std::to_string(record_steps[i]) +
                                       ")");
    }
  }
  if (o.samples < 1) {
    throw ConfigError("theory.samples", "theory.samples = " + std::to_string(o.samples) +
                                            ": need at least one draw per moment evaluation");
  }
  if (!(o.bin_ratio > 1.0)) {
    throw ConfigError("theory.bin_ratio", "theory.bin_ratio = " + std::to_string(o.bin_ratio) +
                                              ": the index-bin ratio must be > 1");
  }
  if (!(o.refresh_tolerance > 0.0) || o.max_interval < 0) {
    throw ConfigError("theory.refresh_tolerance",
                      "theory.refresh_tolerance must be > 0 and theory.max_interval >= 0");
  }
}

}  // namespace

BilinearSignsvdCurve bilinear_signsvd_map(const BilinearProblem& p, double lr, Eigen::Index batch,
                                          const Eigen::Ref<const Eigen::MatrixXd>& rho0,
                                          const std::vector<long>& record_steps, bool keep_rho,
                                          const BilinearSignsvdOptions& options) {
  validate(lr, batch, record_steps, options);
  if (rho0.rows() != p.n_out || rho0.cols() != p.n_in) {
    throw Error("bilinear_signsvd_map: rho0 is " + std::to_string(rho0.rows()) + "×" +
                std::to_string(rho0.cols()) + ", expected n_out×n_in = " + std::to_string(p.n_out) +
                "×" + std::to_string(p.n_in));
  }
  const double half_s2 = 0.5 * p.sigma * p.sigma;
  BilinearSignsvdCurve curve;
  Eigen::MatrixXd rho = rho0;
  BilinearSignsvdMoments mom;
  double risk_ref = 0.0, excess_ref = 0.0;
  long last = 0;
  long step = 0;
  for (const long target : record_steps) {
    for (; step < target; ++step) {
      const double risk = bilinear_risk_from_rho(p, rho), excess = risk - half_s2;
      const bool stale = curve.evaluations == 0 ||
                         std::abs(std::log(risk / risk_ref)) > options.refresh_tolerance ||
                         std::abs(std::log(excess / excess_ref)) > options.refresh_tolerance ||
                         (options.max_interval > 0 && step - last >= options.max_interval);
      if (stale) {
        mom = bilinear_signsvd_moments(p, batch, rho, options,
                                       static_cast<std::uint64_t>(curve.evaluations));
        ++curve.evaluations;
        curve.cg_iterations += mom.cg_iterations;
        risk_ref = risk;
        excess_ref = excess;
        last = step;
      }
      // Between evaluations the drift follows the noise-dominated scaling rate ∝ (2R)^(−1/2).
      const double scale = std::sqrt(risk_ref / risk);
      rho =
          (rho.array() * (1.0 - 2.0 * lr * scale * mom.rate.array()) + lr * lr * mom.noise.array())
              .cwiseMax(0.0)
              .matrix();
    }
    curve.steps.push_back(step);
    curve.risk.push_back(bilinear_risk_from_rho(p, rho));
    if (keep_rho) curve.rho.push_back(rho);
  }
  return curve;
}

}  // namespace signdyn::detail
