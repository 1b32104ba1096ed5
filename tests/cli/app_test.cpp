// Tests of the signdyn command line: exit codes, messages, files written.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "app.hpp"
#include "cli_runner.hpp"
#include "signdyn/config.hpp"
#include "signdyn/dynamics.hpp"

namespace signdyn::cli {
namespace {

using signdyn::OptimizerKind;

std::string temp_path(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / "signdyn_cli_test";
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

// A small, fast experiment: every test below overrides the default config with these.
const std::vector<std::string> kSmall = {"--set", "problem.d=12",   "--set", "problem.m=10",
                                         "--set", "run.steps=60",   "--set", "run.replicas=40",
                                         "--set", "run.records=12", "--set", "optimizer.name=sgd"};

std::vector<std::string> with_small(std::vector<std::string> args) {
  args.insert(args.end(), kSmall.begin(), kSmall.end());
  return args;
}

TEST(Cli, VersionAndHelpExitZero) {
  const Result v = run({"--version"});
  EXPECT_EQ(v.code, kOk);
  EXPECT_NE(v.out.find("signdyn "), std::string::npos);
  const Result h = run({"--help"});
  EXPECT_EQ(h.code, kOk);
  for (const char* sub : {"run", "simulate", "ode", "compare", "info", "config"})
    EXPECT_NE(h.out.find(sub), std::string::npos) << sub;
  EXPECT_EQ(run({"compare", "--help"}).code, kOk);
}

TEST(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(run({}).code, kBadInput);
  EXPECT_EQ(run({"frobnicate"}).code, kBadInput);
  EXPECT_EQ(run({"run", "--threads", "-1"}).code, kBadInput);
  EXPECT_EQ(run({"info"}).code, kBadInput);
}

// Invalid config values exit 2, name the dotted field, and write nothing.
TEST(Cli, InvalidConfigNamesFieldAndWritesNothing) {
  const std::string path = temp_path("invalid.h5");
  std::filesystem::remove(path);
  const Result r = run({"run", "--set", "problem.d=-3", "--out", path});
  EXPECT_EQ(r.code, kBadInput);
  EXPECT_NE(r.err.find("problem.d"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  const Result typo = run({"run", "--set", "problem.sigmaa=1", "--out", path});
  EXPECT_EQ(typo.code, kBadInput);
  EXPECT_NE(typo.err.find("problem.sigma"), std::string::npos) << typo.err;
}

// `compare` writes the file, prints the side-by-side table, and `info` reads it back.
TEST(Cli, CompareWritesFileAndInfoReadsIt) {
  const std::string path = temp_path("compare.h5");
  const Result r = run(with_small({"compare", "--out", path}));
  ASSERT_EQ(r.code, kOk) << r.err;
  EXPECT_TRUE(std::filesystem::exists(path));
  EXPECT_NE(r.out.find("theory risk"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("within 4 standard errors"), std::string::npos) << r.out;
  const Result info = run({"info", path});
  ASSERT_EQ(info.code, kOk) << info.err;
  EXPECT_NE(info.out.find("sgd_mc"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("sgd_theory"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("d = 12"), std::string::npos) << info.out;
}

// `compare --max-z` turns a disagreement into exit code 3 (here: an impossible threshold).
TEST(Cli, CompareMaxZExitCode) {
  const std::string path = temp_path("maxz.h5");
  EXPECT_EQ(run(with_small({"compare", "--quiet", "--max-z", "1e-9", "--out", path})).code,
            kDisagreement);
}

// Optimizers without deterministic dynamics are refused by `ode` before any work is done.
TEST(Cli, OdeRefusesOptimizerWithoutTheory) {
  // Muon with momentum has no deterministic dynamics (docs/theory/signsvd.md §5).
  const Problem problem = make_problem(load_config("", {"problem.d=12", "problem.m=10"}).problem);
  OptimizerSpec spec;
  spec.kind = OptimizerKind::muon;
  spec.momentum = 0.9;
  ASSERT_FALSE(has_theory(problem, spec));
  const std::string path = temp_path("no-theory.h5");
  std::filesystem::remove(path);
  std::vector<std::string> args = with_small({"ode", "--out", path});
  for (const char* a : {"--set", "optimizer.name=muon", "--set", "optimizer.momentum=0.9"})
    args.emplace_back(a);  // after kSmall, whose optimizer.name = sgd it overrides
  const Result r = run(args);
  EXPECT_EQ(r.code, kBadInput);
  EXPECT_NE(r.err.find("simulate"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(path));
}

// `config` prints TOML that names every section; `config --keys` documents the keys.
TEST(Cli, ConfigPrintsResolvedTomlAndKeys) {
  const Result r = run({"config", "--set", "problem.d=77"});
  ASSERT_EQ(r.code, kOk) << r.err;
  EXPECT_NE(r.out.find("77"), std::string::npos);
  const Result k = run({"config", "--keys"});
  ASSERT_EQ(k.code, kOk);
  EXPECT_NE(k.out.find("problem.covariance.alpha"), std::string::npos);
}

// Unreadable inputs are input errors (exit 2), not crashes.
TEST(Cli, MissingFilesExitTwo) {
  EXPECT_EQ(run({"info", temp_path("does-not-exist.h5")}).code, kBadInput);
  EXPECT_EQ(run({"run", temp_path("does-not-exist.toml")}).code, kBadInput);
}

}  // namespace
}  // namespace signdyn::cli
