// Tests of MsignBatch: OpenMP over independent matrices equals the single kernels bit for bit.
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <limits>
#include <vector>

#include "msign_test_util.hpp"
#include "signdyn/error.hpp"
#include "signdyn/msign.hpp"

namespace signdyn {
namespace {

constexpr Eigen::Index kD = 36, kM = 28, kB = 6;
constexpr int kCount = 7;

MsignBatchOptions batch_options(int threads) {
  MsignBatchOptions options;
  options.threads = threads;
  return options;
}

// Dense inputs for replicas: Gaussian matrices, one rank-deficient, one zero, one with a NaN.
std::vector<Eigen::MatrixXd> dense_inputs() {
  std::vector<Eigen::MatrixXd> G;
  for (int i = 0; i < kCount; ++i) G.push_back(test::gaussian(kD, kM, 300, i));
  G[2] = test::gaussian(kD, 5, 301) * test::gaussian(5, kM, 302);
  G[4].setZero();
  G[5](3, 3) = std::numeric_limits<double>::quiet_NaN();
  return G;
}

// Factored inputs X (B×d), R (B×m) for replicas, one with a zero residual.
void factored_inputs(Eigen::Index batch, std::vector<Eigen::MatrixXd>& X,
                     std::vector<Eigen::MatrixXd>& R) {
  X.clear();
  R.clear();
  for (int i = 0; i < kCount; ++i) {
    X.push_back(test::gaussian(batch, kD, 310, i));
    R.push_back(test::gaussian(batch, kM, 311, i));
  }
  R[3].setZero();
}

void expect_identical(const std::vector<Eigen::MatrixXd>& Q, const std::vector<MsignResult>& res,
                      const std::vector<Eigen::MatrixXd>& Q_ref,
                      const std::vector<MsignResult>& res_ref, int threads) {
  for (int i = 0; i < kCount; ++i) {
    EXPECT_EQ(res[i].status, res_ref[i].status) << "matrix " << i << ", threads " << threads;
    EXPECT_EQ(res[i].rank, res_ref[i].rank) << "matrix " << i << ", threads " << threads;
    EXPECT_TRUE((Q[i].array() == Q_ref[i].array()).all())
        << "matrix " << i << " differs, threads " << threads;
  }
}

// Every batched result equals the single kernel's (run with one BLAS thread) bit for bit, for
// 1, 2 and 3 OpenMP threads: results depend only on their own input, never on the thread.
TEST(MsignBatch, DenseEqualsPerMatrixKernelsForAnyThreadCount) {
  const std::vector<Eigen::MatrixXd> G = dense_inputs();
  const int previous = set_blas_threads(1);
  for (MsignMethod method : {MsignMethod::svd, MsignMethod::newton_schulz}) {
    std::vector<Eigen::MatrixXd> Q_ref(kCount, Eigen::MatrixXd(kD, kM));
    std::vector<MsignResult> res_ref(kCount);
    MsignSvd svd(kD, kM);
    MsignNewtonSchulz ns(kD, kM);
    for (int i = 0; i < kCount; ++i)
      res_ref[i] =
          method == MsignMethod::svd ? svd.compute(G[i], Q_ref[i]) : ns.compute(G[i], Q_ref[i]);
    EXPECT_EQ(res_ref[4].status, MsignStatus::zero_input);
    EXPECT_EQ(res_ref[5].status, MsignStatus::non_finite_input);
    for (int threads : {1, 2, 3}) {
      MsignBatch batch(kD, kM, batch_options(threads));
      std::vector<Eigen::MatrixXd> Q(kCount, Eigen::MatrixXd::Constant(kD, kM, 9.0));
      std::vector<MsignResult> res(kCount);
      batch.compute(method, G, Q, res);
      expect_identical(Q, res, Q_ref, res_ref, threads);
    }
  }
  set_blas_threads(previous);
}

// Same for factored inputs: automatic (low-rank if it pays off, else formed G + SVD) and the
// explicit low_rank / svd / newton_schulz methods equal MsignFactored / MsignLowRank / MsignSvd
// on (1/B) XᵀR / MsignNewtonSchulzFactored.
TEST(MsignBatch, FactoredEqualsPerMatrixKernelsForAnyThreadCount) {
  const int previous = set_blas_threads(1);
  for (Eigen::Index batch_size : {kB, Eigen::Index{40}}) {
    std::vector<Eigen::MatrixXd> X, R;
    factored_inputs(batch_size, X, R);
    for (MsignMethod method : {MsignMethod::automatic, MsignMethod::low_rank, MsignMethod::svd,
                               MsignMethod::newton_schulz}) {
      std::vector<Eigen::MatrixXd> Q_ref(kCount, Eigen::MatrixXd(kD, kM));
      std::vector<MsignResult> res_ref(kCount);
      MsignFactored factored(kD, kM, batch_size);
      MsignLowRank low_rank(kD, kM, batch_size);
      MsignSvd svd(kD, kM);
      MsignNewtonSchulzFactored ns(kD, kM, batch_size);
      for (int i = 0; i < kCount; ++i) {
        if (method == MsignMethod::newton_schulz) {
          res_ref[i] = ns.compute(X[i], R[i], Q_ref[i]);
        } else if (method == MsignMethod::automatic) {
          res_ref[i] = factored.compute(X[i], R[i], Q_ref[i]);
        } else if (method == MsignMethod::low_rank) {
          res_ref[i] = low_rank.compute(X[i], R[i], Q_ref[i]);
        } else {
          const Eigen::MatrixXd G = X[i].transpose() * R[i] / static_cast<double>(batch_size);
          res_ref[i] = svd.compute(G, Q_ref[i]);
        }
      }
      EXPECT_EQ(res_ref[3].status, MsignStatus::zero_input);
      for (int threads : {1, 2, 3}) {
        MsignBatch batch(kD, kM, batch_options(threads));
        std::vector<Eigen::MatrixXd> Q(kCount, Eigen::MatrixXd::Constant(kD, kM, 9.0));
        std::vector<MsignResult> res(kCount);
        batch.compute(method, X, R, Q, res);
        if (method == MsignMethod::svd) {
          // The batch forms G with one dgemm, the reference with Eigen: equal to round-off.
          for (int i = 0; i < kCount; ++i) {
            EXPECT_EQ(res[i].status, res_ref[i].status);
            if (res[i].ok()) {
              EXPECT_LE(test::max_abs_diff(Q[i], Q_ref[i]), 1e-10);
            }
          }
        } else {
          expect_identical(Q, res, Q_ref, res_ref, threads);
        }
      }
    }
  }
  set_blas_threads(previous);
}

// The batch runs BLAS single-threaded inside and restores the caller's BLAS thread count.
TEST(MsignBatch, RestoresBlasThreadCount) {
  const int previous = set_blas_threads(2);
  const std::vector<Eigen::MatrixXd> G = dense_inputs();
  std::vector<Eigen::MatrixXd> Q(kCount, Eigen::MatrixXd(kD, kM));
  std::vector<MsignResult> res(kCount);
  MsignBatch batch(kD, kM, batch_options(2));
  batch.compute(MsignMethod::svd, G, Q, res);
  EXPECT_EQ(set_blas_threads(previous), 2);
}

// Mismatched spans, shapes, or low_rank on dense input are programming errors: signdyn::Error.
TEST(MsignBatch, MisuseThrows) {
  const std::vector<Eigen::MatrixXd> G = dense_inputs();
  std::vector<Eigen::MatrixXd> Q(kCount - 1, Eigen::MatrixXd(kD, kM));
  std::vector<MsignResult> res(kCount);
  MsignBatch batch(kD, kM, batch_options(1));
  EXPECT_THROW(batch.compute(MsignMethod::svd, G, Q, res), Error);
  Q.resize(kCount, Eigen::MatrixXd(kD, kM));
  EXPECT_THROW(batch.compute(MsignMethod::low_rank, G, Q, res), Error);
  Q[2].resize(kD + 1, kM);
  EXPECT_THROW(batch.compute(MsignMethod::svd, G, Q, res), Error);
}

}  // namespace
}  // namespace signdyn
