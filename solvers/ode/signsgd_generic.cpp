// SignSGD in a generic (Haar) basis (docs/theory/signsgd.md §4–§5).
//
// Coordinates p of the true basis saturate one by one: c_p = (KΔ)_p / √(K_pp S). Across columns
// the top `env_modes` modes keep a Gaussian-mixture law (their entries are transported by the
// saturating sign like in the diagonal basis); every other mode is Gaussian with variance ρ_j.
// Per coordinate, u_p = (KΔ)_p is Gaussian given the mixture modes, and the column's residual
// variance S is replaced by its conditional mean given u_p (self-normalisation):
// S | u_p ≈ S − κ_p v_p + κ_p u_p², v_p = Var u_p, κ_p = Σ_j O_pj² λ_j³ ρ_j² / v_p².
//
// Two coordinate models share the closure: the realised rotation O (sums over the d
// coordinates, O(d²) per evaluation, noise N = diag(Oᵀ K_σ O) in O(d³) once), and the Haar
// average (concentration form): the coordinates are replaced by quadrature nodes over the
// loadings of the top `resolved` modes, the rest of the spectrum entering through its moments;
// O(d) per evaluation and no O at all.
#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "quadrature.hpp"
#include "sign_mean.hpp"
#include "signdyn/error.hpp"
#include "signsgd.hpp"
#include "system_driver.hpp"

