// Private: the (α, β) phase diagram of two optimizers at their ODE-optimal learning rates.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "explore.hpp"
#include "signdyn/error.hpp"

namespace signdyn::cli {

std::string to_string(Phase phase) {
  switch (phase) {
    case Phase::failed:
      return "failed";
    case Phase::first_better:
      return "first_better";
    case Phase::second_better:
      return "second_better";
    case Phase::trade_off:
      return "trade_off";
    case Phase::tie:
      return "tie";
  }
  return "failed";
}

Phase classify_phase(const std::vector<double>& risk_first, const std::vector<double>& risk_second,
                     double tie_tol) {
  if (risk_first.size() != risk_second.size() || risk_first.empty()) return Phase::failed;
  bool first_wins = false, second_wins = false;
  for (std::size_t k = 0; k < risk_first.size(); ++k) {
    const double a = risk_first[k], b = risk_second[k];
    if (!std::isfinite(a) || !std::isfinite(b)) return Phase::failed;
    if (std::abs(a - b) <= tie_tol * std::min(a, b)) continue;
    (a < b ? first_wins : second_wins) = true;
  }
  if (first_wins && second_wins) return Phase::trade_off;
  if (first_wins) return Phase::first_better;
  if (second_wins) return Phase::second_better;
  return Phase::tie;
}

PowerLawFit fit_power_law(const std::vector<double>& t, const std::vector<double>& y) {
  std::vector<double> u, v;
  for (std::size_t k = 0; k < t.size() && k < y.size(); ++k)
    if (t[k] > 0 && y[k] > 0 && std::isfinite(y[k])) {
      u.push_back(std::log(t[k]));
      v.push_back(std::log(y[k]));
    }
  PowerLawFit fit;
  const auto n = static_cast<double>(u.size());
  if (u.size() < 2) return fit;
  double mu = 0, mv = 0;
  for (std::size_t k = 0; k < u.size(); ++k) mu += u[k] / n, mv += v[k] / n;
  double suu = 0, suv = 0;
  for (std::size_t k = 0; k < u.size(); ++k) {
    suu += (u[k] - mu) * (u[k] - mu);
    suv += (u[k] - mu) * (v[k] - mv);
  }
  if (!(suu > 0)) return fit;
  const double slope = suv / suu;
  fit.gamma = -slope;
  fit.log_prefactor = mv - slope * mu;
  double rss = 0;
  for (std::size_t k = 0; k < u.size(); ++k) {
    const double r = v[k] - (fit.log_prefactor + slope * u[k]);
    rss += r * r;
  }
  fit.gamma_se = u.size() > 2 ? std::sqrt(rss / (n - 2) / suu) : 0.0;
  return fit;
}

PhaseDiagram compute_phase_diagram(const Experiment& base, const PhaseDiagramOptions& options,
                                   const std::function<void(std::size_t, std::size_t)>& progress) {
  if (options.alphas.empty() || options.betas.empty() || options.horizons.empty())
    throw Error("phase diagram: the alpha, beta and horizon lists must not be empty");
  if (!std::is_sorted(options.horizons.begin(), options.horizons.end()) ||
      options.horizons.front() < 1)
    throw Error("phase diagram: horizons must be ascending step counts ≥ 1");
  if (base.problem.covariance != CovarianceKind::power_law ||
      base.problem.target != TargetKind::power_law)
    throw ConfigError("problem.covariance.kind",
                      "phase diagram: needs problem.covariance.kind = \"power_law\" and "
                      "problem.target.kind = \"power_law\" (α and β are varied)");

  std::vector<OptimizerSpec> specs;
  for (OptimizerKind kind : {options.first, options.second}) {
    const auto it = std::find_if(base.optimizers.begin(), base.optimizers.end(),
                                 [&](const OptimizerSpec& o) { return o.kind == kind; });
    if (it == base.optimizers.end())
      throw ConfigError("optimizer.name", "phase diagram: optimizer '" +
                                              std::string(to_string(kind)) +
                                              "' is not in optimizer.name");
    specs.push_back(*it);
  }
  // Theory must exist for both (checked on the first grid point: it depends on the optimizer).
  {
    ProblemSpec spec = base.problem;
    spec.alpha = options.alphas.front();
    spec.beta = options.betas.front();
    const Problem problem = make_problem(spec);
    for (const OptimizerSpec& o : specs)
      if (!has_theory(problem, o))
        throw Error("phase diagram: no deterministic dynamics for '" +
                    std::string(to_string(o.kind)) +
                    "' yet; choose others with --optimizers (e.g. sgd,signsvd)");
  }

  PhaseDiagram pd;
  pd.alphas = options.alphas;
  pd.betas = options.betas;
  pd.horizons = options.horizons;
  for (const OptimizerSpec& o : specs) pd.methods.emplace_back(to_string(o.kind));
  pd.noise_floor = 0.5 * base.problem.sigma * base.problem.sigma;
  const std::size_t na = pd.alphas.size(), nb = pd.betas.size(), nh = pd.horizons.size();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  pd.lr_opt.assign(2 * na * nb * nh, nan);
  pd.risk_opt.assign(2 * na * nb * nh, nan);
  pd.excess_risk_opt.assign(2 * na * nb * nh, nan);
  pd.gamma.assign(2 * na * nb, nan);
  pd.gamma_se.assign(2 * na * nb, nan);
  pd.lr_exponent.assign(2 * na * nb, nan);
  pd.phase.assign(na * nb, static_cast<int>(Phase::failed));
  pd.winner.assign(na * nb * nh, -1);

  std::vector<double> warm(2, 0.0);  // optimum at the first horizon of the previous point
  for (std::size_t ia = 0; ia < na; ++ia) {
    for (std::size_t ib = 0; ib < nb; ++ib) {
      ProblemSpec spec = base.problem;
      spec.alpha = pd.alphas[ia];
      spec.beta = pd.betas[ib];
      const Problem problem = make_problem(spec);
      bool ok = true;
      for (std::size_t m = 0; m < 2; ++m) {
        std::vector<double> t, excess, lrs;
        double start = warm[m] > 0 ? warm[m] : specs[m].lr;
        for (std::size_t ih = 0; ih < nh; ++ih) {
          LrSearchOptions search = options.search;
          search.lr_start = start;
          if (warm[m] > 0 || ih > 0) search.bracket_factor = std::min(2.0, search.bracket_factor);
          const LrSearchResult r =
              optimal_lr(problem, specs[m], pd.horizons[ih], base.theory, search);
          const std::size_t k = pd.index(m, ia, ib, ih);
          if (!r.message.empty()) {
            char where[96];
            std::snprintf(where, sizeof where, "alpha %g, beta %g, %s, T = %lld: ", pd.alphas[ia],
                          pd.betas[ib], pd.methods[m].c_str(),
                          static_cast<long long>(pd.horizons[ih]));
            pd.notes.push_back(where + std::string(r.converged ? "" : "no optimum: ") + r.message);
          }
          if (!r.converged) {
            ok = false;
            continue;
          }
          pd.lr_opt[k] = r.lr;
          pd.risk_opt[k] = r.risk;
          pd.excess_risk_opt[k] = r.risk - pd.noise_floor;
          t.push_back(static_cast<double>(pd.horizons[ih]));
          excess.push_back(pd.excess_risk_opt[k]);
          lrs.push_back(r.lr);
          start = r.lr;
          if (ih == 0) warm[m] = r.lr;
        }
        const PowerLawFit fit = fit_power_law(t, excess);
        pd.gamma[(m * na + ia) * nb + ib] = fit.gamma;
        pd.gamma_se[(m * na + ia) * nb + ib] = fit.gamma_se;
        pd.lr_exponent[(m * na + ia) * nb + ib] = fit_power_law(t, lrs).gamma;
      }
      std::vector<double> first(nh), second(nh);
      for (std::size_t ih = 0; ih < nh; ++ih) {
        first[ih] = pd.risk_opt[pd.index(0, ia, ib, ih)];
        second[ih] = pd.risk_opt[pd.index(1, ia, ib, ih)];
        const Phase one = classify_phase({first[ih]}, {second[ih]}, options.tie_tol);
        pd.winner[(ia * nb + ib) * nh + ih] = one == Phase::first_better    ? 0
                                              : one == Phase::second_better ? 1
                                                                            : -1;
      }
      pd.phase[ia * nb + ib] =
          static_cast<int>(ok ? classify_phase(first, second, options.tie_tol) : Phase::failed);
      if (progress) progress(ia * nb + ib + 1, na * nb);
    }
  }
  return pd;
}

}  // namespace signdyn::cli
