// Tests of the HDF5 result files (signdyn/io.hpp, layout in docs/output-format.md).
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "signdyn/error.hpp"
#include "signdyn/io.hpp"

namespace signdyn {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class ResultFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("signdyn_io_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

// Bitwise equality, so that NaN, -0.0 and denormals must survive unchanged.
template <class Derived>
bool same_bits(const Eigen::DenseBase<Derived>& a, const Eigen::DenseBase<Derived>& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
  for (Eigen::Index j = 0; j < a.cols(); ++j) {
    for (Eigen::Index i = 0; i < a.rows(); ++i) {
      const auto x = a(i, j);
      const auto y = b(i, j);
      if (std::memcmp(&x, &y, sizeof x) != 0) return false;
    }
  }
  return true;
}

// A run with n_rec records of n_modes modes; values depend on (i, k) asymmetrically so any
// transposition or reordering shows, and include special floating-point values.
Trajectory make_run(const std::string& optimizer, const std::string& method, Eigen::Index n_rec,
                    Eigen::Index n_modes, double offset) {
  Trajectory run;
  run.optimizer = optimizer;
  run.method = method;
  run.solver = method == "mc" ? "replicas" : "exact_map";
  run.batch = std::int64_t{1} << 40;
  run.lr = 0.1 + offset;
  run.seed = std::numeric_limits<std::uint64_t>::max() - 7;
  run.replicas = method == "mc" ? 32 : 0;
  run.wall_seconds = 1.0 / 3.0 + offset;
  run.status = method == "mc" ? RunStatus::diverged : RunStatus::completed;
  run.message = method == "mc" ? "risk not finite at step 17 (replica 3): λ_max·η ≥ 2" : "";
  run.t = Eigen::VectorXd::LinSpaced(n_rec, 0.0, 100.0 * static_cast<double>(n_rec));
  run.risk = (run.t.array() + 1.0).inverse().matrix() * (1.0 + offset) +
             Eigen::VectorXd::Constant(n_rec, 1e-17);
  run.risk_se = run.risk * 0.01;
  run.modes.resize(n_modes);
  for (Eigen::Index k = 0; k < n_modes; ++k) run.modes(k) = static_cast<int>(3 * k + 1);
  run.rho.resize(n_rec, n_modes);
  run.rho_se.resize(n_rec, n_modes);
  for (Eigen::Index i = 0; i < n_rec; ++i) {
    for (Eigen::Index k = 0; k < n_modes; ++k) {
      run.rho(i, k) = 1000.0 * static_cast<double>(i) + static_cast<double>(k) + offset;
      run.rho_se(i, k) = std::sqrt(run.rho(i, k) + 0.5);
    }
  }
  if (n_rec > 2 && n_modes > 1) {
    run.risk(1) = std::numeric_limits<double>::quiet_NaN();
    run.risk(2) = std::numeric_limits<double>::infinity();
    run.rho(1, 1) = -0.0;
    run.rho(2, 0) = std::numeric_limits<double>::denorm_min();
  }
  return run;
}

ResultMeta make_meta() {
  ResultMeta meta;
  meta.config_toml = "[problem]\nd = 64  # λ_j = j^(−2α)\nm = 32\n";
  meta.version = "0.1.0";
  meta.git_commit = "0123456789ab";
  meta.command = "run";
  meta.created = "2025-01-02T03:04:05Z";
  return meta;
}

void expect_same_run(const Trajectory& a, const Trajectory& b) {
  EXPECT_EQ(a.method, b.method);
  EXPECT_EQ(a.optimizer, b.optimizer);
  EXPECT_EQ(a.solver, b.solver);
  EXPECT_EQ(a.batch, b.batch);
  EXPECT_EQ(std::memcmp(&a.lr, &b.lr, sizeof a.lr), 0);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.replicas, b.replicas);
  EXPECT_EQ(std::memcmp(&a.wall_seconds, &b.wall_seconds, sizeof a.wall_seconds), 0);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.message, b.message);
  EXPECT_TRUE(same_bits(a.t, b.t));
  EXPECT_TRUE(same_bits(a.risk, b.risk));
  EXPECT_TRUE(same_bits(a.risk_se, b.risk_se));
  EXPECT_TRUE(same_bits(a.modes, b.modes));
  EXPECT_TRUE(same_bits(a.rho, b.rho));
  EXPECT_TRUE(same_bits(a.rho_se, b.rho_se));
  EXPECT_TRUE(same_bits(a.mode_pairs, b.mode_pairs));
}

// Expects `f` to throw an exception of type E whose message contains every one of `parts`.
template <class E, class F>
void expect_throw_naming(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no exception thrown";
  } catch (const E& e) {
    for (const std::string& part : parts) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
          << "message '" << e.what() << "' does not name '" << part << "'";
    }
  }
}

