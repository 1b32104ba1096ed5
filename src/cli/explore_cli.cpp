// Private: the exploration subcommands (see explore_cli.hpp): options, tables, files, plots.
#include "explore_cli.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <sstream>

#include "app.hpp"
#include "explore.hpp"
#include "explore_common.hpp"
#include "explore_scripts.hpp"  // generated: kPlotPhaseScript, kPlotBatchScript
#include "progress.hpp"
#include "ranks.hpp"
#include "signdyn/error.hpp"
#include "signdyn/explore_io.hpp"
#include "signdyn/simulate.hpp"

namespace signdyn::cli {
namespace {

std::string fmt(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

double parse_number(const std::string& text, const std::string& option) {
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || !std::isfinite(value))
    throw ConfigError(option, option + ": '" + text + "' is not a number");
  return value;
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, sep);) parts.push_back(trim(item));
  if (!text.empty() && text.back() == sep) parts.push_back("");
  return parts;
}

// Optimizer kinds from "a,b"; names are checked by the config (optimizer.name).
std::vector<OptimizerKind> parse_optimizers(const std::string& text, const std::string& option,
                                            const std::string& config_path,
                                            std::vector<std::string>& overrides) {
  const std::vector<std::string> names = split(text, ',');
  overrides.push_back("optimizer.name=[" + text + "]");
  Experiment probe;
  try {
    probe = load_config(config_path, overrides);
  } catch (const ConfigError& e) {
    throw ConfigError(option, option + " " + text + ": " + e.what());
  }
  std::vector<OptimizerKind> kinds;
  for (const OptimizerSpec& o : probe.optimizers) kinds.push_back(o.kind);
  return kinds;
}

// Validates each value of a swept config key with the config's own checks.
void check_values(const std::string& config_path, const std::vector<std::string>& overrides,
                  const std::string& key, const std::vector<double>& values,
                  const std::string& option) {
  for (double v : values) {
    std::vector<std::string> o = overrides;
    o.push_back(key + "=" + fmt("%.17g", v));
    try {
      load_config(config_path, o);
    } catch (const ConfigError& e) {
      throw ConfigError(option, option + " value " + fmt("%g", v) + ": " + e.what());
    }
  }
}

std::vector<std::int64_t> to_steps(const std::vector<double>& values, const std::string& option) {
  std::vector<std::int64_t> steps;
  for (double v : values) {
    if (!(v >= 1) || v > 1e12)
      throw ConfigError(option, option + ": " + fmt("%g", v) + " is not a step count in 1..1e12");
    steps.push_back(static_cast<std::int64_t>(std::llround(v)));
  }
  std::sort(steps.begin(), steps.end());
  steps.erase(std::unique(steps.begin(), steps.end()), steps.end());
  return steps;
}

NamedArray array(std::string name, std::vector<std::size_t> shape, std::vector<double> values,
                 std::string description, bool integer = false) {
  return NamedArray{std::move(name), std::move(shape), std::move(values), std::move(description),
                    integer};
}

template <class T>
std::vector<double> as_doubles(const std::vector<T>& v) {
  return std::vector<double>(v.begin(), v.end());
}

std::string png_path(const std::string& h5) {
  return std::filesystem::path(h5).replace_extension(".png").string();
}

}  // namespace

