// Tests of the covariance spectra, target amplitudes and their normalisations (theory.md §1).
#include <gtest/gtest.h>

#include <unistd.h>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "signdyn/error.hpp"
#include "signdyn/spectrum.hpp"

namespace signdyn {
namespace {

// Writes `text` to a fresh temporary file and removes it when the test ends.
class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    char name[] = "/tmp/signdyn_spectrum_XXXXXX";
    const int fd = mkstemp(name);
    EXPECT_GE(fd, 0);
    if (fd >= 0) close(fd);
    path_ = name;
    std::ofstream(path_) << text;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// λ_j = j^(−2α) exactly, j = 1..d, descending.
TEST(Spectrum, PowerLawEigenvaluesAreJToMinusTwoAlpha) {
  const Eigen::VectorXd lambda = power_law_eigenvalues(20, 0.75);
  ASSERT_EQ(lambda.size(), 20);
  for (int j = 1; j <= 20; ++j) EXPECT_DOUBLE_EQ(lambda(j - 1), std::pow(j, -1.5));
  for (int j = 1; j < 20; ++j) EXPECT_GT(lambda(j - 1), lambda(j));
}

// Isotropic: λ_j = b_j = 1.
TEST(Spectrum, IsotropicIsAllOnes) {
  EXPECT_EQ(isotropic_eigenvalues(7), Eigen::VectorXd::Ones(7));
  EXPECT_EQ(isotropic_target(7), Eigen::VectorXd::Ones(7));
}

// b_j = j^(−β) exactly.
TEST(Spectrum, PowerLawTargetIsJToMinusBeta) {
  const Eigen::VectorXd b = power_law_target(15, 0.4);
  for (int j = 1; j <= 15; ++j) EXPECT_DOUBLE_EQ(b(j - 1), std::pow(j, -0.4));
}

// After normalise_trace, Σ λ_j = 1 (to round-off d·ε) and the ratios λ_j/λ_1 are unchanged.
TEST(Spectrum, NormaliseTraceGivesUnitTrace) {
  const Eigen::VectorXd lambda = power_law_eigenvalues(1000, 0.6);
  const Eigen::VectorXd unit = normalise_trace(lambda);
  EXPECT_NEAR(unit.sum(), 1.0, 1000 * 1e-16);
  for (int j : {1, 10, 999}) EXPECT_NEAR(unit(j) / unit(0), lambda(j) / lambda(0), 1e-14);
}

// After normalise_target, Σ λ_j b_j² = 1 and b keeps its shape.
TEST(Spectrum, NormaliseTargetGivesUnitEnergy) {
  const Eigen::VectorXd lambda = power_law_eigenvalues(500, 0.5);
  const Eigen::VectorXd b = power_law_target(500, 0.3);
  const Eigen::VectorXd unit = normalise_target(b, lambda);
  EXPECT_NEAR(lambda.dot(unit.cwiseAbs2()), 1.0, 500 * 1e-16);
  EXPECT_NEAR(unit(100) / unit(0), b(100) / b(0), 1e-14);
}

// A file with comments, several values per line and unsorted values is read and sorted.
TEST(Spectrum, FromFileReadsCommentsAndSortsDescending) {
  const TempFile file("# eigenvalues of K\n0.5 1.0\n\n  0.25   # smallest\n2e-3\n");
  const Eigen::VectorXd lambda = eigenvalues_from_file(file.path(), 4);
  ASSERT_EQ(lambda.size(), 4);
  EXPECT_EQ(lambda(0), 1.0);
  EXPECT_EQ(lambda(1), 0.5);
  EXPECT_EQ(lambda(2), 0.25);
  EXPECT_EQ(lambda(3), 2e-3);
}

// Wrong count, a non-positive or non-finite value, or a non-number is a ConfigError naming the
// field; a missing file is an IoError naming the path.
TEST(Spectrum, FromFileRejectsBadFiles) {
  const TempFile too_few("1.0 0.5\n");
  const TempFile negative("1.0 -0.5 0.1\n");
  const TempFile zero("1.0 0 0.1\n");
  const TempFile infinite("1.0 inf 0.1\n");
  const TempFile garbage("1.0 0.5x 0.1\n");
  for (const TempFile* f : {&too_few, &negative, &zero, &infinite, &garbage}) {
    try {
      eigenvalues_from_file(f->path(), 3);
      ADD_FAILURE() << "accepted " << f->path();
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.field(), "problem.covariance.path");
      EXPECT_NE(std::string(e.what()).find(f->path()), std::string::npos) << e.what();
    }
  }
  try {
    eigenvalues_from_file("/nonexistent/signdyn/eigs.txt", 3);
    ADD_FAILURE() << "accepted a missing file";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/signdyn/eigs.txt"), std::string::npos);
  }
}

}  // namespace
}  // namespace signdyn
