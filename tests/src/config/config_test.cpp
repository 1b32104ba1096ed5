// Config parsing: defaults, every key mapped to its spec field, resolved TOML round trip,
// file loading and path resolution, example configs, the --help table.
#include <gtest/gtest.h>

#include <toml++/toml.h>
#include <unistd.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config_test_util.hpp"

namespace signdyn {
namespace {

namespace fs = std::filesystem;
using test::config_error;
using test::expect_same_experiment;

// A fresh empty directory under the system temp dir, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("signdyn_config_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  // Writes `text` to `name` inside the directory and returns its path.
  fs::path write(const std::string& name, const std::string& text) const {
    const fs::path file = path_ / name;
    fs::create_directories(file.parent_path());
    std::ofstream(file) << text;
    return file;
  }

 private:
  fs::path path_;
};

// Runs the test body with `dir` as working directory, restoring the previous one.
class ScopedCwd {
 public:
  explicit ScopedCwd(const fs::path& dir) : previous_(fs::current_path()) { fs::current_path(dir); }
  ~ScopedCwd() { fs::current_path(previous_); }

 private:
  fs::path previous_;
};

// Every dotted key listed by describe_config_keys (first column after the header rule).
std::vector<std::string> described_keys() {
  std::istringstream rows(describe_config_keys());
  std::vector<std::string> keys;
  std::string line;
  bool past_rule = false;
  while (std::getline(rows, line)) {
    if (!past_rule) {
      past_rule = !line.empty() && line.front() == '-';
      continue;
    }
    keys.push_back(line.substr(0, line.find(' ')));
  }
  return keys;
}

std::string source_dir() {
  const char* dir = std::getenv("SIGNDYN_SOURCE_DIR");
  return dir ? dir : SIGNDYN_TEST_SOURCE_DIR;
}

// The schema defaults (empty text) and configs/default.toml describe the same experiment.
TEST(ConfigDefaults, EmptyTextEqualsDefaultFile) {
  const Experiment empty = parse_config("", "<empty>");
  const Experiment file = parse_config(default_config_text(), "<default>");
  expect_same_experiment(empty, file);
  EXPECT_EQ(empty.resolved_toml, file.resolved_toml);
}

// The defaults are the documented ones (d = m = 256, SGD at lr 0.5, B = 8, ...).
TEST(ConfigDefaults, DefaultsAreTheDocumentedValues) {
  const Experiment e = load_config("");
  EXPECT_EQ(e.problem.d, 256);
  EXPECT_EQ(e.problem.m, 256);
  EXPECT_EQ(e.problem.sigma, 0.5);
  EXPECT_EQ(e.problem.basis, BasisKind::diagonal);
  EXPECT_EQ(e.problem.basis_seed, 1u);
  EXPECT_EQ(e.problem.covariance, CovarianceKind::power_law);
  EXPECT_EQ(e.problem.alpha, 0.5);
  EXPECT_FALSE(e.problem.normalise_trace);
  EXPECT_EQ(e.problem.target, TargetKind::power_law);
  EXPECT_EQ(e.problem.beta, 0.5);
  EXPECT_FALSE(e.problem.normalise_target);
  ASSERT_EQ(e.optimizers.size(), 3u);
  EXPECT_EQ(e.optimizers[1].kind, OptimizerKind::signsgd);
  EXPECT_EQ(e.optimizers[1].lr, 0.003);
  EXPECT_EQ(e.optimizers[2].kind, OptimizerKind::signsvd);
  EXPECT_EQ(e.optimizers[2].lr, 0.05);
  const OptimizerSpec& o = e.optimizers[0];
  EXPECT_EQ(o.kind, OptimizerKind::sgd);
  EXPECT_EQ(o.lr, 0.5);
  EXPECT_EQ(o.batch, 8);
  EXPECT_EQ(o.momentum, 0.0);
  EXPECT_FALSE(o.nesterov);
  EXPECT_EQ(o.ns_steps, 5);
  EXPECT_EQ(o.schedule.kind, ScheduleKind::constant);
  EXPECT_EQ(o.schedule.k0, 1000.0);
  EXPECT_EQ(o.schedule.gamma, 0.5);
  EXPECT_EQ(e.run.steps, 2000);
  EXPECT_EQ(e.run.records, 40);
  EXPECT_EQ(e.run.replicas, 32);
  EXPECT_EQ(e.run.seed, 1u);
  EXPECT_EQ(e.run.modes, 16);
  EXPECT_TRUE(e.run.mc);
  EXPECT_TRUE(e.run.theory);
  EXPECT_EQ(e.theory.solver, TheorySolver::exact_map);
  EXPECT_EQ(e.theory.rel_tol, 1e-8);
  EXPECT_EQ(e.theory.abs_tol, 1e-12);
}

// configs/default.toml spells out every key of the schema (it is the documented default).
TEST(ConfigDefaults, DefaultFileSetsEveryKey) {
  const toml::table document = toml::parse(default_config_text());
  const std::vector<std::string> keys = described_keys();
  EXPECT_EQ(keys.size(), 44u);
  for (const auto& key : keys) EXPECT_TRUE(document.at_path(key)) << key;
}

// The embedded text is the file configs/default.toml byte for byte.
TEST(ConfigDefaults, EmbeddedTextIsTheFile) {
  std::ifstream in(source_dir() + "/configs/default.toml", std::ios::binary);
  ASSERT_TRUE(in) << "cannot open configs/default.toml under " << source_dir();
  std::ostringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), default_config_text());
}