// write_result then read_result returns every field bit for bit, runs in the order written.
TEST_F(ResultFileTest, RoundTripIsBitExactAndKeepsWriteOrder) {
  const std::vector<Trajectory> runs = {
      make_run("sgd", "theory", 7, 3, 0.0), make_run("sgd", "mc", 7, 3, 0.25),
      make_run("signsgd", "mc", 5, 4, 0.5), make_run("muon", "mc", 1, 0, 0.75),
      make_run("signsvd", "theory", 0, 2, 1.0)};
  const std::string file = path("out.h5");
  write_result(file, make_meta(), runs);
  EXPECT_FALSE(fs::exists(file + ".tmp"));

  const ResultFile back = read_result(file);
  EXPECT_EQ(back.format_version, kFormatVersion);
  const ResultMeta meta = make_meta();
  EXPECT_EQ(back.meta.config_toml, meta.config_toml);
  EXPECT_EQ(back.meta.version, meta.version);
  EXPECT_EQ(back.meta.git_commit, meta.git_commit);
  EXPECT_EQ(back.meta.command, meta.command);
  EXPECT_EQ(back.meta.created, meta.created);
  ASSERT_EQ(back.runs.size(), runs.size());
  for (std::size_t r = 0; r < runs.size(); ++r) {
    SCOPED_TRACE(run_group_name(runs[r]));
    expect_same_run(runs[r], back.runs[r]);
  }
}

// A file with no runs is valid and reads back with none.
TEST_F(ResultFileTest, EmptyRunListRoundTrips) {
  const std::string file = path("empty.h5");
  write_result(file, make_meta(), {});
  const ResultFile back = read_result(file);
  EXPECT_TRUE(back.runs.empty());
  EXPECT_EQ(back.meta.command, "run");
}

// The group name is <optimizer>_<method>.
TEST(RunGroupName, IsOptimizerUnderscoreMethod) {
  Trajectory run;
  run.optimizer = "signsgd";
  run.method = "theory";
  EXPECT_EQ(run_group_name(run), "signsgd_theory");
}

// In the file, rho has HDF5 (row-major) shape (n_rec, n_modes) and element [i, k] is
// record i, mode k — what h5py shows as f['runs/sgd_mc/rho'][i, k].
TEST_F(ResultFileTest, RhoIsStoredRecordMajor) {
  const Trajectory run = make_run("sgd", "mc", 6, 4, 0.0);
  const std::string file = path("rho.h5");
  write_result(file, make_meta(), {run});

  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  const hid_t ds = H5Dopen2(f, "/runs/sgd_mc/rho", H5P_DEFAULT);
  ASSERT_GE(ds, 0);
  const hid_t space = H5Dget_space(ds);
  hsize_t dims[2] = {0, 0};
  ASSERT_EQ(H5Sget_simple_extent_ndims(space), 2);
  H5Sget_simple_extent_dims(space, dims, nullptr);
  EXPECT_EQ(dims[0], 6u);
  EXPECT_EQ(dims[1], 4u);
  std::vector<double> raw(24);
  ASSERT_GE(H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()), 0);
  for (Eigen::Index i = 0; i < 6; ++i) {
    for (Eigen::Index k = 0; k < 4; ++k) {
      const double stored = raw[static_cast<std::size_t>(i * 4 + k)];
      EXPECT_EQ(std::memcmp(&stored, &run.rho(i, k), sizeof stored), 0) << "i=" << i << " k=" << k;
    }
  }
  H5Sclose(space);
  H5Dclose(ds);
  H5Fclose(f);
}