std::vector<double> parse_number_list(const std::string& text, const std::string& option) {
  std::vector<double> values;
  for (const std::string& item : split(text, ',')) {
    if (item.empty()) throw ConfigError(option, option + " " + text + ": empty item");
    std::vector<std::string> parts = split(item, ':');
    const bool geometric = parts.front() == "log";
    if (geometric) parts.erase(parts.begin());
    if (parts.size() == 1 && !geometric) {
      values.push_back(parse_number(parts[0], option));
      continue;
    }
    if (parts.size() != 3)
      throw ConfigError(option, option + " " + item +
                                    ": expected a number, a:b:n or log:a:b:n (n values from a "
                                    "to b)");
    const double a = parse_number(parts[0], option), b = parse_number(parts[1], option);
    const double n = parse_number(parts[2], option);
    if (n < 1 || n != std::floor(n) || n > 10000)
      throw ConfigError(option, option + " " + item + ": the count must be an integer in 1..10000");
    if (geometric && !(a > 0 && b > 0))
      throw ConfigError(option, option + " " + item + ": log spacing needs positive ends");
    for (int k = 0; k < int(n); ++k) {
      const double f = n > 1 ? k / (n - 1) : 0.0;
      values.push_back(geometric ? std::exp(std::log(a) + f * (std::log(b) - std::log(a)))
                                 : a + f * (b - a));
    }
  }
  return values;
}

// ---------------------------------------------------------------------------------------------

