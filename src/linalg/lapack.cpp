// src/linalg/lapack.cpp: thin-SVD driver (gesdd with gesvd fallback) and shared msign helpers.
#include "lapack.hpp"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "signdyn/error.hpp"

namespace signdyn::detail {

static_assert(std::is_same_v<lapack_int, int>, "signdyn expects LP64 LAPACKE (lapack_int = int)");

ThinSvd::ThinSvd(Eigen::Index p, Eigen::Index q)
    : s(std::min(p, q)),
      U(p, std::min(p, q)),
      Vt(std::min(p, q), q),
      p_(p),
      q_(q),
      k_(std::min(p, q)),
      a_(p, q),
      iwork_(static_cast<std::size_t>(8 * k_)) {
  // Workspace queries for both drivers; keep the larger so the fallback needs no allocation.
  double query_sdd = 0.0, query_svd = 0.0;
  const int p32 = static_cast<int>(p), q32 = static_cast<int>(q), k32 = static_cast<int>(k_);
  LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'S', p32, q32, a_.data(), p32, s.data(), U.data(), p32,
                      Vt.data(), k32, &query_sdd, -1, iwork_.data());
  LAPACKE_dgesvd_work(LAPACK_COL_MAJOR, 'S', 'S', p32, q32, a_.data(), p32, s.data(), U.data(), p32,
                      Vt.data(), k32, &query_svd, -1);
  const auto lwork = static_cast<std::size_t>(std::max(query_sdd, query_svd)) + 1;
  work_.assign(lwork, 0.0);
}

bool ThinSvd::compute(const double* a, Eigen::Index lda, bool& used_fallback) {
  const int p32 = static_cast<int>(p_), q32 = static_cast<int>(q_), k32 = static_cast<int>(k_);
  const int lwork = static_cast<int>(work_.size());
  a_ = Eigen::Map<const Eigen::MatrixXd, 0, Eigen::OuterStride<>>(a, p_, q_,
                                                                  Eigen::OuterStride<>(lda));
  used_fallback = false;
  int info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'S', p32, q32, a_.data(), p32, s.data(),
                                 U.data(), p32, Vt.data(), k32, work_.data(), lwork, iwork_.data());
  if (info == 0) return true;
  // gesdd failed (info > 0: the divide-and-conquer did not converge); try QR-iteration gesvd.
  used_fallback = true;
  a_ = Eigen::Map<const Eigen::MatrixXd, 0, Eigen::OuterStride<>>(a, p_, q_,
                                                                  Eigen::OuterStride<>(lda));
  info = LAPACKE_dgesvd_work(LAPACK_COL_MAJOR, 'S', 'S', p32, q32, a_.data(), p32, s.data(),
                             U.data(), p32, Vt.data(), k32, work_.data(), lwork);
  return info == 0;
}

void ThinSvd::write_polar(Eigen::Index r, double* q, Eigen::Index ldq) const {
  gemm(false, false, p_, q_, r, 1.0, U.data(), p_, Vt.data(), k_, 0.0, q, ldq);
}

Eigen::Index truncated_rank(const Eigen::VectorXd& s, double rel_tol) {
  if (s.size() == 0 || !(s(0) > 0.0)) return 0;
  const double cut = rel_tol * s(0);
  Eigen::Index r = 0;
  while (r < s.size() && s(r) > cut) ++r;
  return r;
}

double resolve_rel_tol(double rel_tol, Eigen::Index d, Eigen::Index m) {
  return rel_tol < 0.0 ? default_msign_rel_tol(d, m) : rel_tol;
}

double power_of_two_scale(double max_abs) {
  int e = 0;
  std::frexp(max_abs, &e);
  return std::ldexp(1.0, -e);
}

void check_shape(const char* what, Eigen::Index rows, Eigen::Index cols, Eigen::Index want_rows,
                 Eigen::Index want_cols) {
  if (rows == want_rows && cols == want_cols) return;
  throw Error(std::string("msign: ") + what + " is " + std::to_string(rows) + "×" +
              std::to_string(cols) + " but the kernel was sized for " + std::to_string(want_rows) +
              "×" + std::to_string(want_cols) + "; construct the kernel with the matching shape");
}

void gemm(bool trans_a, bool trans_b, Eigen::Index rows, Eigen::Index cols, Eigen::Index inner,
          double alpha, const double* a, Eigen::Index lda, const double* b, Eigen::Index ldb,
          double beta, double* c, Eigen::Index ldc) {
  if (rows == 0 || cols == 0) return;
  if (inner == 0) {
    // BLAS leaves C untouched for k = 0 only when beta = 1; make C = beta·C explicit.
    Eigen::Map<Eigen::MatrixXd, 0, Eigen::OuterStride<>> cm(c, rows, cols,
                                                            Eigen::OuterStride<>(ldc));
    if (beta == 0.0)
      cm.setZero();
    else
      cm *= beta;
    return;
  }
  cblas_dgemm(CblasColMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, static_cast<int>(rows), static_cast<int>(cols),
              static_cast<int>(inner), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb),
              beta, c, static_cast<int>(ldc));
}

