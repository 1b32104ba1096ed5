// Bilinear SignSGD: deterministic closure (detail::bilinear_signsgd_map) against Monte Carlo
// (simulate_bilinear). One markdown table row per (n = n_out = n_in, B, α = α_out = α_in):
// the maximum relative error of the risk over the records (step ≥ 1), the largest
// |z| = |theory − MC|/se, and the Monte Carlo's largest relative standard error.
//
// Problem: μ_k = k^(−2α), λ_l = l^(−2α) (signdyn convention), β_out = β_in = β (default 0:
// W* i.i.d. N(0, 1) in the eigenbases), σ = 0.5. Learning rate and horizon from the linear
// closure (docs/theory/bilinear.md, SignSGD): with F0 = F(0; 0, 0) (≈ √(2B/π) for large B)
// and Σ = Σ_kl √(μ_k λ_l), the stationary excess risk is ≈ η √(2R) Σ/(4 F0); we take
// η = c_lr · 4 F0 √(2 R0)/Σ (c_lr = 0.1: floor near R0/25) and the horizon
// T = h √(2 R0)/(η F0) (h = --horizon decay times of the top entry), capped at --max-steps.
// Replicas: enough for a 1.5% standard error of R(0) from the target's own spread, clamped to
// [4, --max-reps].
//
// Usage: validate_bilinear_signsgd [--n 128,256] [--batch 1,16,256,4n] [--alpha .25,.5,.75]
//          [--beta 0] [--cache DIR] [--threads N] [--max-steps T] [--max-reps R] [--env J]
//          [--horizon h] [--lr-factor c_lr] [--theory-only] [--verbose (per-record rows)]
//          [--no-rest-mixture]
#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "../../solvers/ode/bilinear_signsgd.hpp"
#include "signdyn/bilinear.hpp"
#include "signdyn/bilinear_simulate.hpp"
#include "signdyn/optimizer.hpp"

namespace {

using namespace signdyn;

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(item);
  return out;
}

std::vector<long> records(long steps, int count) {
  std::vector<long> r = {0};
  for (int i = 0; i <= count; ++i) {
    const long t =
        std::lround(std::pow(static_cast<double>(steps), static_cast<double>(i) / count));
    if (t > r.back()) r.push_back(t);
  }
  return r;
}

bool load(const std::string& path, BilinearMcCurve& c, double& seconds) {
  std::ifstream in(path);
  if (!in) return false;
  std::string line;
  std::getline(in, line);
  const auto pos = line.find("wall ");
  seconds = pos == std::string::npos ? 0.0 : std::atof(line.c_str() + pos + 5);
  long t;
  double r, se;
  while (in >> t >> r >> se) {
    c.steps.push_back(t);
    c.risk.push_back(r);
    c.risk_se.push_back(se);
  }
  return !c.steps.empty();
}

