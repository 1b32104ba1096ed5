// src/linalg/msign_newton_schulz_factored.cpp: Muon's NS_k on the B×B core of G = (1/B) XᵀR.
//
// Each Newton–Schulz step maps X ↦ a X + b (XXᵀ)X + c (XXᵀ)²X, an odd polynomial, so every
// iterate from X₀ = G/‖G‖_F is X_k = G q_k(GᵀG) for a polynomial q_k. With the thin QR factors
// s_x s_r XᵀR = Q_x C Q_rᵀ (detail::FactorQr; Q_x, Q_r with orthonormal columns),
// Q_x Y Q_rᵀ ↦ Q_x (a Y + b (YYᵀ)Y + c (YYᵀ)²Y) Q_rᵀ and ‖Q_x Y Q_rᵀ‖_F = ‖Y‖_F, so
// NS_k(G/‖G‖_F) = Q_x NS_k(C/‖C‖_F) Q_rᵀ step by step, and the stop rule (a ratio of
// Frobenius norms of iterates) sees the same numbers. This holds for rank-deficient X or R too.
// Cost: two thin QRs (≈ 4(d+m)B²), k steps on the B×B core, and P = Q_x N (2dB²), Q = P Q_rᵀ
// (2dmB); against k·(4p²q + 2p³) for the dense iteration.
#include <algorithm>
#include <limits>
#include <optional>
#include <string>

#include "lapack.hpp"
#include "signdyn/error.hpp"
#include "signdyn/msign.hpp"

namespace signdyn {

struct MsignNewtonSchulzFactored::Impl {
  Eigen::Index d = 0, m = 0, batch = 0;
  NewtonSchulzOptions options;
  // Core route (low_rank_pays_off): factors, NS on the kx×kr core C, N = NS_k(C/‖C‖_F),
  // and P = Q_x N (d×kr).
  std::optional<detail::FactorQr> factors;
  std::optional<MsignNewtonSchulz> core_ns;
  Eigen::MatrixXd n, p;
  // Dense route: g = s_x s_r XᵀR formed by one GEMM, then NS on the d×m matrix.
  std::optional<detail::ScaledProduct> product;
  std::optional<MsignNewtonSchulz> dense_ns;
  Eigen::MatrixXd g;
};

MsignNewtonSchulzFactored::MsignNewtonSchulzFactored(Eigen::Index d, Eigen::Index m,
                                                     Eigen::Index batch,
                                                     NewtonSchulzOptions options) {
  if (d < 1 || m < 1 || batch < 1)
    throw Error("MsignNewtonSchulzFactored: d = " + std::to_string(d) + ", m = " +
                std::to_string(m) + ", batch = " + std::to_string(batch) + ": all must be ≥ 1");
  impl_ = std::make_unique<Impl>();
  Impl& w = *impl_;
  w.d = d;
  w.m = m;
  w.batch = batch;
  w.options = options;
  if (low_rank_pays_off(d, m, batch)) {
    w.factors.emplace(d, m, batch);
    w.core_ns.emplace(w.factors->kx, w.factors->kr, options);  // validates the options
    w.n.resize(w.factors->kx, w.factors->kr);
    w.p.resize(d, w.factors->kr);
  } else {
    w.dense_ns.emplace(d, m, options);
    w.product.emplace(d, m);
    w.g.resize(d, m);
  }
}
MsignNewtonSchulzFactored::~MsignNewtonSchulzFactored() = default;
MsignNewtonSchulzFactored::MsignNewtonSchulzFactored(MsignNewtonSchulzFactored&&) noexcept =
    default;
MsignNewtonSchulzFactored& MsignNewtonSchulzFactored::operator=(
    MsignNewtonSchulzFactored&&) noexcept = default;

bool MsignNewtonSchulzFactored::uses_low_rank() const {
  return impl_->factors.has_value();
}
const NewtonSchulzOptions& MsignNewtonSchulzFactored::options() const {
  return impl_->options;
}
Eigen::Index MsignNewtonSchulzFactored::batch() const {
  return impl_->batch;
}

MsignResult MsignNewtonSchulzFactored::compute(const Eigen::Ref<const Eigen::MatrixXd>& X,
                                               const Eigen::Ref<const Eigen::MatrixXd>& R,
                                               Eigen::Ref<Eigen::MatrixXd> Q) {
  Impl& w = *impl_;
  detail::check_shape("X", X.rows(), X.cols(), w.batch, w.d);
  detail::check_shape("R", R.rows(), R.cols(), w.batch, w.m);
  detail::check_shape("Q", Q.rows(), Q.cols(), w.d, w.m);
  if (!X.allFinite() || !R.allFinite())
    return detail::zero_result(MsignStatus::non_finite_input, Q);
  const double max_x = X.cwiseAbs().maxCoeff(), max_r = R.cwiseAbs().maxCoeff();
  if (max_x == 0.0 || max_r == 0.0) return detail::zero_result(MsignStatus::zero_input, Q);

  if (w.factors) {
    detail::FactorQr& f = *w.factors;
    if (!f.compute(X, R, max_x, max_r))
      return detail::zero_result(MsignStatus::non_finite_input, Q);
    // ‖C‖_F = s_x s_r ‖XᵀR‖_F; below the rounding bound, XᵀR = 0 to working precision.
    if (!(f.core.norm() > f.round_off())) return detail::zero_result(MsignStatus::zero_input, Q);
    MsignResult result = w.core_ns->compute(f.core, w.n);  // N = NS_k(C/‖C‖_F)
    // Q = (Q_x N) Q_rᵀ.
    detail::gemm(false, false, w.d, f.kr, f.kx, 1.0, f.qx.data(), w.d, w.n.data(), f.kx, 0.0,
                 w.p.data(), w.d);
    detail::gemm(false, true, w.d, w.m, f.kr, 1.0, w.p.data(), w.d, f.qr.data(), w.m, 0.0, Q.data(),
                 Q.outerStride());
    return result;
  }

  // Dense route: g = s_x s_r XᵀR (power-of-two scales; NS_k is scale invariant).
  w.product->compute(X, R, max_x, max_r, w.g);
  const double scale_x = detail::power_of_two_scale(max_x);
  const double scale_r = detail::power_of_two_scale(max_r);
  const double round_off = static_cast<double>(w.batch) * std::numeric_limits<double>::epsilon() *
                           (X * scale_x).norm() * (R * scale_r).norm();
  if (!(w.g.norm() > round_off)) return detail::zero_result(MsignStatus::zero_input, Q);
  return w.dense_ns->compute(w.g, Q);
}

}  // namespace signdyn
