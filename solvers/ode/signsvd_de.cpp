// Two-stage deterministic equivalent of the SignSVD drift (theory-derivations.md §5.3–5.4).
#include "signsvd_de.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "signdyn/error.hpp"
#include "signsvd_coefficients.hpp"
#include "signsvd_de_map.hpp"

namespace signdyn::detail {
namespace {

double max_abs(const std::array<double, 4>& a) {
  return std::max({std::abs(a[0]), std::abs(a[1]), std::abs(a[2]), std::abs(a[3])});
}

// κ ≥ 0 with Σ_j w_j λ_j/(λ_j + κ) = q (q < Σ w): bisection in ln κ to round-off.
double weighted_kappa(const Eigen::ArrayXd& lambda, const Eigen::ArrayXd& weight, double q) {
  auto df = [&](double kappa) { return (weight * lambda / (lambda + kappa)).sum(); };
  double hi = std::log((weight * lambda).sum() / q), lo = hi;  // df(e^hi) < q
  for (int i = 0; i < 400 && df(std::exp(lo)) <= q; ++i) lo -= 5.0;
  for (int i = 0; i < 200 && hi - lo > 1e-15 * std::max(1.0, std::abs(hi)); ++i) {
    const double mid = 0.5 * (lo + hi);
    (df(std::exp(mid)) > q ? lo : hi) = mid;
  }
  return std::exp(0.5 * (lo + hi));
}

}  // namespace

SignsvdDeSolver::SignsvdDeSolver(const Eigen::ArrayXd& lambda, double batch, double m, double sigma,
                                 const Eigen::ArrayXd& weight)
    : lambda_(lambda),
      weight_(weight.size() > 0 ? weight : Eigen::ArrayXd::Ones(lambda.size())),
      batch_(batch),
      m_(m),
      c_(sigma * sigma / batch) {
  if (weight_.size() != lambda_.size())
    throw Error("SignSVD deterministic equivalent: λ and the mode weights differ in size");
  const double d = weight_.sum();
  modes_ = d;
  wlambda_ = weight_ * lambda_;
  rank_limited_by_m_ = m < std::min(batch, d);
  if (!rank_limited_by_m_) {
    const double kappa = weight.size() == 0 || batch >= d ? solve_kappa(lambda, std::min(batch, d))
                                                          : weighted_kappa(lambda, weight_, batch);
    leverage_ = kappa > 0.0 ? Eigen::ArrayXd(lambda / (lambda + kappa))
                            : Eigen::ArrayXd::Ones(lambda.size());
  }
}

// The O(d) passes of the equivalent, on raw arrays, built for AVX-512, AVX2/FMA and baseline
// x86-64 and picked at load time (the divisions dominate; results agree to round-off). Per
// entry j: det_j = p_j e_j − X λ_j ℓ_j, p_j = κ − λ_j a, e_j = −1 − ℓ_j t₁, X = cc t₀.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(SIGNDYN_NO_CLONES)
#define SIGNDYN_KERNEL [[gnu::target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")]]
#else
#define SIGNDYN_KERNEL
#endif

namespace {

// out = (Σ wλ e/det, Σ wλℓ/det, Σ wℓ p/det, Σ w e/det): one branch-free pass.
SIGNDYN_KERNEL void de_sums(const double* __restrict lam, const double* __restrict ell,
                            const double* __restrict w, const double* __restrict wlam,
                            const double* __restrict wlamell, const double* __restrict well,
                            Eigen::Index n, double kappa, double a, double t1, double x,
                            double* out) {
  double se = 0.0, sx = 0.0, sp = 0.0, sw = 0.0;
#pragma omp simd reduction(+ : se, sx, sp, sw)
  for (Eigen::Index j = 0; j < n; ++j) {
    const double p = kappa - lam[j] * a, e = -1.0 - ell[j] * t1;
    const double inv = 1.0 / (p * e - x * lam[j] * ell[j]);
    se += wlam[j] * e * inv;
    sx += wlamell[j] * inv;
    sp += well[j] * p * inv;
    sw += w[j] * e * inv;
  }
  out[0] = se;
  out[1] = sx;
  out[2] = sp;
  out[3] = sw;
}

// acc_j += c λ_j/det_j (c = weight·t₀: the node's share of ∫T_j du, T_j = λ_j t₀/det_j).
SIGNDYN_KERNEL void add_t(const double* __restrict lam, const double* __restrict ell,
                          Eigen::Index n, double kappa, double a, double t1, double x, double c,
                          double* __restrict acc) {
#pragma omp simd
  for (Eigen::Index j = 0; j < n; ++j) {
    const double p = kappa - lam[j] * a, e = -1.0 - ell[j] * t1;
    acc[j] += c * lam[j] / (p * e - x * lam[j] * ell[j]);
  }
}

}  // namespace

// F(t; κ) of DeMap<double> with the per-mode 2×2 blocks fused into three weighted sums:
//   Σ wλ G11 = Σ wλ e/det,  Σ wλ G13 = cc Σ wλℓ/det,  Σ wℓ G31 = t₀ Σ wλℓ/det,  Σ wℓ G33 = Σ wℓ
//   p/det.
// With `g11_sum` it also returns Σ w G11 = Σ w e/det at t (for 1 − τ) from the same pass.
SignsvdDeSolver::Scalars SignsvdDeSolver::map(const Scalars& t, double kappa,
                                              double* g11_sum) const {
  const double a = c_ * t[0] + t[2], cc = c_ * t[1] + t[3], t0 = t[0];
  double sums[4];
  de_sums(lambda_.data(), ell_.data(), weight_.data(), wlambda_.data(), wlambda_ell_.data(),
          well_.data(), lambda_.size(), kappa, a, t[1], cc * t0, sums);
  if (g11_sum != nullptr) *g11_sum = sums[3];
  const double s11 = sums[0], s13 = cc * sums[1], s31 = t0 * sums[1], s33 = sums[2];
  const double b22 = c_ * s11 + s13, b24 = s11, b42 = c_ * s31 + s33, b44 = s31;
  const double m11 = -batch_ - b22, m12 = -b24, m21 = -b42, m22 = -batch_ - b44;
  const double det = m11 * m22 - m12 * m21;
  return {batch_ * m22 / det, -batch_ * m12 / det, -batch_ * m21 / det, batch_ * m11 / det};
}

// 1 − τ(κ) = ((m − d) + κ Σ_j w_j G11_j)/m (as DeMap::one_minus_tau).
double SignsvdDeSolver::one_minus_tau(const Scalars& t, double kappa) const {
  const double a = c_ * t[0] + t[2], cc = c_ * t[1] + t[3];
  double sums[4];
  de_sums(lambda_.data(), ell_.data(), weight_.data(), wlambda_.data(), wlambda_ell_.data(),
          well_.data(), lambda_.size(), kappa, a, t[1], cc * t[0], sums);
  return (m_ - modes_ + kappa * sums[3]) / m_;
}

void SignsvdDeSolver::set_state(const Eigen::ArrayXd& rho) {
  ell_ = lambda_ * rho;
  well_ = weight_ * ell_;
  wlambda_ell_ = wlambda_ * ell_;
}

SignsvdDeSolver::Scalars SignsvdDeSolver::solve(double kappa, Scalars t, Jacobian* cached,
                                                double* one_minus_tau_out) const {
  auto residual = [&](const Scalars& x, double* g11 = nullptr) {
    const Scalars f = map(x, kappa, g11);
    return Scalars{f[0] - x[0], f[1] - x[1], f[2] - x[2], f[3] - x[3]};
  };
  // Returns x, with 1 − τ at x from the pass that evaluated the residual there (g11 = Σ w G11),
  // or from a pass of its own when x was not evaluated.
  const bool want = one_minus_tau_out != nullptr;
  auto done = [&](const Scalars& x, const double* g11) {
    if (want)
      *one_minus_tau_out =
          g11 != nullptr ? (m_ - modes_ + kappa * *g11) / m_ : one_minus_tau(x, kappa);
    return x;
  };
  double g11_t = 0.0, g11_next = 0.0;  // Σ w G11 at t (and at a trial point)
  double* g11_slot = want ? &g11_t : nullptr;
  double* g11_trial = want ? &g11_next : nullptr;
  Scalars res = residual(t, g11_slot);
  // Warm start with the Jacobian of the previous call at this node: chord steps while each one
  // at least halves the residual (the usual case when the state moved a little).
  // Once a step has contracted the residual by ≥ 2, a step below the tolerance is taken without
  // evaluating the residual after it (its error is at most the step's size).
  if (cached != nullptr && cached->valid) {
    bool contracting = false;
    for (int iter = 0; iter < 8; ++iter) {
      if (max_abs(res) <= tol_ * (1.0 + max_abs(t))) return done(t, g11_slot);
      const Scalars delta = solve_small<double, 4>(cached->J, {-res[0], -res[1], -res[2], -res[3]});
      Scalars next{};
      for (int k = 0; k < 4; ++k) next[k] = t[k] + delta[k];
      if (contracting && max_abs(delta) <= tol_ * (1.0 + max_abs(t))) return done(next, nullptr);
      const Scalars next_res = residual(next, g11_trial);
      if (!(max_abs(next_res) < 0.5 * max_abs(res))) break;
      contracting = true;
      t = next;
      res = next_res;
      g11_t = g11_next;
    }
  }
  // Damped iterations first (Newton from far away can reach a spurious root), then Newton.
  for (int i = 0; i < 20 && max_abs(res) > 1e-6 * (1.0 + max_abs(t)); ++i) {
    for (int k = 0; k < 4; ++k) t[k] += 0.5 * res[k];
    res = residual(t, g11_slot);
  }
  // Newton until the residual reaches round-off level or stops decreasing (at small κ the
  // scalars grow like 1/κ and round-off limits the attainable relative residual).
  for (int iter = 0; iter < 30; ++iter) {
    if (max_abs(res) <= tol_ * (1.0 + max_abs(t))) return done(t, g11_slot);
    std::array<std::array<double, 4>, 4> J{};
    for (int k = 0; k < 4; ++k) {
      Scalars tp = t;
      const double step = 1e-7 * std::max(1.0, std::abs(t[k]));
      tp[k] += step;
      const Scalars rp = residual(tp);
      for (int r = 0; r < 4; ++r) J[r][k] = (rp[r] - res[r]) / step;
    }
    if (cached != nullptr) *cached = {J, true};
    const Scalars delta = solve_small<double, 4>(J, {-res[0], -res[1], -res[2], -res[3]});
    // Backtrack if a full Newton step does not reduce the residual.
    double scale = 1.0;
    Scalars next{}, next_res{};
    bool improved = false;
    for (int bt = 0; bt < 8; ++bt, scale *= 0.5) {
      for (int k = 0; k < 4; ++k) next[k] = t[k] + scale * delta[k];
      next_res = residual(next, g11_trial);
      if (max_abs(next_res) < max_abs(res)) {
        improved = true;
        break;
      }
    }
    if (!improved) break;
    const bool stagnating = max_abs(next_res) > 0.5 * max_abs(res);
    t = next;
    res = next_res;
    g11_t = g11_next;
    if (stagnating && max_abs(res) <= 1e-9 * (1.0 + max_abs(t))) break;
  }
  if (!(max_abs(res) <= 1e-6 * (1.0 + max_abs(t))))
    throw NumericalError(
        "SignSVD deterministic equivalent: the fixed point did not converge at κ = " +
        std::to_string(kappa) + " (residual " + std::to_string(max_abs(res)) +
        "); report this case");
  return done(t, g11_slot);
}

double SignsvdDeSolver::tau(const Scalars& t, double kappa) const {
  return 1.0 - one_minus_tau(t, kappa);
}

void SignsvdDeSolver::resolvents(const Eigen::ArrayXd& rho, double kappa, Eigen::ArrayXd& t_out,
                                 Eigen::ArrayXd& v_out) {
  set_state(rho);
  Scalars t{-1.0, 0.0, 0.0, -1.0};
  // Continuation from a large κ down to the requested one.
  const double top = std::max(kappa, 1e4 * (lambda_.maxCoeff() + 1.0));
  for (double k = top; k > kappa; k /= 2.0) t = solve(k, t);
  t = solve(kappa, t);
  const double a = c_ * t[0] + t[2], cc = c_ * t[1] + t[3];
  t_out.resize(lambda_.size());
  v_out.resize(lambda_.size());
  for (Eigen::Index j = 0; j < lambda_.size(); ++j) {
    const double lam = lambda_(j), ell = ell_(j);
    const double p = kappa - lam * a, q = -ell * cc, r = -lam * t[0], e = -1.0 - ell * t[1];
    const double det = p * e - q * r;
    t_out(j) = -r / det;
    v_out(j) = 1.0 - kappa * e / det;
  }
}

void SignsvdDeSolver::evaluate(const Eigen::ArrayXd& rho, Eigen::ArrayXd& drift,
                               Eigen::ArrayXd& noise) {
  const Eigen::Index d = lambda_.size();
  set_state(rho);
  const double two_r_over_b = (c_ * batch_ + well_.sum()) / batch_;
  const Eigen::ArrayXd scale = lambda_ * (ell_ + two_r_over_b);

  // κ_0: 0 unless m < min(B, d), where τ(κ_0) = 1 (τ decreases in κ).
  double kappa0 = 0.0;
  if (rank_limited_by_m_) {
    Scalars t{-1.0, 0.0, 0.0, -1.0};
    double hi = std::log(1e4 * scale.maxCoeff());
    for (double k = std::exp(hi); k > std::exp(hi) * 1e-3; k /= 2.0) t = solve(k, t);
    double lo = hi;
    Scalars t_lo = t;
    for (int i = 0; i < 200; ++i) {  // walk down until τ > 1
      t_lo = solve(std::exp(lo), t_lo);
      if (tau(t_lo, std::exp(lo)) > 1.0) break;
      hi = lo;
      lo -= 0.5;
    }
    Scalars t_mid = t_lo;
    for (int i = 0; i < 100 && hi - lo > 1e-13; ++i) {
      const double mid = 0.5 * (lo + hi);
      t_mid = solve(std::exp(mid), t_mid);
      if (tau(t_mid, std::exp(mid)) > 1.0)
        lo = mid;
      else
        hi = mid;
    }
    kappa0 = std::exp(0.5 * (lo + hi));
  }

  // Nodes κ_k = κ_0 + e^{y_k}, y_k = k h on a fixed lattice (warm starts by k), from the top.
  const long k_lo = static_cast<long>(std::floor(std::log(1e-9 * scale.minCoeff()) / h_));
  const long k_hi = static_cast<long>(std::ceil(std::log(1e6 * scale.maxCoeff()) / h_));
  const std::size_t n = static_cast<std::size_t>(k_hi - k_lo + 1);
  std::vector<Scalars> ts(n);
  std::vector<double> u(n), kap(n);
  Scalars t{-1.0, 0.0, 0.0, -1.0};
  std::size_t first = 0;  // lowest node solved (the lattice is cut there if the solve fails)
  for (long k = k_hi; k >= k_lo; --k) {
    const std::size_t i = static_cast<std::size_t>(k - k_lo);
    kap[i] = kappa0 + std::exp(k * h_);
    const auto it = warm_.find(k);
    Scalars start = (it != warm_.end() && k != k_hi) ? it->second : t;
    if (k == k_hi && it != warm_.end()) start = it->second;
    double omt = 0.0;  // 1 − τ at the node
    bool have_omt = true;
    try {
      t = solve(kap[i], start, &jacobians_[k], &omt);
    } catch (const Error&) {
      have_omt = false;
      // Retry by continuation from the node above in eight geometric sub-steps.
      const bool have_above = k < k_hi;
      bool solved = false;
      if (have_above) {
        try {
          Scalars x = ts[i + 1];
          for (int sub = 1; sub <= 8; ++sub)
            x = solve(kappa0 + std::exp((k + 1 - sub / 8.0) * h_), x);
          t = x;
          solved = true;
        } catch (const Error&) {
        }
      }
      // Far below every scale (seen at σ = 0, where Σ_L has no noise floor) T_j(κ) is flat, so
      // the remaining piece of ∫T du is T(κ)·u(κ), kept by the end correction below: stop there.
      if (!solved && have_above && kap[i + 1] - kappa0 < 1e-3 * scale.minCoeff()) {
        first = i + 1;
        break;
      }
      if (!solved) throw;
    }
    ts[i] = t;
    warm_[k] = t;
    if (!have_omt) omt = one_minus_tau(t, kap[i]);
    u[i] = std::sqrt(std::max(0.0, kap[i] * omt));
  }
  if (first > 0) {  // drop the unsolved bottom of the lattice
    ts.erase(ts.begin(), ts.begin() + static_cast<std::ptrdiff_t>(first));
    u.erase(u.begin(), u.begin() + static_cast<std::ptrdiff_t>(first));
    kap.erase(kap.begin(), kap.begin() + static_cast<std::ptrdiff_t>(first));
  }
  const std::size_t n_used = ts.size();

  // du/dy by central differences (4th order inside, 2nd order next to the ends).
  std::vector<double> w(n_used);
  for (std::size_t i = 0; i < n_used; ++i) {
    double du = 0.0;
    if (i >= 2 && i + 2 < n_used)
      du = (-u[i + 2] + 8 * u[i + 1] - 8 * u[i - 1] + u[i - 2]) / (12 * h_);
    else if (i >= 1 && i + 1 < n_used)
      du = (u[i + 1] - u[i - 1]) / (2 * h_);
    else if (i == 0)
      du = (-3 * u[0] + 4 * u[1] - u[2]) / (2 * h_);
    else
      du = (3 * u[i] - 4 * u[i - 1] + u[i - 2]) / (2 * h_);
    w[i] = h_ * du * ((i == 0 || i + 1 == n_used) ? 0.5 : 1.0);
  }

  // ∫_0^∞ T_j du ≈ Σ_i w_i T_j(κ_i) + T_j(κ_min) u_min + λ_j/u_max.
  Eigen::ArrayXd integral = lambda_ / u[n_used - 1];
  Eigen::ArrayXd v_low(d);
  for (std::size_t i = 0; i < n_used; ++i) {
    const Scalars& x = ts[i];
    const double a = c_ * x[0] + x[2], cc = c_ * x[1] + x[3], kappa = kap[i];
    const double weight = w[i] + (i == 0 ? u[0] : 0.0);
    add_t(lambda_.data(), ell_.data(), d, kappa, a, x[1], cc * x[0], weight * x[0],
          integral.data());
    if (i == 0)
      for (Eigen::Index j = 0; j < d; ++j) {
        const double p = kappa - lambda_(j) * a, e = -1.0 - ell_(j) * x[1];
        v_low(j) = 1.0 - kappa * e / (p * e - cc * x[0] * lambda_(j) * ell_(j));
      }
  }
  drift = rho * (2.0 / std::numbers::pi) * integral / std::sqrt(m_);
  noise = (rank_limited_by_m_ ? v_low : leverage_) / m_;
}

}  // namespace signdyn::detail
