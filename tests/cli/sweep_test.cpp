// Tests of `signdyn sweep`: grid parsing and validation, the per-point file layout, resuming.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "app.hpp"
#include "cli_runner.hpp"
#include "commands.hpp"
#include "signdyn/dynamics.hpp"
#include "signdyn/error.hpp"
#include "signdyn/explore_io.hpp"
#include "sweep.hpp"

namespace signdyn::cli {
namespace {

namespace fs = std::filesystem;

std::string fresh_dir() {
  return fresh_test_dir("signdyn_sweep_test");
}

// Tiny SGD problem whose theory (exact map) takes microseconds.
const std::vector<std::string> kTiny = {"--set", "problem.d=8",        "--set",     "problem.m=6",
                                        "--set", "run.steps=30",       "--set",     "run.records=6",
                                        "--set", "optimizer.name=sgd", "--methods", "theory"};

std::vector<std::string> tiny(std::vector<std::string> args) {
  args.insert(args.end(), kTiny.begin(), kTiny.end());
  return args;
}

// Commas inside brackets, braces and quotes do not separate grid values.
TEST(Sweep, SplitsValuesAtTopLevelCommas) {
  EXPECT_EQ(split_grid_values("1, 4,16"), (std::vector<std::string>{"1", "4", "16"}));
  EXPECT_EQ(split_grid_values("[sgd,signsvd],sgd"),
            (std::vector<std::string>{"[sgd,signsvd]", "sgd"}));
  EXPECT_EQ(split_grid_values("{sgd = 0.1, signsvd = 0.2},0.3"),
            (std::vector<std::string>{"{sgd = 0.1, signsvd = 0.2}", "0.3"}));
  EXPECT_EQ(split_grid_values("'a,b',c"), (std::vector<std::string>{"'a,b'", "c"}));
  EXPECT_THROW(parse_grid_axis("optimizer.batch"), ConfigError);
  EXPECT_THROW(parse_grid_axis("optimizer.batch=1,,2"), ConfigError);
}

// The grid is row-major with the first key slowest; each point's config holds its values.
TEST(Sweep, PlanIsRowMajorAndResolvesEveryPoint) {
  SweepRequest request;
  request.grid = {"optimizer.batch=1,4,16", "problem.covariance.alpha=0.5,1.0"};
  request.overrides = {"problem.d=8"};
  const std::vector<SweepPoint> points = plan_sweep(request);
  ASSERT_EQ(points.size(), 6u);
  for (std::size_t i = 0; i < points.size(); ++i) {
    EXPECT_EQ(points[i].index, static_cast<std::int64_t>(i));
    EXPECT_EQ(points[i].experiment.optimizers.front().batch, (i / 2 == 0   ? 1
                                                              : i / 2 == 1 ? 4
                                                                           : 16));
    EXPECT_DOUBLE_EQ(points[i].experiment.problem.alpha, i % 2 == 0 ? 0.5 : 1.0);
    EXPECT_EQ(points[i].experiment.problem.d, 8);
    EXPECT_EQ(points[i].overrides.front(), "problem.d=8");  // base first, grid values last
  }
}

// A bad key or value is reported by the config's own validation, naming the grid key, and
// nothing is written (exit 2).
TEST(Sweep, BadGridKeysAndValuesExitTwoBeforeAnyWork) {
  const std::string dir = fresh_dir();
  const std::string out = dir + "/bad.h5";
  const Result typo = run(tiny({"sweep", "--grid", "optimizer.bach=1,2", "--out", out}));
  EXPECT_EQ(typo.code, kBadInput);
  EXPECT_NE(typo.err.find("--grid optimizer.bach"), std::string::npos) << typo.err;
  EXPECT_NE(typo.err.find("did you mean optimizer.batch"), std::string::npos) << typo.err;
  const Result value = run(tiny({"sweep", "--grid", "optimizer.batch=1,0", "--out", out}));
  EXPECT_EQ(value.code, kBadInput);
  EXPECT_NE(value.err.find("--grid optimizer.batch=0"), std::string::npos) << value.err;
  const Result twice = run(
      tiny({"sweep", "--grid", "optimizer.batch=1", "--grid", "optimizer.batch=2", "--out", out}));
  EXPECT_EQ(twice.code, kBadInput);
  EXPECT_EQ(run(tiny({"sweep", "--out", out})).code, kBadInput);  // --grid is required
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(sweep_parts_dir(out)));
}

// Every point is a group holding its overrides, its resolved config and runs computed with it:
// the stored theory curve equals predict() on that point's configuration.
TEST(Sweep, FileHoldsOneGroupPerPointWithItsRuns) {
  const std::string out = fresh_dir() + "/sweep.h5";
  const Result r = run(tiny({"sweep", "--quiet", "--grid", "optimizer.batch=1,2,3,4,5,6", "--grid",
                             "problem.sigma=0,0.5", "--out", out}));
  ASSERT_EQ(r.code, kOk) << r.err;
  EXPECT_FALSE(fs::exists(sweep_parts_dir(out)));  // merged, parts removed
  const SweepFile file = read_sweep_file(out);
  EXPECT_EQ(file.meta.command, "sweep");
  EXPECT_EQ(file.grid_keys, (std::vector<std::string>{"optimizer.batch", "problem.sigma"}));
  ASSERT_EQ(file.points.size(), 12u);  // creation order, not "0, 1, 10, 11, 2, ..."
  for (std::size_t i = 0; i < file.points.size(); ++i) {
    const SweepFile::Point& p = file.points[i];
    EXPECT_EQ(p.index, static_cast<std::int64_t>(i));
    ASSERT_EQ(p.runs.size(), 1u);
    const Trajectory& tr = p.runs.front();
    EXPECT_EQ(tr.method, "theory");
    EXPECT_EQ(tr.batch, static_cast<std::int64_t>(i / 2 + 1));
    const Experiment exp = parse_config(p.meta.config_toml, "point");
    EXPECT_EQ(exp.optimizers.front().batch, tr.batch);
    TheoryOptions to;
    to.record_steps = record_steps(exp.run.steps, exp.run.records);
    to.modes = record_modes(exp.problem.d, exp.run.modes);
    const Trajectory direct = predict(make_problem(exp.problem), exp.optimizers.front(), to);
    ASSERT_EQ(direct.risk.size(), tr.risk.size());
    EXPECT_EQ((direct.risk - tr.risk).cwiseAbs().maxCoeff(), 0.0);
  }
}

// After an interrupt, finished points (same configuration) are reused, not recomputed;
// unreadable or foreign point files are recomputed.
TEST(Sweep, ResumesFromFinishedPoints) {
  const std::string out = fresh_dir() + "/resume.h5";
  SweepRequest request;
  request.grid = {"optimizer.batch=1,2,3"};
  request.overrides = {"problem.d=8", "problem.m=6", "run.steps=30", "optimizer.name=sgd"};
  request.methods = "theory";
  request.out_path = out;
  const std::vector<SweepPoint> points = plan_sweep(request);
  const std::string parts = sweep_parts_dir(out);
  fs::create_directories(parts);
  // Point 0 finished before the interrupt; point 1 is garbage; point 2 belongs to another grid.
  std::ostringstream sink;
  RunRequest finished;
  finished.command = "ode";  // a marker: a reused point keeps the command of its file
  finished.overrides = points[0].overrides;
  finished.out_path = parts + "/point-0.h5";
  finished.quiet = true;
  ASSERT_EQ(run_experiment(finished, sink, sink), kOk);
  std::ofstream(parts + "/point-1.h5") << "not an HDF5 file";
  RunRequest foreign = finished;
  foreign.command = "sweep";
  foreign.overrides.push_back("problem.sigma=0.9");
  foreign.out_path = parts + "/point-2.h5";
  ASSERT_EQ(run_experiment(foreign, sink, sink), kOk);

  std::ostringstream o, e;
  ASSERT_EQ(run_sweep(request, o, e), kOk) << e.str();
  EXPECT_NE(e.str().find("[1/3] optimizer.batch=1: complete, skipped"), std::string::npos)
      << e.str();
  EXPECT_EQ(e.str().find("[2/3] optimizer.batch=2: complete"), std::string::npos) << e.str();
  EXPECT_EQ(e.str().find("[3/3] optimizer.batch=3: complete"), std::string::npos) << e.str();
  const SweepFile file = read_sweep_file(out);
  ASSERT_EQ(file.points.size(), 3u);
  for (const SweepFile::Point& p : file.points)
    EXPECT_EQ(p.meta.config_toml,
              points[static_cast<std::size_t>(p.index)].experiment.resolved_toml);
  EXPECT_EQ(file.points[0].meta.command, "ode");  // reused as it was
  EXPECT_EQ(file.points[1].meta.command, "sweep");
  EXPECT_EQ(file.points[2].meta.command, "sweep");
  EXPECT_FALSE(fs::exists(parts));
}

}  // namespace
}  // namespace signdyn::cli
