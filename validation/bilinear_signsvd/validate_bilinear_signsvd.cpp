// SignSVD on the bilinear problem: deterministic dynamics vs Monte Carlo
// (validation/bilinear_signsvd/README.md).
//
// Each case (one line of the case file: name n B lr steps alpha beta sigma replicas samples)
// runs the Monte Carlo engine (simulate_bilinear, SignSVD, n_out = n_in = n, α and β the same
// on both sides) and the map of solvers/ode/bilinear_signsvd from the replicas' realised mean
// ρ(0), and prints one markdown row: max and mean over the records k ≥ 1 of
// |R_theory/R_mc − 1|, max |z| of the risk, the number of moment evaluations, and the times.
// Curves go to <out>/<name>.csv (t, R_mc, se, R_theory); the Monte Carlo result is cached in
// <out>/<name>.mc (keyed by the case line less the samples field) so that re-running after a theory
// change costs only the theory.
//
// With the argument `drift`, prints instead the small-signal drift exponents (ρ = 10⁻⁸ b_k²c_l²,
// so the gradient is noise-dominated): the slope of ln rate_{1l} (and of ln of the column mean
// of rate) against ln λ_l over l ∈ [4, n/4].
//
// Usage: validate_bilinear_signsvd CASES_FILE OUT_DIR [threads] [drift]
#include <Eigen/Core>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "../../solvers/ode/bilinear_signsvd.hpp"
#include "signdyn/bilinear.hpp"
#include "signdyn/bilinear_simulate.hpp"
#include "signdyn/error.hpp"

using namespace signdyn;

