// problem.family: the bilinear family's keys map to Experiment::bilinear, bad values name their
// field, and a key of the other family set away from its default is an error naming it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "config_test_util.hpp"
#include "signdyn/bilinear.hpp"

namespace signdyn {
namespace {

using test::config_error;

constexpr const char* kBilinear = R"(
[problem]
family = "bilinear"
sigma = 0.3
[problem.bilinear]
n_out = 24
n_in = 10
alpha_out = 0.25
alpha_in = 0.75
beta_out = 0.4
beta_in = 0.6
)";

// Every bilinear key lands in Experiment::bilinear; sigma is problem.sigma.
TEST(ConfigFamily, BilinearKeysMapToTheSpec) {
  const Experiment e = parse_config(kBilinear, "bilinear.toml");
  EXPECT_EQ(e.family, ProblemFamily::bilinear);
  EXPECT_EQ(e.bilinear.n_out, 24);
  EXPECT_EQ(e.bilinear.n_in, 10);
  EXPECT_EQ(e.bilinear.sigma, 0.3);
  EXPECT_EQ(e.bilinear.alpha_out, 0.25);
  EXPECT_EQ(e.bilinear.alpha_in, 0.75);
  EXPECT_EQ(e.bilinear.beta_out, 0.4);
  EXPECT_EQ(e.bilinear.beta_in, 0.6);
  EXPECT_EQ(to_string(e.family), "bilinear");
  EXPECT_EQ(parse_config("", "<empty>").family, ProblemFamily::regression);
}

// Spectra and bases per side: the kinds, the Haar seed, and a from_file path resolved against
// the config file's directory (the resolved path is what the spec and the resolved TOML hold).
TEST(ConfigFamily, BilinearSpectraAndBasesPerSide) {
  const std::string dir = testing::TempDir() + "signdyn_family_paths";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/mu.txt") << "1 0.5 0.25\n";
  const std::string config = dir + "/exp.toml";
  std::string text = kBilinear;
  text.replace(text.find("n_out = 24"), 10, "n_out = 3");
  std::ofstream(config) << text
                        << "covariance_out = \"from_file\"\npath_out = \"mu.txt\"\n"
                           "covariance_in = \"isotropic\"\nbasis_in = \"generic\"\n"
                           "basis_seed = 17\n";
  const Experiment e = load_config(config);
  EXPECT_EQ(e.bilinear.covariance_out, CovarianceKind::from_file);
  EXPECT_EQ(e.bilinear.covariance_in, CovarianceKind::isotropic);
  const std::string resolved = std::filesystem::path(dir + "/mu.txt").lexically_normal().string();
  EXPECT_EQ(e.bilinear.file_out, resolved);
  EXPECT_EQ(e.bilinear.file_in, "");
  EXPECT_EQ(e.bilinear.basis_out, BasisKind::diagonal);
  EXPECT_EQ(e.bilinear.basis_in, BasisKind::generic);
  EXPECT_EQ(e.bilinear.basis_seed, 17u);
  EXPECT_NE(e.resolved_toml.find("path_out = \"" + resolved + "\""), std::string::npos)
      << e.resolved_toml;
  const BilinearProblem p = make_bilinear_problem(e.bilinear);
  EXPECT_EQ(p.mu, Eigen::Vector3d(1.0, 0.5, 0.25));
  EXPECT_EQ(p.O_in.rows(), 10);
  std::filesystem::remove_all(dir);
}

// The built-in default spells out every key of both families at their defaults; switching the
// family is enough (keys of the other family at their defaults are ignored).
TEST(ConfigFamily, DefaultConfigSwitchesFamily) {
  const Experiment e =
      parse_config(default_config_text(), "<default>",
                   {"problem.family=bilinear", "problem.bilinear.n_in=32", "run.modes=4"});
  EXPECT_EQ(e.family, ProblemFamily::bilinear);
  EXPECT_EQ(e.bilinear.n_out, 64);
  EXPECT_EQ(e.bilinear.n_in, 32);
  EXPECT_EQ(e.bilinear.sigma, 0.5);
}

std::string source_dir() {
  const char* dir = std::getenv("SIGNDYN_SOURCE_DIR");
  return dir ? dir : SIGNDYN_TEST_SOURCE_DIR;
}

// configs/bilinear.toml is a valid bilinear experiment.
TEST(ConfigFamily, ExampleFileIsBilinear) {
  const Experiment e = load_config(source_dir() + "/configs/bilinear.toml");
  EXPECT_EQ(e.family, ProblemFamily::bilinear);
  EXPECT_EQ(e.bilinear.n_out, 64);
  EXPECT_EQ(e.bilinear.n_in, 64);
}

struct BadCase {
  std::vector<std::string> overrides;  // applied to kBilinear (or to "" when `regression`)
  bool regression;
  std::string field;    // expected ConfigError::field()
  std::string message;  // expected substring of the message
};

// Bad values and keys of the other family: the error names the field and says what to do.
TEST(ConfigFamily, ErrorsNameTheField) {
  const std::vector<BadCase> cases = {
      {{"problem.bilinear.n_out=0"},
       false,
       "problem.bilinear.n_out",
       "problem.bilinear.n_out = 0: must be an integer >= 1 and <= 100000"},
      {{"problem.bilinear.alpha_in=-0.5"},
       false,
       "problem.bilinear.alpha_in",
       "problem.bilinear.alpha_in = -0.5: must be a number >= 0"},
      {{"problem.bilinear.beta_out=nan"},
       false,
       "problem.bilinear.beta_out",
       "problem.bilinear.beta_out = nan: must be a finite number >= 0"},
      {{"problem.bilinear.n_inn=3"},
       false,
       "problem.bilinear.n_inn",
       "problem.bilinear.n_inn: unknown key; did you mean problem.bilinear.n_in?"},
      {{"problem.bilinear.n_out=20000", "problem.bilinear.n_in=20000"},
       false,
       "problem.bilinear.n_in",
       "n_out * n_in = 400000000 must be <= 100000000"},
      {{"problem.d=128"},
       false,
       "problem.d",
       "problem.d = 128: not used by problem.family = \"bilinear\"; the bilinear dimensions are "
       "problem.bilinear.n_out and problem.bilinear.n_in"},
      {{"problem.covariance.alpha=0.75"},
       false,
       "problem.covariance.alpha",
       "problem.covariance.alpha = 0.75: not used by problem.family = \"bilinear\"; the bilinear "
       "exponents are problem.bilinear.alpha_out and problem.bilinear.alpha_in"},
      {{"problem.basis.kind=generic"},
       false,
       "problem.basis.kind",
       "problem.basis.kind = \"generic\": not used by problem.family = \"bilinear\"; the "
       "bilinear bases are problem.bilinear.basis_out, basis_in and basis_seed"},
      {{"problem.covariance.kind=isotropic"},
       false,
       "problem.covariance.kind",
       "the bilinear spectra are problem.bilinear.covariance_out and covariance_in"},
      {{"problem.bilinear.covariance_in=from_file"},
       false,
       "problem.bilinear.path_in",
       "problem.bilinear.path_in = \"\": required when problem.bilinear.covariance_in = "
       "\"from_file\" (a text file of n_in eigenvalues of K_in)"},
      {{"problem.bilinear.covariance_out=from_file", "problem.bilinear.path_out=no/such.txt"},
       false,
       "problem.bilinear.path_out",
       "problem.bilinear.path_out = \"no/such.txt\": no file at "},
      {{"problem.bilinear.basis_out=rotated"},
       false,
       "problem.bilinear.basis_out",
       "problem.bilinear.basis_out = \"rotated\": must be one of \"diagonal\" or \"generic\""},
      {{"problem.bilinear.basis_seed=-1"},
       false,
       "problem.bilinear.basis_seed",
       "problem.bilinear.basis_seed = -1: must be an integer >= 0"},
      {{"problem.bilinear.basis_in=generic"},
       true,
       "problem.bilinear.basis_in",
       "problem.bilinear.basis_in = \"generic\": used only when problem.family = \"bilinear\""},
      {{"theory.solver=ode"},
       false,
       "theory.solver",
       "theory.solver = \"ode\": not used by problem.family = \"bilinear\""},
      {{"problem.bilinear.n_out=12"},
       true,
       "problem.bilinear.n_out",
       "problem.bilinear.n_out = 12: used only when problem.family = \"bilinear\" (it is "
       "\"regression\"); set problem.family = \"bilinear\" or remove problem.bilinear.n_out"},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.overrides.back());
    const ConfigError e = config_error(c.regression ? "" : kBilinear, c.overrides);
    EXPECT_EQ(e.field(), c.field);
    EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << e.what();
  }
}

// The same key written in the file (not only with --set) is reported, with every other one.
TEST(ConfigFamily, FileKeysOfTheOtherFamilyAreAllReported) {
  const ConfigError e =
      config_error(std::string(kBilinear) + "[problem.target]\nbeta = 1.0\nnormalise = \"unit\"\n");
  EXPECT_EQ(e.field(), "problem.target.beta");
  const std::string message = e.what();
  EXPECT_NE(message.find("2 problems"), std::string::npos) << message;
  EXPECT_NE(message.find("problem.target.normalise = \"unit\": not used"), std::string::npos)
      << message;
}

}  // namespace
}  // namespace signdyn
