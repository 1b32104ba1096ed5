// SignSGD dynamics of the bilinear problem (docs/theory/bilinear.md, "SignSGD"): per entry, the
// exact second-moment identity E Δ'² = E Δ² − 2η E[Δ sign G] + η², closed with the conditionally
// Gaussian mean sign of BilinearSignTable; Gaussian law of Δ_kl for most entries, a Gaussian
// mixture (transport) for the entries of largest initial share.
#include "bilinear_signsgd.hpp"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <boost/math/special_functions/gamma.hpp>
#include <cmath>
#include <numeric>
#include <sstream>
#include <string>

#include "quadrature.hpp"
#include "signdyn/error.hpp"
#include "signdyn/rng.hpp"

namespace signdyn::detail {
namespace {

// Grid of κ, the relative variance of the scale of the residual's rest (see the header).
constexpr double kKappa[] = {0.0, 0.125, 0.25, 0.5, 1.0};
constexpr int kNK = 5;

// Scale τ ~ Gamma(1/κ, κ) (mean 1, variance κ) at the quantile u; τ = 1 for κ = 0.
double gamma_scale(double kappa, double u) {
  if (kappa <= 0.0) return 1.0;
  return kappa * boost::math::gamma_p_inv(1.0 / kappa, u);
}

struct Draws {
  std::vector<double> p, x, y, w;  // P = Σ x²y², Σ x⁴y², Σ x²y⁴, weight (Σ w = 1)
  std::vector<double> tau[kNK];    // Σ x²y² τ for each κ of the grid
};

// Gauss–Legendre rule on [0, 1] by Golub–Welsch: nodes (weights = false) or weights.
Eigen::VectorXd legendre_nodes(int n, bool weights) {
  Eigen::MatrixXd J = Eigen::MatrixXd::Zero(n, n);
  for (int k = 1; k < n; ++k) J(k, k - 1) = J(k - 1, k) = k / std::sqrt(4.0 * k * k - 1.0);
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(J);
  Eigen::VectorXd out(n);
  for (int i = 0; i < n; ++i) {
    const double v = es.eigenvectors()(0, i);
    out(i) = weights ? v * v : 0.5 * (es.eigenvalues()(i) + 1.0);
  }
  return out;
}

Draws draw_pq(Eigen::Index batch, int samples, std::uint64_t seed) {
  Draws d;
  if (batch == 1) {
    // Composite Gauss–Legendre in |x| and |y| on [0, 1] ∪ [1, 3] ∪ [3, 9] (8 nodes each),
    // weighted by the half-normal density (the integrands are smooth in |x| for x > 0), and 8
    // Gauss–Legendre nodes in the quantile u of the scale τ.
    std::vector<double> q, qw;
    const Eigen::VectorXd gl_x = legendre_nodes(8, false), gl_w = legendre_nodes(8, true);
    const Eigen::VectorXd gu_x = legendre_nodes(8, false), gu_w = legendre_nodes(8, true);
    const double edges[4] = {0.0, 1.0, 3.0, 9.0};
    for (int s = 0; s < 3; ++s) {
      const double lo = edges[s], hi = edges[s + 1];
      for (int i = 0; i < 8; ++i) {
        const double x = lo + (hi - lo) * gl_x(i);
        q.push_back(x);
        qw.push_back((hi - lo) * gl_w(i) * std::sqrt(2.0 / M_PI) * std::exp(-0.5 * x * x));
      }
    }
    for (std::size_t i = 0; i < q.size(); ++i)
      for (std::size_t j = 0; j < q.size(); ++j)
        for (int u = 0; u < 8; ++u) {
          const double x2 = q[i] * q[i], y2 = q[j] * q[j], pp = x2 * y2;
          d.p.push_back(pp);
          d.x.push_back(pp * x2);
          d.y.push_back(pp * y2);
          d.w.push_back(qw[i] * qw[j] * gu_w(u));
          for (int c = 0; c < kNK; ++c) d.tau[c].push_back(pp * gamma_scale(kKappa[c], gu_x(u)));
        }
    return d;
  }
  // τ by its quantile function on 2048 equal-probability cells (midpoints): stratified draws.
  constexpr int kCells = 2048;
  std::vector<double> quantile(static_cast<std::size_t>(kNK) * kCells);
  for (int c = 0; c < kNK; ++c)
    for (int i = 0; i < kCells; ++i)
      quantile[c * kCells + i] = gamma_scale(kKappa[c], (i + 0.5) / kCells);
  Rng rng(seed, 0x2'0000'0001ULL);
  Eigen::MatrixXd z(batch, 2);
  std::vector<int> u(batch);
  for (int s = 0; s < samples; ++s) {
    rng.fill_normal(z);
    for (Eigen::Index b = 0; b < batch; ++b)
      u[b] = std::min(static_cast<int>(rng.uniform() * kCells), kCells - 1);
    double pp = 0.0, xx = 0.0, yy = 0.0, tt[kNK] = {};
    for (Eigen::Index b = 0; b < batch; ++b) {
      const double x2 = z(b, 0) * z(b, 0), y2 = z(b, 1) * z(b, 1), q = x2 * y2;
      pp += q;
      xx += q * x2;
      yy += q * y2;
      for (int c = 0; c < kNK; ++c) tt[c] += q * quantile[c * kCells + u[b]];
    }
    d.p.push_back(pp);
    d.x.push_back(xx);
    d.y.push_back(yy);
    d.w.push_back(1.0 / samples);
    for (int c = 0; c < kNK; ++c) d.tau[c].push_back(tt[c]);
  }
  return d;
}

}  // namespace

BilinearSignTable::BilinearSignTable(Eigen::Index batch, int samples, std::uint64_t seed)
    : batch_(batch), sqrt_b_(std::sqrt(static_cast<double>(batch))) {
  if (batch < 1)
    throw ConfigError("optimizer.batch", "optimizer.batch = " + std::to_string(batch) +
                                             ": the batch size must be an integer >= 1");
  if (samples < 16) throw Error("BilinearSignTable: samples must be >= 16");
  const Draws d = draw_pq(batch, samples, seed);
  const std::size_t n = d.p.size();
  h_.assign(static_cast<std::size_t>(kNK) * kA * kA * kW, 0.0);
  f_.assign(h_.size(), 0.0);
  const double root_2_pi = std::sqrt(2.0 / M_PI), b = static_cast<double>(batch);
#pragma omp parallel for schedule(dynamic)
  for (int ia = 0; ia < kNK * kA * kA; ++ia) {
    const int c = ia / (kA * kA), i1 = (ia / kA) % kA, i2 = ia % kA;
    std::vector<double> t_of(n);
    const double a1 = static_cast<double>(i1) / (kA - 1);
    const double a2 = static_cast<double>(i2) / (kA - 1) * (1.0 - a1);
    const double a0 = std::max(1.0 - a1 - a2, 0.0);
    double wpos = 0.0;
    for (std::size_t s = 0; s < n; ++s) {
      const double q = a0 * d.tau[c][s] + a1 * d.x[s] + a2 * d.y[s];
      t_of[s] = q > 0.0 ? d.p[s] / std::sqrt(q) : 0.0;  // T = P/√Q̃
      if (t_of[s] > 0.0) wpos += d.w[s];
    }
    double* hrow = &h_[static_cast<std::size_t>(ia) * kW];
    double* frow = &f_[static_cast<std::size_t>(ia) * kW];
    for (int j = 0; j < kW; ++j) {
      const double w = static_cast<double>(j) / (kW - 1);
      if (j == kW - 1) {
        hrow[j] = wpos;
        frow[j] = root_2_pi * wpos;
        continue;
      }
      const double t = w / (1.0 - w);
      const double z = t / sqrt_b_, r = t / b;
      double hs = 0.0, fs = 0.0;
      for (std::size_t s = 0; s < n; ++s) {
        hs += d.w[s] * std::erf(z * t_of[s] * M_SQRT1_2);
        fs += d.w[s] * t_of[s] / std::sqrt(1.0 + r * t_of[s] * t_of[s]);
      }
      hrow[j] = hs;
      frow[j] = root_2_pi * fs * std::sqrt(1.0 + t) / sqrt_b_;
    }
  }
}

double BilinearSignTable::lookup(const std::vector<double>& table, double w, double a1, double a2,
                                 double kappa) const {
  const double s1 = std::clamp(a1, 0.0, 1.0);
  const double s2 = s1 < 1.0 ? std::clamp(a2 / (1.0 - s1), 0.0, 1.0) : 0.0;
  const double x1 = s1 * (kA - 1), x2 = s2 * (kA - 1), xw = std::clamp(w, 0.0, 1.0) * (kW - 1);
  const int i1 = std::min(static_cast<int>(x1), kA - 2),
            i2 = std::min(static_cast<int>(x2), kA - 2);
  const int j = std::min(static_cast<int>(xw), kW - 2);
  const double f1 = x1 - i1, f2 = x2 - i2, fw = xw - j;
  const double kc = std::clamp(kappa, 0.0, kKappa[kNK - 1]);
  int c = 0;
  while (c < kNK - 2 && kc > kKappa[c + 1]) ++c;
  const double fc = (kc - kKappa[c]) / (kKappa[c + 1] - kKappa[c]);
  auto at = [&](int cc, int a, int b) {
    const double* row = &table[((static_cast<std::size_t>(cc) * kA + a) * kA + b) * kW + j];
    return row[0] + fw * (row[1] - row[0]);
  };
  auto slice = [&](int cc) {
    return (1.0 - f1) * ((1.0 - f2) * at(cc, i1, i2) + f2 * at(cc, i1, i2 + 1)) +
           f1 * ((1.0 - f2) * at(cc, i1 + 1, i2) + f2 * at(cc, i1 + 1, i2 + 1));
  };
  return fc == 0.0 ? slice(c) : (1.0 - fc) * slice(c) + fc * slice(c + 1);
}

double BilinearSignTable::mean_sign(double z, double a1, double a2, double kappa) const {
  const double t = std::abs(z) * sqrt_b_;
  const double v = lookup(h_, t / (1.0 + t), a1, a2, kappa);
  return z < 0.0 ? -v : v;
}

double BilinearSignTable::gauss_drift(double r, double a1, double a2, double kappa) const {
  const double s = std::max(r, 0.0) * static_cast<double>(batch_);
  return lookup(f_, s / (1.0 + s), a1, a2, kappa) * sqrt_b_ / std::sqrt(1.0 + s);
}

namespace {

// A mixture entry (k, l): the components of the symmetric Gaussian mixture law of Δ_kl (positive
// halves: weights, means, variances).
struct MixEntry {
  Eigen::Index k = 0, l = 0;
  std::vector<double> w, mean, var;
  double second_moment() const {
    double e2 = 0.0;
    for (std::size_t q = 0; q < w.size(); ++q) e2 += w[q] * (mean[q] * mean[q] + var[q]);
    return e2;
  }
};

// The closure map for one environment scenario: Gaussian entries start at ρ_kl(0) = b_k² c_l²,
// mixture entries at the given laws.
BilinearSgdCurve run_map(const BilinearProblem& p, const BilinearSignTable& table,
                         const GaussRule& inner, double lr, const std::vector<long>& record_steps,
                         bool keep_rho, double max_change, bool rest_mixture,
                         std::vector<MixEntry> mix) {
  const Eigen::Index n_out = p.n_out, n_in = p.n_in;
  const double sigma2 = p.sigma * p.sigma;
  const double sqrt_b = std::sqrt(static_cast<double>(table.batch()));
  Eigen::MatrixXd rho = bilinear_initial_rho(p);
  Eigen::Matrix<bool, Eigen::Dynamic, Eigen::Dynamic> is_mix =
      Eigen::Matrix<bool, Eigen::Dynamic, Eigen::Dynamic>::Constant(n_out, n_in, false);
  for (const MixEntry& e : mix) is_mix(e.k, e.l) = true;
  std::vector<std::vector<double>> eh(mix.size()), edh(mix.size());
  for (std::size_t m = 0; m < mix.size(); ++m) {
    eh[m].resize(mix[m].w.size());
    edh[m].resize(mix[m].w.size());
  }
  BilinearSgdCurve curve;
  Eigen::VectorXd row(n_out), col(n_in);
  Eigen::MatrixXd rate(n_out, n_in);  // k_kl = 2η g F (Gaussian entries)
  const double b = static_cast<double>(table.batch());
  double k2 = 0.0;  // Σ_i μ_i² row_i² + Σ_j λ_j² col_j²: the fluctuation of the rest's scale
  auto params = [&](Eigen::Index k, Eigen::Index l, double r, double two_r, double& g, double& a1,
                    double& a2, double& kappa) {
    const double mu = p.mu(k), lam = p.lambda(l), ml = mu * lam;
    const double a = std::max(two_r - ml * r, 1e-300);  // residual variance without (k, l)
    const double row_k = mu * std::max(row(k) - lam * r, 0.0);
    const double col_l = lam * std::max(col(l) - mu * r, 0.0);
    a1 = row_k / a;  // share of row k
    a2 = col_l / a;  // share of column l
    g = std::sqrt(ml / a);
    // Relative variance of σ² + (rest's scale²), rows and columns other than k and l.
    const double rest = std::max(a - row_k - col_l, 1e-300);
    const double own = mu * mu * row(k) * row(k) + lam * lam * col(l) * col(l);
    kappa = rest_mixture ? 2.0 * std::max(k2 - own, 0.0) / (rest * rest) : 0.0;
  };
  long step = 0;
  for (const long target : record_steps) {
    while (step < target) {
      for (const MixEntry& e : mix) rho(e.k, e.l) = e.second_moment();
      row.noalias() = rho * p.lambda;          // Σ_j λ_j ρ_kj
      col.noalias() = rho.transpose() * p.mu;  // Σ_i μ_i ρ_il
      const double two_r = p.mu.dot(row) + sigma2;
      k2 = p.mu.cwiseProduct(row).squaredNorm() + p.lambda.cwiseProduct(col).squaredNorm();
      // Gaussian entries: one step is ρ' = (1 − k) ρ + η², k = 2η g F(g²ρ). Frozen over a lump of
      // h steps it is solved exactly: ρ_h = ρ_eq + (1 − k)^h (ρ − ρ_eq), ρ_eq = η²/k.
      double rate_2r = 0.0;  // d(2R)/step, to size the lump
      double max_rel = 0.0;  // largest relative change per step of an entry off the linear range
      for (Eigen::Index l = 0; l < n_in; ++l)
        for (Eigen::Index k = 0; k < n_out; ++k) {
          if (is_mix(k, l)) continue;
          const double r = rho(k, l);
          double g, a1, a2, kappa;
          params(k, l, r, two_r, g, a1, a2, kappa);
          const double x = g * g * r;
          const double kr = 2.0 * lr * g * table.gauss_drift(x, a1, a2, kappa);
          rate(k, l) = kr;
          const double d = lr * lr - kr * r;
          rate_2r += p.mu(k) * p.lambda(l) * d;
          if (x * b > 1e-2 && r > 0.0) max_rel = std::max(max_rel, std::abs(d) / r);
        }
      double max_move = 0.0;  // largest move η per step over the width 1/(g√B) of the sign's rise
      for (std::size_t m = 0; m < mix.size(); ++m) {
        MixEntry& e = mix[m];
        double g, a1, a2, kappa;
        params(e.k, e.l, rho(e.k, e.l), two_r, g, a1, a2, kappa);
        for (std::size_t q = 0; q < e.w.size(); ++q) {
          const double mq = e.mean[q], sd = std::sqrt(std::max(e.var[q], 0.0));
          double s = 0.0, sd_h = 0.0;
          for (std::size_t i = 0; i < inner.x.size(); ++i) {
            const double delta = mq + sd * inner.x[i];
            const double h = table.mean_sign(g * delta, a1, a2, kappa);
            s += inner.w[i] * h;
            sd_h += inner.w[i] * delta * h;
          }
          eh[m][q] = s;
          edh[m][q] = sd_h;
          rate_2r += p.mu(e.k) * p.lambda(e.l) * e.w[q] * (lr * lr - 2.0 * lr * sd_h);
        }
        max_move = std::max(max_move, lr * g * sqrt_b);
      }
      // Lump h steps while 2R and the saturating entries change by less than max_change and no
      // mixture component moves more than 5·max_change of its sign's rise width.
      long h = target - step;
      if (rate_2r != 0.0)
        h = std::min<long>(
            h, std::max<long>(1, static_cast<long>(max_change * two_r / std::abs(rate_2r))));
      if (max_rel > 0.0)
        h = std::min<long>(h, std::max<long>(1, static_cast<long>(5.0 * max_change / max_rel)));
      if (max_move > 0.0)
        h = std::min<long>(h, std::max<long>(1, static_cast<long>(5.0 * max_change / max_move)));
      const double hd = static_cast<double>(h);
      for (Eigen::Index l = 0; l < n_in; ++l)
        for (Eigen::Index k = 0; k < n_out; ++k) {
          if (is_mix(k, l)) continue;
          const double kr = rate(k, l), r = rho(k, l);
          if (h == 1 || kr <= 0.0) {
            rho(k, l) = std::max(r * (1.0 - kr) + hd * lr * lr, 0.0);
          } else {
            const double eq = lr * lr / kr, c = std::max(1.0 - kr, 0.0);
            rho(k, l) = eq + std::pow(c, hd) * (r - eq);
          }
        }
      // Components: μ' = μ − hη E_q h, and the variance keeps the exact identity
      // μ'² + s' = μ² + s − 2hη E_q[Δh] + hη².
      for (std::size_t m = 0; m < mix.size(); ++m) {
        MixEntry& e = mix[m];
        for (std::size_t q = 0; q < e.w.size(); ++q) {
          const double mq = e.mean[q], s = eh[m][q];
          e.mean[q] = mq - hd * lr * s;
          e.var[q] = std::max(e.var[q] - 2.0 * hd * lr * (edh[m][q] - mq * s) + hd * lr * lr -
                                  hd * hd * lr * lr * s * s,
                              0.0);
        }
      }
      step += h;
    }
    for (const MixEntry& e : mix) rho(e.k, e.l) = e.second_moment();
    curve.steps.push_back(step);
    curve.risk.push_back(bilinear_risk_from_rho(p, rho));
    if (keep_rho) curve.rho.push_back(rho);
  }
  return curve;
}

// Throws ConfigError naming the field for lr ≤ 0 (or not finite) or records not ascending ≥ 0.
void check_inputs(double lr, const std::vector<long>& record_steps) {
  if (!std::isfinite(lr) || lr <= 0.0) {
    std::ostringstream s;
    s << "optimizer.lr = " << lr << ": the learning rate must be finite and > 0";
    throw ConfigError("optimizer.lr", s.str());
  }
  for (std::size_t i = 0; i < record_steps.size(); ++i)
    if (record_steps[i] < 0 || (i > 0 && record_steps[i] <= record_steps[i - 1]))
      throw ConfigError("records", "record steps must be >= 0 and strictly ascending (entry " +
                                       std::to_string(i) + " = " + std::to_string(record_steps[i]) +
                                       ")");
}

}  // namespace

BilinearSgdCurve bilinear_signsgd_map(const BilinearProblem& p, double lr, Eigen::Index batch,
                                      const std::vector<long>& record_steps, bool keep_rho,
                                      const BilinearSignSgdClosure& closure) {
  if (batch < 1)
    throw ConfigError("optimizer.batch", "optimizer.batch = " + std::to_string(batch) +
                                             ": the batch size must be an integer >= 1");
  check_inputs(lr, record_steps);
  const BilinearSignTable table(batch, closure.table_samples, closure.table_seed);
  return bilinear_signsgd_map(p, table, lr, record_steps, keep_rho, closure);
}

BilinearSgdCurve bilinear_signsgd_map(const BilinearProblem& p, const BilinearSignTable& table,
                                      double lr, const std::vector<long>& record_steps,
                                      bool keep_rho, const BilinearSignSgdClosure& closure) {
  check_inputs(lr, record_steps);
  if (closure.components < 2 || closure.components % 2 != 0 || closure.inner_nodes < 1 ||
      closure.mixture_entries < 0 || closure.env_entries < 0 || closure.env_components < 2 ||
      closure.env_components % 2 != 0 || closure.env_entries > closure.mixture_entries)
    throw Error(
        "bilinear signsgd closure: components and env_components must be even >= 2, "
        "inner_nodes >= 1, 0 <= env_entries <= mixture_entries");
  const GaussRule comp = gauss_hermite_half(closure.components);
  const GaussRule env = gauss_hermite_half(closure.env_components);
  const GaussRule inner = gauss_hermite(closure.inner_nodes);
  const Eigen::Index n_out = p.n_out, total = p.n_out * p.n_in;
  const Eigen::MatrixXd rho0 = bilinear_initial_rho(p);

  // Mixture entries: the largest initial shares μ_k λ_l b_k² c_l², in descending order.
  const Eigen::Index n_mix = std::min<Eigen::Index>(closure.mixture_entries, total);
  std::vector<Eigen::Index> order(total);
  std::iota(order.begin(), order.end(), 0);
  auto share = [&](Eigen::Index e) {
    const Eigen::Index k = e % n_out, l = e / n_out;
    return p.mu(k) * p.lambda(l) * rho0(k, l);
  };
  std::partial_sort(order.begin(), order.begin() + n_mix, order.end(),
                    [&](Eigen::Index a, Eigen::Index b) { return share(a) > share(b); });
  std::vector<MixEntry> mix(n_mix);
  for (Eigen::Index m = 0; m < n_mix; ++m) {
    MixEntry& e = mix[m];
    e.k = order[m] % n_out;
    e.l = order[m] / n_out;
    e.w = comp.w;
    e.var.assign(comp.x.size(), 0.0);
    for (double x : comp.x) e.mean.push_back(std::sqrt(rho0(e.k, e.l)) * x);  // exact quantisation
  }
  // Environment scenarios: the first env_entries mixture entries start at one node each of the
  // quantised |Δ_kl(0)|; the risk curves of the scenarios are averaged with the node weights.
  const int n_env = static_cast<int>(std::min<Eigen::Index>(closure.env_entries, n_mix));
  const int qe = static_cast<int>(env.x.size());
  int scenarios = 1;
  for (int i = 0; i < n_env; ++i) scenarios *= qe;
  BilinearSgdCurve out;
  for (int s = 0; s < scenarios; ++s) {
    std::vector<MixEntry> m = mix;
    double weight = 1.0;
    int rest = s;
    for (int i = 0; i < n_env; ++i) {
      const int q = rest % qe;
      rest /= qe;
      weight *= env.w[q];
      m[i].w = {1.0};
      m[i].mean = {std::sqrt(rho0(m[i].k, m[i].l)) * env.x[q]};
      m[i].var = {0.0};
    }
    const BilinearSgdCurve c = run_map(p, table, inner, lr, record_steps, keep_rho,
                                       closure.max_step_change, closure.rest_scale_mixture, m);
    if (s == 0) {
      out.steps = c.steps;
      out.risk.assign(c.risk.size(), 0.0);
      if (keep_rho) out.rho.assign(c.rho.size(), Eigen::MatrixXd::Zero(p.n_out, p.n_in));
    }
    for (std::size_t i = 0; i < c.risk.size(); ++i) out.risk[i] += weight * c.risk[i];
    if (keep_rho)
      for (std::size_t i = 0; i < c.rho.size(); ++i) out.rho[i] += weight * c.rho[i];
  }
  return out;
}

}  // namespace signdyn::detail