constexpr const char* kEveryKey = R"(
[problem]
family = "regression"
d = 100
m = 30
sigma = 0.25
[problem.basis]
kind = "generic"
seed = 42
[problem.covariance]
kind = "isotropic"
alpha = 1.25
normalise = "trace"
[problem.target]
kind = "isotropic"
beta = 0.75
normalise = "unit"
[optimizer]
name = ["muon", "signsvd"]
lr = 0.02
batch = 64
momentum = 0.9
nesterov = true
ns_steps = 7
[optimizer.schedule]
kind = "power"
k0 = 50.0
gamma = 1.5
[run]
steps = 12345
records = 77
replicas = 5
seed = 99
modes = 0
methods = ["theory"]
[theory]
solver = "ode"
rel_tol = 1e-6
abs_tol = 1e-9
)";

// Every key given a non-default value lands in its spec field.
TEST(ConfigParse, EveryKeyMapsToItsField) {
  const Experiment e = parse_config(kEveryKey, "every.toml");
  EXPECT_EQ(e.problem.d, 100);
  EXPECT_EQ(e.problem.m, 30);
  EXPECT_EQ(e.problem.sigma, 0.25);
  EXPECT_EQ(e.problem.basis, BasisKind::generic);
  EXPECT_EQ(e.problem.basis_seed, 42u);
  EXPECT_EQ(e.problem.covariance, CovarianceKind::isotropic);
  EXPECT_EQ(e.problem.alpha, 1.25);
  EXPECT_TRUE(e.problem.normalise_trace);
  EXPECT_EQ(e.problem.target, TargetKind::isotropic);
  EXPECT_EQ(e.problem.beta, 0.75);
  EXPECT_TRUE(e.problem.normalise_target);
  ASSERT_EQ(e.optimizers.size(), 2u);
  EXPECT_EQ(e.optimizers[0].kind, OptimizerKind::muon);
  EXPECT_EQ(e.optimizers[1].kind, OptimizerKind::signsvd);
  // Momentum and Nesterov are Muon's; the other optimizers get none.
  EXPECT_EQ(e.optimizers[0].momentum, 0.9);
  EXPECT_TRUE(e.optimizers[0].nesterov);
  EXPECT_EQ(e.optimizers[1].momentum, 0.0);
  EXPECT_FALSE(e.optimizers[1].nesterov);
  for (const OptimizerSpec& o : e.optimizers) {
    EXPECT_EQ(o.lr, 0.02);
    EXPECT_EQ(o.batch, 64);
    EXPECT_EQ(o.ns_steps, 7);
    EXPECT_EQ(o.schedule.kind, ScheduleKind::power);
    EXPECT_EQ(o.schedule.k0, 50.0);
    EXPECT_EQ(o.schedule.gamma, 1.5);
  }
  EXPECT_EQ(e.run.steps, 12345);
  EXPECT_EQ(e.run.records, 77);
  EXPECT_EQ(e.run.replicas, 5);
  EXPECT_EQ(e.run.seed, 99u);
  EXPECT_EQ(e.run.modes, 0);
  EXPECT_FALSE(e.run.mc);
  EXPECT_TRUE(e.run.theory);
  EXPECT_EQ(e.theory.solver, TheorySolver::ode);
  EXPECT_EQ(e.theory.rel_tol, 1e-6);
  EXPECT_EQ(e.theory.abs_tol, 1e-9);
}

// Dotted keys and inline tables are the same TOML as [table] sections.
TEST(ConfigParse, DottedKeysEqualTables) {
  const Experiment dotted =
      parse_config("problem.d = 64\nproblem.covariance = { alpha = 1.0 }\nrun.methods = \"mc\"\n",
                   "dotted.toml");
  EXPECT_EQ(dotted.problem.d, 64);
  EXPECT_EQ(dotted.problem.alpha, 1.0);
  EXPECT_TRUE(dotted.run.mc);
  EXPECT_FALSE(dotted.run.theory);
}

