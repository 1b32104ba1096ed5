// Tests of the exploration machinery: the lr search (analytic functions, and the exact SGD
// dynamics against a Monte Carlo lr scan), the phase classification and exponent fits, the
// drift rates of the batch transition, and the subcommands' files and exit codes.
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "app.hpp"
#include "cli_runner.hpp"
#include "explore.hpp"
#include "explore_cli.hpp"
#include "signdyn/error.hpp"
#include "signdyn/explore_io.hpp"
#include "signdyn/simulate.hpp"

namespace signdyn::cli {
namespace {

namespace fs = std::filesystem;
constexpr double kInf = std::numeric_limits<double>::infinity();

std::string fresh_dir() {
  return fresh_test_dir("signdyn_explore_test");
}

// --- lr search on analytic functions ---------------------------------------------------------

// A parabola in ln η: the search returns its vertex to within the requested width in ln η,
// from far below, from far above, and from inside a divergent region (+∞ above η = 0.1).
TEST(LrSearch, FindsVertexOfParabolaInLogLr) {
  const double target = 0.037;
  auto f = [&](double lr) {
    if (lr > 0.1) return kInf;  // "diverges"
    const double x = std::log(lr / target);
    return 1.0 + x * x;
  };
  for (double start : {1e-9, 0.03, 0.09, 50.0}) {
    LrSearchOptions o;
    o.lr_start = start;
    o.log_tol = 1e-3;
    const LrSearchResult r = minimise_over_log_lr(f, o);
    ASSERT_TRUE(r.converged) << "start " << start << ": " << r.message;
    EXPECT_LT(std::abs(std::log(r.lr / target)), 1e-3) << "start " << start;
    EXPECT_EQ(r.risk, *std::min_element(r.risk_evaluated.begin(), r.risk_evaluated.end()));
    EXPECT_LE(static_cast<int>(r.lr_evaluated.size()), o.max_evaluations);
  }
}

// A function that keeps decreasing, or diverges everywhere, is reported, not "converged".
TEST(LrSearch, ReportsMissingMinimum) {
  LrSearchOptions o;
  o.lr_start = 1.0;
  const LrSearchResult down = minimise_over_log_lr([](double lr) { return 1.0 / lr; }, o);
  EXPECT_FALSE(down.converged);
  EXPECT_NE(down.message.find("keeps decreasing"), std::string::npos) << down.message;
  const LrSearchResult inf = minimise_over_log_lr([](double) { return kInf; }, o);
  EXPECT_FALSE(inf.converged);
  EXPECT_NE(inf.message.find("diverged"), std::string::npos) << inf.message;
  o.max_evaluations = 5;
  const LrSearchResult budget =
      minimise_over_log_lr([](double lr) { return std::pow(std::log(lr) - 20.0, 2); }, o);
  EXPECT_FALSE(budget.converged);
  EXPECT_EQ(budget.lr_evaluated.size(), 5u);
}

// --- lr search on the exact SGD dynamics against Monte Carlo ---------------------------------

// Weighted least-squares parabola y = a + b x + c x² (weights 1/se²): vertex −b/(2c) and its
// standard error by the delta method.
struct Vertex {
  double x, se;
};
Vertex parabola_vertex(const std::vector<double>& x, const std::vector<double>& y,
                       const std::vector<double>& se) {
  const auto n = static_cast<Eigen::Index>(x.size());
  Eigen::MatrixXd A(n, 3);
  Eigen::VectorXd w(n), v(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    A.row(i) << 1.0, x[i], x[i] * x[i];
    w(i) = 1.0 / (se[i] * se[i]);
    v(i) = y[i];
  }
  const Eigen::MatrixXd normal = A.transpose() * w.asDiagonal() * A;
  const Eigen::MatrixXd cov = normal.inverse();
  const Eigen::Vector3d p = cov * A.transpose() * w.asDiagonal() * v;
  const Eigen::Vector3d g(0.0, -1.0 / (2 * p(2)), p(1) / (2 * p(2) * p(2)));
  return {-p(1) / (2 * p(2)), std::sqrt(g.dot(cov * g))};
}

// SGD's expected risk is exactly the deterministic map (theory.md §2), so the ODE-optimal lr
// minimises the Monte Carlo risk: the vertex of a parabola fitted to an MC scan around lr*
// agrees, within 4 standard errors, with the vertex of the same fit to the theory values
// (same points, same weights: the quadratic-model bias cancels); every MC value agrees with
// theory within 4 SE; and lr* is a minimum of the theory.
TEST(LrSearch, SgdOptimumMatchesMonteCarloScan) {
  const Experiment exp =
      load_config("", {"problem.d=16", "problem.m=16", "optimizer.name=sgd", "optimizer.batch=4"});
  const Problem problem = make_problem(exp.problem);
  const OptimizerSpec& sgd = exp.optimizers.front();
  const std::int64_t T = 200;
  LrSearchOptions o;
  o.log_tol = 1e-3;
  const LrSearchResult r = optimal_lr(problem, sgd, T, exp.theory, o);
  ASSERT_TRUE(r.converged) << r.message;
  for (double step : {-0.02, 0.02})
    EXPECT_GE(theory_final_risk(problem, sgd, r.lr * std::exp(step), T, exp.theory), r.risk);

  std::vector<double> x, mc, se, th;
  for (int k = -3; k <= 3; ++k) {
    const double lr = r.lr * std::pow(2.0, 0.5 * k);
    OptimizerSpec opt = sgd;
    opt.lr = lr;
    SimulateOptions so;
    so.record_steps = {0, T};
    so.modes = Eigen::VectorXi::Ones(1);
    so.replicas = 256;
    so.seed = 100 + static_cast<std::uint64_t>(k + 3);  // independent points
    so.threads = 1;
    const Trajectory tr = simulate(problem, opt, so);
    ASSERT_EQ(tr.status, RunStatus::completed);
    x.push_back(std::log(lr / r.lr));
    mc.push_back(tr.risk(1));
    se.push_back(tr.risk_se(1));
    th.push_back(theory_final_risk(problem, sgd, lr, T, exp.theory));
    EXPECT_LT(std::abs(mc.back() - th.back()), 4 * se.back()) << "lr " << lr;
  }
  const Vertex v_mc = parabola_vertex(x, mc, se);
  const Vertex v_th = parabola_vertex(x, th, se);
  EXPECT_LT(std::abs(v_mc.x - v_th.x), 4 * v_mc.se)
      << "MC vertex " << v_mc.x << " +- " << v_mc.se << ", theory vertex " << v_th.x;
  EXPECT_LT(v_mc.se, 0.2);  // the scan resolves the optimum to better than a factor e^0.2
}

// --- phase classification and exponents ------------------------------------------------------

// Uniform wins, a crossing, and ties (within the relative tolerance) are told apart.
TEST(Phase, ClassifiesHorizonByHorizon) {
  EXPECT_EQ(classify_phase({1, 2, 3}, {2, 3, 4}, 1e-3), Phase::first_better);
  EXPECT_EQ(classify_phase({2, 3, 4}, {1, 2, 3}, 1e-3), Phase::second_better);
  EXPECT_EQ(classify_phase({1, 3}, {2, 2}, 1e-3), Phase::trade_off);
  EXPECT_EQ(classify_phase({1, 2.0001}, {1.5, 2}, 1e-3), Phase::first_better);  // tie at T₂
  EXPECT_EQ(classify_phase({1, 2}, {1, 2}, 1e-3), Phase::tie);
  EXPECT_EQ(classify_phase({1, kInf}, {2, 2}, 1e-3), Phase::failed);
  EXPECT_EQ(classify_phase({}, {}, 1e-3), Phase::failed);
}

// An exact power law y = 3 t^(−0.7) is fitted with γ = 0.7 and zero residual error.
TEST(Phase, PowerLawFitRecoversExponent) {
  std::vector<double> t, y;
  for (double s : {10.0, 100.0, 1000.0, 1e4}) t.push_back(s), y.push_back(3 * std::pow(s, -0.7));
  const PowerLawFit fit = fit_power_law(t, y);
  EXPECT_NEAR(fit.gamma, 0.7, 1e-12);
  EXPECT_NEAR(fit.gamma_se, 0.0, 1e-12);
  EXPECT_NEAR(fit.log_prefactor, std::log(3.0), 1e-12);
  EXPECT_TRUE(std::isnan(fit_power_law({10}, {1}).gamma));
}

// On a tiny grid the map is consistent with its own data: each lr_opt is a minimum of the
// deterministic risk, each phase is the classification of the stored risks, each exponent
// the fit of the stored excess risks.
TEST(Phase, DiagramIsConsistentWithItsSearches) {
  const Experiment exp = load_config(
      "", {"problem.d=8", "problem.m=8", "optimizer.name=[sgd,signsvd]", "run.steps=60"});
  PhaseDiagramOptions o;
  o.alphas = {0.5, 1.0};
  o.betas = {0.25, 1.0};
  o.horizons = {10, 30, 90};
  o.first = OptimizerKind::sgd;
  o.second = OptimizerKind::signsvd;
  o.search.log_tol = 0.02;
  std::size_t calls = 0;
  const PhaseDiagram pd = compute_phase_diagram(exp, o, [&](std::size_t, std::size_t) { ++calls; });
  EXPECT_EQ(calls, 4u);
  for (std::size_t ia = 0; ia < 2; ++ia)
    for (std::size_t ib = 0; ib < 2; ++ib) {
      ProblemSpec spec = exp.problem;
      spec.alpha = o.alphas[ia];
      spec.beta = o.betas[ib];
      const Problem problem = make_problem(spec);
      std::vector<double> first, second;
      for (std::size_t m = 0; m < 2; ++m) {
        std::vector<double> t, excess;
        for (std::size_t ih = 0; ih < 3; ++ih) {
          const std::size_t k = pd.index(m, ia, ib, ih);
          ASSERT_TRUE(std::isfinite(pd.risk_opt[k]));
          for (double step : {-0.1, 0.1})
            EXPECT_GE(theory_final_risk(problem, exp.optimizers[m], pd.lr_opt[k] * std::exp(step),
                                        pd.horizons[ih], exp.theory),
                      pd.risk_opt[k]);
          (m == 0 ? first : second).push_back(pd.risk_opt[k]);
          t.push_back(double(pd.horizons[ih]));
          excess.push_back(pd.excess_risk_opt[k]);
          EXPECT_DOUBLE_EQ(pd.excess_risk_opt[k], pd.risk_opt[k] - pd.noise_floor);
        }
        EXPECT_DOUBLE_EQ(pd.gamma[(m * 2 + ia) * 2 + ib], fit_power_law(t, excess).gamma);
      }
      EXPECT_EQ(pd.phase[ia * 2 + ib], static_cast<int>(classify_phase(first, second, o.tie_tol)));
    }
}

// --- drift rates ------------------------------------------------------------------------------

// Exact SGD map: ρ_j' = (1 − ηλ_j)² ρ_j + O(η²), so the drift rate is a_j = 2λ_j, in the
// initial state and in the small-signal limit alike (round-off level agreement).
TEST(Drift, SgdRateIsTwiceLambda) {
  const Experiment exp = load_config("", {"problem.d=32", "problem.m=8", "optimizer.name=sgd"});
  const Problem problem = make_problem(exp.problem);
  const Eigen::VectorXd a = initial_drift_rates(problem, exp.optimizers.front(), exp.theory);
  const Eigen::VectorXd a_lin = linear_drift_rates(problem, exp.optimizers.front(), exp.theory);
  const Eigen::VectorXd expected = 2.0 * problem.lambda;
  EXPECT_LT(((a - expected).array() / expected.array()).abs().maxCoeff(), 1e-6);
  EXPECT_LT(((a_lin - expected).array() / expected.array()).abs().maxCoeff(), 1e-6);
  EXPECT_NEAR(fitted_log_slope(problem.lambda, a, 2, 8), 1.0, 1e-6);
}

// For a = c λ^p the local and fitted exponents are p.
TEST(Drift, LogSlopeOfPowerLawIsItsExponent) {
  Eigen::VectorXd lambda(20), a(20);
  for (int j = 0; j < 20; ++j)
    lambda(j) = std::pow(j + 1.0, -1.3), a(j) = 3 * std::pow(lambda(j), 0.7);
  const Eigen::VectorXd s = local_log_slope(lambda, a);
  EXPECT_LT((s.array() - 0.7).abs().maxCoeff(), 1e-12);
  EXPECT_NEAR(fitted_log_slope(lambda, a, 1, 20), 0.7, 1e-12);
}

// SignSVD's small-signal drift goes from SGD-like (∝ λ_j, small B) towards square-root
// preconditioning (∝ √λ_j, large B): theory.md §4, s_i ∝ λ_i for κ ≫ λ_i, s_i → √λ_i for B ≫ d.
TEST(Drift, SignsvdExponentFallsWithBatch) {
  const Experiment exp =
      load_config("", {"problem.d=32", "problem.m=32", "optimizer.name=signsvd"});
  const Problem problem = make_problem(exp.problem);
  OptimizerSpec opt = exp.optimizers.front();
  if (!has_theory(problem, opt)) GTEST_SKIP() << "no SignSVD dynamics";
  double previous = 2.0;
  for (std::int64_t batch : {1, 8, 128}) {
    opt.batch = batch;
    const double slope =
        fitted_log_slope(problem.lambda, linear_drift_rates(problem, opt, exp.theory), 2, 8);
    EXPECT_LT(slope, previous) << "B = " << batch;
    previous = slope;
    if (batch == 1) {
      EXPECT_GT(slope, 0.85);
    }
    if (batch == 128) {
      EXPECT_LT(slope, 0.65);
    }
  }
}

// --- subcommands -------------------------------------------------------------------------------

// lr-search, phase-diagram and batch-transition write their files (read back here) and
// refuse bad input with exit 2 naming the option or key, writing nothing.
TEST(ExploreCli, CommandsWriteFilesAndRefuseBadInput) {
  const std::string dir = fresh_dir();
  const std::vector<std::string> tiny = {"--set", "problem.d=8",  "--set", "problem.m=8",
                                         "--set", "run.steps=40", "--set", "run.records=8"};
  auto with = [&](std::vector<std::string> a) {
    a.insert(a.end(), tiny.begin(), tiny.end());
    return a;
  };
  const Result lr = run(with({"lr-search", "--quiet", "--set", "optimizer.name=sgd", "-T", "20",
                              "-T", "40", "--out", dir + "/lr.h5"}));
  ASSERT_EQ(lr.code, kOk) << lr.err;
  const ArrayFile lf = read_array_file(dir + "/lr.h5", {"methods"}, {"sgd/lr_opt", "sgd/horizons"});
  EXPECT_EQ(lf.meta.command, "lr-search");
  EXPECT_EQ(lf.arrays[0].shape, (std::vector<std::size_t>{2}));
  EXPECT_EQ(lf.arrays[1].values, (std::vector<double>{20, 40}));

  const Result pd =
      run(with({"phase-diagram", "--quiet", "--no-plot", "--optimizers", "sgd,signsvd", "--alpha",
                "0.5,1", "--beta", "0.5:1:2", "--horizons", "10,30", "--out", dir + "/pd.h5"}));
  ASSERT_EQ(pd.code, kOk) << pd.err;
  const ArrayFile pf = read_array_file(dir + "/pd.h5", {"methods"}, {"phase", "sgd/gamma"});
  EXPECT_EQ(pf.attributes[0].second, "sgd\nsignsvd");
  EXPECT_EQ(pf.arrays[0].shape, (std::vector<std::size_t>{2, 2}));
  EXPECT_TRUE(pf.arrays[0].integer);

  const Result bt = run(with({"batch-transition", "--quiet", "--no-plot", "--no-tune",
                              "--optimizers", "sgd", "--out", dir + "/bt.h5"}));
  ASSERT_EQ(bt.code, kOk) << bt.err;
  const ArrayFile bf = read_array_file(dir + "/bt.h5", {}, {"batches", "sgd/drift_exponent"});
  EXPECT_EQ(bf.arrays[0].values, (std::vector<double>{1, 2, 4, 8, 16, 32}));  // 1 .. 4d
  for (double s : bf.arrays[1].values) EXPECT_NEAR(s, 1.0, 1e-6);

  const std::string bad = dir + "/bad.h5";
  const Result alpha = run(with({"phase-diagram", "--alpha", "-1,0.5", "--out", bad}));
  EXPECT_EQ(alpha.code, kBadInput);
  EXPECT_NE(alpha.err.find("problem.covariance.alpha"), std::string::npos) << alpha.err;
  const Result opts = run(with({"phase-diagram", "--optimizers", "sgd,signsvdd", "--out", bad}));
  EXPECT_EQ(opts.code, kBadInput);
  EXPECT_NE(opts.err.find("--optimizers"), std::string::npos) << opts.err;
  EXPECT_EQ(run(with({"phase-diagram", "--horizons", "log:0:10:3", "--out", bad})).code, kBadInput);
  EXPECT_EQ(run(with({"lr-search", "-T", "0", "--out", bad})).code, kBadInput);
  EXPECT_EQ(run(with({"batch-transition", "--batches", "0,2", "--out", bad})).code, kBadInput);
  EXPECT_FALSE(fs::exists(bad));
}

// Number lists: plain values, a:b:n and log:a:b:n, mixed.
TEST(ExploreCli, ParsesNumberLists) {
  EXPECT_EQ(parse_number_list("0.5,1", "--x"), (std::vector<double>{0.5, 1}));
  EXPECT_EQ(parse_number_list("0:1:3", "--x"), (std::vector<double>{0, 0.5, 1}));
  const std::vector<double> g = parse_number_list("log:10:1000:3,7", "--x");
  ASSERT_EQ(g.size(), 4u);
  EXPECT_NEAR(g[1], 100.0, 1e-10);
  EXPECT_EQ(g[3], 7.0);
  EXPECT_THROW(parse_number_list("a,1", "--x"), ConfigError);
  EXPECT_THROW(parse_number_list("1:2", "--x"), ConfigError);
  EXPECT_THROW(parse_number_list("1,,2", "--x"), ConfigError);
  EXPECT_THROW(parse_number_list("0:1:2.5", "--x"), ConfigError);
}

}  // namespace
}  // namespace signdyn::cli
