// src/linalg/msign_factored.cpp: exact msign of G = (1/B) XᵀR by the cheaper exact route.
#include <algorithm>
#include <limits>
#include <optional>
#include <string>

#include "lapack.hpp"
#include "signdyn/error.hpp"
#include "signdyn/msign.hpp"

namespace signdyn {

bool low_rank_pays_off(Eigen::Index d, Eigen::Index m, Eigen::Index batch) {
  return 4 * batch <= 3 * std::min(d, m);
}

struct MsignFactored::Impl {
  Eigen::Index d, m, batch;
  std::optional<MsignLowRank> low_rank;  // low_rank_pays_off(d, m, B)
  std::optional<MsignSvd> svd;           // otherwise, on the formed G
  std::optional<detail::ScaledProduct> product;
  Eigen::MatrixXd g;
};

MsignFactored::MsignFactored(Eigen::Index d, Eigen::Index m, Eigen::Index batch, double rel_tol) {
  if (d < 1 || m < 1 || batch < 1)
    throw Error("MsignFactored: d = " + std::to_string(d) + ", m = " + std::to_string(m) +
                ", batch = " + std::to_string(batch) + ": all must be ≥ 1");
  impl_ = std::make_unique<Impl>();
  impl_->d = d;
  impl_->m = m;
  impl_->batch = batch;
  if (low_rank_pays_off(d, m, batch)) {
    impl_->low_rank.emplace(d, m, batch, rel_tol);
  } else {
    impl_->svd.emplace(d, m, rel_tol);
    impl_->product.emplace(d, m);
    impl_->g.resize(d, m);
  }
}
MsignFactored::~MsignFactored() = default;
MsignFactored::MsignFactored(MsignFactored&&) noexcept = default;
MsignFactored& MsignFactored::operator=(MsignFactored&&) noexcept = default;

bool MsignFactored::uses_low_rank() const {
  return impl_->low_rank.has_value();
}

MsignResult MsignFactored::compute(const Eigen::Ref<const Eigen::MatrixXd>& X,
                                   const Eigen::Ref<const Eigen::MatrixXd>& R,
                                   Eigen::Ref<Eigen::MatrixXd> Q) {
  Impl& w = *impl_;
  if (w.low_rank) return w.low_rank->compute(X, R, Q);

  detail::check_shape("X", X.rows(), X.cols(), w.batch, w.d);
  detail::check_shape("R", R.rows(), R.cols(), w.batch, w.m);
  detail::check_shape("Q", Q.rows(), Q.cols(), w.d, w.m);
  if (!X.allFinite() || !R.allFinite())
    return detail::zero_result(MsignStatus::non_finite_input, Q);
  const double max_x = X.cwiseAbs().maxCoeff(), max_r = R.cwiseAbs().maxCoeff();
  if (max_x == 0.0 || max_r == 0.0) return detail::zero_result(MsignStatus::zero_input, Q);
  // G ∝ XᵀR with a power-of-two scale (msign is scale invariant; no overflow or underflow).
  w.product->compute(X, R, max_x, max_r, w.g);
  MsignResult result = w.svd->compute(w.g, Q);
  if (result.ok()) {
    // As in MsignLowRank: ‖δG‖_F ≤ B·ε·‖X‖‖R‖ from rounding, so a smaller G is zero. Both sides
    // in the units of the formed G = 2^(−ex−er)·XᵀR.
    const double scale_x = detail::power_of_two_scale(max_x);
    const double scale_r = detail::power_of_two_scale(max_r);
    const double round_off = static_cast<double>(w.batch) * std::numeric_limits<double>::epsilon() *
                             (X * scale_x).norm() * (R * scale_r).norm();
    if (!(w.svd->singular_values()(0) > round_off))
      return detail::zero_result(MsignStatus::zero_input, Q);
  }
  return result;
}

}  // namespace signdyn