// A bilinear file: root attribute `family`, the problem in /bilinear, and each run's
// mode_pairs (n_modes × 2, stored row-major: pair c is mode_pairs[c]) read back exactly; a file
// without `family` (written before the bilinear family) reads as "regression".
TEST_F(ResultFileTest, BilinearFamilyProblemAndModePairsRoundTrip) {
  Trajectory run = make_run("sgd", "theory", 5, 3, 0.0);
  run.mode_pairs.resize(3, 2);
  run.mode_pairs << 1, 2, 3, 4, 5, 6;
  run.modes = run.mode_pairs.col(0);
  ResultMeta meta = make_meta();
  meta.family = "bilinear";
  BilinearSpec spec;
  spec.n_out = 7;
  spec.n_in = 3;
  spec.sigma = 0.25;
  spec.alpha_out = 0.125;
  spec.alpha_in = 0.75;
  spec.beta_out = 1.5;
  spec.beta_in = 0.0;
  spec.covariance_in = CovarianceKind::from_file;
  spec.file_in = "/data/k_in.txt";
  spec.basis_out = BasisKind::generic;
  spec.basis_seed = 42;
  meta.bilinear = spec;
  const std::string file = path("bilinear.h5");
  write_result(file, meta, {run});

  const ResultFile back = read_result(file);
  EXPECT_EQ(back.meta.family, "bilinear");
  ASSERT_TRUE(back.meta.bilinear.has_value());
  EXPECT_EQ(back.meta.bilinear->n_out, 7);
  EXPECT_EQ(back.meta.bilinear->n_in, 3);
  EXPECT_EQ(back.meta.bilinear->sigma, 0.25);
  EXPECT_EQ(back.meta.bilinear->alpha_out, 0.125);
  EXPECT_EQ(back.meta.bilinear->alpha_in, 0.75);
  EXPECT_EQ(back.meta.bilinear->beta_out, 1.5);
  EXPECT_EQ(back.meta.bilinear->beta_in, 0.0);
  EXPECT_EQ(back.meta.bilinear->covariance_out, CovarianceKind::power_law);
  EXPECT_EQ(back.meta.bilinear->covariance_in, CovarianceKind::from_file);
  EXPECT_EQ(back.meta.bilinear->file_in, "/data/k_in.txt");
  EXPECT_EQ(back.meta.bilinear->basis_out, BasisKind::generic);
  EXPECT_EQ(back.meta.bilinear->basis_in, BasisKind::diagonal);
  EXPECT_EQ(back.meta.bilinear->basis_seed, 42u);
  ASSERT_EQ(back.runs.size(), 1u);
  expect_same_run(run, back.runs[0]);

  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  const hid_t ds = H5Dopen2(f, "/runs/sgd_theory/mode_pairs", H5P_DEFAULT);
  ASSERT_GE(ds, 0);
  int raw[6] = {};
  ASSERT_GE(H5Dread(ds, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw), 0);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(raw[i], i + 1);
  H5Dclose(ds);
  H5Fclose(f);

  const std::string old_file = path("regression.h5");
  write_result(old_file, make_meta(), {make_run("sgd", "mc", 2, 2, 0.0)});
  const ResultFile old = read_result(old_file);
  EXPECT_EQ(old.meta.family, "regression");
  EXPECT_FALSE(old.meta.bilinear.has_value());
  EXPECT_EQ(old.runs[0].mode_pairs.size(), 0);
}

// Mode pairs that do not match the modes are refused before anything is written.
TEST_F(ResultFileTest, InconsistentModePairsAreRefused) {
  Trajectory run = make_run("sgd", "mc", 2, 3, 0.0);
  run.mode_pairs = Eigen::MatrixXi::Ones(2, 2);  // 2 pairs for 3 modes
  const std::string file = path("pairs.h5");
  expect_throw_naming<Error>([&] { write_result(file, make_meta(), {run}); },
                             {"mode_pairs is 2x2", "n_modes x 2"});
  EXPECT_FALSE(fs::exists(file));
}

// A failed write (directory does not exist) throws IoError naming the path and leaves neither
// the final file nor the temporary one.
TEST_F(ResultFileTest, FailedCreateLeavesNoFile) {
  const std::string file = path("missing_dir/out.h5");
  expect_throw_naming<IoError>(
      [&] { write_result(file, make_meta(), {make_run("sgd", "mc", 3, 2, 0)}); }, {file});
  EXPECT_FALSE(fs::exists(file));
  EXPECT_FALSE(fs::exists(file + ".tmp"));
}

// When HDF5 cannot create the temporary file (here a directory sits under that name), the
// IoError names the path and carries HDF5's reason; nothing appears under the final name and the
// directory is not removed.
TEST_F(ResultFileTest, FailedHdf5CreateNamesPathAndLeavesNoFile) {
  const std::string file = path("out.h5");
  fs::create_directory(file + ".tmp");
  expect_throw_naming<IoError>(
      [&] { write_result(file, make_meta(), {make_run("sgd", "mc", 3, 2, 0)}); },
      {"cannot create HDF5 file " + file + ".tmp: "});
  EXPECT_FALSE(fs::exists(file));
  EXPECT_TRUE(fs::is_directory(file + ".tmp"));
}

// When the final rename fails (a directory occupies the final name), the IoError names both
// paths and the temporary file is removed.
TEST_F(ResultFileTest, FailedRenameRemovesTemporary) {
  const std::string file = path("out.h5");
  fs::create_directory(file);
  expect_throw_naming<IoError>(
      [&] { write_result(file, make_meta(), {make_run("sgd", "mc", 3, 2, 0)}); },
      {"cannot rename " + file + ".tmp to " + file});
  EXPECT_FALSE(fs::exists(file + ".tmp"));
  EXPECT_TRUE(fs::is_directory(file));
}

