// Writes a small result file with known closed-form contents, for check_h5py.py.
// Usage: io_write_sample_result OUT.h5
// Runs sgd_theory, sgd_mc, signsgd_theory, signsgd_mc with d = 64 power-law modes (λ_j = 1/j,
// ρ_j(0) = b_j² = 1/j) and ρ_j(t) = (1/j) exp(−2 lr t / j) exactly in the theory runs, so the
// checker can recompute rho[i, k] from t[i] and modes[k]. Monte Carlo runs multiply the theory
// values by a deterministic wiggle and carry SE = 2% of the value.
#include <cmath>
#include <iostream>

#include "signdyn/error.hpp"
#include "signdyn/io.hpp"

namespace {

constexpr int kD = 64;
constexpr double kSigma = 0.1;

signdyn::Trajectory make_run(const std::string& optimizer, const std::string& method, double lr) {
  signdyn::Trajectory run;
  run.optimizer = optimizer;
  run.method = method;
  const bool mc = method == "mc";
  run.solver = mc ? "replicas" : "exact_map";
  run.batch = 8;
  run.lr = lr;
  run.seed = mc ? 12345 : 0;
  run.replicas = mc ? 32 : 0;
  run.wall_seconds = 0.5;
  const std::vector<std::int64_t> steps = signdyn::record_steps(2000, 30);
  const Eigen::Index n_rec = static_cast<Eigen::Index>(steps.size());
  run.t.resize(n_rec);
  for (Eigen::Index i = 0; i < n_rec; ++i) run.t(i) = static_cast<double>(steps[i]);
  run.modes = signdyn::record_modes(kD, 8);
  const Eigen::Index n_modes = run.modes.size();
  auto rho = [&](double t, int j) { return std::exp(-2.0 * lr * t / j) / j; };
  auto wiggle = [&](Eigen::Index i) { return mc ? 1.0 + 0.03 * std::sin(1.7 * i) : 1.0; };
  run.risk.resize(n_rec);
  run.risk_se.resize(n_rec);
  run.rho.resize(n_rec, n_modes);
  run.rho_se.resize(n_rec, n_modes);
  for (Eigen::Index i = 0; i < n_rec; ++i) {
    double risk = kSigma * kSigma / 2.0;
    for (int j = 1; j <= kD; ++j) risk += 0.5 * rho(run.t(i), j) / j;  // ½ Σ λ_j ρ_j
    run.risk(i) = risk * wiggle(i);
    run.risk_se(i) = mc ? 0.02 * run.risk(i) : 0.0;
    for (Eigen::Index k = 0; k < n_modes; ++k) {
      run.rho(i, k) = rho(run.t(i), run.modes(k)) * wiggle(i);
      run.rho_se(i, k) = mc ? 0.02 * run.rho(i, k) : 0.0;
    }
  }
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " OUT.h5\n";
    return 2;
  }
  signdyn::ResultMeta meta;
  meta.config_toml =
      "# sample for check_h5py.py: λ_j = j^(−2α)\n[problem]\nd = 64\nm = 32\nsigma = 0.1\n\n"
      "[problem.covariance]\nkind = \"power_law\"\nalpha = 0.5\n\n"
      "[problem.target]\nkind = \"power_law\"\nbeta = 0.5\n\n"
      "[optimizer]\nname = [\"sgd\", \"signsgd\"]\nbatch = 8\n";
  meta.version = "0.1.0";
  meta.git_commit = "sample";
  meta.command = "run";
  meta.created = "2025-01-01T00:00:00Z";
  try {
    signdyn::write_result(argv[1], meta,
                          {make_run("sgd", "theory", 0.5), make_run("sgd", "mc", 0.5),
                           make_run("signsgd", "theory", 0.05), make_run("signsgd", "mc", 0.05)});
  } catch (const signdyn::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
  std::cout << argv[1] << "\n";
  return 0;
}