namespace signdyn::detail {
namespace {

constexpr int kResolved = 3;  // concentration form: modes whose loadings are resolved

// Coordinates of the true basis, either realised (P = d, O given) or virtual (quadrature over
// the loadings g_i = √d O_pi of the first `resolved` modes, P = nodes, weight d·π_ν each).
struct Coordinates {
  bool realised = true;
  Eigen::Index d = 0, P = 0;
  Eigen::VectorXd weight;  // Σ_p weight_p f_p stands for Σ_p f_p
  Eigen::VectorXd Kpp;     // K_pp
  // realised: O and O∘O (d×d); virtual: loadings (P×resolved), g_i ≥ 0 (sign symmetry)
  Eigen::MatrixXd O, O2, g;
  int resolved = 0;
};

Coordinates realised_coordinates(const Problem& p) {
  Coordinates c;
  c.realised = true;
  c.d = c.P = p.d;
  c.weight = Eigen::VectorXd::Ones(p.d);
  c.O = p.O;
  c.O2 = p.O.array().square().matrix();
  c.Kpp = c.O2 * p.lambda;
  return c;
}

// Virtual coordinates: product of half-range Gauss–Hermite rules (6 nodes) over the loadings of
// the first kResolved modes; the loadings of all other modes are replaced by their mean
// (O_pj² → 1/d), so K_pp = (Σ_{i<L} λ_i g_i² + Σ_{j≥L} λ_j)/d.
Coordinates virtual_coordinates(const Problem& p) {
  Coordinates c;
  c.realised = false;
  c.d = p.d;
  c.resolved = static_cast<int>(std::min<Eigen::Index>(kResolved, p.d));
  const GaussRule half = gauss_hermite_half(12);
  const int n = static_cast<int>(half.x.size());
  Eigen::Index P = 1;
  for (int i = 0; i < c.resolved; ++i) P *= n;
  c.P = P;
  c.weight.resize(P);
  c.g.resize(P, c.resolved);
  c.Kpp.resize(P);
  double rest = 0.0;
  for (Eigen::Index j = c.resolved; j < p.d; ++j) rest += p.lambda(j);
  for (Eigen::Index v = 0; v < P; ++v) {
    Eigen::Index r = v;
    double w = 1.0, k = rest;
    for (int i = 0; i < c.resolved; ++i) {
      const int q = static_cast<int>(r % n);
      r /= n;
      c.g(v, i) = half.x[q];
      w *= half.w[q];
      k += p.lambda(i) * half.x[q] * half.x[q];
    }
    c.weight(v) = w * static_cast<double>(p.d);
    c.Kpp(v) = k / static_cast<double>(p.d);
  }
  return c;
}

// Noise of the eigen-coordinates at zero signal, N_i = (Oᵀ K_σ O)_ii, K_σ = (2/π) arcsin(C),
// C = D^{−1/2} K D^{−1/2} (exact for every B; theory-derivations.md §4.1). O(d³).
Eigen::VectorXd noise_realised(const Problem& p) {
  const Eigen::MatrixXd K = p.O * p.lambda.asDiagonal() * p.O.transpose();
  const Eigen::VectorXd s = K.diagonal().cwiseSqrt().cwiseInverse();
  Eigen::MatrixXd Ks = s.asDiagonal() * K * s.asDiagonal();
  Ks = Ks.unaryExpr([](double x) { return (2.0 / M_PI) * std::asin(std::clamp(x, -1.0, 1.0)); });
  Ks.diagonal().setOnes();
  const Eigen::MatrixXd T = Ks * p.O;
  return (p.O.cwiseProduct(T)).colwise().sum().transpose();
}

// Concentration form of N (docs/theory/signsgd.md §5). With s = sign(x), x ~ N(0, K),
// s = √(2/π) D^{−1/2} x + e: N_i = (2/π) o_iᵀ C o_i + o_iᵀ Cov(e) o_i. For modes beyond the
// resolved ones, o_iᵀ Cov(e) o_i ≈ 1 − 2/π and o_iᵀ C o_i = Σ_j λ_j (o_iᵀ D^{−1/2} o_j)² with
// (o_iᵀ D^{−1/2} o_i)² = d E[k^{−1/2}]² and, for j ≠ i, E(o_iᵀ D^{−1/2} o_j)² = the variance of
// k^{−1/2} weighted by g_j² (k = d K_pp). For the resolved modes, N_i = 1 + d E[g_i g_i' K_σ]
// over pairs of independent coordinates (signs of the loadings summed over).
Eigen::VectorXd noise_concentrated(const Problem& p, const Coordinates& c) {
  const Eigen::Index d = p.d, P = c.P;
  const int L = c.resolved;
  Eigen::VectorXd pi = c.weight / static_cast<double>(d);  // Σ π = 1
  Eigen::VectorXd kinv(P);
  for (Eigen::Index v = 0; v < P; ++v) kinv(v) = 1.0 / std::sqrt(c.Kpp(v) * d);
  const double m0 = pi.dot(kinv);
  const double var0 = pi.dot((kinv.array() - m0).square().matrix());
  double cross = 0.0;  // Σ_{j ≥ L} λ_j Var(k^{−1/2}) + Σ_{j < L} λ_j E[g_j² (k^{−1/2} − m_j)²]
  double tail_lambda = 0.0;
  for (Eigen::Index j = L; j < d; ++j) tail_lambda += p.lambda(j);
  cross += tail_lambda * var0;
  for (int j = 0; j < L; ++j) {
    const Eigen::ArrayXd g2 = c.g.col(j).array().square();
    const double mj = (pi.array() * g2 * kinv.array()).sum() / (pi.array() * g2).sum();
    cross += p.lambda(j) * (pi.array() * g2 * (kinv.array() - mj).square()).sum();
  }
  Eigen::VectorXd N(d);
  for (Eigen::Index i = L; i < d; ++i) {
    const double own = p.lambda(i) * static_cast<double>(d) * m0 * m0;
    N(i) = (1.0 - 2.0 / M_PI) + (2.0 / M_PI) * (own + cross - p.lambda(i) * var0);
  }
  // Resolved modes: pairs (v, w) of independent coordinates, relative signs σ ∈ {±1}^L, and the
  // unresolved part of C_vw Gaussian with variance Σ_{j≥L} λ_j² / (k_v k_w).
  double tail_l2 = 0.0;
  for (Eigen::Index j = L; j < d; ++j) tail_l2 += p.lambda(j) * p.lambda(j);
  const GaussRule z = gauss_hermite(8);
  Eigen::VectorXd acc = Eigen::VectorXd::Zero(L);
  const int combos = 1 << L;
  for (Eigen::Index v = 0; v < P; ++v)
    for (Eigen::Index w = 0; w < P; ++w) {
      const double kv = c.Kpp(v) * d, kw = c.Kpp(w) * d, norm = 1.0 / std::sqrt(kv * kw);
      const double pw = pi(v) * pi(w);
      for (int sgn = 0; sgn < combos; ++sgn) {
        double base = 0.0;
        for (int j = 0; j < L; ++j)
          base += ((sgn >> j) & 1 ? -1.0 : 1.0) * p.lambda(j) * c.g(v, j) * c.g(w, j);
        double ks = 0.0;
        for (std::size_t q = 0; q < z.x.size(); ++q) {
          const double C = std::clamp((base + std::sqrt(tail_l2) * z.x[q]) * norm, -1.0, 1.0);
          ks += z.w[q] * (2.0 / M_PI) * std::asin(C);
        }
        for (int i = 0; i < L; ++i)
          acc(i) += pw / combos * ((sgn >> i) & 1 ? -1.0 : 1.0) * c.g(v, i) * c.g(w, i) * ks;
      }
    }
  for (int i = 0; i < L; ++i) N(i) = 1.0 + static_cast<double>(d) * acc(i);
  return N;
}

class GenericSystem {
 public:
  GenericSystem(const Problem& p, const OptimizerSpec& o, const Eigen::VectorXi& modes,
                const SignSgdClosure& cl, Coordinates coords, Eigen::VectorXd noise)
      : p_(p),
        o_(o),
        h_(o.batch),
        c_(std::move(coords)),
        N_(std::move(noise)),
        comp_(gauss_hermite_half(cl.components)),
        inner_(gauss_hermite(cl.inner_nodes)),
        unode_(gauss_hermite(cl.inner_nodes)),
        gq_(gauss_hermite(24)),
        sigma2_(p.sigma * p.sigma) {
    if (cl.components < 2 || (cl.components & (cl.components - 1)) != 0)
      throw Error("signsgd closure: components must be a power of two >= 2");
    qh_ = static_cast<int>(comp_.x.size());
    block_ = 2 * qh_;
    const Eigen::Index d = p.d;
    // Mixture modes: the first env_modes modes (in the concentration form they must be
    // among the resolved ones, whose loadings the virtual coordinates carry).
    J_ = std::min<int>(cl.env_modes, static_cast<int>(d));
    if (!c_.realised) J_ = std::min(J_, c_.resolved);
    n_ = J_ * block_ + (d - J_);
    weights_.assign(n_, 0.0);
    floor_.assign(n_, 0.0);
    // Error scales as in the diagonal basis (signsgd_diagonal.cpp): relative accuracy while
    // w_q e_q is above 1% of b_j² (√w_q |μ_q| above b_j/10).
    for (int i = 0; i < J_; ++i)
      for (int q = 0; q < qh_; ++q) {  // block: means μ_q, then variances s_q
        floor_[i * block_ + q] = 0.1 * p.b(i) / std::sqrt(comp_.w[q]);
        floor_[i * block_ + qh_ + q] = 0.01 * p.b(i) * p.b(i) / comp_.w[q];
      }
    for (Eigen::Index j = J_; j < d; ++j) {
      weights_[J_ * block_ + (j - J_)] = p.lambda(j);
      floor_[J_ * block_ + (j - J_)] = 0.01 * p.b(j) * p.b(j);
    }
    for (Eigen::Index k = 0; k < modes.size(); ++k) record_.push_back(modes(k) - 1);
    rho_.resize(d);
    v_.resize(c_.P);
    k3_.resize(c_.P);
    phi_.resize(c_.P);
    a_.resize(d);
    gm_m_.assign(static_cast<std::size_t>(std::max(J_, 1)) * qh_, 0.0);
    gm_dm_.assign(gm_m_.size(), 0.0);
  }

