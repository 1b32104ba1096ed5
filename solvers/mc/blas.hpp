// solvers/mc/blas.hpp: the one BLAS call of the replica engine, on Eigen column-major blocks.
#pragma once

#include <Eigen/Core>

#include "signdyn/msign.hpp"  // set_blas_threads

namespace signdyn::detail {

/// C ← alpha·op(A)·op(B) + beta·C, op = transpose where asked, by OpenBLAS dgemm (measured
/// 2.8× faster than Eigen's GEMM at the default step shapes, 8×256·256×256, without
/// -march=native, since OpenBLAS picks its kernel at run time). Sizes must conform; C must not
/// alias A or B. Single-threaded inside the engine's replicas (it sets BLAS threads to 1).
void gemm(bool trans_a, bool trans_b, double alpha, const Eigen::Ref<const Eigen::MatrixXd>& A,
          const Eigen::Ref<const Eigen::MatrixXd>& B, double beta, Eigen::Ref<Eigen::MatrixXd> C);

/// Sets the OpenBLAS thread count for its lifetime and restores the previous one.
class BlasThreadsGuard {
 public:
  explicit BlasThreadsGuard(int threads) : previous_(set_blas_threads(threads)) {}
  ~BlasThreadsGuard() { set_blas_threads(previous_); }
  BlasThreadsGuard(const BlasThreadsGuard&) = delete;
  BlasThreadsGuard& operator=(const BlasThreadsGuard&) = delete;

 private:
  int previous_;
};

}  // namespace signdyn::detail
