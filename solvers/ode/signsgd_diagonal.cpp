// SignSGD in the diagonal basis (docs/theory/signsgd.md §3): Gaussian-mixture law of the
// entries of each saturating mode, exact mean sign h_B, self-normalisation, and the
// column-to-column spread of the residual variance S from the top modes; the linear law for
// the modes whose entries stay in the linear range of h_B.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "quadrature.hpp"
#include "rate_bins.hpp"
#include "sign_mean.hpp"
#include "signdyn/error.hpp"
#include "signsgd.hpp"
#include "system_driver.hpp"

namespace signdyn::detail {
namespace {

// State: for each mixture ("GM") mode a block of 2·Qh values (means μ_q, then variances s_q ≥ 0
// of the positive half q < Qh of a symmetric mixture), then one ρ_j per linear mode.
class DiagonalSystem {
 public:
  DiagonalSystem(const Problem& p, const OptimizerSpec& o, const Eigen::VectorXi& modes,
                 const TheoryOptions& options, const SignSgdClosure& c)
      : p_(p),
        o_(o),
        h_(o.batch),
        comp_(gauss_hermite_half(c.components)),
        inner_(gauss_hermite(c.inner_nodes)),
        sigma2_(p.sigma * p.sigma) {
    if (c.components < 2 || (c.components & (c.components - 1)) != 0)
      throw Error("signsgd closure: components must be a power of two >= 2");
    qh_ = static_cast<int>(comp_.x.size());
    block_ = 2 * qh_;
    const Eigen::Index d = p.d;
    // Order modes by their initial share λ_j b_j² of S; the first env_modes are resolved.
    std::vector<Eigen::Index> order(d);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](Eigen::Index a, Eigen::Index b) {
      return p.lambda(a) * p.b(a) * p.b(a) > p.lambda(b) * p.b(b) * p.b(b);
    });
    double s0 = sigma2_;
    for (Eigen::Index j = 0; j < d; ++j) s0 += p.lambda(j) * p.b(j) * p.b(j);
    const double s_ref = std::max(sigma2_, 1e-3 * s0);
    env_ = std::min<int>(c.env_modes, static_cast<int>(d));
    std::vector<char> gm(d, 0);
    for (int i = 0; i < env_; ++i) gm[order[i]] = 1;
    for (Eigen::Index j = 0; j < d; ++j)
      if (static_cast<double>(o.batch) * p.lambda(j) * p.b(j) * p.b(j) >=
          c.linear_threshold * s_ref)
        gm[j] = 1;
    for (int i = 0; i < env_; ++i) gm_modes_.push_back(order[i]);
    std::vector<Eigen::Index> lin;
    for (Eigen::Index j = 0; j < d; ++j) {
      if (gm[j] &&
          std::find(gm_modes_.begin(), gm_modes_.begin() + env_, j) == gm_modes_.begin() + env_)
        gm_modes_.push_back(j);
      if (!gm[j]) lin.push_back(j);
    }
    n_gm_ = static_cast<Eigen::Index>(gm_modes_.size());
    // Error scales (log_rosenbrock.hpp scale_floor): relative accuracy is asked of each value
    // only while its share of the mode's energy, w_q e_q, is above 1% of b_j² (for the means μ_q,
    // which cross 0: √w_q |μ_q| above b_j/10). Saturated components collapse to 0 by orders of
    // magnitude in a short log-time, and the outer components have weights down to 1e-10; their
    // relative error there does not matter for the risk.
    floor_.assign(n_gm_ * block_, 0.0);
    for (Eigen::Index g = 0; g < n_gm_; ++g) {
      const double b = p.b(gm_modes_[g]);
      for (int q = 0; q < qh_; ++q) {
        floor_[g * block_ + q] = 0.1 * b / std::sqrt(comp_.w[q]);
        floor_[g * block_ + qh_ + q] = 0.01 * b * b / comp_.w[q];  // variances s_q
      }
    }
    linear_states(lin, modes, options, c, s_ref);
    n_ = n_gm_ * block_ + static_cast<Eigen::Index>(lin_w_.size());
    weights_.assign(n_gm_ * block_, 0.0);
    weights_.insert(weights_.end(), lin_w_.begin(), lin_w_.end());
    // Where each recorded mode lives (a linear one is always an individual state).
    for (Eigen::Index k = 0; k < modes.size(); ++k) {
      const Eigen::Index j = modes(k) - 1;
      const auto it = std::find(gm_modes_.begin(), gm_modes_.end(), j);
      if (it != gm_modes_.end())
        record_.push_back({true, (it - gm_modes_.begin()) * block_});
      else
        record_.push_back(
            {false, n_gm_ * block_ +
                        (std::find(lin_modes_.begin(), lin_modes_.end(), j) - lin_modes_.begin())});
    }
    int combos = 1;
    for (int i = 0; i < env_; ++i) combos *= qh_;
    env_s_.resize(combos);
    env_w_.resize(combos);
    env_q_.resize(static_cast<std::size_t>(combos) * std::max(env_, 1));
    for (int e = 0; e < combos; ++e) {
      int rest = e;
      double w = 1.0;
      for (int i = 0; i < env_; ++i) {
        const int q = rest % qh_;
        rest /= qh_;
        env_q_[e * env_ + i] = q;
        w *= comp_.w[q];
      }
      env_w_[e] = w;
    }
  }