  Eigen::VectorXd initial_state() const {
    Eigen::VectorXd y(n_);
    for (int i = 0; i < J_; ++i) {
      const double rho0 = p_.b(i) * p_.b(i);
      for (int q = 0; q < qh_; ++q) {
        y(i * block_ + q) = std::sqrt(rho0) * comp_.x[q];
        y(i * block_ + qh_ + q) = 0.0;
      }
    }
    for (Eigen::Index j = J_; j < p_.d; ++j) y(J_ * block_ + (j - J_)) = p_.b(j) * p_.b(j);
    return y;
  }

  Eigen::Index size() const { return n_; }
  int rank() const { return 0; }
  const double* coupling(int) const { return nullptr; }
  int linear_scalars() const { return 1; }
  const double* scalar_weights(int) const { return weights_.data(); }
  int accumulators() const { return 1; }
  int outputs() const { return 1 + static_cast<int>(record_.size()); }
  const double* scale_floor() const { return floor_.data(); }
  bool blown_up() const { return S_ > 1e6 * std::max(S0_, 1.0); }

  bool prepare(double t, const double* y, const double* s) {
    lr_ = o_.schedule.lr_at(o_.lr, t);
    S_ = s[0] + sigma2_;  // linear sum over the Gaussian modes; the mixture modes follow
    const Eigen::Index d = p_.d;
    for (int i = 0; i < J_; ++i) {
      double r = 0.0;
      for (int q = 0; q < qh_; ++q) {
        const double mu = y[i * block_ + q];
        r += comp_.w[q] * (mu * mu + std::max(y[i * block_ + qh_ + q], 0.0));
      }
      rho_(i) = r;
      S_ += p_.lambda(i) * r;
    }
    if (!std::isfinite(S_) || S_ <= 0.0) return false;
    if (S0_ < 0.0) S0_ = S_;
    for (Eigen::Index j = J_; j < d; ++j) rho_(j) = std::max(y[J_ * block_ + (j - J_)], 0.0);
    const Eigen::ArrayXd lam = p_.lambda.array();
    const Eigen::VectorXd w2 = (lam.square() * rho_.array()).matrix();
    const Eigen::VectorXd w3 = (lam.cube() * rho_.array().square()).matrix();
    // v_p = Σ_j O_pj² λ_j² ρ_j, k3_p = Σ_j O_pj² λ_j³ ρ_j².
    if (c_.realised) {
      v_.noalias() = c_.O2 * w2;
      k3_.noalias() = c_.O2 * w3;
    } else {
      const int L = c_.resolved;
      const double dd = static_cast<double>(d);
      const double rv = w2.tail(d - L).sum(), rk = w3.tail(d - L).sum();
      for (Eigen::Index v = 0; v < c_.P; ++v) {
        double a = rv, b = rk;
        for (int i = 0; i < L; ++i) {
          const double g2 = c_.g(v, i) * c_.g(v, i);
          a += g2 * w2(i);
          b += g2 * w3(i);
        }
        v_(v) = a / dd;
        k3_(v) = b / dd;
      }
    }
    // Φ_p = E_g[g h(x g / √(1 + ε g²))] / √v_p, x = √(v/(K_pp S₋)), ε = κ v / S₋.
    for (Eigen::Index q = 0; q < c_.P; ++q) {
      const double v = std::max(v_(q), 1e-300);
      const double kappa = k3_(q) / (v * v);
      const double sm = std::max(S_ - kappa * v, 1e-12 * S_);
      const double x = std::sqrt(v / (c_.Kpp(q) * sm)), eps = kappa * v / sm;
      double acc = 0.0;
      for (std::size_t k = 0; k < gq_.x.size(); ++k) {
        const double g = gq_.x[k];
        acc += gq_.w[k] * g * h_(x * g / std::sqrt(1.0 + eps * g * g));
      }
      phi_(q) = c_.weight(q) * acc / std::sqrt(v);
    }
    // a_i = Σ_p O_pi² Φ_p.
    if (c_.realised) {
      a_.noalias() = c_.O2.transpose() * phi_;
    } else {
      const double tail = phi_.sum() / static_cast<double>(d);
      a_.setConstant(tail);
      for (int i = 0; i < c_.resolved; ++i)
        a_(i) = (c_.g.col(i).array().square() * phi_.array()).sum() / static_cast<double>(d);
    }
    mixture_drifts(y);
    return std::isfinite(a_.sum());
  }

