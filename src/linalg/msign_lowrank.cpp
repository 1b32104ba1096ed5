// src/linalg/msign_lowrank.cpp: exact msign of G = (1/B) XᵀR through thin QR of both factors.
//
// Xᵀ = Q_x R_x and Rᵀ = Q_r R_r (Householder, Q with orthonormal columns even when a factor is
// rank-deficient), so G = Q_x C Q_rᵀ / B with the small core C = R_x R_rᵀ. With C = U_c Σ V_cᵀ,
// G = (Q_x U_c) Σ (Q_r V_c)ᵀ is an SVD of G, and msign(G) = (Q_x U_c,r)(Q_r V_c,r)ᵀ after the
// same relative rank truncation as MsignSvd. Cost ≈ 2dmB (the final product) + O((d+m)B²).
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "lapack.hpp"
#include "signdyn/error.hpp"
#include "signdyn/msign.hpp"

namespace signdyn {

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

struct MsignLowRank::Impl {
  Impl(Eigen::Index d_, Eigen::Index m_, Eigen::Index batch_, double tol)
      : d(d_),
        m(m_),
        batch(batch_),
        kx(std::min(d_, batch_)),
        kr(std::min(m_, batch_)),
        rel_tol(detail::resolve_rel_tol(tol, d_, m_)),
        ax(d_, batch_),
        ar(m_, batch_),
        tau_x(kx),
        tau_r(kr),
        rx(kx, batch_),
        rr(kr, batch_),
        core(kx, kr),
        px(d_, std::min(kx, kr)),
        pr(m_, std::min(kx, kr)),
        c(kx, kr),
        s(std::min(kx, kr)),
        work(static_cast<std::size_t>(
            std::max(qr_workspace(d_, batch_, kx), qr_workspace(m_, batch_, kr)))) {}

  Eigen::Index d, m, batch, kx, kr;
  double rel_tol;
  Eigen::MatrixXd ax, ar;  // Xᵀ and Rᵀ (scaled), then their orthonormal factors Q_x, Q_r
  Eigen::VectorXd tau_x, tau_r;
  Eigen::MatrixXd rx, rr;  // triangular factors R_x (kx×B), R_r (kr×B)
  detail::ThinSvd core;    // SVD of C = R_x R_rᵀ
  Eigen::MatrixXd px, pr;  // Q_x U_c,r and Q_r V_c,r
  Eigen::MatrixXd c;
  Eigen::VectorXd s;  // singular values of G = (1/B) XᵀR
  std::vector<double> work;
};

MsignLowRank::MsignLowRank(Eigen::Index d, Eigen::Index m, Eigen::Index batch, double rel_tol) {
  if (d < 1 || m < 1 || batch < 1)
    throw Error("MsignLowRank: d = " + std::to_string(d) + ", m = " + std::to_string(m) +
                ", batch = " + std::to_string(batch) + ": all must be ≥ 1");
  impl_ = std::make_unique<Impl>(d, m, batch, rel_tol);
}
MsignLowRank::~MsignLowRank() = default;
MsignLowRank::MsignLowRank(MsignLowRank&&) noexcept = default;
MsignLowRank& MsignLowRank::operator=(MsignLowRank&&) noexcept = default;

MsignResult MsignLowRank::compute(const Eigen::Ref<const Eigen::MatrixXd>& X,
                                  const Eigen::Ref<const Eigen::MatrixXd>& R,
                                  Eigen::Ref<Eigen::MatrixXd> Q) {
  Impl& w = *impl_;
  detail::check_shape("X", X.rows(), X.cols(), w.batch, w.d);
  detail::check_shape("R", R.rows(), R.cols(), w.batch, w.m);
  detail::check_shape("Q", Q.rows(), Q.cols(), w.d, w.m);
  w.s.setZero();
  if (!X.allFinite() || !R.allFinite())
    return detail::zero_result(MsignStatus::non_finite_input, Q);
  const double max_x = X.cwiseAbs().maxCoeff(), max_r = R.cwiseAbs().maxCoeff();
  if (max_x == 0.0 || max_r == 0.0) return detail::zero_result(MsignStatus::zero_input, Q);

  // Exact power-of-two scaling: msign is scale invariant and the core cannot under/overflow.
  const double scale_x = detail::power_of_two_scale(max_x);
  const double scale_r = detail::power_of_two_scale(max_r);
  w.ax = X.transpose() * scale_x;
  w.ar = R.transpose() * scale_r;
  const double norm_x = w.ax.norm(), norm_r = w.ar.norm();

  thin_qr(w.ax, w.tau_x, w.rx, w.work);
  thin_qr(w.ar, w.tau_r, w.rr, w.work);
  detail::gemm(false, true, w.kx, w.kr, w.batch, 1.0, w.rx.data(), w.kx, w.rr.data(), w.kr, 0.0,
               w.c.data(), w.kx);
  if (!w.c.allFinite()) return detail::zero_result(MsignStatus::non_finite_input, Q);

  MsignResult result;
  if (!w.core.compute(w.c.data(), w.kx, result.used_fallback))
    return detail::zero_result(MsignStatus::svd_failed, Q);
  // Each entry of XᵀR carries a rounding error ≤ B·ε·Σ_b |x_bi r_bj|, so ‖δG‖_F ≤ B·ε·‖X‖‖R‖:
  // a core below that is XᵀR = 0 to working precision (e.g. cancelling samples).
  const double round_off =
      static_cast<double>(w.batch) * std::numeric_limits<double>::epsilon() * norm_x * norm_r;
  if (!(w.core.s(0) > round_off)) return detail::zero_result(MsignStatus::zero_input, Q);
  w.s = w.core.s / (scale_x * scale_r * static_cast<double>(w.batch));

  const Eigen::Index r = detail::truncated_rank(w.core.s, w.rel_tol);
  const Eigen::Index k = w.core.size();
  // P_x = Q_x U_c(:, 1:r), P_r = Q_r V_c(:, 1:r), Q = P_x P_rᵀ.
  detail::gemm(false, false, w.d, r, w.kx, 1.0, w.ax.data(), w.d, w.core.U.data(), w.kx, 0.0,
               w.px.data(), w.d);
  detail::gemm(false, true, w.m, r, w.kr, 1.0, w.ar.data(), w.m, w.core.Vt.data(), k, 0.0,
               w.pr.data(), w.m);
  detail::gemm(false, true, w.d, w.m, r, 1.0, w.px.data(), w.d, w.pr.data(), w.m, 0.0, Q.data(),
               Q.outerStride());
  result.rank = r;
  return result;
}

const Eigen::VectorXd& MsignLowRank::singular_values() const {
  return impl_->s;
}
Eigen::Index MsignLowRank::rows() const {
  return impl_->d;
}
Eigen::Index MsignLowRank::cols() const {
  return impl_->m;
}
Eigen::Index MsignLowRank::batch() const {
  return impl_->batch;
}

}  // namespace signdyn