  Eigen::VectorXd initial_state() const {
    Eigen::VectorXd y(n_);
    for (Eigen::Index g = 0; g < n_gm_; ++g) {
      const double rho0 = p_.b(gm_modes_[g]) * p_.b(gm_modes_[g]);
      for (int q = 0; q < qh_; ++q) {
        y(g * block_ + q) = std::sqrt(rho0) * comp_.x[q];  // exact quantisation of N(0, ρ_j(0))
        y(g * block_ + qh_ + q) = 0.0;
      }
    }
    for (std::size_t l = 0; l < lin_y0_.size(); ++l)
      y(n_gm_ * block_ + static_cast<Eigen::Index>(l)) = lin_y0_[l];
    return y;
  }

  Eigen::Index size() const { return n_; }
  // J ≈ diag(jd): the coupling through S = 2R is left to the W-method (measured: including it
  // as a rank-one term costs a sweep per step and did not reduce the step count).
  int rank() const { return 0; }
  const double* coupling(int) const { return nullptr; }
  int linear_scalars() const { return 1; }  // Σ λ_j ρ_j over the linear modes (and bins)
  const double* scalar_weights(int) const { return weights_.data(); }
  int accumulators() const { return 1; }
  int outputs() const { return 1 + static_cast<int>(record_.size()); }

  bool prepare(double t, const double* y, const double* s) {
    lr_ = o_.schedule.lr_at(o_.lr, t);
    S_ = s[0] + sigma2_;  // 2R = Σ λ_j ρ_j + σ²: linear modes, then the mixture modes
    for (Eigen::Index g = 0; g < n_gm_; ++g) S_ += p_.lambda(gm_modes_[g]) * rho_gm(y, g);
    if (!std::isfinite(S_) || S_ <= 0.0) return false;
    if (S0_ < 0.0) S0_ = S_;
    // Column environments: S_e = S − Σ_{i<J} λ_i ρ_i + Σ_{i<J} λ_i e_{i,q_i}.
    double base = S_;
    for (int i = 0; i < env_; ++i) base -= p_.lambda(gm_modes_[i]) * rho_gm(y, i);
    base = std::max(base, sigma2_);  // S minus the resolved modes is at least σ²
    phi_ = 0.0;
    for (std::size_t e = 0; e < env_s_.size(); ++e) {
      double se = base;
      for (int i = 0; i < env_; ++i)
        se += p_.lambda(gm_modes_[i]) * second_moment(y, i, env_q_[e * env_ + i]);
      env_s_[e] = std::max(se, 1e-12 * S_);
      phi_ += env_w_[e] / std::sqrt(env_s_[e]);
    }
    return true;
  }