int run_lr_search(const LrSearchRequest& request, std::ostream& out, std::ostream& err) {
  const Experiment exp = load_config(request.config_path, request.overrides);
  require_regression(exp, "lr-search");
  std::vector<std::int64_t> horizons = request.horizons;
  if (horizons.empty()) horizons.push_back(exp.run.steps);
  horizons = to_steps(as_doubles(horizons), "--horizon");
  if (!(request.log_tol > 0 && request.log_tol < 1))
    throw ConfigError("--tol", "--tol must be in (0, 1) (the bracket width in ln lr)");
  const Problem problem = make_problem(exp.problem);
  std::vector<const OptimizerSpec*> specs;
  for (const OptimizerSpec& o : exp.optimizers) {
    if (has_theory(problem, o))
      specs.push_back(&o);
    else if (!request.quiet)
      err << "  note: no deterministic dynamics for " << to_string(o.kind) << " yet; skipped\n";
  }
  if (specs.empty())
    throw Error(
        "lr-search needs deterministic dynamics, which are not implemented yet for the "
        "optimizers in optimizer.name");
  const std::string out_path = request.out_path.empty()
                                   ? default_result_path(request.config_path, "lr-search")
                                   : request.out_path;
  prepare_output_path(out_path);

  ArrayFile file;
  file.meta = make_meta("lr-search", exp.resolved_toml);
  std::string methods;
  for (const OptimizerSpec* o : specs)
    methods += (methods.empty() ? "" : "\n") + std::string(to_string(o->kind));
  file.attributes.emplace_back("methods", methods);
  for (const OptimizerSpec* spec : specs) {
    const std::string name(to_string(spec->kind));
    std::vector<double> lr_opt, risk_opt, converged, eval_lr, eval_risk, eval_h;
    if (!request.quiet)
      out << "\n"
          << name << " (batch " << spec->batch << ")\n"
          << "   horizon T        lr*       R(T; lr*)  evaluations\n";
    double start = request.lr_start > 0 ? request.lr_start : spec->lr;
    for (std::size_t h = 0; h < horizons.size(); ++h) {
      LrSearchOptions search;
      search.lr_start = start;
      search.log_tol = request.log_tol;
      const LrSearchResult r = optimal_lr(problem, *spec, horizons[h], exp.theory, search);
      lr_opt.push_back(r.lr);
      risk_opt.push_back(r.risk);
      converged.push_back(r.converged ? 1 : 0);
      for (std::size_t k = 0; k < r.lr_evaluated.size(); ++k) {
        eval_lr.push_back(r.lr_evaluated[k]);
        eval_risk.push_back(r.risk_evaluated[k]);
        eval_h.push_back(double(h));
      }
      if (r.converged) start = r.lr;
      if (!request.quiet)
        out << fmt("%12.0f", double(horizons[h])) << fmt("  %10.4e", r.lr)
            << fmt("  %13.6e", r.risk) << fmt("  %6.0f", double(r.lr_evaluated.size()))
            << (r.converged ? "" : "  NOT CONVERGED: " + r.message) << "\n";
      if (!r.converged)
        err << "  warning: " << name << " at T = " << horizons[h] << ": " << r.message << "\n";
    }
    const std::size_t nh = horizons.size();
    file.arrays.push_back(array(name + "/horizons", {nh}, as_doubles(horizons),
                                "horizons T (optimizer steps) at which lr was tuned", true));
    file.arrays.push_back(array(name + "/lr_opt", {nh}, lr_opt,
                                "learning rate minimising the deterministic risk R(T), raw units"));
    file.arrays.push_back(array(name + "/risk_opt", {nh}, risk_opt,
                                "deterministic risk R(T) at lr_opt, noise floor included"));
    file.arrays.push_back(array(name + "/converged", {nh}, converged,
                                "1 when the search bracketed and narrowed the minimum", true));
    file.arrays.push_back(array(name + "/eval_lr", {eval_lr.size()}, eval_lr,
                                "every learning rate evaluated, in order"));
    file.arrays.push_back(array(name + "/eval_risk", {eval_risk.size()}, eval_risk,
                                "R(T) at eval_lr (inf: diverged)"));
    file.arrays.push_back(array(name + "/eval_horizon_index", {eval_h.size()}, eval_h,
                                "index into horizons of each evaluation", true));

    if (request.mc_scan > 0 && std::isfinite(lr_opt.back())) {
      const std::int64_t T = horizons.back();
      const int K = request.mc_scan;
      std::vector<double> lrs, mc, se, th;
      if (!request.quiet)
        out << "  Monte Carlo scan at T = " << T << " (" << exp.run.replicas
            << " replicas per lr, independent seeds)\n"
            << "          lr    theory R(T)      MC R(T)       +- SE        z\n";
      for (int k = -K; k <= K; ++k) {
        OptimizerSpec opt = *spec;
        opt.lr = lr_opt.back() * std::pow(2.0, 0.5 * k);
        SimulateOptions so;
        so.record_steps = {0, T};
        so.modes = Eigen::VectorXi::Ones(1);
        so.replicas = exp.run.replicas;
        so.seed = exp.run.seed + static_cast<std::uint64_t>(k + K);
        so.threads = request.threads;
        const Trajectory tr = simulate(problem, opt, so);
        const double theory = theory_final_risk(problem, opt, opt.lr, T, exp.theory);
        const bool ok = tr.status == RunStatus::completed && tr.t.size() == 2;
        lrs.push_back(opt.lr);
        mc.push_back(ok ? tr.risk(1) : std::numeric_limits<double>::infinity());
        se.push_back(ok ? tr.risk_se(1) : 0.0);
        th.push_back(theory);
        if (!request.quiet)
          out << fmt("  %10.4e", opt.lr) << fmt("  %13.6e", theory) << fmt("  %11.5e", mc.back())
              << fmt("  %10.2e", se.back())
              << fmt("  %+7.2f", se.back() > 0 ? (mc.back() - theory) / se.back() : 0.0)
              << (k == 0 ? "   <- lr*" : "") << "\n";
      }
      const std::size_t n = lrs.size();
      file.arrays.push_back(array(name + "/mc_scan/lr", {n}, lrs, "learning rates of the scan"));
      file.arrays.push_back(array(name + "/mc_scan/risk", {n}, mc, "Monte Carlo mean R(T)"));
      file.arrays.push_back(array(name + "/mc_scan/risk_se", {n}, se, "its standard error"));
      file.arrays.push_back(array(name + "/mc_scan/theory_risk", {n}, th, "deterministic R(T)"));
    }
  }
  write_array_file(out_path, file);
  out << (request.quiet ? "" : "\n") << "wrote " << out_path << "\n";
  return kOk;
}

// ---------------------------------------------------------------------------------------------

