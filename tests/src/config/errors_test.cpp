// Config validation: every bad value names its field, the value and the accepted range;
// unknown keys get a did-you-mean; syntax errors give a line; all problems come together.
#include <gtest/gtest.h>

#include "config_test_util.hpp"

namespace signdyn {
namespace {

using test::config_error;
using test::count_lines;

struct BadValue {
  std::string text;   // TOML text
  std::string field;  // expected ConfigError::field()
  std::string line;   // expected line of the message, exactly
};

// The message lines after the header, one per problem.
std::vector<std::string> problem_lines(const ConfigError& e) {
  std::vector<std::string> lines;
  const std::string message = e.what();
  std::size_t start = message.find('\n');
  while (start != std::string::npos) {
    const std::size_t end = message.find('\n', start + 1);
    lines.push_back(message.substr(start + 1, end == std::string::npos ? end : end - start - 1));
    start = end;
  }
  return lines;
}

void expect_single_problem(const BadValue& c) {
  SCOPED_TRACE(c.text);
  const ConfigError e = config_error(c.text);
  EXPECT_EQ(e.field(), c.field);
  const std::vector<std::string> lines = problem_lines(e);
  ASSERT_EQ(lines.size(), 1u) << e.what();
  EXPECT_EQ(lines[0], c.line);
}

// Each numeric key outside its range is reported with its field, its value and the range.
TEST(ConfigErrors, NumbersOutOfRangeNameFieldAndRange) {
  const std::string d_rule = ": must be an integer >= 1 and <= 10000000";
  const std::vector<BadValue> cases = {
      {"[problem]\nd = -3\n", "problem.d",
       "problem.d = -3" + d_rule + " (set it in [problem] or with --set problem.d=...)"},
      {"[problem]\nd = 20000000\n", "problem.d",
       "problem.d = 20000000" + d_rule + " (set it in [problem] or with --set problem.d=...)"},
      {"[problem]\nm = 0\n", "problem.m",
       "problem.m = 0" + d_rule + " (set it in [problem] or with --set problem.m=...)"},
      {"[problem]\nsigma = -0.1\n", "problem.sigma",
       "problem.sigma = -0.1: must be a number >= 0 (set it in [problem] or with --set "
       "problem.sigma=...)"},
      {"[problem.basis]\nseed = -5\n", "problem.basis.seed",
       "problem.basis.seed = -5: must be an integer >= 0 (set it in [problem.basis] or with "
       "--set problem.basis.seed=...)"},
      {"[problem.covariance]\nalpha = -1\n", "problem.covariance.alpha",
       "problem.covariance.alpha = -1: must be a number >= 0 (set it in [problem.covariance] or "
       "with --set problem.covariance.alpha=...)"},
      {"[problem.target]\nbeta = -0.5\n", "problem.target.beta",
       "problem.target.beta = -0.5: must be a number >= 0 (set it in [problem.target] or with "
       "--set problem.target.beta=...)"},
      {"[optimizer]\nlr = 0\n", "optimizer.lr",
       "optimizer.lr = 0: must be a number > 0 (set it in [optimizer] or with --set "
       "optimizer.lr=...)"},
      {"[optimizer]\nbatch = 0\n", "optimizer.batch",
       "optimizer.batch = 0: must be an integer >= 1 (set it in [optimizer] or with --set "
       "optimizer.batch=...)"},
      {"[optimizer]\nmomentum = 1.0\n", "optimizer.momentum",
       "optimizer.momentum = 1.0: must be a number >= 0 and < 1 (set it in [optimizer] or with "
       "--set optimizer.momentum=...)"},
      {"[optimizer]\nns_steps = 101\n", "optimizer.ns_steps",
       "optimizer.ns_steps = 101: must be an integer >= 1 and <= 100 (set it in [optimizer] or "
       "with --set optimizer.ns_steps=...)"},
      {"[optimizer.schedule]\nk0 = 0\n", "optimizer.schedule.k0",
       "optimizer.schedule.k0 = 0: must be a number > 0 (set it in [optimizer.schedule] or with "
       "--set optimizer.schedule.k0=...)"},
      {"[optimizer.schedule]\ngamma = -1\n", "optimizer.schedule.gamma",
       "optimizer.schedule.gamma = -1: must be a number >= 0 (set it in [optimizer.schedule] or "
       "with --set optimizer.schedule.gamma=...)"},
      {"[run]\nsteps = 0\n", "run.steps",
       "run.steps = 0: must be an integer >= 1 and <= 1000000000 (set it in [run] or with --set "
       "run.steps=...)"},
      {"[run]\nrecords = 1\n", "run.records",
       "run.records = 1: must be an integer >= 2 and <= 100000 (set it in [run] or with --set "
       "run.records=...)"},
      {"[run]\nreplicas = 1\n", "run.replicas",
       "run.replicas = 1: must be an integer >= 2 (set it in [run] or with --set "
       "run.replicas=...)"},
      {"[run]\nseed = -1\n", "run.seed",
       "run.seed = -1: must be an integer >= 0 (set it in [run] or with --set run.seed=...)"},
      {"[run]\nmodes = -1\n", "run.modes",
       "run.modes = -1: must be an integer >= 0 (set it in [run] or with --set run.modes=...)"},
      {"[theory]\nrel_tol = 0.5\n", "theory.rel_tol",
       "theory.rel_tol = 0.5: must be a number > 0 and <= 0.1 (set it in [theory] or with --set "
       "theory.rel_tol=...)"},
      {"[theory]\nrel_tol = 0\n", "theory.rel_tol",
       "theory.rel_tol = 0: must be a number > 0 and <= 0.1 (set it in [theory] or with --set "
       "theory.rel_tol=...)"},
      {"[theory]\nabs_tol = -1e-9\n", "theory.abs_tol",
       "theory.abs_tol = -1e-09: must be a number > 0 (set it in [theory] or with --set "
       "theory.abs_tol=...)"},
  };
  for (const auto& c : cases) expect_single_problem(c);
}

// A value of the wrong type is named with the type expected.
TEST(ConfigErrors, WrongTypesAreNamed) {
  const std::vector<BadValue> cases = {
      {"[run]\nsteps = \"abc\"\n", "run.steps",
       "run.steps = \"abc\": must be an integer >= 1 and <= 1000000000 (set it in [run] or with "
       "--set run.steps=...)"},
      {"[problem]\nd = 2.5\n", "problem.d",
       "problem.d = 2.5: must be an integer >= 1 and <= 10000000 (set it in [problem] or with "
       "--set problem.d=...)"},
      {"[problem]\nd = [1]\n", "problem.d",
       "problem.d = [1]: must be an integer >= 1 and <= 10000000 (set it in [problem] or with "
       "--set problem.d=...)"},
      {"[problem]\nsigma = nan\n", "problem.sigma",
       "problem.sigma = nan: must be a finite number >= 0 (set it in [problem] or with --set "
       "problem.sigma=...)"},
      {"[problem]\nsigma = true\n", "problem.sigma",
       "problem.sigma = true: must be a number >= 0 (set it in [problem] or with --set "
       "problem.sigma=...)"},
      {"[optimizer]\nnesterov = \"yes\"\n", "optimizer.nesterov",
       "optimizer.nesterov = \"yes\": must be true or false (set it in [optimizer] or with --set "
       "optimizer.nesterov=...)"},
      {"[problem.covariance]\npath = 3\n", "problem.covariance.path",
       "problem.covariance.path = 3: must be a string (a file path) (set it in "
       "[problem.covariance] or with --set problem.covariance.path=...)"},
      {"[optimizer]\nname = 3\n", "optimizer.name",
       "optimizer.name = 3: must be a name or a list of distinct names out of \"sgd\", "
       "\"signsgd\", \"signsvd\" or \"muon\" (set it in [optimizer] or with --set "
       "optimizer.name=...)"},
      {"[optimizer]\nlr = \"fast\"\n", "optimizer.lr",
       "optimizer.lr = \"fast\": must be a number > 0 for every optimizer, or a table of rates "
       "such as { sgd = 0.5, signsgd = 0.001 } (set it in [optimizer] or with --set "
       "optimizer.lr=...)"},
      {"[problem.d]\nx = 1\n", "problem.d",
       "problem.d = { x = 1 }: must be an integer >= 1 and <= 10000000 (set it in [problem] or "
       "with --set problem.d=...)"},
      {"problem = 3\n", "problem",
       "problem = 3: must be a table ([problem]) of keys such as problem.family"},
  };
  for (const auto& c : cases) expect_single_problem(c);
}

// Strings outside their choices list the choices (and the closest one), lists name the
// offending entry.
TEST(ConfigErrors, ChoicesAndLists) {
  const std::vector<BadValue> cases = {
      {"[problem.basis]\nkind = \"diagonl\"\n", "problem.basis.kind",
       "problem.basis.kind = \"diagonl\": must be one of \"diagonal\" or \"generic\" (did you "
       "mean \"diagonal\"?) (set it in [problem.basis] or with --set problem.basis.kind=...)"},
      {"[problem]\nfamily = \"bilnear\"\n", "problem.family",
       "problem.family = \"bilnear\": must be one of \"regression\" or \"bilinear\" (did you "
       "mean \"bilinear\"?) (set it in [problem] or with --set problem.family=...)"},
      {"[problem.covariance]\nnormalise = \"unit\"\n", "problem.covariance.normalise",
       "problem.covariance.normalise = \"unit\": must be one of \"none\" or \"trace\" (set it in "
       "[problem.covariance] or with --set problem.covariance.normalise=...)"},
      {"[theory]\nsolver = 4\n", "theory.solver",
       "theory.solver = 4: must be one of \"exact_map\" or \"ode\" (set it in [theory] or with "
       "--set theory.solver=...)"},
      {"[optimizer]\nname = [\"sgd\", \"adam\"]\n", "optimizer.name",
       "optimizer.name = [\"sgd\", \"adam\"]: \"adam\" is not one of \"sgd\", \"signsgd\", "
       "\"signsvd\" or \"muon\" (set it in [optimizer] or with --set optimizer.name=...)"},
      {"[optimizer]\nname = [\"sgd\", \"sgd\"]\n", "optimizer.name",
       "optimizer.name = [\"sgd\", \"sgd\"]: \"sgd\" is listed twice; names must be distinct "
       "(set it in [optimizer] or with --set optimizer.name=...)"},
      {"[optimizer]\nname = []\n", "optimizer.name",
       "optimizer.name = []: must list at least one of \"sgd\", \"signsgd\", \"signsvd\" or "
       "\"muon\" (set it in [optimizer] or with --set optimizer.name=...)"},
      {"[run]\nmethods = [\"mc\", \"theroy\"]\n", "run.methods",
       "run.methods = [\"mc\", \"theroy\"]: \"theroy\" is not one of \"mc\" or \"theory\" (did "
       "you mean \"theory\"?) (set it in [run] or with --set run.methods=...)"},
  };
  for (const auto& c : cases) expect_single_problem(c);
}

// optimizer.lr tables: keys must be optimizer names, rates positive, and every listed
// optimizer needs a rate.
TEST(ConfigErrors, LearningRateTables) {
  const std::vector<BadValue> cases = {
      {"[optimizer.lr]\nsgd = -1\n", "optimizer.lr.sgd",
       "optimizer.lr.sgd = -1: must be a number > 0 (set it in [optimizer.lr] or with --set "
       "optimizer.lr.sgd=...)"},
      {"[optimizer.lr]\nsgd = 0.1\nsgdd = 0.1\n", "optimizer.lr.sgdd",
       "optimizer.lr.sgdd: unknown optimizer; did you mean optimizer.lr.sgd? (the keys of "
       "optimizer.lr are optimizer names: sgd, signsgd, signsvd and muon)"},
      {"[optimizer]\nname = [\"sgd\", \"muon\", \"signsgd\"]\nlr = { sgd = 0.5 }\n", "optimizer.lr",
       "optimizer.lr = { sgd = 0.5 }: has no rate for muon and signsgd, listed in "
       "optimizer.name; add it to [optimizer.lr] (or --set optimizer.lr.muon=...), or give one "
       "number for all optimizers"},
      {"[optimizer]\nlr = {}\n", "optimizer.lr",
       "optimizer.lr = {}: must give a rate for at least one optimizer (set it in [optimizer] or "
       "with --set optimizer.lr=...)"},
  };
  for (const auto& c : cases) expect_single_problem(c);
}

// Nesterov momentum without momentum is a mistake worth reporting.
TEST(ConfigErrors, NesterovNeedsMomentum) {
  expect_single_problem({"[optimizer]\nnesterov = true\n", "optimizer.nesterov",
                         "optimizer.nesterov = true: needs optimizer.momentum > 0 (it is 0); set "
                         "a momentum or --set optimizer.nesterov=false"});
  EXPECT_NO_THROW(
      parse_config("[optimizer]\nname = \"muon\"\nnesterov = true\nmomentum = 0.9\n", "n.toml"));
}

// Momentum is Muon's: with no muon in optimizer.name it would be silently ignored, so it is an
// error naming the key; with muon in the list the others simply run without it.
TEST(ConfigErrors, MomentumNeedsMuon) {
  expect_single_problem({"[optimizer]\nname = \"sgd\"\nmomentum = 0.9\n", "optimizer.momentum",
                         "optimizer.momentum = 0.9: momentum is Muon's, and optimizer.name has no "
                         "\"muon\"; remove it (--set optimizer.momentum=0) or add muon to "
                         "optimizer.name"});
  const Experiment e =
      parse_config("[optimizer]\nname = [\"sgd\", \"muon\"]\nmomentum = 0.9\n", "m.toml");
  EXPECT_EQ(e.optimizers.at(0).momentum, 0.0);
  EXPECT_EQ(e.optimizers.at(1).momentum, 0.9);
}

// Unknown keys are errors with the closest known keys, matched on the whole dotted name
// or on its last component.
TEST(ConfigErrors, UnknownKeysSuggestClosestKeys) {
  const std::vector<BadValue> cases = {
      {"[problem]\nalpah = 1\n", "problem.alpah",
       "problem.alpah: unknown key; did you mean problem.covariance.alpha?"},
      {"[problme]\nd = 1\n", "problme.d", "problme.d: unknown key; did you mean problem.d?"},
      {"steps = 10\n", "steps", "steps: unknown key; did you mean run.steps?"},
      {"[run]\nstep = 10\n", "run.step", "run.step: unknown key; did you mean run.steps?"},
      {"[problem]\nkind = 1\n", "problem.kind",
       "problem.kind: unknown key; did you mean problem.basis.kind, problem.target.kind or "
       "problem.covariance.kind?"},
      {"[run]\nzzzzzz = 1\n", "run.zzzzzz",
       "run.zzzzzz: unknown key (the accepted keys and their ranges are listed by --help)"},
      {"[theroy]\n", "theroy", "theroy: unknown table; did you mean theory?"},
      {"[zzzzzz]\n", "zzzzzz",
       "zzzzzz: unknown table (the accepted keys and their ranges are listed by --help)"},
  };
  for (const auto& c : cases) expect_single_problem(c);
}

// A TOML syntax error names the source, line and column, and stops there.
TEST(ConfigErrors, SyntaxErrorGivesSourceLineAndColumn) {
  try {
    parse_config("[problem]\nd = 256\nm = = 3\n", "bad.toml");
    FAIL() << "no ConfigError";
  } catch (const ConfigError& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind("bad.toml:3:", 0), 0u) << message;
    EXPECT_NE(message.find("TOML syntax error"), std::string::npos) << message;
  }
}

// All problems are reported together, file problems in file order, then --set, then
// cross-field checks; field() is the first.
TEST(ConfigErrors, AllProblemsReportedTogether) {
  const ConfigError e = config_error(
      "[run]\nsteps = \"abc\"\n[problem]\nd = -3\nalpah = 2\n[optimizer]\nnesterov = true\n",
      {"run.replicas=1", "problem.m"});
  EXPECT_EQ(e.field(), "run.steps");
  const std::vector<std::string> lines = problem_lines(e);
  ASSERT_EQ(lines.size(), 6u) << e.what();
  EXPECT_EQ(count_lines(e.what()), 7);
  EXPECT_EQ(lines[0].rfind("run.steps = \"abc\": must be an integer", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("problem.d = -3: must be an integer >= 1", 0), 0u) << lines[1];
  EXPECT_EQ(lines[2].rfind("problem.alpah: unknown key", 0), 0u) << lines[2];
  EXPECT_EQ(lines[3].rfind("run.replicas = 1: must be an integer >= 2", 0), 0u) << lines[3];
  EXPECT_EQ(lines[4].rfind("--set \"problem.m\": expected key=value", 0), 0u) << lines[4];
  EXPECT_EQ(lines[5].rfind("optimizer.nesterov = true: needs optimizer.momentum > 0", 0), 0u)
      << lines[5];
  EXPECT_NE(std::string(e.what()).find("test.toml"), std::string::npos);
}

// A rejected value does not trigger cross-field errors built on the default it left behind.
TEST(ConfigErrors, NoCrossFieldErrorsFromRejectedValues) {
  const ConfigError e =
      config_error("[optimizer]\nname = [\"sgd\", \"adam\"]\nlr = { signsgd = 0.1 }\n");
  EXPECT_EQ(problem_lines(e).size(), 1u) << e.what();
  EXPECT_EQ(e.field(), "optimizer.name");
}

}  // namespace
}  // namespace signdyn