void save(const std::string& path, const BilinearMcCurve& c, double seconds) {
  std::ofstream out(path);
  out << "# step risk risk_se (wall " << seconds << " s)\n";
  out.precision(12);
  for (std::size_t i = 0; i < c.steps.size(); ++i)
    out << c.steps[i] << " " << c.risk[i] << " " << c.risk_se[i] << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> ns = {"128", "256"}, bs = {"1", "16", "256", "4n"},
                           as = {"0.25", "0.5", "0.75"};
  std::string cache = "validation-cache-bilinear";
  double beta = 0.0, sigma = 0.5, c_lr = 0.1;
  long max_steps = 100000;
  long max_reps = 64;
  int threads = 1, env = 1, n_records = 30;
  double horizon = 3.0;
  bool theory_only = false, verbose = false, rest_mixture = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--n")
      ns = split(next());
    else if (a == "--batch")
      bs = split(next());
    else if (a == "--alpha")
      as = split(next());
    else if (a == "--beta")
      beta = std::atof(next().c_str());
    else if (a == "--cache")
      cache = next();
    else if (a == "--threads")
      threads = std::atoi(next().c_str());
    else if (a == "--max-steps")
      max_steps = std::atol(next().c_str());
    else if (a == "--max-reps")
      max_reps = std::atol(next().c_str());
    else if (a == "--horizon")
      horizon = std::atof(next().c_str());
    else if (a == "--lr-factor")
      c_lr = std::atof(next().c_str());
    else if (a == "--no-rest-mixture")
      rest_mixture = false;
    else if (a == "--verbose")
      verbose = true;
    else if (a == "--theory-only")
      theory_only = true;
    else if (a == "--env")
      env = std::atoi(next().c_str());
    else {
      std::cerr << "unknown argument " << a << "\n";
      return 2;
    }
  }
  std::filesystem::create_directories(cache);
  std::printf(
      "| n | B | α | η | steps | R(0) → R(T) | replicas | max rel. err. R | max abs z | "
      "MC rel. se (max) | theory s | MC s |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  std::fflush(stdout);
  for (const std::string& n_s : ns)
    for (const std::string& a_s : as)
      for (const std::string& b_s : bs) {
        const long n = std::atol(n_s.c_str());
        const long batch = b_s == "4n" ? 4 * n : std::atol(b_s.c_str());
        BilinearSpec spec;
        spec.n_out = spec.n_in = n;
        spec.sigma = sigma;
        spec.alpha_out = spec.alpha_in = std::atof(a_s.c_str());
        spec.beta_out = spec.beta_in = beta;
        const BilinearProblem p = make_bilinear_problem(spec);
        const detail::BilinearSignTable table(batch, 1 << 13, 1);
        const double f0 = table.gauss_drift(0.0, 0.0, 0.0);
        double sum_root = 0.0, s1 = 0.0, s2 = 0.0;
        for (long k = 0; k < n; ++k)
          for (long l = 0; l < n; ++l) {
            sum_root += std::sqrt(p.mu(k) * p.lambda(l));
            const double s = p.mu(k) * p.lambda(l) * p.b(k) * p.b(k) * p.c(l) * p.c(l);
            s1 += s;
            s2 += s * s;
          }
        const double two_r0 = s1 + sigma * sigma;
        double lr = c_lr * 4.0 * f0 * std::sqrt(two_r0) / sum_root;
        const long steps =
            std::min<long>(max_steps, std::lround(horizon * std::sqrt(two_r0) / (lr * f0)));
        // Relative spread of R(0) across replicas: Var R0 = ½ Σ s², R0 − σ²/2 = ½ Σ s.
        const double rel0 = std::sqrt(2.0 * s2) / two_r0;
        long reps =
            std::clamp<long>(std::lround(std::ceil(std::pow(rel0 / 0.015, 2))), 4, max_reps);
        // A cached run of the same problem and batch fixes (η, T, replicas): F0 from a table
        // with other draws changes η in its last digits, and the Monte Carlo is the costly part.
        std::ostringstream prefix;
        prefix << "bil_signsgd_n" << n << "_B" << batch << "_a" << a_s << "_b" << beta << "_s"
               << sigma << "_lr";
        std::string cached;
        for (const auto& entry : std::filesystem::directory_iterator(cache)) {
          const std::string name = entry.path().filename().string();
          if (name.rfind(prefix.str(), 0) == 0 && (cached.empty() || name < cached)) cached = name;
        }
        if (!cached.empty() && !theory_only) {
          std::sscanf(cached.c_str() + prefix.str().size(), "%lf_T%ld_R%ld", &lr, &steps, &reps);
        }
        const std::vector<long> rec = records(steps, n_records);
        std::ostringstream key;
        key << cache << "/" << prefix.str() << lr << "_T" << steps << "_R" << reps << ".txt";
        if (!cached.empty() && !theory_only) key.str(cache + "/" + cached);
        BilinearMcCurve mc;
        double mc_s = 0.0;
        if (theory_only) {
          detail::BilinearSignSgdClosure cl;
          cl.env_entries = env;
          cl.rest_scale_mixture = rest_mixture;
          cl.rest_scale_mixture = rest_mixture;
          const detail::BilinearSgdCurve th =
              detail::bilinear_signsgd_map(p, table, lr, rec, false, cl);
          std::printf("| %ld | %ld | %s | %.3g | %ld | %.3g → %.3g (theory; R(T/10) = %.3g) |\n", n,
                      batch, a_s.c_str(), lr, steps, th.risk.front(), th.risk.back(),
                      th.risk[th.risk.size() * 2 / 3]);
          std::fflush(stdout);
          continue;
        }
        if (!load(key.str(), mc, mc_s)) {
          OptimizerSpec o;
          o.kind = OptimizerKind::signsgd;
          o.lr = lr;
          o.batch = batch;
          BilinearSimulateOptions so;
          so.replicas = reps;
          so.seed = 5;
          so.record_steps = rec;
          so.keep_rho = false;
          so.threads = threads;
          const auto t0 = std::chrono::steady_clock::now();
          mc = simulate_bilinear(p, o, so);
          mc_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          save(key.str(), mc, mc_s);
        }
        detail::BilinearSignSgdClosure cl;
        cl.env_entries = env;
        cl.rest_scale_mixture = rest_mixture;
        const auto t0 = std::chrono::steady_clock::now();
        const detail::BilinearSgdCurve th =
            detail::bilinear_signsgd_map(p, table, lr, rec, false, cl);
        const double th_s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        double e = 0.0, z = 0.0, se = 0.0;
        if (verbose)
          for (std::size_t i = 0; i < rec.size(); ++i)
            std::fprintf(stderr, "n %ld B %ld a %s step %ld mc %.6g se %.3g th %.6g (%+.2f%%)\n", n,
                         batch, a_s.c_str(), rec[i], mc.risk[i], mc.risk_se[i], th.risk[i],
                         100 * (th.risk[i] / mc.risk[i] - 1));
        for (std::size_t i = 1; i < rec.size(); ++i) {
          e = std::max(e, std::abs(th.risk[i] / mc.risk[i] - 1.0));
          if (mc.risk_se[i] > 0) z = std::max(z, std::abs(th.risk[i] - mc.risk[i]) / mc.risk_se[i]);
          se = std::max(se, mc.risk_se[i] / mc.risk[i]);
        }
        std::printf(
            "| %ld | %ld | %s | %.3g | %ld | %.3g → %.3g | %ld | %.1f%% | %.1f | %.1f%% | %.1f | "
            "%.0f |\n",
            n, batch, a_s.c_str(), lr, steps, mc.risk.front(), mc.risk.back(), reps, 100 * e, z,
            100 * se, th_s, mc_s);
        std::fflush(stdout);
      }
  return 0;
}
