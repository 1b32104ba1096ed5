// ODE vs Monte Carlo for SignSVD and Muon (validation/README.md, "## SignSVD" / "## Muon").
//
// For each case (one line of the case file: name d m B lr steps alpha beta sigma optimizer
// ns_steps replicas), runs the Monte Carlo engine (signdyn::simulate, all modes recorded) and
// the deterministic dynamics (signdyn::predict, and the alternative closures where asked), both
// from the realised mean initial state ρ_j(0) of the Monte Carlo replicas, and prints one
// markdown row per (case, theory) with:
//   * risk: max and mean over the records k ≥ 1 of |R_theory/R_mc − 1| (the stated metric);
//   * excess: the same for the excess risk R − σ²/2, over the records whose Monte Carlo standard
//     error is below 10% of the excess (elsewhere the Monte Carlo value itself is undetermined);
//   * max |z| of the risk, z = (R_mc − R_theory)/se;
//   * ρ_j: max over the curve of |ρ_theory/ρ_mc − 1| for the modes j = 1, 8, 64 (where the
//     Monte Carlo standard error of ρ_j is below 5%).
// Curves go to <out>/<name>.csv (t, R_mc, se, R_theory per theory). The Monte Carlo result of a
// case is cached in <out>/<name>.mc (keyed by the case line), so that re-running the table after
// a change of theory costs only the theory.
//
// Usage: validate_signsvd CASES_FILE OUT_DIR [threads]
#include <Eigen/Core>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "../../solvers/ode/signsvd.hpp"
#include "signdyn/dynamics.hpp"
#include "signdyn/error.hpp"
#include "signdyn/simulate.hpp"

using namespace signdyn;

