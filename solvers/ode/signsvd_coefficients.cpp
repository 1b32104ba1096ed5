// Spectral coefficients of the SignSVD dynamics: κ roots and the s_i quadrature
// (docs/theory/signsvd.md §2).
#include "signsvd_coefficients.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "signdyn/error.hpp"

namespace signdyn::detail {
namespace {

constexpr Eigen::Index kBlock = 4096;  // modes per cache block in the O(d · nodes) passes

void check_spectrum(const Eigen::ArrayXd& lambda) {
  if (lambda.size() == 0 || !(lambda.minCoeff() > 0.0) || !lambda.allFinite())
    throw Error("SignSVD theory: the spectrum must be finite and strictly positive (got min λ = " +
                (lambda.size() ? std::to_string(lambda.minCoeff()) : std::string("<empty>")) +
                "); drop zero eigenvalues from the covariance file");
}

void check_sizes(double batch, double m) {
  if (!(batch >= 1.0) || !(m >= 1.0))
    throw Error("SignSVD theory: batch and m must be >= 1 (got B = " + std::to_string(batch) +
                ", m = " + std::to_string(m) + ")");
}

// df(κ) and −df'(κ) = Σ λ_j/(λ_j + κ)² in one pass.
void df_and_slope(const Eigen::ArrayXd& lambda, double kappa, double& df, double& slope) {
  df = 0.0;
  slope = 0.0;
  for (Eigen::Index b = 0; b < lambda.size(); b += kBlock) {
    const Eigen::Index n = std::min(kBlock, lambda.size() - b);
    const auto lam = lambda.segment(b, n);
    const Eigen::ArrayXd t = (lam + kappa).inverse();
    df += (lam * t).sum();
    slope += (lam * t.square()).sum();
  }
}

// The map z(κ) = κ F_B(κ) F_m(κ), F_q = 1 − df/q, written without cancellation near κ_r:
// F_q = (q − r̄)/q + (κ − κ_r) S1(κ)/q with r̄ = df(κ_r) and S1 = Σ λ/((λ + κ_r)(λ + κ)).
class ScaleMap {
 public:
  ScaleMap(const Eigen::ArrayXd& lambda, double batch, double m) : lambda_(lambda) {
    check_spectrum(lambda);
    check_sizes(batch, m);
    const double d = static_cast<double>(lambda.size());
    const double r = std::min(batch, m);
    inv_b_ = std::isinf(batch) ? 0.0 : 1.0 / batch;
    inv_m_ = std::isinf(m) ? 0.0 : 1.0 / m;
    rbar_ = std::min(r, d);
    kappa_r_ = solve_kappa(lambda, r);
    leverage_r_ = lambda / (lambda + kappa_r_);  // = 1 when κ_r = 0
  }

  double kappa_r() const { return kappa_r_; }
  double rbar() const { return rbar_; }

  // z and dz/dκ at κ = κ_r + e, e > 0.
  void evaluate(double e, double& z, double& dz) const {
    const double kappa = kappa_r_ + e;
    double s1 = 0.0, d2 = 0.0;
    for (Eigen::Index b = 0; b < lambda_.size(); b += kBlock) {
      const Eigen::Index n = std::min(kBlock, lambda_.size() - b);
      const auto lam = lambda_.segment(b, n);
      const Eigen::ArrayXd t = (lam + kappa).inverse();
      s1 += (leverage_r_.segment(b, n) * t).sum();
      d2 += (lam * t.square()).sum();
    }
    evaluate_from_sums(e, s1, d2, z, dz);
  }

  // The same from the sums S1(κ) and D2(κ) = Σ λ/(λ + κ)².
  void evaluate_from_sums(double e, double s1, double d2, double& z, double& dz) const {
    const double kappa = kappa_r_ + e;
    const double fb = factor(inv_b_, e, s1);
    const double fm = factor(inv_m_, e, s1);
    z = kappa * fb * fm;
    dz = fb * fm + kappa * (d2 * inv_b_) * fm + kappa * fb * (d2 * inv_m_);
  }

  const Eigen::ArrayXd& leverage_r() const { return leverage_r_; }

 private:
  // F_q = (q − r̄)/q + e·S1/q = 1 − r̄/q + e·S1/q (q = ∞: 1).
  double factor(double inv_q, double e, double s1) const {
    if (inv_q == 0.0) return 1.0;
    return (1.0 - rbar_ * inv_q) + e * s1 * inv_q;
  }