// An integral float stands for an integer; an integer stands for a float.
TEST(ConfigParse, IntegralFloatsAndIntegerFloats) {
  const Experiment e =
      parse_config("[problem]\nd = 256.0\nsigma = 1\n[run]\nsteps = 1e3\n", "numbers.toml");
  EXPECT_EQ(e.problem.d, 256);
  EXPECT_EQ(e.problem.sigma, 1.0);
  EXPECT_EQ(e.run.steps, 1000);
}

// An lr table gives each listed optimizer its own rate, in optimizer.name order.
TEST(ConfigParse, LearningRateTablePerOptimizer) {
  const Experiment e = parse_config(
      "[optimizer]\nname = [\"signsgd\", \"sgd\"]\n[optimizer.lr]\nsgd = 0.5\nsignsgd = 1e-3\n"
      "muon = 0.02\n",
      "lr.toml");
  ASSERT_EQ(e.optimizers.size(), 2u);
  EXPECT_EQ(e.optimizers[0].kind, OptimizerKind::signsgd);
  EXPECT_EQ(e.optimizers[0].lr, 1e-3);
  EXPECT_EQ(e.optimizers[1].kind, OptimizerKind::sgd);
  EXPECT_EQ(e.optimizers[1].lr, 0.5);
}

// resolved_toml reads back to the same experiment, and resolving it again changes nothing.
TEST(ConfigRoundTrip, ResolvedTomlParsesBackIdentically) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"", {}},
      {kEveryKey, {}},
      {"[optimizer]\nname = [\"sgd\", \"signsgd\", \"muon\"]\nlr = { sgd = 0.5, signsgd = 1e-3, "
       "muon = 0.1 }\n",
       {"optimizer.lr.muon=0.3"}},
      {"",
       {"optimizer.name=[sgd,signsgd]", "optimizer.lr.signsgd=0.001", "problem.sigma=0.1",
        "theory.rel_tol=3e-7", "problem.covariance.alpha=0.3333333333333333"}},
      {std::string(default_config_text()), {"run.methods=mc", "problem.basis.kind=generic"}},
      {std::string(default_config_text()),
       {"problem.family=bilinear", "problem.bilinear.n_out=12", "problem.bilinear.alpha_in=0.75",
        "problem.sigma=0.1"}},
  };
  for (const auto& [text, overrides] : cases) {
    SCOPED_TRACE(text + " with " + std::to_string(overrides.size()) + " overrides");
    const Experiment first = parse_config(text, "case.toml", overrides);
    const Experiment second = parse_config(first.resolved_toml, "resolved.toml");
    expect_same_experiment(first, second);
    EXPECT_EQ(first.resolved_toml, second.resolved_toml);
  }
}

// resolved_toml lists every key of the schema, with the overrides applied.
TEST(ConfigRoundTrip, ResolvedTomlHasEveryKey) {
  const Experiment e = parse_config("", "<empty>", {"problem.d=77"});
  const toml::table resolved = toml::parse(e.resolved_toml);
  for (const auto& key : described_keys()) EXPECT_TRUE(resolved.at_path(key)) << key;
  EXPECT_EQ(resolved.at_path("problem.d").value<std::int64_t>(), 77);
}

// A spectrum path in a config file is read relative to that file's directory.
TEST(ConfigPaths, FromFilePathIsRelativeToTheConfigFile) {
  TempDir dir;
  const fs::path spectrum = dir.write("data/lambda.txt", "1\n0.5\n");
  const fs::path config = dir.write(
      "sub/../exp.toml",
      "[problem]\nd = 2\n[problem.covariance]\nkind = \"from_file\"\npath = \"data/lambda.txt\"\n");
  const Experiment e = load_config(config.string());
  EXPECT_EQ(e.problem.covariance, CovarianceKind::from_file);
  EXPECT_EQ(fs::path(e.problem.covariance_file), spectrum.lexically_normal());
  EXPECT_TRUE(fs::path(e.problem.covariance_file).is_absolute());
  // The resolved text carries the absolute path, so it reads back from anywhere.
  const Experiment again = parse_config(e.resolved_toml, "<resolved>");
  EXPECT_EQ(again.problem.covariance_file, e.problem.covariance_file);
}