  void evaluate(Eigen::Index begin, Eigen::Index end, const double* y, double* f, float* jd, float*,
                double* acc) const {
    const Eigen::Index gm_end = J_ * block_;
    double dr = 0.0;
    for (Eigen::Index i = begin; i < std::min(end, gm_end); ++i) {
      const int mode = static_cast<int>(i / block_), slot = static_cast<int>(i % block_);
      const double lambda = p_.lambda(mode);
      // dμ/dt = −η m; ds/dt = −2η (dm − μ m) + η² N (the block lies within one chunk).
      const int q = slot < qh_ ? slot : slot - qh_;
      const double mu = y[i - slot + q], var = std::max(y[i - slot + qh_ + q], 0.0);
      const double m = gm_m_[mode * qh_ + q], dm = gm_dm_[mode * qh_ + q];
      if (slot < qh_) {
        f[i] = -lr_ * m;
        if (jd) jd[i] = static_cast<float>(std::abs(mu) > 0.0 ? -lr_ * m / mu : 0.0);
        dr += lambda * comp_.w[q] * 2.0 * mu * f[i];
      } else {
        const double cov = dm - mu * m;
        f[i] = -2.0 * lr_ * cov + lr_ * lr_ * N_(mode);
        if (jd) jd[i] = static_cast<float>(var > 0.0 ? -2.0 * lr_ * std::max(cov, 0.0) / var : 0.0);
        dr += lambda * comp_.w[q] * f[i];
      }
    }
    for (Eigen::Index i = std::max(begin, gm_end); i < end; ++i) {
      const Eigen::Index j = J_ + (i - gm_end);
      const double lambda = p_.lambda(j);
      const double r = 2.0 * lr_ * lambda * a_(j);
      f[i] = -r * y[i] + lr_ * lr_ * N_(j);
      if (jd) jd[i] = static_cast<float>(-r);
      dr += lambda * f[i];
    }
    acc[0] += dr;
  }