  const Eigen::ArrayXd& lambda_;
  double inv_b_ = 0.0, inv_m_ = 0.0, rbar_ = 0.0, kappa_r_ = 0.0;
  Eigen::ArrayXd leverage_r_;
};

}  // namespace

double degrees_of_freedom(const Eigen::ArrayXd& lambda, double kappa) {
  double df = 0.0, slope = 0.0;
  df_and_slope(lambda, kappa, df, slope);
  return df;
}

double solve_kappa(const Eigen::ArrayXd& lambda, double q) {
  check_spectrum(lambda);
  if (!(q > 0.0)) throw Error("solve_kappa: the degrees of freedom q must be > 0");
  if (q >= static_cast<double>(lambda.size())) return 0.0;
  // g(x) = df(e^x) − q decreases from d − q > 0 (x → −∞) to −q (x → ∞).
  const double trace = lambda.sum();
  double hi = std::log(trace / q);  // df(κ) < tr K / κ, so g(hi) < 0
  double lo = hi;
  for (int i = 0; i < 400 && degrees_of_freedom(lambda, std::exp(lo)) <= q; ++i) lo -= 5.0;
  double x = 0.5 * (lo + hi);
  for (int iter = 0; iter < 200; ++iter) {
    const double kappa = std::exp(x);
    double df = 0.0, slope = 0.0;
    df_and_slope(lambda, kappa, df, slope);
    const double g = df - q;
    if (g > 0.0)
      lo = x;
    else
      hi = x;
    const double dg = -kappa * slope;  // dg/dx < 0
    double next = x - g / dg;
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    const double step = std::abs(next - x);
    x = next;
    if (step < 1e-15 * std::max(1.0, std::abs(x)) || hi - lo < 1e-15) break;
  }
  return std::exp(x);
}

double scale_of_kappa(const Eigen::ArrayXd& lambda, double batch, double m, double kappa) {
  const ScaleMap map(lambda, batch, m);
  if (kappa < map.kappa_r())
    throw Error("scale_of_kappa: κ must be >= κ_r = " + std::to_string(map.kappa_r()));
  if (kappa == map.kappa_r()) return 0.0;
  double z = 0.0, dz = 0.0;
  map.evaluate(kappa - map.kappa_r(), z, dz);
  return z;
}

double kappa_of_scale(const Eigen::ArrayXd& lambda, double batch, double m, double z) {
  const ScaleMap map(lambda, batch, m);
  if (!(z >= 0.0)) throw Error("kappa_of_scale: z must be >= 0");
  if (z == 0.0) return map.kappa_r();
  // g(x) = ln z(κ_r + e^x) − ln z increases in x; bracket, then safeguarded Newton.
  auto g_and_slope = [&](double x, double& g, double& dg) {
    const double e = std::exp(x);
    double zz = 0.0, dz = 0.0;
    map.evaluate(e, zz, dz);
    g = std::log(zz) - std::log(z);
    dg = dz * e / zz;
  };
  double g = 0.0, dg = 0.0;
  double lo = std::log(z), hi = lo;  // z(κ) ≤ κ, so e = z can be low or high: expand both ways
  for (int i = 0; i < 400; ++i, hi += 2.0) {
    g_and_slope(hi, g, dg);
    if (g >= 0.0) break;
  }
  for (int i = 0; i < 400; ++i, lo -= 2.0) {
    g_and_slope(lo, g, dg);
    if (g <= 0.0) break;
  }
  double x = 0.5 * (lo + hi);
  for (int iter = 0; iter < 200; ++iter) {
    g_and_slope(x, g, dg);
    if (g < 0.0)
      lo = x;
    else
      hi = x;
    double next = x - g / dg;
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    const double step = std::abs(next - x);
    x = next;
    if (step < 1e-15 * std::max(1.0, std::abs(x)) || hi - lo < 1e-15) break;
  }
  return map.kappa_r() + std::exp(x);
}

SignsvdCoefficients signsvd_coefficients(const Eigen::ArrayXd& lambda, double batch, double m,
                                         const SignsvdQuadrature& quadrature) {
  if (!(quadrature.step > 0.0) || !(quadrature.margin > 0.0))
    throw Error("signsvd_coefficients: quadrature step and margin must be > 0");
  const ScaleMap map(lambda, batch, m);
  const Eigen::Index d = lambda.size();
  const double kappa_r = map.kappa_r();
  const double lambda_min = lambda.minCoeff(), lambda_max = lambda.maxCoeff();

  // Nodes κ_k = κ_r + e^{y_k}; the integrand in y lives between the scales κ_r (or λ_min when
  // κ_r = 0) and λ_max + κ_r, and decays like e^{−|y|/2} outside.
  const double y_lo = std::log(kappa_r > 0.0 ? kappa_r : lambda_min) - quadrature.margin;
  const double y_hi = std::log(lambda_max + kappa_r) + quadrature.margin;
  const int nodes = static_cast<int>(std::ceil((y_hi - y_lo) / quadrature.step)) + 1;
  const double h = (y_hi - y_lo) / (nodes - 1);
  std::vector<double> e(static_cast<std::size_t>(nodes)), kappa(e.size());
  for (int k = 0; k < nodes; ++k) {
    e[static_cast<std::size_t>(k)] = std::exp(y_lo + h * k);
    kappa[static_cast<std::size_t>(k)] = kappa_r + e[static_cast<std::size_t>(k)];
  }

  // Pass 1: S1(κ_k) and D2(κ_k) for every node, blocked over modes.
  const std::size_t nk = e.size();
  std::vector<double> s1(nk, 0.0), d2(nk, 0.0);
  const Eigen::ArrayXd& lev = map.leverage_r();
  const Eigen::Index n_blocks = (d + kBlock - 1) / kBlock;
#pragma omp parallel
  {
    std::vector<double> s1_local(nk, 0.0), d2_local(nk, 0.0);
    Eigen::ArrayXd t(kBlock);
#pragma omp for schedule(static)
    for (Eigen::Index blk = 0; blk < n_blocks; ++blk) {
      const Eigen::Index b = blk * kBlock, n = std::min(kBlock, d - b);
      const auto lam = lambda.segment(b, n);
      const auto lv = lev.segment(b, n);
      for (std::size_t k = 0; k < nk; ++k) {
        t.head(n) = (lam + kappa[k]).inverse();
        s1_local[k] += (lv * t.head(n)).sum();
        d2_local[k] += (lam * t.head(n).square()).sum();
      }
    }
#pragma omp critical
    for (std::size_t k = 0; k < nk; ++k) {
      s1[k] += s1_local[k];
      d2[k] += d2_local[k];
    }
  }

  // Weights in u = √z: w_k = h · du/dy = h · z'(κ) e^y / (2√z), half at the ends.
  std::vector<double> w(nk);
  double u_first = 0.0, u_last = 0.0;
  for (std::size_t k = 0; k < nk; ++k) {
    double z = 0.0, dz = 0.0;
    map.evaluate_from_sums(e[k], s1[k], d2[k], z, dz);
    const double u = std::sqrt(z);
    w[k] = h * dz * e[k] / (2.0 * u);
    if (k == 0 || k + 1 == nk) w[k] *= 0.5;
    if (k == 0) u_first = u;
    if (k + 1 == nk) u_last = u;
  }

  // Pass 2: s_i = (2/π) [Σ_k w_k λ_i/(λ_i + κ_k) + u_0 λ_i/(λ_i + κ_r) + λ_i/u_N]; the last two
  // are the pieces u < u_0 (κ ≈ κ_r) and u > u_N (κ ≈ u²).
  SignsvdCoefficients out;
  out.s.resize(d);
#pragma omp parallel
  {
    Eigen::ArrayXd acc(kBlock);
#pragma omp for schedule(static)
    for (Eigen::Index blk = 0; blk < n_blocks; ++blk) {
      const Eigen::Index b = blk * kBlock, n = std::min(kBlock, d - b);
      const auto lam = lambda.segment(b, n);
      acc.head(n) = u_first * lev.segment(b, n) + lam / u_last;
      for (std::size_t k = 0; k < nk; ++k) acc.head(n) += w[k] * lam / (lam + kappa[k]);
      out.s.segment(b, n) = (2.0 / std::numbers::pi) * acc.head(n);
    }
  }
  out.n = map.rbar() < static_cast<double>(d) ? lev : Eigen::ArrayXd::Ones(d);
  out.kappa_r = kappa_r;
  out.rank = map.rbar();
  out.nodes = nodes;
  return out;
}

}  // namespace signdyn::detail
