// Private: the work behind each subcommand (load config, run methods, write, report).
#include "commands.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "app.hpp"
#include "explore_common.hpp"
#include "progress.hpp"
#include "signdyn/bilinear_dynamics.hpp"
#include "signdyn/bilinear_simulate.hpp"
#include "signdyn/compare.hpp"
#include "signdyn/dynamics.hpp"
#include "signdyn/error.hpp"
#include "signdyn/simulate.hpp"

namespace signdyn::cli {
namespace {

std::string default_out_path(const RunRequest& request) {
  const std::string stem = request.config_path.empty()
                               ? std::string("default")
                               : std::filesystem::path(request.config_path).stem().string();
  return "results/" + stem + "-" + request.command + ".h5";
}

// Creates the parent directory of `path` so the run cannot fail after hours of work.
void prepare_output(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec)
    throw IoError("cannot create the output directory '" + parent.string() + "': " + ec.message() +
                  "; choose another path with --out");
  if (std::filesystem::is_directory(path))
    throw IoError("--out '" + path + "' is a directory; give a file name such as " + path +
                  "/result.h5");
}

std::string describe_regression(const ProblemSpec& p) {
  std::ostringstream s;
  s << "d = " << p.d << ", m = " << p.m << ", sigma = " << p.sigma << ", basis "
    << (p.basis == BasisKind::diagonal ? "diagonal" : "generic");
  switch (p.covariance) {
    case CovarianceKind::power_law:
      s << ", lambda_j = j^(-2*" << p.alpha << ")";
      break;
    case CovarianceKind::isotropic:
      s << ", isotropic K";
      break;
    case CovarianceKind::from_file:
      s << ", eigenvalues from " << p.covariance_file;
      break;
  }
  if (p.normalise_trace) s << " (tr K = 1)";
  if (p.target == TargetKind::power_law)
    s << ", b_j = j^(-" << p.beta << ")";
  else
    s << ", b_j = 1";
  if (p.normalise_target) s << " (sum lambda b^2 = 1)";
  return s.str();
}

// "mu_k = k^(-2*0.5)", "mu_k = 1" or "mu_k from FILE", and " (generic basis)" where Haar.
std::string describe_side(const char* symbol, const char* index, CovarianceKind kind, double alpha,
                          const std::string& file, BasisKind basis) {
  std::ostringstream s;
  s << symbol << "_" << index;
  if (kind == CovarianceKind::power_law)
    s << " = " << index << "^(-2*" << alpha << ")";
  else if (kind == CovarianceKind::isotropic)
    s << " = 1";
  else
    s << " from " << file;
  if (basis == BasisKind::generic) s << " (generic basis)";
  return s.str();
}

std::string describe_bilinear(const BilinearSpec& b) {
  std::ostringstream s;
  s << "bilinear, n_out = " << b.n_out << ", n_in = " << b.n_in << ", sigma = " << b.sigma << ", "
    << describe_side("mu", "k", b.covariance_out, b.alpha_out, b.file_out, b.basis_out) << ", "
    << describe_side("lambda", "l", b.covariance_in, b.alpha_in, b.file_in, b.basis_in)
    << ", W*_kl = k^(-" << b.beta_out << ") l^(-" << b.beta_in << ") z_kl";
  if (b.basis_out == BasisKind::generic || b.basis_in == BasisKind::generic)
    s << " in the eigenbases (basis seed " << b.basis_seed << ")";
  return s.str();
}

// Monte Carlo of one optimizer on the bilinear problem as a Trajectory: records at
// so.record_steps, columns at so.mode_pairs. Records from the first non-finite (or > 1e150)
// mean risk on are dropped and the run is `diverged` when any replica diverged.
Trajectory simulate_bilinear_run(const BilinearProblem& problem, const OptimizerSpec& opt,
                                 const SimulateOptions& so) {
  const auto start = std::chrono::steady_clock::now();
  BilinearSimulateOptions o;
  o.replicas = so.replicas;
  o.seed = so.seed;
  o.record_steps.assign(so.record_steps.begin(), so.record_steps.end());
  o.keep_rho = so.mode_pairs.rows() > 0;
  o.threads = so.threads;
  o.progress = so.progress;
  const BilinearMcCurve curve = simulate_bilinear(problem, opt, o);

  Trajectory tr;
  tr.method = "mc";
  tr.optimizer = std::string(to_string(opt.kind));
  tr.solver = "replicas";
  tr.batch = opt.batch;
  tr.lr = opt.lr;
  tr.seed = so.seed;
  tr.replicas = so.replicas;
  const Eigen::Index n_pairs = so.mode_pairs.rows();
  tr.mode_pairs = n_pairs > 0 ? so.mode_pairs : Eigen::MatrixXi(0, 2);
  tr.modes = n_pairs > 0 ? Eigen::VectorXi(so.mode_pairs.col(0)) : Eigen::VectorXi(0);
  auto n_rec = static_cast<Eigen::Index>(curve.steps.size());
  for (Eigen::Index i = 0; i < n_rec; ++i) {
    const double r = curve.risk[static_cast<std::size_t>(i)];
    if (!std::isfinite(r) || r > 1e150) {
      n_rec = i;
      break;
    }
  }
  tr.t.resize(n_rec);
  tr.risk.resize(n_rec);
  tr.risk_se.resize(n_rec);
  tr.rho.resize(n_rec, n_pairs);
  tr.rho_se.resize(n_rec, n_pairs);
  for (Eigen::Index i = 0; i < n_rec; ++i) {
    const auto u = static_cast<std::size_t>(i);
    tr.t(i) = static_cast<double>(curve.steps[u]);
    tr.risk(i) = curve.risk[u];
    tr.risk_se(i) = curve.risk_se[u];
    for (Eigen::Index c = 0; c < n_pairs; ++c) {
      const Eigen::Index k = so.mode_pairs(c, 0) - 1, l = so.mode_pairs(c, 1) - 1;
      tr.rho(i, c) = curve.rho[u](k, l);
      tr.rho_se(i, c) = curve.rho_se[u](k, l);
    }
  }
  if (curve.diverged > 0 || n_rec < static_cast<Eigen::Index>(curve.steps.size())) {
    tr.status = RunStatus::diverged;
    tr.message =
        curve.diverged > 0
            ? std::to_string(curve.diverged) + " of " + std::to_string(so.replicas) +
                  " replicas diverged (non-finite residual); the records every replica reached "
                  "are kept; lower optimizer.lr"
            : "the mean risk exceeded 1e150 at step " +
                  std::to_string(curve.steps[static_cast<std::size_t>(n_rec)]) +
                  " (the replicas blow up); the records before it are kept; lower optimizer.lr";
  }
  tr.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return tr;
}

std::string describe_optimizer(const OptimizerSpec& o) {
  std::ostringstream s;
  s << to_string(o.kind) << " (lr " << o.lr << ", batch " << o.batch;
  if (o.schedule.kind == ScheduleKind::power)
    s << ", lr_k = lr (1 + k/" << o.schedule.k0 << ")^-" << o.schedule.gamma;
  if (o.kind == OptimizerKind::muon) {
    s << ", " << o.ns_steps << " Newton-Schulz steps";
    if (o.momentum > 0) s << ", momentum " << o.momentum << (o.nesterov ? " (Nesterov)" : "");
  }
  s << ")";
  return s.str();
}

std::string fmt(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

}  // namespace

std::string describe_problem(const Experiment& experiment) {
  return experiment.family == ProblemFamily::bilinear ? describe_bilinear(experiment.bilinear)
                                                      : describe_regression(experiment.problem);
}

ResultMeta experiment_meta(const std::string& command, const Experiment& experiment) {
  ResultMeta meta = make_meta(command, experiment.resolved_toml);
  meta.family = std::string(to_string(experiment.family));
  if (experiment.family == ProblemFamily::bilinear) meta.bilinear = experiment.bilinear;
  return meta;
}

namespace {

// " yet", or for the bilinear family " on the bilinear family (<why>)", for the notes on an
// optimizer without dynamics.
std::string theory_gap(const ExperimentJob& job, const OptimizerSpec& optimizer) {
  if (job.experiment.family != ProblemFamily::bilinear) return " yet";
  return " on the bilinear family (" + missing_bilinear_theory(job.bilinear, optimizer) + ")";
}

}  // namespace

bool job_has_theory(const ExperimentJob& job, const OptimizerSpec& optimizer) {
  return job.experiment.family == ProblemFamily::bilinear
             ? has_bilinear_theory(job.bilinear, optimizer)
             : has_theory(job.problem, optimizer);
}

void print_risk_table(std::ostream& out, const Trajectory* mc, const Trajectory* theory) {
  if (mc && theory) {
    const Comparison c = compare_risk(*mc, *theory);
    out << "        step      MC risk       +- SE  theory risk   rel.err        z\n";
    for (Eigen::Index i = 0; i < c.t.size(); ++i)
      out << fmt("%12.0f", c.t(i)) << fmt("  %11.5e", c.risk_mc(i)) << fmt("  %10.2e", c.risk_se(i))
          << fmt("  %11.5e", c.risk_theory(i)) << fmt("  %+7.2f%%", 100.0 * c.rel_error(i))
          << fmt("  %+7.2f", c.z(i)) << '\n';
    out << "  max |rel.err| " << fmt("%.2f%%", 100.0 * c.max_abs_rel_error) << ", max |z| "
        << fmt("%.2f", c.max_abs_z) << ", " << c.count_within(4.0) << "/" << c.t.size()
        << " records within 4 standard errors\n";
    return;
  }
  const Trajectory& tr = mc ? *mc : *theory;
  out << (mc ? "        step      MC risk       +- SE\n" : "        step  theory risk\n");
  for (Eigen::Index i = 0; i < tr.t.size(); ++i) {
    out << fmt("%12.0f", tr.t(i)) << fmt("  %11.5e", tr.risk(i));
    if (mc) out << fmt("  %10.2e", tr.risk_se(i));
    out << '\n';
  }
}

ExperimentJob plan_experiment(const Experiment& experiment, const std::string& command) {
  ExperimentJob job;
  job.command = command;
  job.experiment = experiment;
  if (experiment.family == ProblemFamily::bilinear)
    job.bilinear = make_bilinear_problem(experiment.bilinear);
  else
    job.problem = make_problem(experiment.problem);
  job.mc = experiment.run.mc;
  job.theory = experiment.run.theory;
  if (command == "simulate") job.mc = true, job.theory = false;
  if (command == "ode") job.mc = false, job.theory = true;
  if (command == "compare") job.mc = true, job.theory = true;
  if (command == "ode" || command == "compare") {
    // Optimizers without dynamics are skipped with a note; with none left there is no job.
    bool any = false;
    for (const OptimizerSpec& opt : experiment.optimizers) any = any || job_has_theory(job, opt);
    if (!any)
      throw Error("`signdyn " + command +
                  "` needs deterministic dynamics, which are not implemented yet for " +
                  "the optimizers in optimizer.name" +
                  (experiment.family == ProblemFamily::bilinear
                       ? std::string(" on the bilinear family (it has SGD's)")
                       : std::string()) +
                  "; use `signdyn simulate` for them");
  }
  return job;
}

ExperimentRuns run_methods(const ExperimentJob& job, int threads, bool verbose, bool bar,
                           std::ostream& err) {
  const Experiment& exp = job.experiment;
  const Problem& problem = job.problem;
  const bool bilinear = exp.family == ProblemFamily::bilinear;
  const std::vector<std::int64_t> steps = record_steps(exp.run.steps, exp.run.records);
  const Eigen::VectorXi modes =
      bilinear ? Eigen::VectorXi() : record_modes(problem.d, exp.run.modes);
  const Eigen::MatrixXi pairs =
      bilinear ? record_mode_pairs(job.bilinear.n_out, job.bilinear.n_in, exp.run.modes)
               : Eigen::MatrixXi();
  ExperimentRuns result;
  std::vector<Trajectory>& runs = result.runs;
  for (const OptimizerSpec& opt : exp.optimizers) {
    ExperimentRuns::Pair pair;
    const std::string name(to_string(opt.kind));
    if (job.command == "compare" && !job_has_theory(job, opt)) {
      if (verbose)
        err << "  note: no deterministic dynamics for " << name << theory_gap(job, opt)
            << "; not compared\n";
      result.pairs.push_back(pair);
      continue;
    }
    if (job.mc) {
      ProgressBar progress(err, "  simulate " + name, bar);
      SimulateOptions so;
      so.record_steps = steps;
      so.modes = modes;
      so.mode_pairs = pairs;
      so.replicas = exp.run.replicas;
      so.seed = exp.run.seed;
      so.threads = threads;
      so.progress = [&progress](double f) { progress.update(f); };
      runs.push_back(bilinear ? simulate_bilinear_run(job.bilinear, opt, so)
                              : simulate(problem, opt, so));
      progress.finish();
      pair.mc = static_cast<std::ptrdiff_t>(runs.size()) - 1;
    }
    if (job.theory) {
      if (!job_has_theory(job, opt)) {
        if (verbose)
          err << "  note: no deterministic dynamics for " << name << theory_gap(job, opt)
              << "; Monte Carlo only\n";
      } else {
        TheoryOptions to;
        to.record_steps = steps;
        to.modes = modes;
        to.mode_pairs = pairs;
        to.solver = exp.theory.solver;
        to.rel_tol = exp.theory.rel_tol;
        to.abs_tol = exp.theory.abs_tol;
        runs.push_back(bilinear ? predict_bilinear(job.bilinear, opt, to)
                                : predict(problem, opt, to));
        pair.theory = static_cast<std::ptrdiff_t>(runs.size()) - 1;
      }
    }
    result.pairs.push_back(pair);
  }
  return result;
}

int run_experiment(const RunRequest& request, std::ostream& out, std::ostream& err) {
  const Experiment exp = load_config(request.config_path, request.overrides);
  const ExperimentJob job = plan_experiment(exp, request.command);
  const std::string out_path =
      request.out_path.empty() ? default_out_path(request) : request.out_path;
  prepare_output(out_path);

  const bool verbose = !request.quiet;
  const bool bar = verbose && is_terminal(err);
  if (verbose) {
    err << "signdyn " << request.command << ": " << describe_problem(exp) << "\n"
        << "  " << exp.run.steps << " steps, " << exp.run.records << " records";
    if (job.mc) err << ", " << exp.run.replicas << " replicas (seed " << exp.run.seed << ")";
    err << "\n";
  }

  const ExperimentRuns result = run_methods(job, request.threads, verbose, bar, err);
  const std::vector<Trajectory>& runs = result.runs;
  const std::vector<ExperimentRuns::Pair>& pairs = result.pairs;
  write_result(out_path, experiment_meta(request.command, exp), runs);

  double worst_z = 0.0;
  for (std::size_t k = 0; k < exp.optimizers.size(); ++k) {
    const Trajectory* mc =
        pairs[k].mc >= 0 ? &runs[static_cast<std::size_t>(pairs[k].mc)] : nullptr;
    const Trajectory* th =
        pairs[k].theory >= 0 ? &runs[static_cast<std::size_t>(pairs[k].theory)] : nullptr;
    if (mc && th) worst_z = std::max(worst_z, compare_risk(*mc, *th).max_abs_z);
    for (const Trajectory* tr : {mc, th})
      if (tr && tr->status != RunStatus::completed)
        err << "  warning: " << tr->optimizer << " " << tr->method << " " << to_string(tr->status)
            << ": " << tr->message << "\n";
    if (!verbose || (!mc && !th)) continue;
    out << "\n" << describe_optimizer(exp.optimizers[k]);
    if (mc)
      out << ": Monte Carlo, " << mc->replicas << " replicas, " << fmt("%.2f s", mc->wall_seconds);
    if (th)
      out << (mc ? "; " : ": ") << "theory (" << th->solver << "), "
          << fmt("%.3f s", th->wall_seconds);
    out << "\n";
    print_risk_table(out, mc, th);
  }

  out << (verbose ? "\n" : "") << "wrote " << out_path << "\n";
  if (request.plot) {
    const std::string png = plot_result(out_path, err);
    if (!png.empty()) out << "wrote " << png << "\n";
  }
  if (request.max_z > 0 && worst_z > request.max_z) {
    err << "signdyn compare: max |z| = " << fmt("%.2f", worst_z) << " exceeds --max-z "
        << request.max_z << "\n";
    return kDisagreement;
  }
  return kOk;
}

int show_info(const std::string& path, std::ostream& out) {
  const ResultFile file = read_result(path);
  out << path << "\n  written by signdyn " << file.meta.version << " (commit "
      << file.meta.git_commit << ") `" << file.meta.command << "` at " << file.meta.created
      << ", format " << file.format_version << "\n";
  try {
    const Experiment exp = parse_config(file.meta.config_toml, path + ":/config");
    out << "  problem: " << describe_problem(exp) << "\n  optimizers:";
    for (const OptimizerSpec& o : exp.optimizers) out << " " << describe_optimizer(o);
    out << "\n";
  } catch (const Error&) {
    out << "  (configuration written by another signdyn version; see the root attribute "
           "`config`)\n";
  }
  // Columns as wide as their longest entry (solver names such as "ode_rosenbrock" vary).
  std::size_t wg = 6, ws = 7;
  for (const Trajectory& tr : file.runs) {
    wg = std::max(wg, run_group_name(tr).size() + 2);
    ws = std::max(ws, tr.solver.size() + 2);
  }
  const int group_w = static_cast<int>(wg), solver_w = static_cast<int>(ws);
  out << "  runs:\n    " << std::left << std::setw(group_w) << "group" << std::setw(8) << "method"
      << std::setw(solver_w) << "solver" << std::setw(8) << "records" << std::setw(16) << "t range"
      << std::setw(26) << "risk first -> last" << std::setw(11) << "status"
      << "wall\n";
  for (const Trajectory& tr : file.runs) {
    const Eigen::Index n = tr.t.size();
    std::ostringstream range, risk;
    if (n > 0) {
      range << tr.t(0) << ".." << tr.t(n - 1);
      risk << fmt("%.4e", tr.risk(0)) << " -> " << fmt("%.4e", tr.risk(n - 1));
    }
    out << "    " << std::setw(group_w) << run_group_name(tr) << std::setw(8) << tr.method
        << std::setw(solver_w) << tr.solver << std::setw(8) << n << std::setw(16) << range.str()
        << std::setw(26) << risk.str() << std::setw(11) << to_string(tr.status)
        << fmt("%.3f s", tr.wall_seconds) << "\n";
  }
  out << std::right << "  read a run in Python: h5py.File('" << path
      << "')['runs/<group>/risk'][:]  (see docs/output-format.md)\n";
  return kOk;
}

}  // namespace signdyn::cli
