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
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "chunked.hpp"
#include "quadrature.hpp"
#include "rate_bins.hpp"
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

// State: J_ mixture blocks (means μ_q, then variances s_q, as in the diagonal basis), then the
// linear states. A linear state obeys dy/dt = η² q − 2η a c y and enters S with weight w1 and
// v_p's tail sum Σ_{j≥L} λ_j² ρ_j with weight w2: an individual mode j ≥ J_ has ρ_j with
// (w1, w2, c, q) = (λ_j, λ_j² for j ≥ L, λ_j, N_j) and its own a_j (a_tail beyond the resolved
// modes); in the concentration form the unrecorded tail modes may instead be binned
// (rate_bins.hpp), four states per bin: Σλρ^init, Σλρ^noise, Σλ²ρ^init, Σλ²ρ^noise.
class GenericSystem {
 public:
  GenericSystem(const Problem& p, const OptimizerSpec& o, const TheoryOptions& options,
                const SignSgdClosure& cl, Coordinates coords, Eigen::VectorXd noise)
      : p_(p),
        o_(o),
        h_(o.batch),
        c_(std::move(coords)),
        N_(std::move(noise)),
        comp_(gauss_hermite_half(cl.components)),
        inner_(gauss_hermite(cl.inner_nodes)),
        unode_(gauss_hermite(cl.inner_nodes)),
        gq_(gauss_hermite(12)),
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
    L_ = c_.realised ? 0 : c_.resolved;
    // Error scales as in the diagonal basis (signsgd_diagonal.cpp): relative accuracy while
    // w_q e_q is above 1% of b_j² (√w_q |μ_q| above b_j/10).
    floor_.assign(J_ * block_, 0.0);
    for (int i = 0; i < J_; ++i)
      for (int q = 0; q < qh_; ++q) {  // block: means μ_q, then variances s_q
        floor_[i * block_ + q] = 0.1 * p.b(i) / std::sqrt(comp_.w[q]);
        floor_[i * block_ + qh_ + q] = 0.01 * p.b(i) * p.b(i) / comp_.w[q];
      }
    linear_states(options, cl);
    n_ = J_ * block_ + static_cast<Eigen::Index>(lin_w1_.size());
    weights_.assign(J_ * block_, 0.0);
    weights_.insert(weights_.end(), lin_w1_.begin(), lin_w1_.end());
    for (Eigen::Index k = 0; k < options.modes.size(); ++k) {
      const Eigen::Index j = options.modes(k) - 1;
      const auto it = std::find(lin_mode_.begin(), lin_mode_.end(), j);
      record_.push_back(j < J_ ? j * block_ : J_ * block_ + (it - lin_mode_.begin()));
      record_gm_.push_back(j < J_);
    }
    rho_res_.assign(std::max(L_, J_), 0.0);
    v_.resize(c_.P);
    k3_.resize(c_.P);
    phi_.resize(c_.P);
    xi_.resize(c_.P);
    if (c_.realised) {
      rho_.resize(d);
      w2_.resize(d);
      w3_.resize(d);
      a_.resize(d);
      self_.resize(d);
    }
    a_res_.assign(std::max(L_, 1), 0.0);
    self_res_.assign(std::max(L_, 1), 0.0);
    gm_m_.assign(static_cast<std::size_t>(std::max(J_, 1)) * qh_, 0.0);
    gm_dm_.assign(gm_m_.size(), 0.0);
    gm_der_.assign(4 * gm_m_.size(), 0.0);
    const std::size_t nb = static_cast<std::size_t>(dense_block());
    jac_.assign(nb * nb, 0.0);
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
    for (std::size_t k = 0; k < lin_y0_.size(); ++k)
      y(J_ * block_ + static_cast<Eigen::Index>(k)) = lin_y0_[k];
    return y;
  }

  Eigen::Index size() const { return n_; }
  Eigen::Index binned_modes() const { return binned_; }
  int bins() const { return bins_; }
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
      rho_res_[i] = r;
      S_ += p_.lambda(i) * r;
    }
    if (!std::isfinite(S_) || S_ <= 0.0) return false;
    if (S0_ < 0.0) S0_ = S_;
    const double* ylin = y + J_ * block_;
    // v_p = Σ_j O_pj² λ_j² ρ_j, k3_p = Σ_j O_pj² λ_j³ ρ_j².
    if (c_.realised) {
      for (int i = 0; i < J_; ++i) rho_(i) = rho_res_[i];
      for (Eigen::Index j = J_; j < d; ++j) rho_(j) = std::max(ylin[j - J_], 0.0);
      const Eigen::ArrayXd lam = p_.lambda.array();
      w2_.array() = lam.square() * rho_.array();
      w3_.array() = w2_.array() * lam * rho_.array();
      v_.noalias() = c_.O2 * w2_;
      k3_.noalias() = c_.O2 * w3_;
    } else {
      const int L = L_;
      for (int i = J_; i < L; ++i) rho_res_[i] = std::max(ylin[i - J_], 0.0);
      // Tail sums Σ_{j≥L} λ_j² ρ_j and Σ_{j≥L} λ_j³ ρ_j² over the individual states (in chunks,
      // in parallel), then over the bins: Σλ³ρ² ≈ (Σλ²ρ)²/Σλ within a bin (Cauchy–Schwarz; the
      // gap is the bin's variance of λρ, O(ε²)).
      const Eigen::Index first = n_res_lin_, count = n_ind_ - n_res_lin_;
      const auto tail =
          chunked_reduce<2>(count, partials_, [&](Eigen::Index b, Eigen::Index e, double* acc) {
            double a2 = 0.0, a3 = 0.0;
            for (Eigen::Index k = first + b; k < first + e; ++k) {
              const double r = std::max(ylin[k], 0.0);
              a2 += lin_w2_[k] * r;
              a3 += lin_w3_[k] * r * r;
            }
            acc[0] = a2;
            acc[1] = a3;
          });
      double rv = tail[0], rk = tail[1];
      for (std::size_t b = 0; b < bin_lambda_.size(); ++b) {
        const double* yb = ylin + n_ind_ + 4 * static_cast<Eigen::Index>(b);
        const double u = std::max(yb[2], 0.0) + std::max(yb[3], 0.0);
        rv += u;
        rk += u * u / bin_lambda_[b];
      }
      const double dd = static_cast<double>(d);
      for (Eigen::Index v = 0; v < c_.P; ++v) {
        double a = rv, b = rk;
        for (int i = 0; i < L; ++i) {
          const double l2r = p_.lambda(i) * p_.lambda(i) * rho_res_[i];
          const double g2 = c_.g(v, i) * c_.g(v, i);
          a += g2 * l2r;
          b += g2 * l2r * p_.lambda(i) * rho_res_[i];
        }
        v_(v) = a / dd;
        k3_(v) = b / dd;
      }
    }
    // Per coordinate p (docs/theory/signsgd.md §4.1): Ψ_p = E[h'(c_p)/√(K_pp S)] and
    // Ξ_p = E[h'(c_p) c_p u_r/(S v_r)] over the column's environment: mode 1's mixture
    // component (δ = Δ̃_1 ~ N(μ_q, s_q) with weight w_q; the law is symmetric under δ, u → −δ,
    // −u) and u_r ~ N(0, v_r), the rest of u_p = O_p1 λ_1 δ + u_r, with the rest of S replaced
    // by its conditional mean given u_r: S = λ_1 δ² + S_r − κ_r v_r + κ_r u_r². A Gaussian mode
    // i then drifts by E[Δ̃_i h(c_p)] = O_pi λ_i ρ_i (Ψ_p − λ_i ρ_i Ξ_p) (Stein's lemma on Δ̃_i).
    const bool env = J_ >= 1;
    const double l1 = env ? p_.lambda(0) : 0.0, r1 = env ? rho_res_[0] : 0.0;
    const double w2_1 = l1 * l1 * r1, w3_1 = w2_1 * l1 * r1;
    const double sqrt_d = std::sqrt(static_cast<double>(d));
    const int n_comp = env ? qh_ : 1;
    for (Eigen::Index q = 0; q < c_.P; ++q) {
      const double o = env ? (c_.realised ? c_.O(q, 0) : c_.g(q, 0) / sqrt_d) : 0.0;
      const double vr = std::max(v_(q) - o * o * w2_1, 1e-300);
      const double kr = std::max(k3_(q) - o * o * w3_1, 0.0) / (vr * vr);
      const double s_rest = std::max(S_ - l1 * r1 - kr * vr, 1e-12 * S_);
      const double kp = c_.Kpp(q), su = std::sqrt(vr);
      double psi = 0.0, xi = 0.0;
      for (int k = 0; k < n_comp; ++k) {
        const double mu = env ? y[k] : 0.0;
        const double sd = env ? std::sqrt(std::max(y[qh_ + k], 0.0)) : 0.0;
        const double wk = env ? comp_.w[k] : 1.0;
        const std::size_t n_inner = sd > 0.0 ? inner_.x.size() : 1;
        for (std::size_t a = 0; a < n_inner; ++a) {
          const double delta = n_inner > 1 ? mu + sd * inner_.x[a] : mu;
          const double wa = wk * (n_inner > 1 ? inner_.w[a] : 1.0);
          const double shift = o * l1 * delta, s_delta = l1 * delta * delta + s_rest;
          for (std::size_t b = 0; b < gq_.x.size(); ++b) {
            const double ur = su * gq_.x[b];
            const double S = std::max(s_delta + kr * ur * ur, 1e-12 * S_);
            const double ks = std::sqrt(kp * S);
            const double c = (shift + ur) / ks;
            const double hp = wa * gq_.w[b] * h_.derivative(c);
            psi += hp / ks;
            xi += hp * c * ur / (S * vr);
          }
        }
      }
      phi_(q) = c_.weight(q) * psi;
      xi_(q) = c_.weight(q) * xi;
    }
    // a_i = Σ_p O_pi² Ψ_p and the self coefficient s_i = Σ_p O_pi² Ξ_p.
    double finite = 0.0;
    if (c_.realised) {
      a_.noalias() = c_.O2.transpose() * phi_;
      self_.noalias() = c_.O2.transpose() * xi_;
      finite = a_.sum() + self_.sum();
    } else {
      a_tail_ = phi_.sum() / static_cast<double>(d);
      self_tail_ = xi_.sum() / static_cast<double>(d);
      finite = a_tail_ + self_tail_;
      for (int i = 0; i < L_; ++i) {
        const Eigen::ArrayXd g2 = c_.g.col(i).array().square();
        a_res_[i] = (g2 * phi_.array()).sum() / static_cast<double>(d);
        self_res_[i] = (g2 * xi_.array()).sum() / static_cast<double>(d);
        finite += a_res_[i] + self_res_[i];
      }
      if (!floors_set_) set_bin_floors();
    }
    mixture_drifts(y);
    return std::isfinite(finite);
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
      if (jd) jacobian_row(i, mode, slot, q, mu, var);
    }
    // Linear states k = i − gm_end: dy/dt = −2η (a − s c_k y) c_k y + η² q_k, s the self
    // coefficient of an individual mode (y = ρ_j, c_k = λ_j) where lin_self_ says it applies
    // (linear_states()); 0 for the other modes and the bins.
    const Eigen::Index lb = std::max(begin, gm_end);
    const double* __restrict w1 = lin_w1_.data() - gm_end;
    const double* __restrict cr = lin_c_.data() - gm_end;
    const double* __restrict src = lin_q_.data() - gm_end;
    const double* __restrict own = lin_self_.data() - gm_end;
    const double noise = lr_ * lr_;
    auto run = [&](Eigen::Index from, Eigen::Index to, auto a_of, auto self_of) {
      for (Eigen::Index i = from; i < to; ++i) {
        const double sc = own[i] * self_of(i) * cr[i];
        const double r = 2.0 * lr_ * (a_of(i) - sc * y[i]) * cr[i];
        f[i] = noise * src[i] - r * y[i];
        if (jd) jd[i] = static_cast<float>(-r + 2.0 * lr_ * sc * cr[i] * y[i]);
        dr += w1[i] * f[i];
      }
    };
    if (c_.realised) {
      run(
          lb, end, [&](Eigen::Index i) { return a_(lin_mode_[i - gm_end]); },
          [&](Eigen::Index i) { return self_(lin_mode_[i - gm_end]); });
    } else {
      const Eigen::Index res_end = gm_end + n_res_lin_;
      run(
          lb, std::min(end, res_end), [&](Eigen::Index i) { return a_res_[lin_mode_[i - gm_end]]; },
          [&](Eigen::Index i) { return self_res_[lin_mode_[i - gm_end]]; });
      const double a = a_tail_, st = self_tail_;
      run(
          std::max(lb, res_end), end, [a](Eigen::Index) { return a; },
          [st](Eigen::Index) { return st; });
    }
    acc[0] += dr;
  }

  // The mixture states' Jacobian, dense over the leading J_·block_ states (log_rosenbrock.hpp
  // dense_block()): mode i's drifts depend on its own states only through its component's (μ_q,
  // s_q) (S − λ_iρ_i and v_p − O_pi²λ_i²ρ_i leave ρ_i out), so each component is a 2×2 block;
  // the other mixture modes' couplings through ρ_i are left out, as in the diagonal part.
  // The coupling of every state through S (the one linear sum, s[0]) is the rank-1 part of the
  // Jacobian, u = ∂f/∂s[0] by differences (log_rosenbrock.hpp): at d = 10⁶ the tail modes hold
  // most of S near their noise floors, ρ_j ∝ 1/a ∝ √S, and that feedback halves the rate of the
  // collective mode, which a diagonal Jacobian misses (1 558 steps, not 265, for bench_ode).
  int dense_block() const { return J_ * block_; }
  bool linear_coupling_by_differences() const { return true; }
  // The stiff states sit a little off their slow manifold at the step ends, and f there is then
  // no guide to the risk's actual rate of change (at d = 10⁶ it had the wrong sign or half the
  // size): the dense output uses the step-end values only (log_rosenbrock.hpp).
  bool dense_output_from_values() const { return true; }
  const double* dense_jacobian() const { return jac_.data(); }

  void observe(const double* y, const double* f, const double* acc, double* value,
               double* rate) const {
    value[0] = 0.5 * S_;
    rate[0] = 0.5 * acc[0];
    for (std::size_t k = 0; k < record_.size(); ++k) {
      const Eigen::Index pos = record_[k];
      if (record_gm_[k]) {
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

 private:
  // Row i (mode `mode`, component q, `slot` < qh_ for μ_q) of the mixture block's Jacobian, in
  // the Stein forms ∂_μ E[F] = E[z F]/√s, ∂_s E[F] = E[(z² − 1) F]/(2s) of mixture_drifts();
  // while s_q is (numerically) zero, the s → 0 limits: ∂m/∂μ ≈ m/μ, ∂m/∂s ≈ 0 and
  // ∂(dm − μm)/∂s = ∂m/∂μ, ∂(dm − μm)/∂μ = 0.
  void jacobian_row(Eigen::Index i, int mode, int slot, int q, double mu, double var) const {
    const Eigen::Index nb = dense_block(), base = mode * block_;
    double* row = jac_.data() + i * nb;
    std::fill(row + base, row + base + block_, 0.0);
    const std::size_t k = static_cast<std::size_t>(mode) * qh_ + q;
    const double m = gm_m_[k];
    const double* der = &gm_der_[4 * k];
    const double sd = std::sqrt(var);
    double m_mu, m_s, dm_mu, dm_s;
    if (sd > 1e-6 * p_.b(mode)) {
      m_mu = der[0] / sd;
      m_s = der[1] / (2.0 * var);
      dm_mu = der[2] / sd;
      dm_s = der[3] / (2.0 * var);
    } else {
      m_mu = std::abs(mu) > 0.0 ? m / mu : 0.0;
      m_s = 0.0;
      dm_mu = m + mu * m_mu;
      dm_s = m_mu + mu * m_s;
    }
    if (slot < qh_) {  // f = −η m
      row[base + q] = -lr_ * m_mu;
      row[base + qh_ + q] = -lr_ * m_s;
    } else {  // f = −2η (dm − μ m) + η² N
      row[base + q] = -2.0 * lr_ * (dm_mu - m - mu * m_mu);
      row[base + qh_ + q] = -2.0 * lr_ * (dm_s - mu * m_s);
    }
  }

  // The linear states (class comment): individual modes j ≥ J_ (all, or, when binned, the
  // resolved and the recorded ones), then four states per bin of λ over the other tail modes.
  void linear_states(const TheoryOptions& options, const SignSgdClosure& cl) {
    const Eigen::Index d = p_.d;
    std::vector<char> recorded(d, 0);
    for (Eigen::Index k = 0; k < options.modes.size(); ++k)
      if (options.modes(k) >= 1 && options.modes(k) <= d) recorded[options.modes(k) - 1] = 1;
    const double width = cl.bin_width > 0.0 ? cl.bin_width : bin_width_for(options.rel_tol);
    std::vector<double> rate;
    std::vector<Eigen::Index> pool;
    // A mode's own self-normalisation term λ_j ρ_j s (§4.1) is kept for the modes that hold more
    // than 10⁻⁴ of S(0) (it is below ~10⁻⁴ of the drift for the others, which drop it in either
    // coordinate model); those modes are never binned.
    double s0 = p_.sigma * p_.sigma;
    for (Eigen::Index j = 0; j < d; ++j) s0 += p_.lambda(j) * p_.b(j) * p_.b(j);
    const auto has_self = [&](Eigen::Index j) {
      return p_.lambda(j) * p_.b(j) * p_.b(j) >= 1e-4 * s0;
    };
    if (!c_.realised)
      for (Eigen::Index j = std::max<Eigen::Index>(L_, J_); j < d; ++j)
        if (!recorded[j] && p_.lambda(j) > 0.0 && !has_self(j)) {
          pool.push_back(j);
          rate.push_back(p_.lambda(j));
        }
    RateBins bins;
    if (cl.binning != SignSgdClosure::Binning::off && width > 0.0 && !rate.empty()) {
      bins = rate_bins(rate, width);
      const bool pays = 8 * static_cast<std::size_t>(bins.count) <= rate.size();
      if (cl.binning == SignSgdClosure::Binning::automatic && !pays) bins = RateBins{};
    }
    std::vector<char> in_bin(d, 0);
    if (bins.count > 0)
      for (Eigen::Index j : pool) in_bin[j] = 1;
    for (Eigen::Index j = J_; j < d; ++j) {
      if (in_bin[j]) continue;
      const double l = p_.lambda(j), b2 = p_.b(j) * p_.b(j);
      if (j < L_) ++n_res_lin_;
      lin_mode_.push_back(j);
      add(l, j >= L_ ? l * l : 0.0, j >= L_ ? l * l * l : 0.0, l, N_(j), b2, 0.01 * b2,
          has_self(j) ? 1.0 : 0.0);
    }
    n_ind_ = static_cast<Eigen::Index>(lin_w1_.size());
    if (bins.count == 0) return;
    std::vector<double> w1(pool.size()), w2(pool.size()), q1(pool.size()), q2(pool.size());
    for (std::size_t k = 0; k < pool.size(); ++k) {
      const Eigen::Index j = pool[k];
      const double l = p_.lambda(j), b2 = p_.b(j) * p_.b(j);
      w1[k] = l * b2;
      w2[k] = l * l * b2;
      q1[k] = l * N_(j);
      q2[k] = l * l * N_(j);
    }
    const auto i1 = binned_decays(bins, rate, w1), n1 = binned_decays(bins, rate, q1);
    const auto i2 = binned_decays(bins, rate, w2), n2 = binned_decays(bins, rate, q2);
    const auto lam = binned_decays(bins, rate, rate);  // amount: Σλ over the bin
    for (int b = 0; b < bins.count; ++b) {
      // Floors are set at the first prepare (set_bin_floors), when a_tail is known.
      add(1.0, 0.0, 0.0, i1[b].rate, 0.0, i1[b].amount, 0.0);
      add(1.0, 0.0, 0.0, n1[b].rate, n1[b].amount, 0.0, 0.0);
      add(0.0, 0.0, 0.0, i2[b].rate, 0.0, i2[b].amount, 0.0);
      add(0.0, 0.0, 0.0, n2[b].rate, n2[b].amount, 0.0, 0.0);
      bin_lambda_.push_back(lam[b].amount);
      lin_mode_.insert(lin_mode_.end(), 4, -1);
    }
    binned_ = static_cast<Eigen::Index>(pool.size());
    bins_ = bins.count;
  }

  void add(double w1, double w2, double w3, double c, double q, double y0, double floor,
           double self = 0.0) {
    lin_self_.push_back(self);
    lin_w1_.push_back(w1);
    lin_w2_.push_back(w2);
    lin_w3_.push_back(w3);
    lin_c_.push_back(c);
    lin_q_.push_back(q);
    lin_y0_.push_back(y0);
    floor_.push_back(floor);
  }

  // Error scales of the bin states, mirroring an individual mode's max(ρ_j, b_j²/100) as in the
  // diagonal basis (signsgd_diagonal.cpp): with the bin's stationary noise energy
  // N_b = η q/(2 â c̄) at the largest tail coefficient â = a_tail(0)·√(S(0)/S_ref), S_ref =
  // max(σ², 1e-3 S(0)), the initial parts are measured against max(W_b/100, N_b) and the noise
  // parts against max(W_b, N_b), W_b the initial part's start.
  void set_bin_floors() {
    floors_set_ = true;
    const double s_ref = std::max(sigma2_, 1e-3 * S_);
    const double a_hat = a_tail_ * std::sqrt(S_ / s_ref);
    if (!(a_hat > 0.0)) return;
    const Eigen::Index base = J_ * block_ + n_ind_;
    for (std::size_t b = 0; b < bin_lambda_.size(); ++b)
      for (int part = 0; part < 2; ++part) {  // Σλρ, then Σλ²ρ
        const Eigen::Index k = n_ind_ + 4 * static_cast<Eigen::Index>(b) + 2 * part;
        const double start = lin_y0_[k];
        const double stationary = o_.lr * lin_q_[k + 1] / (2.0 * a_hat * lin_c_[k + 1]);
        floor_[base - n_ind_ + k] = std::max(0.01 * start, stationary);
        floor_[base - n_ind_ + k + 1] = std::max(start, stationary);
      }
  }

  // For each mixture mode i and component q: m = Σ_p O_pi E_q[h(c_p)] and
  // dm = Σ_p O_pi E_q[Δ h(c_p)], with c_p = (O_pi λ_i Δ + u)/√(K_pp S_col), Δ ~ N(μ_q, s_q),
  // u ~ N(0, v_p − O_pi² λ_i² ρ_i) and S_col = S − λ_i ρ_i + λ_i Δ² + κ₋ (u² − Var u).
  void mixture_drifts(const double* y) {
    const Eigen::Index P = c_.P;
    const double sqrt_d = std::sqrt(static_cast<double>(p_.d));
    for (int i = 0; i < J_; ++i) {
      const double lambda = p_.lambda(i);
      const double w2 = lambda * lambda * rho_res_[i], w3 = w2 * lambda * rho_res_[i];
      const double s_minus = S_ - lambda * rho_res_[i];
      for (int q = 0; q < qh_; ++q) {
        gm_m_[i * qh_ + q] = 0.0;
        gm_dm_[i * qh_ + q] = 0.0;
        for (int k = 0; k < 4; ++k) gm_der_[4 * (i * qh_ + q) + k] = 0.0;
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
          // With δ = μ + √s z: ∂_μ E[F(δ)] = E[z F]/√s, ∂_s E[F(δ)] = E[(z² − 1) F]/(2s).
          double m = 0.0, dm = 0.0, mz = 0.0, mzz = 0.0, dmz = 0.0, dmzz = 0.0;
          for (std::size_t a = 0; a < inner_.x.size(); ++a) {
            const double z = inner_.x[a], delta = mu + sd * z;
            double hm = 0.0;
            for (std::size_t b = 0; b < unode_.x.size(); ++b) {
              const double u = su * unode_.x[b];
              const double scol =
                  std::max(s_minus + lambda * delta * delta + km * (u * u - vm), 1e-12 * S_);
              hm += unode_.w[b] * h_((o * lambda * delta + u) / std::sqrt(kp * scol));
            }
            const double wh = inner_.w[a] * hm, z2 = z * z - 1.0;
            m += wh;
            dm += delta * wh;
            mz += z * wh;
            mzz += z2 * wh;
            dmz += z * delta * wh;
            dmzz += z2 * delta * wh;
          }
          gm_m_[i * qh_ + q] += wgt * m;
          gm_dm_[i * qh_ + q] += wgt * dm;
          double* der = &gm_der_[4 * (i * qh_ + q)];
          der[0] += wgt * mz;
          der[1] += wgt * mzz;
          der[2] += wgt * dmz;
          der[3] += wgt * dmzz;
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
  int L_ = 0;  // resolved modes (concentration form), whose a_i is their own
  std::vector<double> weights_, floor_;
  // Linear states (linear_states()): weights in S, in Σλ²ρ and (squared) in Σλ³ρ², rate and
  // source coefficients, start; the mode (−1 for bin states).
  std::vector<double> lin_w1_, lin_w2_, lin_w3_, lin_c_, lin_q_, lin_y0_;
  std::vector<double> lin_self_;  // 1 where the state's own self-normalisation term applies
  std::vector<Eigen::Index> lin_mode_;
  Eigen::Index n_res_lin_ = 0, n_ind_ = 0, binned_ = 0;
  int bins_ = 0;
  std::vector<double> bin_lambda_;  // Σλ over each bin
  bool floors_set_ = false;
  std::vector<Eigen::Index> record_;  // position of each recorded mode's state (block start)
  std::vector<char> record_gm_;
  std::vector<double> rho_res_, a_res_, self_res_, partials_;
  // Per coordinate Ψ_p, Ξ_p (times the weight), and the realised O's sums a_i, s_i.
  Eigen::VectorXd rho_, w2_, w3_, v_, k3_, phi_, xi_, a_, self_;
  // Per mixture component: E[z h], E[(z² − 1) h], E[z δ h], E[(z² − 1) δ h] summed like m, dm
  // (the Stein forms of their derivatives in μ and s); the dense Jacobian of the mixture block.
  std::vector<double> gm_m_, gm_dm_, gm_der_;
  mutable std::vector<double> jac_;
  double lr_ = 0.0, S_ = 0.0, S0_ = -1.0, a_tail_ = 0.0, self_tail_ = 0.0;
};

}  // namespace

Trajectory signsgd_generic_exact(const Problem& problem, const OptimizerSpec& optimizer,
                                 const TheoryOptions& options, const SignSgdClosure& closure) {
  if (problem.O.rows() != problem.d)
    throw Error("signsgd: the generic-basis dynamics with the realised O need problem.O");
  GenericSystem system(problem, optimizer, options, closure, realised_coordinates(problem),
                       noise_realised(problem));
  return run_system(system, system.initial_state(), problem, optimizer, options);
}

Trajectory signsgd_generic_concentrated(const Problem& problem, const OptimizerSpec& optimizer,
                                        const TheoryOptions& options,
                                        const SignSgdClosure& closure) {
  Coordinates coords = virtual_coordinates(problem);
  Eigen::VectorXd noise = noise_concentrated(problem, coords);
  GenericSystem system(problem, optimizer, options, closure, std::move(coords), std::move(noise));
  if (std::getenv("SIGNDYN_ODE_STATS"))
    std::fprintf(stderr,
                 "signsgd generic (concentration form): %lld states, %lld modes in %d bins\n",
                 static_cast<long long>(system.size()),
                 static_cast<long long>(system.binned_modes()), system.bins());
  return run_system(system, system.initial_state(), problem, optimizer, options);
}

}  // namespace signdyn::detail