int run_phase_diagram(const PhaseRequest& request, std::ostream& out, std::ostream& err) {
  std::vector<std::string> overrides = request.overrides;
  const std::vector<OptimizerKind> kinds =
      parse_optimizers(request.optimizers, "--optimizers", request.config_path, overrides);
  if (kinds.size() != 2)
    throw ConfigError("--optimizers",
                      "--optimizers takes exactly two optimizers, e.g. "
                      "signsgd,signsvd (got '" +
                          request.optimizers + "')");
  const Experiment exp = load_config(request.config_path, overrides);
  require_regression(exp, "phase-diagram");
  PhaseDiagramOptions options;
  options.alphas = parse_number_list(request.alphas, "--alpha");
  options.betas = parse_number_list(request.betas, "--beta");
  check_values(request.config_path, overrides, "problem.covariance.alpha", options.alphas,
               "--alpha");
  check_values(request.config_path, overrides, "problem.target.beta", options.betas, "--beta");
  options.horizons = to_steps(parse_number_list(request.horizons, "--horizons"), "--horizons");
  options.first = kinds[0];
  options.second = kinds[1];
  if (!(request.tie_tol >= 0)) throw ConfigError("--tie-tol", "--tie-tol must be ≥ 0");
  options.tie_tol = request.tie_tol;
  if (!(request.log_tol > 0 && request.log_tol < 1))
    throw ConfigError("--tol", "--tol must be in (0, 1) (the bracket width in ln lr)");
  options.search.log_tol = request.log_tol;
  const std::string out_path = request.out_path.empty()
                                   ? default_result_path(request.config_path, "phase-diagram")
                                   : request.out_path;
  prepare_output_path(out_path);

  const bool verbose = !request.quiet;
  if (verbose)
    err << "signdyn phase-diagram: " << options.alphas.size() << " x " << options.betas.size()
        << " (alpha, beta) points, " << options.horizons.size() << " horizons, "
        << to_string(kinds[0]) << " vs " << to_string(kinds[1]) << " at their ODE-optimal lr\n";
  ProgressBar bar(err, "  phase diagram", verbose && is_terminal(err));
  const PhaseDiagram pd = compute_phase_diagram(exp, options, [&](std::size_t done, std::size_t n) {
    bar.update(double(done) / double(n));
    if (verbose && !is_terminal(err)) err << "  point " << done << "/" << n << " done\n";
  });
  bar.finish();
  for (const std::string& note : pd.notes) err << "  note: " << note << "\n";

  const std::size_t na = pd.alphas.size(), nb = pd.betas.size(), nh = pd.horizons.size();
  ArrayFile file;
  file.meta = make_meta("phase-diagram", exp.resolved_toml);
  file.attributes.emplace_back("methods", pd.methods[0] + "\n" + pd.methods[1]);
  file.attributes.emplace_back("phase_labels", "-1: failed\n0: " + pd.methods[0] +
                                                   " uniformly better\n1: " + pd.methods[1] +
                                                   " uniformly better\n2: trade-off\n3: tie");
  file.attributes.emplace_back("tie_tol", fmt("%.17g", options.tie_tol));
  std::string notes;
  for (const std::string& note : pd.notes) notes += (notes.empty() ? "" : "\n") + note;
  file.attributes.emplace_back("notes", notes);
  file.arrays.push_back(array("alpha", {na}, pd.alphas, "alpha grid: lambda_j = j^(-2 alpha)"));
  file.arrays.push_back(array("beta", {nb}, pd.betas, "beta grid: b_j = j^(-beta)"));
  file.arrays.push_back(array("horizons", {nh}, as_doubles(pd.horizons),
                              "horizons T (steps) of the lr tuning", true));
  file.arrays.push_back(array("phase", {na, nb}, as_doubles(pd.phase),
                              "phase[ia, ib]: -1 failed, 0 first method (attribute methods) "
                              "better at every horizon, 1 second better, 2 trade-off, 3 tie",
                              true));
  file.arrays.push_back(array("winner", {na, nb, nh}, as_doubles(pd.winner),
                              "winner[ia, ib, ih]: 0 first, 1 second, -1 tie or failed", true));
  for (std::size_t m = 0; m < 2; ++m) {
    const std::string& name = pd.methods[m];
    const auto slice = [&](const std::vector<double>& v, std::size_t per) {
      return std::vector<double>(v.begin() + std::ptrdiff_t(m * na * nb * per),
                                 v.begin() + std::ptrdiff_t((m + 1) * na * nb * per));
    };
    file.arrays.push_back(array(name + "/lr_opt", {na, nb, nh}, slice(pd.lr_opt, nh),
                                "ODE-optimal learning rate at each horizon, raw units"));
    file.arrays.push_back(array(name + "/risk_opt", {na, nb, nh}, slice(pd.risk_opt, nh),
                                "deterministic risk R(T) at lr_opt, noise floor included"));
    file.arrays.push_back(array(name + "/excess_risk_opt", {na, nb, nh},
                                slice(pd.excess_risk_opt, nh), "R(T) - sigma^2/2 at lr_opt"));
    file.arrays.push_back(array(name + "/gamma", {na, nb}, slice(pd.gamma, 1),
                                "fitted exponent: excess_risk_opt ~ T^(-gamma) over the horizons"));
    file.arrays.push_back(array(name + "/gamma_se", {na, nb}, slice(pd.gamma_se, 1),
                                "standard error of gamma from the fit residuals"));
    file.arrays.push_back(array(name + "/lr_exponent", {na, nb}, slice(pd.lr_exponent, 1),
                                "fitted exponent: lr_opt ~ T^(-delta)"));
  }
  write_array_file(out_path, file);

  if (verbose) {
    out << "\nphase map (rows alpha, columns beta): A = " << pd.methods[0]
        << " uniformly better, B = " << pd.methods[1]
        << " uniformly better, x = trade-off, = tie, ? failed\n  alpha\\beta";
    for (double b : pd.betas) out << fmt("%6.2f", b);
    out << "\n";
    for (std::size_t ia = 0; ia < na; ++ia) {
      out << fmt("  %9.2f", pd.alphas[ia]);
      for (std::size_t ib = 0; ib < nb; ++ib) {
        const int p = pd.phase[ia * nb + ib];
        out << "     " << (p == 0 ? 'A' : p == 1 ? 'B' : p == 2 ? 'x' : p == 3 ? '=' : '?');
      }
      out << "\n";
    }
    out << "\nfitted decay exponents gamma (excess risk at the optimal lr ~ T^-gamma)\n"
        << "  alpha   beta";
    for (const std::string& m : pd.methods) out << "  " << m << " gamma (se)";
    out << "\n";
    for (std::size_t ia = 0; ia < na; ++ia)
      for (std::size_t ib = 0; ib < nb; ++ib) {
        out << fmt("  %5.2f", pd.alphas[ia]) << fmt("  %5.2f", pd.betas[ib]);
        for (std::size_t m = 0; m < 2; ++m) {
          const std::size_t k = (m * na + ia) * nb + ib;
          out << fmt("  %12.3f", pd.gamma[k]) << fmt(" (%.3f)", pd.gamma_se[k]);
        }
        out << "\n";
      }
  }
  out << (verbose ? "\n" : "") << "wrote " << out_path << "\n";
  if (request.plot && run_plot_script(kPlotPhaseScript, {out_path, "-o", png_path(out_path)}, err))
    out << "wrote " << png_path(out_path) << "\n";
  return kOk;
}