  void evaluate(Eigen::Index begin, Eigen::Index end, const double* y, double* f, float* jd, float*,
                double* acc) const {
    const Eigen::Index gm_end = n_gm_ * block_;
    double dr = 0.0;
    // Mixture modes: whole blocks (chunks are multiples of the block size).
    for (Eigen::Index g = begin / block_; g * block_ < std::min(end, gm_end); ++g) {
      const Eigen::Index j = gm_modes_[g];
      const double lambda = p_.lambda(j), sl = std::sqrt(lambda);
      const double rho = rho_gm(y, g);
      const bool is_env = g < env_;
      for (int q = 0; q < qh_; ++q) {
        const double mu = y[g * block_ + q], var = std::max(y[g * block_ + qh_ + q], 0.0);
        const double e2 = mu * mu + var, sd = std::sqrt(var);
        double eh = 0.0, edh = 0.0;
        for (std::size_t e = 0; e < env_s_.size(); ++e) {
          double w_env, s_minus;
          if (is_env) {  // own component fixed: condition the environment on it
            if (env_q_[e * env_ + g] != q) continue;
            w_env = env_w_[e] / comp_.w[q];
            s_minus = env_s_[e] - lambda * e2;
          } else {
            w_env = env_w_[e];
            s_minus = env_s_[e] - lambda * rho;
          }
          s_minus = std::max(s_minus, 0.0);
          double a = 0.0, b = 0.0;
          for (std::size_t k = 0; k < inner_.x.size(); ++k) {
            const double delta = mu + sd * inner_.x[k];
            const double den = lambda * delta * delta + s_minus;
            const double hv = den > 0.0 ? h_(sl * delta / std::sqrt(den)) : 0.0;
            a += inner_.w[k] * hv;
            b += inner_.w[k] * delta * hv;
          }
          eh += w_env * a;
          edh += w_env * b;
        }
        // dμ/dt = −η E_q h; ds/dt = −2η Cov_q(Δ, h) + η², so that d(μ² + s)/dt = −2η E_q[Δ h] + η²
        // (the exact per-step identity of the second moment).
        const Eigen::Index im = g * block_ + q, is = im + qh_;
        // The one-step map (exact_map) moves μ by −ηE_q h, so its μ² gains η²(E_q h)² per step:
        // the variance then gains η²(1 − (E_q h)²), keeping E[Δ'²] = E[Δ²] − 2ηE[Δh] + η² exact.
        const double cov = edh - mu * eh;
        f[im] = -lr_ * eh;
        f[is] = -2.0 * lr_ * cov + lr_ * lr_ * (map_mode_ ? 1.0 - eh * eh : 1.0);
        if (jd) {
          jd[im] = static_cast<float>(std::abs(mu) > 0.0 ? -lr_ * eh / mu : 0.0);
          jd[is] = static_cast<float>(var > 0.0 ? -2.0 * lr_ * std::max(cov, 0.0) / var : 0.0);
        }
        dr += lambda * comp_.w[q] * (2.0 * mu * f[im] + f[is]);
      }
    }
    // Linear modes: dρ/dt = −2η h_B'(0) √λ ρ E_e[S_e^{−1/2}] + η²; a linear state in general:
    // dy/dt = η² q − 2η h_B'(0) E_e[S_e^{−1/2}] c y, entering S with weight w.
    const double rate0 = 2.0 * lr_ * h_.slope0() * phi_, noise = lr_ * lr_;
    const Eigen::Index lb = std::max(begin, gm_end);
    const double* __restrict w = lin_w_.data() - gm_end;
    const double* __restrict cr = lin_c_.data() - gm_end;
    const double* __restrict src = lin_q_.data() - gm_end;
    double d0 = 0.0, d1 = 0.0;
    for (Eigen::Index i = lb; i < end; ++i) {
      f[i] = noise * src[i] - rate0 * cr[i] * y[i];
      ((i & 1) ? d1 : d0) += w[i] * f[i];
    }
    if (jd)
      for (Eigen::Index i = lb; i < end; ++i) jd[i] = static_cast<float>(-rate0 * cr[i]);
    dr += d0 + d1;
    acc[0] += dr;
  }

  void observe(const double* y, const double* f, const double* acc, double* value,
               double* rate) const {
    value[0] = 0.5 * S_;
    rate[0] = 0.5 * acc[0];
    for (std::size_t k = 0; k < record_.size(); ++k) {
      const auto [gm, pos] = record_[k];
      if (gm) {  // pos: the block's first mean
        double v = 0.0, r = 0.0;
        for (int q = 0; q < qh_; ++q) {
          const double mu = y[pos + q];
          v += comp_.w[q] * (mu * mu + std::max(y[pos + qh_ + q], 0.0));
          r += comp_.w[q] * (2.0 * mu * f[pos + q] + f[pos + qh_ + q]);
        }
        value[1 + k] = v;
        rate[1 + k] = r;
      } else {
        value[1 + k] = y[pos];
        rate[1 + k] = f[pos];
      }
    }
  }

  bool blown_up() const { return S_ > 1e6 * std::max(S0_, 1.0); }
  void set_map_mode(bool on) { map_mode_ = on; }
  const double* scale_floor() const { return floor_.data(); }

  Eigen::Index block() const { return block_; }
  Eigen::Index binned_modes() const { return binned_; }
  int bins() const { return bins_; }

