// OpenBLAS dgemm on Eigen blocks (see blas.hpp).
#include "blas.hpp"

#include <cblas.h>

#include <cassert>

namespace signdyn::detail {

void gemm(bool trans_a, bool trans_b, double alpha, const Eigen::Ref<const Eigen::MatrixXd>& A,
          const Eigen::Ref<const Eigen::MatrixXd>& B, double beta, Eigen::Ref<Eigen::MatrixXd> C) {
  const Eigen::Index k = trans_a ? A.rows() : A.cols();
  assert(C.rows() == (trans_a ? A.cols() : A.rows()));
  assert(C.cols() == (trans_b ? B.rows() : B.cols()));
  assert(k == (trans_b ? B.cols() : B.rows()));
  cblas_dgemm(CblasColMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, static_cast<int>(C.rows()),
              static_cast<int>(C.cols()), static_cast<int>(k), alpha, A.data(),
              static_cast<int>(A.outerStride()), B.data(), static_cast<int>(B.outerStride()), beta,
              C.data(), static_cast<int>(C.outerStride()));
}

}  // namespace signdyn::detail
