// src/linalg/msign_lowrank.cpp: exact msign of G = (1/B) XᵀR through thin QR of both factors.
//
// Xᵀ = Q_x R_x and Rᵀ = Q_r R_r (Householder, Q with orthonormal columns even when a factor is
// rank-deficient), so G = Q_x C Q_rᵀ / B with the small core C = R_x R_rᵀ. With C = U_c Σ V_cᵀ,
// G = (Q_x U_c) Σ (Q_r V_c)ᵀ is an SVD of G, and msign(G) = (Q_x U_c,r)(Q_r V_c,r)ᵀ after the
// same relative rank truncation as MsignSvd. Cost ≈ 2dmB (the final product) + O((d+m)B²).
#include <algorithm>
#include <string>

#include "lapack.hpp"
#include "signdyn/error.hpp"
#include "signdyn/msign.hpp"

namespace signdyn {

struct MsignLowRank::Impl {
  Impl(Eigen::Index d_, Eigen::Index m_, Eigen::Index batch_, double tol)
      : d(d_),
        m(m_),
        batch(batch_),
        rel_tol(detail::resolve_rel_tol(tol, d_, m_)),
        factors(d_, m_, batch_),
        core(factors.kx, factors.kr),
        px(d_, std::min(factors.kx, factors.kr)),
        pr(m_, std::min(factors.kx, factors.kr)),
        s(std::min(factors.kx, factors.kr)) {}

  Eigen::Index d, m, batch;
  double rel_tol;
  detail::FactorQr factors;  // Q_x, Q_r and the core C = R_x R_rᵀ
  detail::ThinSvd core;      // SVD of C
  Eigen::MatrixXd px, pr;    // Q_x U_c,r and Q_r V_c,r
  Eigen::VectorXd s;         // singular values of G = (1/B) XᵀR
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
  detail::FactorQr& f = w.factors;
  if (!f.compute(X, R, max_x, max_r)) return detail::zero_result(MsignStatus::non_finite_input, Q);

  MsignResult result;
  if (!w.core.compute(f.core.data(), f.kx, result.used_fallback))
    return detail::zero_result(MsignStatus::svd_failed, Q);
  // A core below the rounding bound B·ε·‖X‖‖R‖ is XᵀR = 0 to working precision (e.g.
  // cancelling samples).
  if (!(w.core.s(0) > f.round_off())) return detail::zero_result(MsignStatus::zero_input, Q);
  w.s = w.core.s / (f.scale_x * f.scale_r * static_cast<double>(w.batch));

  const Eigen::Index r = detail::truncated_rank(w.core.s, w.rel_tol);
  const Eigen::Index k = w.core.size();
  // P_x = Q_x U_c(:, 1:r), P_r = Q_r V_c(:, 1:r), Q = P_x P_rᵀ.
  detail::gemm(false, false, w.d, r, f.kx, 1.0, f.qx.data(), w.d, w.core.U.data(), f.kx, 0.0,
               w.px.data(), w.d);
  detail::gemm(false, true, w.m, r, f.kr, 1.0, f.qr.data(), w.m, w.core.Vt.data(), k, 0.0,
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