ScaledProduct::ScaledProduct(Eigen::Index d, Eigen::Index m) : xs_(kChunk, d), rs_(kChunk, m) {}

double ScaledProduct::compute(const Eigen::Ref<const Eigen::MatrixXd>& X,
                              const Eigen::Ref<const Eigen::MatrixXd>& R, double max_x,
                              double max_r, Eigen::MatrixXd& g) {
  const Eigen::Index batch = X.rows(), d = X.cols(), m = R.cols();
  int ex = 0, er = 0;
  std::frexp(max_x, &ex);
  std::frexp(max_r, &er);
  if (std::abs(ex) + std::abs(er) < 900) {
    // |x·r| < 2^(ex+er) stays far inside the double range: one GEMM, scaled by alpha.
    const double c = std::ldexp(1.0, -(ex + er));
    gemm(true, false, d, m, batch, c, X.data(), X.outerStride(), R.data(), R.outerStride(), 0.0,
         g.data(), d);
    return c;
  }
  // Extreme exponents: scale row chunks exactly by 2^(−ex), 2^(−er) and accumulate.
  const double sx = std::ldexp(1.0, -ex), sr = std::ldexp(1.0, -er);
  for (Eigen::Index b0 = 0; b0 < batch; b0 += kChunk) {
    const Eigen::Index nb = std::min(kChunk, batch - b0);
    xs_.topRows(nb) = X.middleRows(b0, nb) * sx;
    rs_.topRows(nb) = R.middleRows(b0, nb) * sr;
    gemm(true, false, d, m, nb, 1.0, xs_.data(), kChunk, rs_.data(), kChunk, b0 == 0 ? 0.0 : 1.0,
         g.data(), d);
  }
  return sx * sr;  // may under/overflow as a number; only its positivity matters to msign
}

namespace {

// Workspace length for dgeqrf on rows×batch followed by dorgqr on its first k columns.
int qr_workspace(Eigen::Index rows, Eigen::Index batch, Eigen::Index k) {
  std::vector<double> a(1), tau(1);
  double q1 = 0.0, q2 = 0.0;
  const int r32 = static_cast<int>(rows);
  LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, r32, static_cast<int>(batch), a.data(), r32, tau.data(),
                      &q1, -1);
  LAPACKE_dorgqr_work(LAPACK_COL_MAJOR, r32, static_cast<int>(k), static_cast<int>(k), a.data(),
                      r32, tau.data(), &q2, -1);
  return static_cast<int>(std::max(q1, q2)) + 1;
}

// Thin QR of the rows×batch matrix in `a`: writes the upper-trapezoidal k×batch factor into
// `r` and overwrites the first k columns of `a` with the orthonormal factor (k = min(rows, B)).
void thin_qr(Eigen::MatrixXd& a, Eigen::VectorXd& tau, Eigen::MatrixXd& r,
             std::vector<double>& work) {
  const int rows = static_cast<int>(a.rows()), batch = static_cast<int>(a.cols());
  const int k = static_cast<int>(r.rows());
  const int lwork = static_cast<int>(work.size());
  LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, rows, batch, a.data(), rows, tau.data(), work.data(),
                      lwork);
  r = a.topRows(k).triangularView<Eigen::Upper>();
  LAPACKE_dorgqr_work(LAPACK_COL_MAJOR, rows, k, k, a.data(), rows, tau.data(), work.data(), lwork);
}

}  // namespace

FactorQr::FactorQr(Eigen::Index d, Eigen::Index m, Eigen::Index batch)
    : kx(std::min(d, batch)),
      kr(std::min(m, batch)),
      qx(d, batch),
      qr(m, batch),
      core(kx, kr),
      batch_(batch),
      tau_x_(kx),
      tau_r_(kr),
      rx_(kx, batch),
      rr_(kr, batch),
      work_(static_cast<std::size_t>(
          std::max(qr_workspace(d, batch, kx), qr_workspace(m, batch, kr)))) {}

bool FactorQr::compute(const Eigen::Ref<const Eigen::MatrixXd>& X,
                       const Eigen::Ref<const Eigen::MatrixXd>& R, double max_x, double max_r) {
  scale_x = power_of_two_scale(max_x);
  scale_r = power_of_two_scale(max_r);
  qx = X.transpose() * scale_x;
  qr = R.transpose() * scale_r;
  norm_x = qx.norm();
  norm_r = qr.norm();
  thin_qr(qx, tau_x_, rx_, work_);
  thin_qr(qr, tau_r_, rr_, work_);
  gemm(false, true, kx, kr, batch_, 1.0, rx_.data(), kx, rr_.data(), kr, 0.0, core.data(), kx);
  return core.allFinite();
}

double FactorQr::round_off() const {
  return static_cast<double>(batch_) * std::numeric_limits<double>::epsilon() * norm_x * norm_r;
}

MsignResult zero_result(MsignStatus status, Eigen::Ref<Eigen::MatrixXd> Q) {
  Q.setZero();
  MsignResult result;
  result.status = status;
  result.rank = 0;
  return result;
}

}  // namespace signdyn::detail