namespace {

struct Case {
  std::string name, line;
  Eigen::Index n = 0, batch = 0;
  double lr = 0.0;
  long steps = 0;
  double alpha = 0.5, beta = 0.5, sigma = 0.5;
  std::int64_t replicas = 8;
  int samples = 32;
};

struct McResult {
  std::vector<long> steps;
  std::vector<double> risk, se;
  Eigen::MatrixXd rho0;
  double seconds = 0.0;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::vector<long> records(long steps) {
  std::vector<long> r{0};
  for (double t = 1.0; t < static_cast<double>(steps); t *= 1.25) {
    const long k = static_cast<long>(std::lround(t));
    if (k > r.back()) r.push_back(k);
  }
  if (r.back() != steps) r.push_back(steps);
  return r;
}

BilinearProblem problem(const Case& c) {
  BilinearSpec s;
  s.n_out = s.n_in = c.n;
  s.sigma = c.sigma;
  s.alpha_out = s.alpha_in = c.alpha;
  s.beta_out = s.beta_in = c.beta;
  return make_bilinear_problem(s);
}

// The Monte Carlo cache key: the case line without its last field (the theory's samples).
std::string mc_key(const Case& c) {
  std::string key = c.line;
  while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
  return key.substr(0, key.find_last_of(" \t"));
}

bool load_mc(const std::string& path, const Case& c, McResult& mc) {
  std::ifstream in(path);
  std::string key;
  if (!in || !std::getline(in, key) || key != mc_key(c)) return false;
  std::size_t n_rec = 0;
  in >> mc.seconds >> n_rec;
  mc.steps.resize(n_rec);
  mc.risk.resize(n_rec);
  mc.se.resize(n_rec);
  for (std::size_t i = 0; i < n_rec; ++i) in >> mc.steps[i] >> mc.risk[i] >> mc.se[i];
  mc.rho0.resize(c.n, c.n);
  for (Eigen::Index j = 0; j < c.n; ++j)
    for (Eigen::Index i = 0; i < c.n; ++i) in >> mc.rho0(i, j);
  return static_cast<bool>(in);
}

void save_mc(const std::string& path, const Case& c, const McResult& mc) {
  std::ofstream out(path);
  out.precision(17);
  out << mc_key(c) << '\n' << mc.seconds << ' ' << mc.steps.size() << '\n';
  for (std::size_t i = 0; i < mc.steps.size(); ++i)
    out << mc.steps[i] << ' ' << mc.risk[i] << ' ' << mc.se[i] << '\n';
  for (Eigen::Index j = 0; j < c.n; ++j)
    for (Eigen::Index i = 0; i < c.n; ++i) out << mc.rho0(i, j) << '\n';
}

McResult run_mc(const BilinearProblem& p, const Case& c, int threads) {
  OptimizerSpec opt;
  opt.kind = OptimizerKind::signsvd;
  opt.lr = c.lr;
  opt.batch = c.batch;
  BilinearSimulateOptions o;
  o.replicas = c.replicas;
  o.seed = 2026;
  o.record_steps = records(c.steps);
  o.keep_rho = true;
  o.threads = threads;
  const auto t0 = std::chrono::steady_clock::now();
  BilinearMcCurve curve = simulate_bilinear(p, opt, o);
  McResult mc;
  mc.seconds = seconds_since(t0);
  if (curve.diverged > 0) throw Error(c.name + ": Monte Carlo replicas diverged");
  mc.steps = curve.steps;
  mc.risk = curve.risk;
  mc.se = curve.risk_se;
  mc.rho0 = curve.rho.front();
  return mc;
}

// Theory options, with overrides for sensitivity runs from the environment: BSVD_CG_TOL,
// BSVD_REFRESH (refresh tolerance), BSVD_BIN (bin ratio), BSVD_SEED.
detail::BilinearSignsvdOptions theory_options() {
  detail::BilinearSignsvdOptions o;
  if (const char* v = std::getenv("BSVD_CG_TOL")) o.cg_tolerance = std::stod(v);
  if (const char* v = std::getenv("BSVD_REFRESH")) o.refresh_tolerance = std::stod(v);
  if (const char* v = std::getenv("BSVD_BIN")) o.bin_ratio = std::stod(v);
  if (const char* v = std::getenv("BSVD_SEED")) o.seed = std::stoull(v);
  return o;
}

double slope(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sx += x[i];
    sy += y[i];
    sxx += x[i] * x[i];
    sxy += x[i] * y[i];
  }
  return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

void drift_row(const Case& c, int threads) {
  const BilinearProblem p = problem(c);
  detail::BilinearSignsvdOptions o;
  o.samples = c.samples;
  o.threads = threads;
  o.bin_ratio = 1.15;
  const detail::BilinearSignsvdMoments m =
      detail::bilinear_signsvd_moments(p, c.batch, 1e-8 * bilinear_initial_rho(p), o, 0);
  std::vector<double> x, y1, ym;
  for (Eigen::Index l = 3; l < c.n / 4; ++l) {
    x.push_back(std::log(p.lambda(l)));
    y1.push_back(std::log(m.rate(0, l)));
    ym.push_back(std::log(m.rate.col(l).mean()));
  }
  std::printf("| %s | %ld | %ld | %.2f | %.3f | %.3f | %.3f |\n", c.name.c_str(),
              static_cast<long>(c.n), static_cast<long>(c.batch), c.alpha, slope(x, y1),
              slope(x, ym), m.noise.sum());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: validate_bilinear_signsvd CASES_FILE OUT_DIR [threads] [drift]\n";
    return 2;
  }
  const int threads = argc > 3 ? std::stoi(argv[3]) : 2;
  const bool drift = argc > 4 && std::string(argv[4]) == "drift";
  std::ifstream in(argv[1]);
  const std::string out_dir = argv[2];
  if (drift) {
    std::printf("| case | n | B | α | slope rate_1l vs λ_l | slope mean_k rate_kl | Σ N |\n");
    std::printf("| --- | --- | --- | --- | --- | --- | --- |\n");
  } else {
    std::printf(
        "| case | n | B | α | lr | steps | R(0) | R_mc(end) | max rel err | mean rel err | max abs "
        "z "
        "| evals | CG it/sample | t_theory (s) | t_mc (s) |\n");
    std::printf(
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- "
        "|\n");
  }
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    Case c;
    c.line = line;
    std::istringstream ls(line);
    ls >> c.name >> c.n >> c.batch >> c.lr >> c.steps >> c.alpha >> c.beta >> c.sigma >>
        c.replicas >> c.samples;
    if (!ls) throw Error("bad case line: " + line);
    if (drift) {
      drift_row(c, threads);
      std::fflush(stdout);
      continue;
    }
    const BilinearProblem p = problem(c);
    McResult mc;
    const std::string cache = out_dir + "/" + c.name + ".mc";
    if (!load_mc(cache, c, mc)) {
      mc = run_mc(p, c, threads);
      save_mc(cache, c, mc);
    }
    detail::BilinearSignsvdOptions o = theory_options();
    o.samples = c.samples;
    o.threads = threads;
    const auto t0 = std::chrono::steady_clock::now();
    const detail::BilinearSignsvdCurve th =
        detail::bilinear_signsvd_map(p, c.lr, c.batch, mc.rho0, mc.steps, false, o);
    const double t_th = seconds_since(t0);
    double max_err = 0.0, sum_err = 0.0, max_z = 0.0;
    std::ofstream csv(out_dir + "/" + c.name + ".csv");
    csv << "t,R_mc,se,R_theory\n";
    csv.precision(10);
    for (std::size_t i = 0; i < mc.steps.size(); ++i) {
      csv << mc.steps[i] << ',' << mc.risk[i] << ',' << mc.se[i] << ',' << th.risk[i] << '\n';
      if (mc.steps[i] < 1) continue;
      const double err = std::abs(th.risk[i] / mc.risk[i] - 1.0);
      max_err = std::max(max_err, err);
      sum_err += err;
      if (mc.se[i] > 0) max_z = std::max(max_z, std::abs(mc.risk[i] - th.risk[i]) / mc.se[i]);
    }
    std::printf(
        "| %s | %ld | %ld | %.2f | %.4g | %ld | %.4g | %.4g | %.2f%% | %.2f%% | %.1f | %ld | %.1f "
        "| "
        "%.1f | %.1f |\n",
        c.name.c_str(), static_cast<long>(c.n), static_cast<long>(c.batch), c.alpha, c.lr, c.steps,
        mc.risk.front(), mc.risk.back(), 100 * max_err,
        100 * sum_err / static_cast<double>(mc.steps.size() - 1), max_z, th.evaluations,
        static_cast<double>(th.cg_iterations) / static_cast<double>(th.evaluations * c.samples),
        t_th, mc.seconds);
    std::fflush(stdout);
  }
  return 0;
}