// ---------------------------------------------------------------------------------------------

int run_batch_transition(const BatchRequest& request, std::ostream& out, std::ostream& err) {
  std::vector<std::string> overrides = request.overrides;
  const std::vector<OptimizerKind> kinds =
      parse_optimizers(request.optimizers, "--optimizers", request.config_path, overrides);
  const Experiment exp = load_config(request.config_path, overrides);
  require_regression(exp, "batch-transition");
  BatchTransitionOptions options;
  options.optimizers = kinds;
  options.tune_lr = request.tune;
  options.search.log_tol = request.log_tol;
  if (request.batches.empty()) {
    const std::int64_t top = 4 * static_cast<std::int64_t>(exp.problem.d);
    for (std::int64_t b = 1; b < top; b *= 2) options.batches.push_back(b);
    options.batches.push_back(top);
  } else {
    options.batches = to_steps(parse_number_list(request.batches, "--batches"), "--batches");
    std::vector<double> as_double = as_doubles(options.batches);
    check_values(request.config_path, overrides, "optimizer.batch", as_double, "--batches");
  }
  const std::string out_path = request.out_path.empty()
                                   ? default_result_path(request.config_path, "batch-transition")
                                   : request.out_path;
  prepare_output_path(out_path);
  const bool verbose = !request.quiet;
  if (verbose)
    err << "signdyn batch-transition: " << options.batches.size() << " batch sizes from "
        << options.batches.front() << " to " << options.batches.back() << ", "
        << (request.tune ? "lr tuned at T = " + std::to_string(exp.run.steps) : "configured lr")
        << "\n";
  ProgressBar bar(err, "  batch transition", verbose && is_terminal(err));
  const BatchTransition bt =
      compute_batch_transition(exp, options, [&](std::size_t done, std::size_t n) {
        bar.update(double(done) / double(n));
        if (verbose && !is_terminal(err)) err << "  run " << done << "/" << n << " done\n";
      });
  bar.finish();

  const std::size_t nB = bt.batches.size(), nt = bt.t.size();
  const auto d = static_cast<std::size_t>(bt.lambda.size());
  ArrayFile file;
  file.meta = make_meta("batch-transition", exp.resolved_toml);
  std::string methods;
  for (const std::string& m : bt.methods) methods += (methods.empty() ? "" : "\n") + m;
  file.attributes.emplace_back("methods", methods);
  file.attributes.emplace_back("fit_modes",
                               std::to_string(bt.fit_first) + ".." + std::to_string(bt.fit_last));
  file.attributes.emplace_back("lr", request.tune ? "tuned" : "configured");
  file.arrays.push_back(array("batches", {nB}, as_doubles(bt.batches), "batch sizes B", true));
  file.arrays.push_back(array("t", {nt}, bt.t, "record times of the risk curves, steps"));
  file.arrays.push_back(array("lambda", {d},
                              std::vector<double>(bt.lambda.data(), bt.lambda.data() + d),
                              "eigenvalues lambda_j, j = 1..d"));
  for (std::size_t m = 0; m < bt.methods.size(); ++m) {
    const std::string& name = bt.methods[m];
    auto part = [&](const std::vector<double>& v, std::size_t per) {
      return std::vector<double>(v.begin() + std::ptrdiff_t(m * nB * per),
                                 v.begin() + std::ptrdiff_t((m + 1) * nB * per));
    };
    std::vector<double> slopes, slopes_initial;
    for (std::size_t b = 0; b < nB; ++b) {
      const auto at = [&](const std::vector<double>& v) {
        return Eigen::Map<const Eigen::VectorXd>(v.data() + (m * nB + b) * d, Eigen::Index(d));
      };
      const Eigen::VectorXd s = local_log_slope(bt.lambda, at(bt.drift));
      const Eigen::VectorXd s0 = local_log_slope(bt.lambda, at(bt.drift_initial));
      slopes.insert(slopes.end(), s.data(), s.data() + d);
      slopes_initial.insert(slopes_initial.end(), s0.data(), s0.data() + d);
    }
    file.arrays.push_back(array(name + "/risk", {nB, nt}, part(bt.risk, nt),
                                "deterministic risk R(t) for each batch size"));
    file.arrays.push_back(array(name + "/lr", {nB}, part(bt.lr, 1), "learning rate used"));
    file.arrays.push_back(
        array(name + "/drift", {nB, d}, part(bt.drift, d),
              "small-signal drift rate a_j = -(1/(lr rho_j)) d rho_j/dt at t = 0, "
              "lr -> 0, label noise raised until the signal is 1e-6 of it"));
    file.arrays.push_back(
        array(name + "/local_exponent", {nB, d}, slopes,
              "local d ln a_j / d ln lambda_j of drift: least-squares slope over the modes within "
              "0.35 of ln lambda_j (at least the neighbours)"));
    file.arrays.push_back(array(name + "/drift_exponent", {nB}, part(bt.drift_exponent, 1),
                                "least-squares slope of ln a_j on ln lambda_j over fit_modes"));
    file.arrays.push_back(array(name + "/drift_initial", {nB, d}, part(bt.drift_initial, d),
                                "drift rate at the actual initial state (W_0 = 0, the "
                                "configured sigma): includes the saturation of strong modes"));
    file.arrays.push_back(array(name + "/local_exponent_initial", {nB, d}, slopes_initial,
                                "d ln a_j / d ln lambda_j of drift_initial"));
    file.arrays.push_back(array(name + "/drift_initial_exponent", {nB},
                                part(bt.drift_initial_exponent, 1),
                                "least-squares slope of ln drift_initial on ln lambda over "
                                "fit_modes"));
  }
  write_array_file(out_path, file);

  if (verbose) {
    out << "\ndrift exponent: slope of ln a_j on ln lambda_j over modes " << bt.fit_first << ".."
        << bt.fit_last << " (1 = SGD-like, 0.5 = square-root preconditioning)\n"
        << "  small-signal drift, (in brackets) drift at the initial state W_0 = 0, and the lr\n"
        << "       B";
    for (const std::string& m : bt.methods)
      out << "  " << std::string(m.size() < 25 ? 25 - m.size() : 0, ' ') << m;
    out << "\n";
    for (std::size_t b = 0; b < nB; ++b) {
      out << fmt("%8.0f", double(bt.batches[b]));
      for (std::size_t m = 0; m < bt.methods.size(); ++m)
        out << fmt("  %6.3f", bt.drift_exponent[m * nB + b])
            << fmt(" (%6.3f)", bt.drift_initial_exponent[m * nB + b])
            << fmt(" %.3e", bt.lr[m * nB + b]);
      out << "\n";
    }
  }
  out << (verbose ? "\n" : "") << "wrote " << out_path << "\n";
  if (request.plot && run_plot_script(kPlotBatchScript, {out_path, "-o", png_path(out_path)}, err))
    out << "wrote " << png_path(out_path) << "\n";
  return kOk;
}

