// The bilinear family through the command line: compare/simulate/ode dispatch on
// problem.family, the HDF5 file records the family, the problem and the mode pairs, and bad
// bilinear input exits 2 naming the key.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "app.hpp"
#include "cli_runner.hpp"
#include "signdyn/compare.hpp"
#include "signdyn/explore_io.hpp"
#include "signdyn/io.hpp"

namespace signdyn::cli {
namespace {

// A tiny bilinear experiment (6 × 5, B = 2, lr = 0.1 well inside the stable range, where the
// Monte Carlo mean is not heavy-tailed: docs/theory/bilinear.md §3).
std::vector<std::string> tiny_bilinear(std::vector<std::string> args) {
  for (const char* a : {"--set",     "problem.family=bilinear",
                        "--set",     "problem.bilinear.n_out=6",
                        "--set",     "problem.bilinear.n_in=5",
                        "--set",     "optimizer.name=sgd",
                        "--set",     "optimizer.lr=0.1",
                        "--set",     "optimizer.batch=2",
                        "--set",     "run.steps=40",
                        "--set",     "run.records=8",
                        "--set",     "run.replicas=400",
                        "--set",     "run.modes=4",
                        "--threads", "1"})
    args.emplace_back(a);
  return args;
}

const Trajectory& run_named(const ResultFile& file, const std::string& group) {
  for (const Trajectory& tr : file.runs)
    if (run_group_name(tr) == group) return tr;
  ADD_FAILURE() << "no run " << group;
  return file.runs.front();
}

// `compare` runs SGD Monte Carlo and its exact map; the file says "bilinear", carries the
// problem, and the two agree within 4 standard errors in the risk and in every recorded ρ_kl.
TEST(CliBilinear, CompareWritesFamilyAndAgrees) {
  const std::string path = fresh_test_dir("cli_bilinear") + "/compare.h5";
  const Result r = run(tiny_bilinear({"compare", "--out", path}));
  ASSERT_EQ(r.code, kOk) << r.err;
  EXPECT_NE(r.err.find("bilinear, n_out = 6, n_in = 5"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("within 4 standard errors"), std::string::npos) << r.out;

  const ResultFile file = read_result(path);
  EXPECT_EQ(file.meta.family, "bilinear");
  ASSERT_TRUE(file.meta.bilinear.has_value());
  EXPECT_EQ(file.meta.bilinear->n_out, 6);
  EXPECT_EQ(file.meta.bilinear->n_in, 5);
  EXPECT_EQ(file.meta.bilinear->sigma, 0.5);
  ASSERT_EQ(file.runs.size(), 2u);
  const Trajectory& mc = run_named(file, "sgd_mc");
  const Trajectory& th = run_named(file, "sgd_theory");
  EXPECT_EQ(mc.status, RunStatus::completed);
  EXPECT_EQ(th.status, RunStatus::completed);
  // Pairs log-spaced along the diagonal from (1, 1) to (n_out, n_in).
  Eigen::MatrixXi expected(4, 2);
  expected << 1, 1, 2, 2, 3, 3, 6, 5;
  EXPECT_EQ(mc.mode_pairs, expected);
  EXPECT_EQ(th.mode_pairs, expected);
  EXPECT_EQ(th.modes, Eigen::VectorXi(expected.col(0)));
  // E ρ_kl(0) = b_k² c_l² = k^(−1) l^(−1) (β = 0.5): the theory starts there exactly.
  for (Eigen::Index c = 0; c < 4; ++c)
    EXPECT_NEAR(th.rho(0, c), 1.0 / (expected(c, 0) * expected(c, 1)), 1e-15);

  const Comparison c = compare_risk(mc, th);
  ASSERT_EQ(c.t.size(), 9);
  EXPECT_LT(c.max_abs_z, 4.0);
  for (Eigen::Index i = 0; i < mc.rho.rows(); ++i)
    for (Eigen::Index k = 0; k < mc.rho.cols(); ++k)
      EXPECT_LT(std::abs(mc.rho(i, k) - th.rho(i, k)), 4.0 * mc.rho_se(i, k))
          << "record " << i << ", pair " << k;

  const Result info = run({"info", path});
  ASSERT_EQ(info.code, kOk) << info.err;
  EXPECT_NE(info.out.find("problem: bilinear, n_out = 6"), std::string::npos) << info.out;
}

// `simulate` runs all four optimizers (Muon with momentum too) on the bilinear family;
// `compare` simulates only those with dynamics and notes the others.
TEST(CliBilinear, SimulateAllOptimizersAndCompareNotesTheRest) {
  const std::string dir = fresh_test_dir("cli_bilinear");
  std::vector<std::string> args = tiny_bilinear({"simulate", "--out", dir + "/sim.h5"});
  for (const char* a :
       {"--set", "optimizer.name=[sgd,signsgd,signsvd,muon]", "--set", "optimizer.lr=0.05", "--set",
        "optimizer.momentum=0.5", "--set", "run.replicas=4"})
    args.emplace_back(a);
  const Result r = run(args);
  ASSERT_EQ(r.code, kOk) << r.err;
  const ResultFile file = read_result(dir + "/sim.h5");
  ASSERT_EQ(file.runs.size(), 4u);
  for (const char* name : {"sgd_mc", "signsgd_mc", "signsvd_mc", "muon_mc"}) {
    const Trajectory& tr = run_named(file, name);
    EXPECT_EQ(tr.status, RunStatus::completed) << name << ": " << tr.message;
    EXPECT_EQ(tr.t.size(), 9) << name;
    EXPECT_EQ(tr.mode_pairs.rows(), 4) << name;
  }

  std::vector<std::string> cmp = tiny_bilinear({"compare", "--out", dir + "/cmp.h5"});
  for (const char* a : {"--set", "optimizer.name=[sgd,signsvd,muon]", "--set", "run.replicas=4"})
    cmp.emplace_back(a);
  const Result c = run(cmp);
  ASSERT_EQ(c.code, kOk) << c.err;
  EXPECT_NE(c.err.find("no deterministic dynamics for muon on the bilinear family (not derived "
                       "yet); not compared"),
            std::string::npos)
      << c.err;
  const ResultFile compared = read_result(dir + "/cmp.h5");
  const Trajectory& signsvd = run_named(compared, "signsvd_theory");
  EXPECT_EQ(signsvd.status, RunStatus::completed) << signsvd.message;
  EXPECT_EQ(signsvd.solver, "refreshed_map");
  EXPECT_EQ(signsvd.t.size(), 9);
}

// A generic basis from the command line: `compare` runs SignSGD's Monte Carlo in the true basis
// and notes that its dynamics need the diagonal basis, while SGD is compared as before (its map
// is basis-free, and its Monte Carlo agrees within 4 SE); the file records the bases and seed.
TEST(CliBilinear, GenericBasisComparesEquivariantOptimizersAndNotesSignSgd) {
  const std::string path = fresh_test_dir("cli_bilinear") + "/generic.h5";
  std::vector<std::string> args = tiny_bilinear({"compare", "--out", path});
  for (const char* a :
       {"--set", "optimizer.name=[sgd,signsgd]", "--set", "optimizer.lr.signsgd=0.01", "--set",
        "problem.bilinear.basis_out=generic", "--set", "problem.bilinear.basis_in=generic", "--set",
        "problem.bilinear.basis_seed=5"})
    args.emplace_back(a);
  const Result r = run(args);
  ASSERT_EQ(r.code, kOk) << r.err;
  EXPECT_NE(r.err.find("(generic basis)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no deterministic dynamics for signsgd on the bilinear family (its "
                       "closure is the diagonal basis's"),
            std::string::npos)
      << r.err;
  const ResultFile file = read_result(path);
  ASSERT_TRUE(file.meta.bilinear.has_value());
  EXPECT_EQ(file.meta.bilinear->basis_out, BasisKind::generic);
  EXPECT_EQ(file.meta.bilinear->basis_in, BasisKind::generic);
  EXPECT_EQ(file.meta.bilinear->basis_seed, 5u);
  ASSERT_EQ(file.runs.size(), 2u);  // sgd_mc, sgd_theory; signsgd was not compared
  const Comparison c = compare_risk(run_named(file, "sgd_mc"), run_named(file, "sgd_theory"));
  EXPECT_LT(c.max_abs_z, 4.0);

  // `simulate` runs SignSGD there (true basis) and `ode` refuses it alone, exit 2.
  std::vector<std::string> sim = args;
  sim[0] = "simulate";
  for (const char* a : {"--set", "optimizer.name=signsgd", "--set", "run.replicas=4"})
    sim.emplace_back(a);
  const Result s = run(sim);
  ASSERT_EQ(s.code, kOk) << s.err;
  EXPECT_EQ(run_named(read_result(path), "signsgd_mc").status, RunStatus::completed);
  std::vector<std::string> ode = sim;
  ode[0] = "ode";
  const Result o = run(ode);
  EXPECT_EQ(o.code, kBadInput) << o.err;
}

// `sweep` runs the bilinear family point by point; each point keeps its family and mode pairs.
TEST(CliBilinear, SweepKeepsFamilyAndModePairs) {
  const std::string out = fresh_test_dir("cli_bilinear") + "/sweep.h5";
  const Result r =
      run(tiny_bilinear({"sweep", "--quiet", "--grid", "optimizer.batch=1,4", "--out", out}));
  ASSERT_EQ(r.code, kOk) << r.err;
  const SweepFile file = read_sweep_file(out);
  ASSERT_EQ(file.points.size(), 2u);
  for (const SweepFile::Point& p : file.points) {
    EXPECT_EQ(p.meta.family, "bilinear");
    ASSERT_EQ(p.runs.size(), 2u);
    for (const Trajectory& tr : p.runs) EXPECT_EQ(tr.mode_pairs.rows(), 4) << run_group_name(tr);
  }
  EXPECT_EQ(file.points[1].runs[0].batch, 4);
}

// A Monte Carlo run that blows up (η = 4, B = 1) ends `diverged`, keeps the finite records and
// says why; the file is still written.
TEST(CliBilinear, DivergedMonteCarloKeepsFiniteRecords) {
  const std::string out = fresh_test_dir("cli_bilinear") + "/diverged.h5";
  std::vector<std::string> args = tiny_bilinear({"simulate", "--out", out});
  for (const char* a : {"--set", "optimizer.lr=4", "--set", "optimizer.batch=1", "--set",
                        "run.steps=2000", "--set", "run.records=10", "--set", "run.replicas=8"})
    args.emplace_back(a);
  const Result r = run(args);
  ASSERT_EQ(r.code, kOk) << r.err;
  EXPECT_NE(r.err.find("warning: sgd mc diverged"), std::string::npos) << r.err;
  const ResultFile file = read_result(out);
  const Trajectory& tr = run_named(file, "sgd_mc");
  EXPECT_EQ(tr.status, RunStatus::diverged);
  EXPECT_NE(tr.message.find("replicas diverged"), std::string::npos) << tr.message;
  ASSERT_GE(tr.t.size(), 2);
  EXPECT_LT(tr.t(tr.t.size() - 1), 2000.0);
  EXPECT_TRUE(tr.risk.allFinite());
  EXPECT_EQ(tr.rho.rows(), tr.t.size());
}

// A blow-up whose replicas stay finite still ends both runs diverged once the risk passes 1e150
// (the Monte Carlo says the mean did, not that a replica went non-finite); the records kept are
// the ones below it.
TEST(CliBilinear, RiskAbove1e150EndsBothRunsDiverged) {
  const std::string path = fresh_test_dir("cli_bilinear") + "/blowup.h5";
  std::vector<std::string> args = tiny_bilinear({"compare", "--out", path});
  for (const char* a : {"--set", "problem.bilinear.n_out=16", "--set", "problem.bilinear.n_in=16",
                        "--set", "problem.bilinear.covariance_in=isotropic", "--set",
                        "optimizer.lr=0.6", "--set", "optimizer.batch=8", "--set", "run.steps=1000",
                        "--set", "run.records=20", "--set", "run.replicas=4"})
    args.emplace_back(a);
  const Result r = run(args);
  ASSERT_EQ(r.code, kOk) << r.err;
  EXPECT_NE(r.err.find("the mean risk exceeded 1e150 at step"), std::string::npos) << r.err;
  const ResultFile file = read_result(path);
  for (const char* name : {"sgd_mc", "sgd_theory"}) {
    const Trajectory& tr = run_named(file, name);
    EXPECT_EQ(tr.status, RunStatus::diverged) << name;
    ASSERT_GE(tr.risk.size(), 2) << name;
    EXPECT_LE(tr.risk.maxCoeff(), 1e150) << name;
    EXPECT_LT(tr.t(tr.t.size() - 1), 1000.0) << name;
  }
}

// Bad bilinear input exits 2 naming the key, before anything is written.
TEST(CliBilinear, BadInputExitsTwoNamingTheKey) {
  const std::string path = fresh_test_dir("cli_bilinear") + "/bad.h5";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--set", "problem.bilinear.n_out=0"}, "problem.bilinear.n_out"},
      {{"--set", "problem.bilinear.alpha_out=-1"}, "problem.bilinear.alpha_out"},
      {{"--set", "problem.d=12"}, "problem.d"},
      {{"--set", "problem.basis.kind=generic"}, "problem.basis.kind"},
  };
  for (const auto& [extra, key] : cases) {
    std::vector<std::string> args = tiny_bilinear({"compare", "--out", path});
    args.insert(args.end(), extra.begin(), extra.end());
    const Result r = run(args);
    EXPECT_EQ(r.code, kBadInput) << key;
    EXPECT_NE(r.err.find(key), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(path)) << key;
  }
  // `ode` with no optimizer that has bilinear dynamics is refused before any work.
  std::vector<std::string> ode = tiny_bilinear({"ode", "--out", path});
  for (const char* a : {"--set", "optimizer.name=muon"}) ode.emplace_back(a);
  const Result o = run(ode);
  EXPECT_EQ(o.code, kBadInput);
  EXPECT_NE(o.err.find("on the bilinear family"), std::string::npos) << o.err;
  EXPECT_FALSE(std::filesystem::exists(path));
  // The exploration commands are regression-only so far and say so.
  const Result lr = run(tiny_bilinear({"lr-search", "--out", path}));
  EXPECT_EQ(lr.code, kBadInput);
  EXPECT_NE(lr.err.find("problem.family"), std::string::npos) << lr.err;
}

}  // namespace
}  // namespace signdyn::cli
