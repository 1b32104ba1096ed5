// Deterministic equivalent of the Muon drift and second moment by Stieltjes inversion of the
// SignSVD fixed point at complex κ (docs/theory/signsvd.md §5).
#include "muon_de.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

#include "signdyn/error.hpp"
#include "signsvd_coefficients.hpp"
#include "signsvd_de_map.hpp"

namespace signdyn::detail {
namespace {

double max_abs(const std::array<std::complex<double>, 5>& a) {
  double m = 0.0;
  for (const auto& x : a) m = std::max(m, std::abs(x));
  return m;
}

struct Outlier {
  bool found = false;
  std::size_t i_gap = 0;  // lowest node of the outlier component
  double mean_x = 0.0;    // its mean location
};

// The top component of the spectrum if it is an outlier: scanning down from the top, the density
// (per unit ln x) rises to a peak, then falls to a minimum below 1e-2 of that peak with at least
// half an eigenvalue's mass left below; the component must hold less than half the rank.
Outlier find_outlier(const std::vector<double>& dens, std::size_t i_low, long k_lo, double h,
                     double rank) {
  Outlier out;
  const std::size_t n = dens.size();
  if (n < 3 || i_low + 2 >= n) return out;
  double total = 0.0;
  for (std::size_t i = i_low; i < n; ++i) total += dens[i] * h;
  std::size_t i = n - 1;
  while (i > i_low && dens[i - 1] >= dens[i]) --i;  // up to the top component's peak
  const double peak = dens[i];
  if (!(peak > 0.0)) return out;
  while (i > i_low && dens[i - 1] <= dens[i]) --i;  // down to the following minimum
  if (i == i_low || !(dens[i] < 1e-2 * peak)) return out;
  double mass = 0.0, first = 0.0;
  for (std::size_t q = i; q < n; ++q) {
    const double x = std::exp(static_cast<double>(k_lo + static_cast<long>(q)) * h);
    mass += dens[q] * h;
    first += x * dens[q] * h;
  }
  if (!(mass < 0.5 * rank) || !(total - mass > 0.5)) return out;
  out.found = true;
  out.i_gap = i;
  out.mean_x = first / mass;
  return out;
}

// Nodes and weights (normalised) for Gamma(k, 1/k): `count` equally spaced points in u = ln χ
// over ±8 standard deviations, weights ∝ exp(k (u − e^u)).
std::vector<std::pair<double, double>> gamma_nodes(double k, int count) {
  std::vector<std::pair<double, double>> nodes;
  const double half = 8.0 / std::sqrt(k);
  double total = 0.0;
  for (int i = 0; i < count; ++i) {
    const double u = -half + 2.0 * half * i / (count - 1);
    nodes.emplace_back(std::exp(u), std::exp(k * (u - std::exp(u) + 1.0)));
    total += nodes.back().second;
  }
  for (auto& node : nodes) node.second /= total;
  return nodes;
}

}  // namespace

double MuonPolynomial::operator()(double s) const {
  if (steps == 0) return s > 0.0 ? 1.0 : 0.0;
  for (int i = 0; i < steps; ++i) {
    const double s2 = s * s;
    s = s * (a + s2 * (b + c * s2));
  }
  return s;
}

MuonDeSolver::MuonDeSolver(const Eigen::ArrayXd& lambda, double batch, double m, double sigma,
                           MuonPolynomial phi, MuonDeOptions options)
    : lambda_(lambda),
      batch_(batch),
      m_(m),
      c_(sigma * sigma / batch),
      trace_k_(lambda.sum()),
      phi_(phi),
      options_(options) {
  const double d = static_cast<double>(lambda.size());
  if (m >= std::min(batch, d)) {  // E‖msign(G)_j‖² = leverage (B < d) or 1 (theory.md §4)
    const double kappa = solve_kappa(lambda, std::min(batch, d));
    exact_mass_ = kappa > 0.0 ? Eigen::ArrayXd(lambda / (lambda + kappa))
                              : Eigen::ArrayXd::Ones(lambda.size());
  }
  if (!(options.step > 0.0) || !(options.smoothing > 0.0) || !(options.range > 0.0) ||
      options.sub_points < 1)
    throw Error("MuonDeSolver: grid options must be positive");
}

int MuonDeSolver::ladder_levels() const {
  return std::max(
      1, static_cast<int>(std::lround(std::log2(options_.ladder_top / options_.smoothing))));
}

std::array<std::complex<double>, 5> MuonDeSolver::residual(const Unknowns& u, C zeta) const {
  const DeMap<C> map{lambda_, ell_, c_, batch_};
  const std::array<C, 4> t{u[0], u[1], u[2], u[3]};
  const std::array<C, 4> f = map(t, u[4]);
  const C z = u[4] * map.one_minus_tau(t, u[4], m_);
  return {f[0] - t[0], f[1] - t[1], f[2] - t[2], f[3] - t[3], (z - zeta) / std::abs(zeta)};
}

MuonDeSolver::Unknowns MuonDeSolver::solve(C zeta, Unknowns u, Jacobian& J, bool& have_j) const {
  std::array<C, 5> res = residual(u, zeta);
  bool fresh = false;  // J was computed at the current iterate's neighbourhood in this call
  for (int iter = 0; iter < 40; ++iter) {
    if (max_abs(res) <= 1e-10 * (1.0 + max_abs(u))) return u;
    if (!have_j) {
      // The residual is holomorphic in u: a real finite-difference step gives the complex
      // derivative.
      for (std::size_t k = 0; k < 5; ++k) {
        Unknowns up = u;
        const double step = 1e-7 * std::max(1.0, std::abs(u[k]));
        up[k] += step;
        const std::array<C, 5> rp = residual(up, zeta);
        for (std::size_t r = 0; r < 5; ++r) J[r][k] = (rp[r] - res[r]) / step;
      }
      have_j = true;
      fresh = true;
    }
    std::array<C, 5> minus_res{};
    for (std::size_t r = 0; r < 5; ++r) minus_res[r] = -res[r];
    const std::array<C, 5> delta = solve_small<C, 5>(J, minus_res);
    Unknowns next{};
    for (std::size_t k = 0; k < 5; ++k) next[k] = u[k] + delta[k];
    std::array<C, 5> next_res = residual(next, zeta);
    if (max_abs(next_res) < 0.5 * max_abs(res)) {  // a (chord) step that works: keep J
      u = next;
      res = next_res;
      continue;
    }
    if (!fresh) {  // an old Jacobian (from a neighbouring state): refresh it and retry
      have_j = false;
      continue;
    }
    // A fresh Jacobian that does not halve the residual: backtrack along the Newton direction.
    double scale = 0.5;
    bool improved = false;
    for (int bt = 0; bt < 12; ++bt, scale *= 0.5) {
      for (std::size_t k = 0; k < 5; ++k) next[k] = u[k] + scale * delta[k];
      next_res = residual(next, zeta);
      if (max_abs(next_res) < max_abs(res)) {
        improved = true;
        break;
      }
    }
    if (!improved) break;
    u = next;
    res = next_res;
    have_j = false;
    fresh = false;
  }
  // Near the hard edge (κ, ζ → 0 with rank W = m = d) round-off limits the attainable residual
  // to ~1e-5; a relative residual of 1e-4 moves ζ by 1e-4 x, far below the grid step.
  if (!(max_abs(res) <= 1e-4 * (1.0 + max_abs(u))))
    throw NumericalError("Muon deterministic equivalent: no convergence at ζ = " +
                         std::to_string(zeta.real()) + (zeta.imag() < 0 ? " - " : " + ") +
                         std::to_string(std::abs(zeta.imag())) + "i; report this case");
  return u;
}

void MuonDeSolver::evaluate(const Eigen::ArrayXd& rho, Eigen::ArrayXd& drift,
                            Eigen::ArrayXd& noise) {
  Eigen::ArrayXd drift_polar, noise_polar;
  evaluate(rho, drift, noise, drift_polar, noise_polar);
}

void MuonDeSolver::evaluate(const Eigen::ArrayXd& rho, Eigen::ArrayXd& drift, Eigen::ArrayXd& noise,
                            Eigen::ArrayXd& drift_polar, Eigen::ArrayXd& noise_polar) {
  const Eigen::Index d = lambda_.size();
  const double h = options_.step;
  ell_ = lambda_ * rho;
  // tr W = E tr Σ_L = (1 + 1/B) Σ λ²ρ + tr K (Σ λρ + σ²)/B (exact; W = GGᵀ/m, ‖G‖_F² = m tr W).
  const double two_r = ell_.sum() + c_ * batch_;
  const double trace_w = (1.0 + 1.0 / batch_) * (lambda_ * ell_).sum() + trace_k_ * two_r / batch_;

  // Density nodes x_k = e^{k h}, k_lo ≤ k ≤ k_top. No eigenvalue of W exceeds tr W, but the
  // equivalent's spike of a signal-dominated mode can reach a little beyond it: the grid runs to
  // 4 tr W, with φ taken at s = 1 there.
  const long k_top = static_cast<long>(std::ceil(std::log(4.0 * trace_w) / h));
  const long k_lo = static_cast<long>(std::floor(std::log(options_.range * trace_w) / h));
  const std::size_t n = static_cast<std::size_t>(k_top - k_lo + 1);

  // Each node is solved along a ladder ζ = −x(1 + iδ_l), δ_l = δ_0 2^{−l}, l = 0..L: far from the
  // real axis the solution branch is unique and smooth in x (so it is continued from the node
  // above), and halving δ keeps Newton on that branch. The densities at the last two levels are
  // combined by Richardson extrapolation, 2 I(δ_L) − I(2δ_L), removing the O(δ) smoothing error.
  // Later calls (a nearby state) start the last two levels from their cached solutions and
  // Jacobians and fall back to the whole ladder when that fails.
  const int levels = ladder_levels();
  const auto n_levels = static_cast<std::size_t>(levels + 1);
  const long k_far = static_cast<long>(std::ceil(std::log(1e3 * trace_w) / h));
  const bool warm = warm_.count(k_top) > 0 && warm_[k_top].ladder.size() == n_levels;
  // Richardson-combined densities per node (in y = ln x, times π): Im T_j and Im V_j.
  std::vector<Eigen::ArrayXd> dens_a(n), dens_n(n);
  std::vector<double> dens_total(n, 0.0);  // Σ_j μ_j per unit y
  std::size_t i_low = n;                   // lowest node with densities
  const DeMap<C> map{lambda_, ell_, c_, batch_};
  const double rank = std::min({batch_, m_, static_cast<double>(d)});
  double mass = 0.0;  // Σ_j μ_j above the current node (total: rank W = Σ_j n_j)
  Eigen::ArrayXd mass_j = Eigen::ArrayXd::Zero(d);  // μ_j above the current node
  double x_stop = 0.0;
  Unknowns top{};  // level-0 solution at the node above
  bool have_top = false;
  auto branch_ok = [](const Unknowns& u) { return u[4].imag() <= 0.0; };
  for (long k = warm ? k_top : k_far; k >= k_lo; --k) {
    const double x = std::exp(k * h);
    auto zeta_at = [&](int l) {
      return -x * C(1.0, options_.smoothing * std::ldexp(1.0, levels - l));
    };
    NodeCache& node = warm_[k];
    node.jacobian.resize(n_levels);
    node.has_jacobian.resize(n_levels, 0);
    bool done = false;
    if (k <= k_top && node.ladder.size() == n_levels) {
      done = true;
      for (int l = levels - 1; l <= levels && done; ++l) {
        const auto level = static_cast<std::size_t>(l);
        bool have_j = node.has_jacobian[level] != 0;
        try {
          const Unknowns u = solve(zeta_at(l), node.ladder[level], node.jacobian[level], have_j);
          node.has_jacobian[level] = have_j;
          done = branch_ok(u);
          if (done) node.ladder[level] = u;
        } catch (const Error&) {
          done = false;
        }
      }
    }
    if (!done) {
      std::vector<Unknowns> ladder;
      try {
        for (int l = 0; l <= levels; ++l) {
          if (k > k_top && l > 0) break;  // above the spectrum only level 0 is needed
          const auto level = static_cast<std::size_t>(l);
          Unknowns start{};
          if (l > 0)
            start = ladder[level - 1];
          else if (have_top)
            start = top;
          else if (!node.ladder.empty())
            start = node.ladder[0];
          else
            start = {C(-1.0), C(0.0), C(-ell_.sum() / batch_), C(-1.0), zeta_at(0)};
          bool have_j = false;
          const Unknowns u = solve(zeta_at(l), start, node.jacobian[level], have_j);
          if (!branch_ok(u))
            throw NumericalError(
                "Muon deterministic equivalent: continuation left the physical branch");
          node.has_jacobian[level] = have_j;
          ladder.push_back(u);
        }
      } catch (const Error&) {
        // Below the spectrum's lower edge the continuation can meet the poles of the finite-d
        // equivalent; nothing is lost by stopping there once the spectral mass is complete.
        // Near the hard edge (rank W = m = d, x → 0) round-off stops the continuation far
        // below the bulk; the mass left there is added below at φ's small-s average.
        // With the exact total mass known (m ≥ min(B, d)), whatever is left below x is added
        // after the loop, so the hard edge may stop the continuation anywhere below 1e-2 tr W
        // (measured: at B = d = m = 256 the continuation stops near x = 8e-6; a 1e-3 tr W
        // threshold still failed that run, 1e-2 tr W lets it complete).
        const bool rest_known = exact_mass_.size() == d && x <= 1e-2 * trace_w;
        if (k <= k_top && (mass >= 0.99 * rank || x <= 1e-6 * trace_w || rest_known)) {
          warm_.erase(k);
          x_stop = x;
          break;
        }
        throw;
      }
      node.ladder = std::move(ladder);
    }
    if (!node.ladder.empty()) {
      top = node.ladder[0];
      have_top = true;
    }
    if (k > k_top) continue;
    const std::size_t i = static_cast<std::size_t>(k - k_lo);
    double node_mass = 0.0;
    dens_a[i] = Eigen::ArrayXd::Zero(d);
    dens_n[i] = Eigen::ArrayXd::Zero(d);
    i_low = i;
    for (int l = levels - 1; l <= levels; ++l) {
      const double weight = l == levels ? 2.0 : -1.0;  // Richardson: 2 I(δ) − I(2δ)
      const Unknowns& u = node.ladder[static_cast<std::size_t>(l)];
      const std::array<C, 4> t{u[0], u[1], u[2], u[3]};
      for (Eigen::Index j = 0; j < d; ++j) {
        const auto g = map.mode(j, t, u[4]);
        // Densities in y = ln x: Im T_j/π and Im V_j/π, V_j = 1 − κ G11.
        dens_a[i](j) += weight * g.g31.imag();
        dens_n[i](j) -= weight * (u[4] * g.g11).imag();
        const double density = -weight * h * (u[4] * g.g11).imag() / std::numbers::pi;
        node_mass += density;
        mass_j(j) += density;
      }
    }
    mass += node_mass;
    dens_total[i] = node_mass / h;
    // Below the spectrum (all of its mass collected, none at this node) there is nothing left.
    if (mass >= (1.0 - 1e-9) * rank && node_mass <= 1e-12 * rank) break;
  }
  // The top outlier (docs/theory/signsvd.md §5.5): a component of the spectrum above a deep gap,
  // the spike of the signal-dominated mode c. The equivalent gives its mass per mode and its mean
  // location x̄, but not the law of its fluctuation (its bump has about half the variance), and
  // it normalises by a fixed tr W while ‖G‖_F² moves with the spike. The outlier is therefore
  // integrated over its own law: with χ = ‖x_c‖²/(Bλ_c) ~ Gamma(B/2, 2/B) (the batch norm of
  // column c) and ψ ~ Gamma(m/2, 2/m) (the m columns' sampling of the spike direction),
  //   x = x̄ + ℓ(χ) ψ − E ℓ,  ℓ(χ) = λ_c²ρ_c χ² + λ_c χ (ρ_c (tr K − λ_c) + 2R − λ_cρ_c)/B,
  //   ‖G‖_F²/m = tr W + (x − x̄) + ξ,  ξ ~ N(0, v),
  // ℓ(χ) being E[‖g_c‖²/m | χ] plus the other rows' share along the spike direction, and v the
  // variance of the other rows' norms. Below the gap, s = √(x/tr W) as before.
  const Outlier out = find_outlier(dens_total, i_low, k_lo, h, rank);
  outlier_ = MuonOutlier{};
  outlier_.trace_w = trace_w;
  Eigen::ArrayXd a_int = Eigen::ArrayXd::Zero(d), n_int = Eigen::ArrayXd::Zero(d);
  Eigen::ArrayXd a_int1 = Eigen::ArrayXd::Zero(d), n_int1 = Eigen::ArrayXd::Zero(d);
  const int sub = options_.sub_points;
  // Integrate the piecewise-linear (in y) densities against √x φ and φ² (and against √x and 1
  // for the polar factor), on `sub_points` points per interval: φ oscillates on fine scales.
  // On the outlier's nodes only the polar integrals are taken here (root_out = ∫_out √x ν_j,
  // mu_out = ∫_out μ_j, the equivalent's own); Muon's follow from the outlier's law.
  Eigen::ArrayXd root_out = Eigen::ArrayXd::Zero(d), mu_out = Eigen::ArrayXd::Zero(d);
  for (std::size_t i = i_low; i < n; ++i) {
    const bool outlier = out.found && i >= out.i_gap;
    double wa = 0.0, wn = 0.0, wa1 = 0.0, wn1 = 0.0;  // weights of node i
    const double y_i = static_cast<double>(k_lo + static_cast<long>(i)) * h;
    for (int side = -1; side <= 1; side += 2) {  // the intervals below and above node i
      if (side > 0 && i + 1 == n) continue;
      for (int q = 0; q < sub; ++q) {
        const double theta = (q + 0.5) / sub;  // distance from node i, in units of h
        const double x = std::exp(y_i + side * theta * h);
        const double f = phi_(std::sqrt(std::min(1.0, x / trace_w)));
        const double hat = (1.0 - theta) * (h / sub);
        wa += std::sqrt(x) * f * hat;
        wn += f * f * hat;
        wa1 += std::sqrt(x) * hat;
        wn1 += hat;
      }
    }
    if (outlier) {
      root_out += wa1 * dens_a[i];
      mu_out += wn1 * dens_n[i];
    } else {
      a_int += wa * dens_a[i];
      n_int += wn * dens_n[i];
    }
    a_int1 += wa1 * dens_a[i];
    n_int1 += wn1 * dens_n[i];
  }
  if (out.found) {
    Eigen::Index c = 0;
    mu_out.maxCoeff(&c);
    // v = Σ_{j ≠ c} [(2/B)(2λ_j²ρ_j + λ_j 2R/B)² + (2/m) row_j²], row_j = E‖g_j‖²/m: the batch
    // norm χ_j of column j (Var χ_j = 2/B) and the m columns' sampling of row j.
    const Eigen::ArrayXd slope = 2.0 * lambda_ * ell_ + lambda_ * two_r / batch_;
    const Eigen::ArrayXd row = (1.0 + 1.0 / batch_) * lambda_ * ell_ + lambda_ * two_r / batch_;
    const double v_rest =
        std::max(0.0, (2.0 / batch_) * (slope.square().sum() - slope(c) * slope(c)) +
                          (2.0 / m_) * (row.square().sum() - row(c) * row(c)));
    const double lc = lambda_(c), rc = rho(c);
    const double quad = lc * lc * rc, lin = lc * (rc * (trace_k_ - lc) + two_r - lc * rc) / batch_;
    const double mean_ell = quad * (1.0 + 2.0 / batch_) + lin;
    const std::vector<std::pair<double, double>> chi = gamma_nodes(0.5 * batch_, 48);
    const std::vector<std::pair<double, double>> psi = gamma_nodes(0.5 * m_, 25);
    constexpr int n_xi = 25;  // ξ: trapezoid on ±6 standard deviations (φ is smooth in s)
    std::array<double, n_xi> xi{}, xi_w{};
    double xi_total = 0.0;
    for (int q = 0; q < n_xi; ++q) {
      const double z = -6.0 + 12.0 * q / (n_xi - 1);
      xi[q] = z * std::sqrt(v_rest);
      xi_w[q] = std::exp(-0.5 * z * z);
      xi_total += xi_w[q];
    }
    double e_a = 0.0, e_n = 0.0, e_a1 = 0.0, total = 0.0;  // E √x φ, E φ², E √x; Σ weights
    double e_x = 0.0, e_x2 = 0.0, e_s = 0.0, e_s2 = 0.0;
    for (const auto& [chi_v, chi_w] : chi)
      for (const auto& [psi_v, psi_w] : psi) {
        const double x = out.mean_x + (quad * chi_v * chi_v + lin * chi_v) * psi_v - mean_ell;
        const double w = chi_w * psi_w;
        total += w;
        e_x += w * x;
        e_x2 += w * x * x;
        if (!(x > 0.0)) continue;
        e_a1 += w * std::sqrt(x);
        for (int q = 0; q < n_xi; ++q) {
          const double f2 = std::max(trace_w + (x - out.mean_x) + xi[q], x);
          const double sv = std::sqrt(x / f2), f = phi_(sv);
          e_s += w * xi_w[q] / xi_total * sv;
          e_s2 += w * xi_w[q] / xi_total * sv * sv;
          e_a += w * xi_w[q] / xi_total * std::sqrt(x) * f;
          e_n += w * xi_w[q] / xi_total * f * f;
        }
      }
    // Var(ℓψ) = E ℓ² E ψ² − (E ℓ)², with E χ^n of Gamma(B/2, 2/B) and E ψ² = 1 + 2/m.
    const double b2 = 2.0 / batch_;
    const double m2 = 1.0 + b2, m3 = m2 * (1.0 + 2.0 * b2), m4 = m3 * (1.0 + 3.0 * b2);
    const double e_ell2 = quad * quad * m4 + 2.0 * quad * lin * m3 + lin * lin * m2;
    outlier_ = MuonOutlier{true,        c,
                           out.mean_x,  e_x2 / total - (e_x / total) * (e_x / total),
                           e_s / total, e_s2 / total - (e_s / total) * (e_s / total),
                           trace_w,     v_rest,
                           mean_ell,    e_ell2 * (1.0 + 2.0 / m_) - mean_ell * mean_ell};
    // E[√x φ]/E[√x] rescales the equivalent's own ∫_out √x ν_j, so that φ ≡ 1 gives back the
    // polar factor's value exactly.
    a_int += root_out * (e_a / e_a1);
    n_int += mu_out * (e_n / total);
  }
  drift = rho * a_int / (std::numbers::pi * std::sqrt(m_));
  noise = n_int / (std::numbers::pi * m_);
  drift_polar = rho * a_int1 / (std::numbers::pi * std::sqrt(m_));
  noise_polar = n_int1 / (std::numbers::pi * m_);
  if (x_stop > 0.0 && exact_mass_.size() == d) {
    // μ_j(0, x_stop): the exact total μ_j(R₊) = n_j is known when m ≥ min(B, d); spread the
    // rest over s ≤ s_stop with φ² averaged uniformly in s (the hard edge's density ∝ x^{−1/2}
    // is uniform in s = √(x/tr W)). Its drift share is O(√x_stop) and dropped.
    const double s_stop = std::sqrt(x_stop / trace_w);
    double phi2 = 0.0;
    const int n_avg = 400;
    for (int q = 0; q < n_avg; ++q) {
      const double f = phi_(s_stop * (q + 0.5) / n_avg);
      phi2 += f * f / n_avg;
    }
    noise += (exact_mass_ - mass_j).max(0.0) * phi2 / m_;
    noise_polar += (exact_mass_ - mass_j).max(0.0) / m_;
  }
}

}  // namespace signdyn::detail
