// src/linalg/lapack.hpp: private LAPACK/BLAS helpers shared by the msign kernels.
#pragma once

#include <Eigen/Core>
#include <string>
#include <vector>

#include "signdyn/msign.hpp"

namespace signdyn::detail {

/// Thin SVD A = U diag(s) Vt of a p×q matrix by LAPACK dgesdd, falling back to dgesvd when
/// gesdd reports non-convergence. All workspaces are sized in the constructor.
class ThinSvd {
 public:
  ThinSvd(Eigen::Index p, Eigen::Index q);

  /// SVD of the p×q column-major matrix at `a` (leading dimension lda); false if both
  /// drivers failed. The input must be finite (LAPACK can hang otherwise).
  bool compute(const double* a, Eigen::Index lda, bool& used_fallback);

  /// Q = U_r Vt_r (p×q, leading dimension ldq): the polar factor truncated to rank r.
  void write_polar(Eigen::Index r, double* q, Eigen::Index ldq) const;

  Eigen::Index rows() const { return p_; }
  Eigen::Index cols() const { return q_; }
  Eigen::Index size() const { return k_; }

  Eigen::VectorXd s;   // k = min(p, q) singular values, descending
  Eigen::MatrixXd U;   // p×k
  Eigen::MatrixXd Vt;  // k×q

 private:
  Eigen::Index p_, q_, k_;
  Eigen::MatrixXd a_;  // copy of the input (the drivers overwrite it)
  std::vector<double> work_;
  std::vector<int> iwork_;
};

/// Number of singular values s_i > rel_tol·s_0 (s descending; 0 if s_0 = 0).
Eigen::Index truncated_rank(const Eigen::VectorXd& s, double rel_tol);

/// rel_tol, or the default max(d, m)·ε when rel_tol < 0.
double resolve_rel_tol(double rel_tol, Eigen::Index d, Eigen::Index m);

/// 2^(−e) with max_abs = f·2^e, f ∈ [0.5, 1): an exact rescaling that brings max_abs into
/// [0.5, 1) and so keeps squares and products away from overflow and underflow.
double power_of_two_scale(double max_abs);

/// Throws signdyn::Error naming `what` unless rows×cols match the expected shape.
void check_shape(const char* what, Eigen::Index rows, Eigen::Index cols, Eigen::Index want_rows,
                 Eigen::Index want_cols);

/// C = alpha·op(A)·op(B) + beta·C on column-major storage (cblas_dgemm).
void gemm(bool trans_a, bool trans_b, Eigen::Index rows, Eigen::Index cols, Eigen::Index inner,
          double alpha, const double* a, Eigen::Index lda, const double* b, Eigen::Index ldb,
          double beta, double* c, Eigen::Index ldc);

/// Forms g = c·XᵀR (X: B×d, R: B×m, finite, both nonzero) with a power-of-two c > 0 that keeps
/// every product in range: one dgemm on X, R when their exponents allow it, else a pass over
/// row chunks scaled into fixed buffers (extreme inputs only). No allocation.
class ScaledProduct {
 public:
  ScaledProduct(Eigen::Index d, Eigen::Index m);
  /// Writes g (d×m, leading dimension d) and returns c.
  double compute(const Eigen::Ref<const Eigen::MatrixXd>& X,
                 const Eigen::Ref<const Eigen::MatrixXd>& R, double max_x, double max_r,
                 Eigen::MatrixXd& g);

 private:
  static constexpr Eigen::Index kChunk = 64;
  Eigen::MatrixXd xs_, rs_;  // kChunk×d and kChunk×m scaled row chunks
};

/// Thin Householder QR of both factors of G ∝ XᵀR (X: B×d, R: B×m), after the exact
/// power-of-two scalings s_x = power_of_two_scale(max|X|), s_r = power_of_two_scale(max|R|):
/// s_x Xᵀ = Q_x R_x, s_r Rᵀ = Q_r R_r, and the kx×kr core C = R_x R_rᵀ (kx = min(d, B),
/// kr = min(m, B)), so that s_x s_r XᵀR = Q_x C Q_rᵀ. Householder QR gives Q_x, Q_r with
/// orthonormal columns even for rank-deficient factors. Shared by MsignLowRank (SVD of C) and
/// MsignNewtonSchulzFactored (Newton–Schulz on C). Workspaces are sized in the constructor.
class FactorQr {
 public:
  FactorQr(Eigen::Index d, Eigen::Index m, Eigen::Index batch);

  /// Factors finite X, R with max|X| = max_x > 0 and max|R| = max_r > 0; false if the core
  /// is not finite.
  bool compute(const Eigen::Ref<const Eigen::MatrixXd>& X,
               const Eigen::Ref<const Eigen::MatrixXd>& R, double max_x, double max_r);
  /// B·ε·‖s_x X‖_F·‖s_r R‖_F: each entry of XᵀR carries a rounding error ≤ B·ε·Σ_b |x_bi r_bj|,
  /// so a core (or a formed s_x s_r XᵀR) of norm below this is zero to working precision.
  double round_off() const;

  Eigen::Index kx, kr;                  // columns of Q_x and Q_r
  Eigen::MatrixXd qx;                   // d×B; its first kx columns hold Q_x after compute()
  Eigen::MatrixXd qr;                   // m×B; its first kr columns hold Q_r
  Eigen::MatrixXd core;                 // C = R_x R_rᵀ (kx×kr)
  double scale_x = 1.0, scale_r = 1.0;  // s_x, s_r
  double norm_x = 0.0, norm_r = 0.0;    // ‖s_x X‖_F, ‖s_r R‖_F

 private:
  Eigen::Index batch_;
  Eigen::VectorXd tau_x_, tau_r_;
  Eigen::MatrixXd rx_, rr_;  // triangular factors R_x (kx×B), R_r (kr×B)
  std::vector<double> work_;
};

/// Sets Q = 0 and returns a result with the given status and rank 0.
MsignResult zero_result(MsignStatus status, Eigen::Ref<Eigen::MatrixXd> Q);

}  // namespace signdyn::detail