  void observe(const double* y, const double* f, const double* acc, double* value,
               double* rate) const {
    value[0] = 0.5 * S_;
    rate[0] = 0.5 * acc[0];
    for (std::size_t k = 0; k < record_.size(); ++k) {
      const Eigen::Index j = record_[k];
      if (j < J_) {
        double v = 0.0, r = 0.0;
        for (int q = 0; q < qh_; ++q) {
          const double mu = y[j * block_ + q];
          v += comp_.w[q] * (mu * mu + std::max(y[j * block_ + qh_ + q], 0.0));
          r += comp_.w[q] * (2.0 * mu * f[j * block_ + q] + f[j * block_ + qh_ + q]);
        }
        value[1 + k] = v;
        rate[1 + k] = r;
      } else {
        value[1 + k] = y[J_ * block_ + (j - J_)];
        rate[1 + k] = f[J_ * block_ + (j - J_)];
      }
    }
  }

 private:
  // For each mixture mode i and component q: m = Σ_p O_pi E_q[h(c_p)] and
  // dm = Σ_p O_pi E_q[Δ h(c_p)], with c_p = (O_pi λ_i Δ + u)/√(K_pp S_col), Δ ~ N(μ_q, s_q),
  // u ~ N(0, v_p − O_pi² λ_i² ρ_i) and S_col = S − λ_i ρ_i + λ_i Δ² + κ₋ (u² − Var u).
  void mixture_drifts(const double* y) {
    const Eigen::Index P = c_.P;
    const double sqrt_d = std::sqrt(static_cast<double>(p_.d));
    for (int i = 0; i < J_; ++i) {
      const double lambda = p_.lambda(i);
      const double w2 = lambda * lambda * rho_(i), w3 = w2 * lambda * rho_(i);
      const double s_minus = S_ - lambda * rho_(i);
      for (int q = 0; q < qh_; ++q) {
        gm_m_[i * qh_ + q] = 0.0;
        gm_dm_[i * qh_ + q] = 0.0;
      }
      for (Eigen::Index c = 0; c < P; ++c) {
        // Signed loading O_pi (virtual coordinates: g/√d ≥ 0, the weight counts both signs).
        const double o = c_.realised ? c_.O(c, i) : c_.g(c, i) / sqrt_d;
        const double o2 = o * o;
        const double vm = std::max(v_(c) - o2 * w2, 1e-300);
        const double km = std::max(k3_(c) - o2 * w3, 0.0) / (vm * vm);
        const double su = std::sqrt(vm), kp = c_.Kpp(c);
        const double wgt = c_.realised ? o : c_.weight(c) * o;
        for (int q = 0; q < qh_; ++q) {
          const double mu = y[i * block_ + q];
          const double sd = std::sqrt(std::max(y[i * block_ + qh_ + q], 0.0));
          double m = 0.0, dm = 0.0;
          for (std::size_t a = 0; a < inner_.x.size(); ++a) {
            const double delta = mu + sd * inner_.x[a];
            double hm = 0.0;
            for (std::size_t b = 0; b < unode_.x.size(); ++b) {
              const double u = su * unode_.x[b];
              const double scol =
                  std::max(s_minus + lambda * delta * delta + km * (u * u - vm), 1e-12 * S_);
              hm += unode_.w[b] * h_((o * lambda * delta + u) / std::sqrt(kp * scol));
            }
            m += inner_.w[a] * hm;
            dm += inner_.w[a] * delta * hm;
          }
          gm_m_[i * qh_ + q] += wgt * m;
          gm_dm_[i * qh_ + q] += wgt * dm;
        }
      }
    }
  }