// A spectrum path given with --set is read relative to the working directory.
TEST(ConfigPaths, OverridePathIsRelativeToTheWorkingDirectory) {
  TempDir dir;
  const fs::path spectrum = dir.write("lambda.txt", "1\n");
  const fs::path config = dir.write("configs/exp.toml", "problem.d = 1\n");
  ScopedCwd cwd(dir.path());
  const Experiment e = load_config(
      config.string(), {"problem.covariance.kind=from_file", "problem.covariance.path=lambda.txt"});
  EXPECT_EQ(fs::path(e.problem.covariance_file), fs::absolute(spectrum).lexically_normal());
}

// from_file without a path, or with a path to no file, is reported on the path field.
TEST(ConfigPaths, FromFileNeedsAnExistingFile) {
  const ConfigError missing_key = config_error("[problem.covariance]\nkind = \"from_file\"\n");
  EXPECT_EQ(missing_key.field(), "problem.covariance.path");
  EXPECT_NE(std::string(missing_key.what()).find("required when problem.covariance.kind"),
            std::string::npos)
      << missing_key.what();
  TempDir dir;
  const ConfigError no_file = config_error("[problem.covariance]\nkind = \"from_file\"\npath = \"" +
                                           (dir.path() / "nope.txt").string() + "\"\n");
  EXPECT_EQ(no_file.field(), "problem.covariance.path");
  EXPECT_NE(std::string(no_file.what()).find("no file at " + (dir.path() / "nope.txt").string()),
            std::string::npos)
      << no_file.what();
}

// A path given while the spectrum is not read from a file is kept but not used.
TEST(ConfigPaths, PathIgnoredUnlessFromFile) {
  const Experiment e = parse_config("[problem.covariance]\npath = \"x.txt\"\n", "p.toml");
  EXPECT_EQ(e.problem.covariance, CovarianceKind::power_law);
  EXPECT_TRUE(e.problem.covariance_file.empty());
}

// load_config: an empty path is the built-in default; an unreadable file is an IoError
// naming the path.
TEST(ConfigLoad, DefaultAndUnreadableFile) {
  expect_same_experiment(load_config(""), parse_config(default_config_text(), "<default>"));
  const std::string missing = "/nonexistent/dir/exp.toml";
  try {
    load_config(missing);
    FAIL() << "no IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
  }
  TempDir dir;
  EXPECT_THROW(load_config(dir.path().string()), IoError);
}

// The example configs in configs/ are valid and say what they claim.
TEST(ConfigExamples, ExampleConfigsParse) {
  const Experiment generic = load_config(source_dir() + "/configs/signsgd-generic.toml");
  EXPECT_EQ(generic.problem.basis, BasisKind::generic);
  ASSERT_EQ(generic.optimizers.size(), 2u);
  EXPECT_EQ(generic.optimizers[1].kind, OptimizerKind::signsgd);
  EXPECT_EQ(generic.optimizers[1].lr, 2e-3);
  const Experiment isotropic = load_config(source_dir() + "/configs/isotropic.toml");
  EXPECT_EQ(isotropic.problem.covariance, CovarianceKind::isotropic);
  EXPECT_EQ(isotropic.problem.target, TargetKind::isotropic);
  // SGD with Gaussian data is mean-square stable for lr < 2 / (1 + (d + 1)/B).
  const auto& o = isotropic.optimizers.at(0);
  EXPECT_LT(o.lr, 2.0 / (1.0 + double(isotropic.problem.d + 1) / double(o.batch)));
}

// The --help table has one row per key, and each row's default reads back through --set
// to the default experiment.
TEST(ConfigDescribe, EveryRowsDefaultIsTheDefault) {
  const std::string table = describe_config_keys();
  std::istringstream rows(table);
  std::string header, rule, line;
  std::getline(rows, header);
  std::getline(rows, rule);
  const std::size_t type_column = header.find("type");
  const std::size_t default_column = header.find("default");
  const std::size_t accepted_column = header.find("accepted");
  const Experiment defaults = parse_config("", "<empty>");
  int count = 0;
  while (std::getline(rows, line)) {
    ++count;
    const std::string key = line.substr(0, line.find(' '));
    ASSERT_GT(line.size(), accepted_column) << line;
    EXPECT_EQ(line[type_column - 1], ' ') << "misaligned: " << line;
    EXPECT_NE(line[type_column], ' ') << "misaligned: " << line;
    std::string value = line.substr(default_column, accepted_column - default_column);
    value = value.substr(0, value.find_last_not_of(' ') + 1);
    SCOPED_TRACE(key + "=" + value);
    expect_same_experiment(parse_config("", "<empty>", {key + "=" + value}), defaults);
  }
  EXPECT_EQ(count, 44);
}

}  // namespace
}  // namespace signdyn