// ---------------------------------------------------------------------------------------------

namespace {

// The options every exploration subcommand shares: config, --set, --out.
CLI::App* add_command(CLI::App& app, const std::string& name, const std::string& help,
                      std::string& config, std::vector<std::string>& overrides, std::string& out) {
  CLI::App* sub = app.add_subcommand(name, help);
  sub->add_option("config", config,
                  "TOML config file (default: the built-in configs/default.toml)");
  sub->add_option("-s,--set", overrides, "override a config key (repeatable)")
      ->expected(1)
      ->take_all();
  sub->add_option("-o,--out", out, "HDF5 output file (default: results/<config>-" + name + ".h5)");
  return sub;
}

}  // namespace

ExploreCommands::ExploreCommands(CLI::App& app) {
  SweepRequest& s = sweep_request_;
  sweep_ = add_command(app, "sweep",
                       "a cartesian grid over config keys, Monte Carlo and/or theory at each "
                       "point; one HDF5 file with a group per point, resumable",
                       s.config_path, s.overrides, s.out_path);
  sweep_
      ->add_option("-g,--grid", s.grid,
                   "KEY=V1,V2,... a config key and its values (repeatable; the first key "
                   "varies slowest)")
      ->expected(1)
      ->take_all()
      ->required();
  sweep_->add_option("-m,--methods", s.methods,
                     "mc, theory or mc,theory at every point (default: run.methods)");

  LrSearchRequest& l = lr_request_;
  lr_search_ = add_command(app, "lr-search",
                           "the learning rate minimising the deterministic risk at a horizon, "
                           "per optimizer (bracketing + golden section in ln lr)",
                           l.config_path, l.overrides, l.out_path);
  lr_search_
      ->add_option("-T,--horizon", l.horizons, "horizon in steps (repeatable; default run.steps)")
      ->expected(1)
      ->take_all();
  lr_search_->add_option("--lr-start", l.lr_start, "first guess (default: the configured lr)");
  lr_search_->add_option("--tol", l.log_tol, "bracket width in ln lr at which to stop")
      ->capture_default_str();
  lr_search_
      ->add_option("--mc-scan", l.mc_scan,
                   "K: Monte Carlo check at lr*·2^(k/2), k = -K..K, at the last horizon")
      ->check(CLI::Range(0, 20));

  PhaseRequest& p = phase_request_;
  phase_ = add_command(app, "phase-diagram",
                       "over an (alpha, beta) grid, two optimizers at their ODE-optimal lr over "
                       "a range of horizons: which is better, and the fitted risk exponents",
                       p.config_path, p.overrides, p.out_path);
  phase_->add_option("--alpha", p.alphas, "alpha values: a,b,c or a:b:n")->capture_default_str();
  phase_->add_option("--beta", p.betas, "beta values: a,b,c or a:b:n")->capture_default_str();
  phase_->add_option("--horizons", p.horizons, "horizons in steps: list, a:b:n or log:a:b:n")
      ->capture_default_str();
  phase_->add_option("--optimizers", p.optimizers, "the two optimizers compared")
      ->capture_default_str();
  phase_->add_option("--tie-tol", p.tie_tol, "relative risk difference counted as a tie")
      ->capture_default_str();
  phase_->add_option("--tol", p.log_tol, "lr search: bracket width in ln lr")
      ->capture_default_str();
  phase_->add_flag("--no-plot", phase_no_plot_, "do not draw the PNG");

  BatchRequest& b = batch_request_;
  batch_ = add_command(app, "batch-transition",
                       "risk curves and per-mode drift exponents against the batch size B, "
                       "from 1 to 4d",
                       b.config_path, b.overrides, b.out_path);
  batch_->add_option("--batches", b.batches, "batch sizes (default: 1, 2, 4, ..., 4d)");
  batch_->add_option("--optimizers", b.optimizers, "optimizers compared")->capture_default_str();
  batch_->add_flag("--no-tune", batch_no_tune_,
                   "use the configured lr instead of the ODE-optimal one");
  batch_->add_option("--tol", b.log_tol, "lr search: bracket width in ln lr")
      ->capture_default_str();
  batch_->add_flag("--no-plot", batch_no_plot_, "do not draw the PNG");
}

std::optional<int> ExploreCommands::dispatch(int threads, bool quiet, std::ostream& out,
                                             std::ostream& err) {
  if (sweep_->parsed()) {
    sweep_request_.threads = threads;
    sweep_request_.quiet = quiet;
    return run_sweep(sweep_request_, out, err, world());
  }
  if (lr_search_->parsed()) {
    lr_request_.threads = threads;
    lr_request_.quiet = quiet;
    return run_lr_search(lr_request_, out, err);
  }
  if (phase_->parsed()) {
    phase_request_.quiet = quiet;
    phase_request_.plot = !phase_no_plot_;
    return run_phase_diagram(phase_request_, out, err);
  }
  if (batch_->parsed()) {
    batch_request_.quiet = quiet;
    batch_request_.plot = !batch_no_plot_;
    batch_request_.tune = !batch_no_tune_;
    return run_batch_transition(batch_request_, out, err);
  }
  return std::nullopt;
}

}  // namespace signdyn::cli