  const Problem& p_;
  const OptimizerSpec& o_;
  SignMean h_;
  Coordinates c_;
  Eigen::VectorXd N_;
  GaussRule comp_, inner_, unode_, gq_;
  double sigma2_;
  int qh_ = 0, block_ = 0, J_ = 0;
  Eigen::Index n_ = 0;
  std::vector<double> weights_, floor_;
  std::vector<Eigen::Index> record_;
  Eigen::VectorXd rho_, v_, k3_, phi_, a_;
  std::vector<double> gm_m_, gm_dm_;
  double lr_ = 0.0, S_ = 0.0, S0_ = -1.0;
};

}  // namespace

Trajectory signsgd_generic_exact(const Problem& problem, const OptimizerSpec& optimizer,
                                 const TheoryOptions& options, const SignSgdClosure& closure) {
  if (problem.O.rows() != problem.d)
    throw Error("signsgd: the generic-basis dynamics with the realised O need problem.O");
  GenericSystem system(problem, optimizer, options.modes, closure, realised_coordinates(problem),
                       noise_realised(problem));
  return run_system(system, system.initial_state(), problem, optimizer, options);
}

Trajectory signsgd_generic_concentrated(const Problem& problem, const OptimizerSpec& optimizer,
                                        const TheoryOptions& options,
                                        const SignSgdClosure& closure) {
  Coordinates coords = virtual_coordinates(problem);
  Eigen::VectorXd noise = noise_concentrated(problem, coords);
  GenericSystem system(problem, optimizer, options.modes, closure, std::move(coords),
                       std::move(noise));
  return run_system(system, system.initial_state(), problem, optimizer, options);
}

}  // namespace signdyn::detail