 private:
  // Linear states: each linear mode j as ρ_j (w = λ_j, c = √λ_j, q = 1, ρ_j(0) = b_j²), or, when
  // binning pays (rate_bins.hpp), only the recorded ones, the others as two states per bin of
  // √λ: Σ λ_j ρ_j^init and Σ λ_j ρ_j^noise (w = 1).
  void linear_states(const std::vector<Eigen::Index>& lin, const Eigen::VectorXi& modes,
                     const TheoryOptions& options, const SignSgdClosure& c, double s_ref) {
    std::vector<char> recorded(p_.d, 0);
    for (Eigen::Index k = 0; k < modes.size(); ++k)
      if (modes(k) >= 1 && modes(k) <= p_.d) recorded[modes(k) - 1] = 1;
    const double width = c.bin_width > 0.0 ? c.bin_width : bin_width_for(options.rel_tol);
    std::vector<double> rate, init, source;
    for (Eigen::Index j : lin)
      if (!recorded[j] && p_.lambda(j) > 0.0) {
        rate.push_back(std::sqrt(p_.lambda(j)));
        init.push_back(p_.lambda(j) * p_.b(j) * p_.b(j));
        source.push_back(p_.lambda(j));
      }
    RateBins bins;
    if (c.binning != SignSgdClosure::Binning::off && width > 0.0 && !rate.empty()) {
      bins = rate_bins(rate, width);
      const bool pays = 4 * static_cast<std::size_t>(bins.count) <= rate.size();
      if (c.binning == SignSgdClosure::Binning::automatic && !pays) bins = RateBins{};
    }
    auto add = [&](double w, double cr, double q, double y0, double floor) {
      lin_w_.push_back(w);
      lin_c_.push_back(cr);
      lin_q_.push_back(q);
      lin_y0_.push_back(y0);
      floor_.push_back(floor);
    };
    for (Eigen::Index j : lin)
      if (bins.count == 0 || recorded[j]) {
        lin_modes_.push_back(j);
        const double b2 = p_.b(j) * p_.b(j);
        add(p_.lambda(j), std::sqrt(p_.lambda(j)), 1.0, b2, 0.01 * b2);
      }
    if (bins.count == 0) return;
    // Error scales mirror an individual mode's, max(ρ_j, b_j²/100) with ρ_j = initial part +
    // noise part: N_b = η Σλ/(r̂ c̄), the bin's stationary noise energy at the largest rate
    // r̂ = 2η h_B'(0)/√S_ref, stands in for the noise part. The initial part is measured against
    // max(W_b/100, N_b) (W_b its start), the noise part against max(W_b, N_b): in the tail the
    // noise outgrows b_j² early, and neither part needs more relative accuracy than the ρ_j it
    // is part of.
    const double rate_max = 2.0 * h_.slope0() / std::sqrt(s_ref);  // r̂/η
    const auto binit = binned_decays(bins, rate, init), bnoise = binned_decays(bins, rate, source);
    for (int k = 0; k < bins.count; ++k) {
      const double stationary = o_.lr * bnoise[k].amount / (rate_max * bnoise[k].rate);
      add(1.0, binit[k].rate, 0.0, binit[k].amount, std::max(0.01 * binit[k].amount, stationary));
      add(1.0, bnoise[k].rate, bnoise[k].amount, 0.0, std::max(binit[k].amount, stationary));
    }
    binned_ = static_cast<Eigen::Index>(rate.size());
    bins_ = bins.count;
  }

  double second_moment(const double* y, Eigen::Index g, int q) const {
    const double mu = y[g * block_ + q];
    return mu * mu + std::max(y[g * block_ + qh_ + q], 0.0);
  }
  double rho_gm(const double* y, Eigen::Index g) const {
    double r = 0.0;
    for (int q = 0; q < qh_; ++q) r += comp_.w[q] * second_moment(y, g, q);
    return r;
  }

  const Problem& p_;
  const OptimizerSpec& o_;
  SignMean h_;
  GaussRule comp_, inner_;
  double sigma2_;
  int qh_ = 0, block_ = 0, env_ = 0;
  std::vector<Eigen::Index> gm_modes_, lin_modes_;
  Eigen::Index n_gm_ = 0, n_ = 0;
  std::vector<double> weights_, floor_;
  std::vector<double> lin_w_, lin_c_, lin_q_, lin_y0_;  // linear states (linear_states())
  Eigen::Index binned_ = 0;                             // modes merged into bins
  int bins_ = 0;
  struct Where {
    bool gm;
    Eigen::Index pos;
  };
  std::vector<Where> record_;
  std::vector<double> env_s_, env_w_;
  std::vector<int> env_q_;
  double lr_ = 0.0, S_ = 0.0, S0_ = -1.0, phi_ = 0.0;
  bool map_mode_ = false;
};

}  // namespace

Trajectory signsgd_diagonal(const Problem& problem, const OptimizerSpec& optimizer,
                            const TheoryOptions& options, const SignSgdClosure& closure) {
  DiagonalSystem system(problem, optimizer, options.modes, options, closure);
  if (kChunk % system.block() != 0)
    throw Error("signsgd closure: components too large for the evaluation chunks");
  if (std::getenv("SIGNDYN_ODE_STATS"))
    std::fprintf(stderr, "signsgd diagonal: %lld states, %lld linear modes in %d bins\n",
                 static_cast<long long>(system.size()),
                 static_cast<long long>(system.binned_modes()), system.bins());
  return run_system(system, system.initial_state(), problem, optimizer, options);
}

}  // namespace signdyn::detail