namespace {

struct Case {
  std::string name;
  Eigen::Index d = 0, m = 0;
  std::int64_t batch = 0;
  double lr = 0.0;
  std::int64_t steps = 0;
  double alpha = 0.5, beta = 0.5, sigma = 0.5;
  std::string optimizer;
  int ns_steps = 5;
  std::int64_t replicas = 8;
};

struct Theory {
  std::string label;
  Trajectory trajectory;
  double seconds = 0.0;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void report(const Case& c, const Trajectory& mc, const Theory& th, double mc_seconds,
            std::ostream& out) {
  const double floor = 0.5 * c.sigma * c.sigma;
  double risk_max = 0, risk_sum = 0, ex_max = 0, ex_sum = 0, z_max = 0;
  int risk_n = 0, ex_n = 0;
  const Eigen::Index n = std::min(mc.t.size(), th.trajectory.t.size());
  for (Eigen::Index i = 1; i < n; ++i) {
    const double r_mc = mc.risk(i), r_th = th.trajectory.risk(i), se = mc.risk_se(i);
    const double e = std::abs(r_th / r_mc - 1);
    risk_max = std::max(risk_max, e);
    risk_sum += e;
    ++risk_n;
    if (se > 0) z_max = std::max(z_max, std::abs(r_mc - r_th) / se);
    const double ex_mc = r_mc - floor;
    if (ex_mc > 0 && se < 0.1 * ex_mc) {
      const double ee = std::abs((r_th - floor) / ex_mc - 1);
      ex_max = std::max(ex_max, ee);
      ex_sum += ee;
      ++ex_n;
    }
  }
  std::string modes;
  for (int j : {1, 8, 64}) {
    if (j > c.d) continue;
    double worst = 0;
    for (Eigen::Index i = 1; i < n; ++i) {
      const double r_mc = mc.rho(i, j - 1), se = mc.rho_se(i, j - 1);
      if (!(r_mc > 0) || se > 0.05 * r_mc) continue;
      worst = std::max(worst, std::abs(th.trajectory.rho(i, j - 1) / r_mc - 1));
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s%.1f", modes.empty() ? "" : " / ", 100 * worst);
    modes += buf;
  }
  char line[512];
  std::snprintf(
      line, sizeof line,
      "| %s | %s | %ld | %ld | %ld | %.3g | %.3g/%.3g/%.3g | %s | %.2f%% | %.2f%% | "
      "%.1f%% | %.1f%% | %.1f | %s | %ld | %.0f | %.1f |",
      c.name.c_str(),
      c.optimizer == "muon" ? ("muon k=" + std::to_string(c.ns_steps)).c_str() : "signsvd",
      static_cast<long>(c.d), static_cast<long>(c.m), static_cast<long>(c.batch), c.lr, c.alpha,
      c.beta, c.sigma, th.label.c_str(), 100 * risk_max, 100 * risk_sum / std::max(risk_n, 1),
      100 * ex_max, 100 * ex_sum / std::max(ex_n, 1), z_max, modes.c_str(),
      static_cast<long>(c.replicas), mc_seconds, th.seconds);
  out << line << std::endl;
}

void save_mc(const std::string& path, const std::string& key, const Trajectory& mc,
             double seconds) {
  std::ofstream f(path);
  f.precision(17);
  f << key << "\n" << seconds << " " << mc.t.size() << " " << mc.modes.size() << "\n";
  for (Eigen::Index i = 0; i < mc.t.size(); ++i) {
    f << mc.t(i) << " " << mc.risk(i) << " " << mc.risk_se(i);
    for (Eigen::Index j = 0; j < mc.modes.size(); ++j)
      f << " " << mc.rho(i, j) << " " << mc.rho_se(i, j);
    f << "\n";
  }
}

bool load_mc(const std::string& path, const std::string& key, Trajectory& mc, double& seconds) {
  std::ifstream f(path);
  std::string line;
  if (!f || !std::getline(f, line) || line != key) return false;
  Eigen::Index n = 0, k = 0;
  f >> seconds >> n >> k;
  mc.t.resize(n);
  mc.risk.resize(n);
  mc.risk_se.resize(n);
  mc.rho.resize(n, k);
  mc.rho_se.resize(n, k);
  mc.modes.resize(k);
  for (Eigen::Index j = 0; j < k; ++j) mc.modes(j) = static_cast<int>(j + 1);
  for (Eigen::Index i = 0; i < n; ++i) {
    f >> mc.t(i) >> mc.risk(i) >> mc.risk_se(i);
    for (Eigen::Index j = 0; j < k; ++j) f >> mc.rho(i, j) >> mc.rho_se(i, j);
  }
  return static_cast<bool>(f);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: validate_signsvd CASES_FILE OUT_DIR [threads]\n";
    return 2;
  }
  const int threads = argc > 3 ? std::atoi(argv[3]) : 1;
  std::ifstream in(argv[1]);
  if (!in) {
    std::cerr << "cannot read " << argv[1] << "\n";
    return 2;
  }
  const std::string out_dir = argv[2];
  std::cout << "| case | optimizer | d | m | B | lr | α/β/σ | theory | risk max | risk mean | "
               "excess max | excess mean | max abs z | ρ_1/ρ_8/ρ_64 max % | replicas | MC s | "
               "theory s |\n";
  std::cout
      << "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | "
         "--- | --- | --- |\n";
  std::string text;
  while (std::getline(in, text)) {
    if (text.empty() || text[0] == '#') continue;
    std::istringstream ls(text);
    Case c;
    ls >> c.name >> c.d >> c.m >> c.batch >> c.lr >> c.steps >> c.alpha >> c.beta >> c.sigma >>
        c.optimizer >> c.ns_steps >> c.replicas;
    std::string closures;
    ls >> closures;  // optional: comma-separated extra closures for SignSVD (row, row_finite_m)
    try {
      ProblemSpec spec;
      spec.d = c.d;
      spec.m = c.m;
      spec.sigma = c.sigma;
      spec.alpha = c.alpha;
      spec.beta = c.beta;
      const Problem problem = make_problem(spec);
      OptimizerSpec opt;
      opt.kind = c.optimizer == "muon" ? OptimizerKind::muon : OptimizerKind::signsvd;
      opt.lr = c.lr;
      opt.batch = c.batch;
      opt.ns_steps = c.ns_steps;

      SimulateOptions so;
      so.record_steps = record_steps(c.steps, 40);
      so.modes = record_modes(c.d, 0);
      so.replicas = c.replicas;
      so.seed = 20240501;
      so.threads = threads;
      std::istringstream key_stream(text);
      std::string key, word;
      for (int w = 0; w < 12 && key_stream >> word; ++w) key += word + " ";
      Trajectory mc;
      double mc_seconds = 0.0;
      const std::string cache = out_dir + "/" + c.name + ".mc";
      if (!load_mc(cache, key, mc, mc_seconds)) {
        const auto mc_start = std::chrono::steady_clock::now();
        mc = simulate(problem, opt, so);
        mc_seconds = seconds_since(mc_start);
        if (mc.status != RunStatus::completed)
          throw Error("Monte Carlo " + to_string(mc.status) + ": " + mc.message);
        save_mc(cache, key, mc, mc_seconds);
      }

      // The theory starts from the replicas' mean realised ρ_j(0): the sampling error of the
      // initial state is common to all records and is not what is being validated.
      Problem start = problem;
      start.b = mc.rho.row(0).transpose().cwiseMax(0.0).cwiseSqrt();
      TheoryOptions to;
      to.record_steps = so.record_steps;
      to.modes = so.modes;
      std::vector<Theory> theories;
      auto run = [&](const std::string& label, auto&& fn) {
        const auto t0 = std::chrono::steady_clock::now();
        Theory th{label, fn(), 0.0};
        th.seconds = seconds_since(t0);
        theories.push_back(std::move(th));
      };
      run("default (map)", [&] { return predict(start, opt, to); });
      if (opt.kind == OptimizerKind::muon) {
        run("default (ode)", [&] {
          TheoryOptions o = to;
          o.solver = TheorySolver::ode;
          return predict(start, opt, o);
        });
        run("SignSVD law (map)", [&] {
          OptimizerSpec svd = opt;
          svd.kind = OptimizerKind::signsvd;
          return predict(start, svd, to);
        });
      }
      if (opt.kind == OptimizerKind::signsvd) {
        std::stringstream cs(closures);
        std::string name;
        while (std::getline(cs, name, ',')) {
          if (name == "row")
            run("row (theory.md)", [&] {
              return detail::signsvd_predict(start, opt, to, detail::SignsvdClosure::row);
            });
          if (name == "row_finite_m")
            run("row, finite m", [&] {
              return detail::signsvd_predict(start, opt, to, detail::SignsvdClosure::row_finite_m);
            });
          if (name == "de_only")
            run("equivalent only (map)", [&] {
              return detail::signsvd_predict(start, opt, to, detail::SignsvdClosure::de_only);
            });
          if (name == "ode")
            run("default (ode)", [&] {
              TheoryOptions o = to;
              o.solver = TheorySolver::ode;
              return predict(start, opt, o);
            });
        }
      }
      for (const Theory& th : theories) report(c, mc, th, mc_seconds, std::cout);
      std::ofstream csv(out_dir + "/" + c.name + ".csv");
      csv << "t,risk_mc,risk_se";
      for (const Theory& th : theories) csv << ",\"" << th.label << "\"";
      csv << "\n";
      for (Eigen::Index i = 0; i < mc.t.size(); ++i) {
        csv << mc.t(i) << "," << mc.risk(i) << "," << mc.risk_se(i);
        for (const Theory& th : theories)
          csv << "," << (i < th.trajectory.risk.size() ? th.trajectory.risk(i) : NAN);
        csv << "\n";
      }
    } catch (const Error& e) {
      std::cout << "| " << c.name << " | error: " << e.what() << " |" << std::endl;
    }
  }
  return 0;
}
