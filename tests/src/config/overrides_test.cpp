// --set overrides: values read with the key's declared type, applied in order after the
// file; optimizer.lr as one rate, per optimizer, or a table; malformed arguments reported.
#include <gtest/gtest.h>

#include "config_test_util.hpp"

namespace signdyn {
namespace {

using test::config_error;

Experiment with(const std::vector<std::string>& overrides, const std::string& text = "") {
  return parse_config(text, "test.toml", overrides);
}

// Numbers, booleans and strings (quoted or not) are read as the key's type.
TEST(ConfigOverrides, ScalarsReadWithDeclaredType) {
  const Experiment e =
      with({"problem.d=512", " problem.m = 64 ", "problem.sigma=1e-3", "run.steps=1_000",
            "problem.basis.kind=generic", "problem.covariance.kind=\"isotropic\"",
            "theory.solver='ode'", "optimizer.name=muon", "optimizer.momentum=0.5",
            "optimizer.nesterov=true", "problem.covariance.alpha=1"});
  EXPECT_EQ(e.problem.d, 512);
  EXPECT_EQ(e.problem.m, 64);
  EXPECT_EQ(e.problem.sigma, 1e-3);
  EXPECT_EQ(e.run.steps, 1000);
  EXPECT_EQ(e.problem.basis, BasisKind::generic);
  EXPECT_EQ(e.problem.covariance, CovarianceKind::isotropic);
  EXPECT_EQ(e.theory.solver, TheorySolver::ode);
  EXPECT_EQ(e.optimizers.at(0).momentum, 0.5);
  EXPECT_TRUE(e.optimizers.at(0).nesterov);
  EXPECT_EQ(e.problem.alpha, 1.0);
}

// Overrides beat the file, and a later override beats an earlier one.
TEST(ConfigOverrides, AppliedInOrderAfterTheFile) {
  const Experiment e = with({"problem.d=100", "problem.d=200"}, "[problem]\nd = 50\nm = 7\n");
  EXPECT_EQ(e.problem.d, 200);
  EXPECT_EQ(e.problem.m, 7);
}

// Name lists may be written [a,b], ["a","b"], a,b or a single name.
TEST(ConfigOverrides, NameListForms) {
  const std::vector<OptimizerKind> sgd_signsgd = {OptimizerKind::sgd, OptimizerKind::signsgd};
  for (const std::string value :
       {"[sgd,signsgd]", "[\"sgd\", \"signsgd\"]", "sgd, signsgd", "['sgd','signsgd']"}) {
    SCOPED_TRACE(value);
    const Experiment e = with({"optimizer.name=" + value});
    std::vector<OptimizerKind> kinds;
    for (const auto& o : e.optimizers) kinds.push_back(o.kind);
    EXPECT_EQ(kinds, sgd_signsgd);
  }
  const Experiment muon = with({"optimizer.name=muon"});
  ASSERT_EQ(muon.optimizers.size(), 1u);
  EXPECT_EQ(muon.optimizers[0].kind, OptimizerKind::muon);
  const Experiment mc = with({"run.methods=[mc]"});
  EXPECT_TRUE(mc.run.mc);
  EXPECT_FALSE(mc.run.theory);
}

// optimizer.lr=x sets every optimizer's rate, replacing a per-optimizer table.
TEST(ConfigOverrides, LrSetsAllOptimizers) {
  const Experiment e =
      with({"optimizer.lr=0.1"},
           "[optimizer]\nname = [\"sgd\", \"signsgd\"]\nlr = { sgd = 0.5, signsgd = 1e-3 }\n");
  ASSERT_EQ(e.optimizers.size(), 2u);
  EXPECT_EQ(e.optimizers[0].lr, 0.1);
  EXPECT_EQ(e.optimizers[1].lr, 0.1);
}

// optimizer.lr.NAME=x sets one optimizer's rate; the others keep the common rate.
TEST(ConfigOverrides, LrDotNameSetsOneOptimizer) {
  const Experiment e = with({"optimizer.name=[sgd,signsgd,muon]", "optimizer.lr.signsgd=0.001"});
  ASSERT_EQ(e.optimizers.size(), 3u);
  EXPECT_EQ(e.optimizers[0].lr, 0.5);
  EXPECT_EQ(e.optimizers[1].lr, 0.001);
  EXPECT_EQ(e.optimizers[2].lr, 0.05);  // muon keeps its default-table rate
  // It also completes a file's table that lacked the optimizer.
  const Experiment completed = with(
      {"optimizer.lr.muon=0.02"}, "[optimizer]\nname = [\"sgd\", \"muon\"]\nlr = { sgd = 0.3 }\n");
  EXPECT_EQ(completed.optimizers[0].lr, 0.3);
  EXPECT_EQ(completed.optimizers[1].lr, 0.02);
}

// optimizer.lr={...} replaces the rates by a table, which must cover every optimizer.
TEST(ConfigOverrides, LrInlineTable) {
  const Experiment e =
      with({"optimizer.name=[sgd,signsgd]", "optimizer.lr={sgd = 0.2, signsgd = 3e-4}"});
  EXPECT_EQ(e.optimizers[0].lr, 0.2);
  EXPECT_EQ(e.optimizers[1].lr, 3e-4);
  const ConfigError missing =
      config_error("", {"optimizer.name=[sgd,muon]", "optimizer.lr={sgd=0.2}"});
  EXPECT_EQ(missing.field(), "optimizer.lr");
  EXPECT_NE(std::string(missing.what()).find("has no rate for muon"), std::string::npos)
      << missing.what();
}

// Bad --set arguments: the argument or the dotted key is named, with the rule broken.
TEST(ConfigOverrides, BadArgumentsAreNamed) {
  struct Case {
    std::string argument, field, message;
  };
  const std::vector<Case> cases = {
      {"problemd", "problemd", "--set \"problemd\": expected key=value, e.g. --set problem.d=512"},
      {"=5", "=5", "--set \"=5\": expected key=value"},
      {"run.step=5", "run.step", "run.step: unknown key; did you mean run.steps?"},
      {"problem.d=abc", "problem.d",
       "problem.d = \"abc\": must be an integer >= 1 and <= 10000000 (set it in [problem] or "
       "with --set problem.d=...)"},
      {"problem.d=", "problem.d", "problem.d = \"\": must be an integer"},
      {"optimizer.nesterov=yes", "optimizer.nesterov",
       "optimizer.nesterov = \"yes\": must be true or false"},
      {"optimizer.lr.adam=0.1", "optimizer.lr.adam",
       "optimizer.lr.adam: unknown optimizer (optimizer.lr.NAME takes NAME out of sgd, signsgd, "
       "signsvd and muon)"},
      {"optimizer.lr.signsdg=0.1", "optimizer.lr.signsdg",
       "optimizer.lr.signsdg: unknown optimizer; did you mean optimizer.lr.signsgd?"},
      {"optimizer.lr.sgd=-1", "optimizer.lr.sgd",
       "optimizer.lr.sgd = -1: must be a number > 0 (set it in [optimizer.lr] or with --set "
       "optimizer.lr.sgd=...)"},
      {"optimizer.lr={sgd=}", "optimizer.lr",
       "--set optimizer.lr={sgd=}: cannot read the value as a TOML inline table"},
      {"run.methods=[]", "run.methods", "run.methods = []: must list at least one of"},
      {"optimizer.name=[sgd,adam]", "optimizer.name",
       "optimizer.name = [\"sgd\", \"adam\"]: \"adam\" is not one of"},
      {"problem.family=linear", "problem.family",
       "problem.family = \"linear\": must be one of \"regression\" or \"bilinear\""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.argument);
    const ConfigError e = config_error("", {c.argument});
    EXPECT_EQ(e.field(), c.field);
    EXPECT_NE(std::string(e.what()).find("\n" + c.message), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace signdyn