// A failure after the temporary file exists (a string HDF5 cannot store: embedded NUL) removes
// it, and an existing result under the final name is left untouched.
TEST_F(ResultFileTest, FailureMidWriteKeepsPreviousFileAndRemovesTemporary) {
  const std::string file = path("out.h5");
  write_result(file, make_meta(), {make_run("sgd", "theory", 4, 2, 0)});
  ResultMeta bad = make_meta();
  bad.config_toml = std::string("a\0b", 3);
  expect_throw_naming<IoError>(
      [&] { write_result(file, bad, {make_run("signsgd", "mc", 4, 2, 0)}); }, {file, "config"});
  EXPECT_FALSE(fs::exists(file + ".tmp"));
  const ResultFile back = read_result(file);
  ASSERT_EQ(back.runs.size(), 1u);
  EXPECT_EQ(back.runs[0].optimizer, "sgd");
}

// Two runs mapping to the same group name are refused (IoError), nothing is written.
TEST_F(ResultFileTest, CollidingGroupNamesAreRefused) {
  const std::string file = path("dup.h5");
  expect_throw_naming<IoError>(
      [&] {
        write_result(file, make_meta(),
                     {make_run("sgd", "mc", 3, 2, 0), make_run("sgd", "mc", 3, 2, 1)});
      },
      {file, "/runs/sgd_mc"});
  EXPECT_FALSE(fs::exists(file));
  EXPECT_FALSE(fs::exists(file + ".tmp"));
}

// Inconsistent sizes are a programming error reported as signdyn::Error before any file exists.
TEST_F(ResultFileTest, InconsistentSizesAreRefused) {
  const std::string file = path("bad.h5");
  Trajectory run = make_run("sgd", "mc", 5, 3, 0);
  run.rho.resize(3, 5);  // transposed
  expect_throw_naming<Error>([&] { write_result(file, make_meta(), {run}); }, {file, "rho is 3x5"});
  run = make_run("sgd", "mc", 5, 3, 0);
  run.risk_se.resize(4);
  expect_throw_naming<Error>([&] { write_result(file, make_meta(), {run}); }, {"risk_se"});
  run = make_run("sgd", "mc", 5, 3, 0);
  run.modes(0) = 0;  // modes are 1-based
  expect_throw_naming<Error>([&] { write_result(file, make_meta(), {run}); }, {"1-based"});
  run = make_run("sgd/x", "mc", 5, 3, 0);
  expect_throw_naming<Error>([&] { write_result(file, make_meta(), {run}); }, {"sgd/x"});
  EXPECT_FALSE(fs::exists(file));
}

// Reading a missing file names the path.
TEST_F(ResultFileTest, MissingFileIsIoErrorNamingPath) {
  const std::string file = path("nope.h5");
  expect_throw_naming<IoError>([&] { read_result(file); }, {file, "no such file"});
}

// Reading a text file names the path and says it is not HDF5.
TEST_F(ResultFileTest, TextFileIsIoErrorNamingPath) {
  const std::string file = path("notes.h5");
  std::ofstream(file) << "d = 64\n";
  expect_throw_naming<IoError>([&] { read_result(file); }, {file, "not an HDF5 file"});
}

// Reading an HDF5 file without signdyn's root attributes names the path and what is missing.
TEST_F(ResultFileTest, ForeignHdf5FileIsIoErrorNamingMissingAttributes) {
  const std::string file = path("foreign.h5");
  const hid_t f = H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  const hsize_t n = 3;
  const double x[3] = {1, 2, 3};
  const hid_t space = H5Screate_simple(1, &n, nullptr);
  const hid_t ds = H5Dcreate2(f, "x", H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
  H5Dclose(ds);
  H5Sclose(space);
  H5Fclose(f);
  expect_throw_naming<IoError>([&] { read_result(file); },
                               {file, "not a signdyn result", "format_version", "config"});
}

// A file from a newer layout is refused with its version, not misread.
TEST_F(ResultFileTest, NewerLayoutVersionIsRefused) {
  const std::string file = path("future.h5");
  write_result(file, make_meta(), {make_run("sgd", "mc", 3, 2, 0)});
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  const hid_t attr = H5Aopen(f, "format_version", H5P_DEFAULT);
  const int version = kFormatVersion + 1;
  H5Awrite(attr, H5T_NATIVE_INT, &version);
  H5Aclose(attr);
  H5Fclose(f);
  expect_throw_naming<IoError>([&] { read_result(file); },
                               {file, "layout version " + std::to_string(version)});
}

// A signdyn file missing a dataset names the run and the dataset.
TEST_F(ResultFileTest, MissingDatasetIsIoErrorNamingIt) {
  const std::string file = path("cut.h5");
  write_result(file, make_meta(), {make_run("sgd", "mc", 3, 2, 0)});
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  H5Ldelete(f, "/runs/sgd_mc/rho_se", H5P_DEFAULT);
  H5Fclose(f);
  expect_throw_naming<IoError>([&] { read_result(file); }, {file, "/runs/sgd_mc/rho_se"});
}

}  // namespace
}  // namespace signdyn
