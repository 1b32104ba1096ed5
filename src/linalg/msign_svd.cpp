// src/linalg/msign_svd.cpp: exact rank-truncated msign by LAPACK dgesdd (the reference kernel).
#include <cmath>
#include <limits>
#include <string>

#include "lapack.hpp"
#include "signdyn/error.hpp"
#include "signdyn/msign.hpp"

namespace signdyn {

std::string_view to_string(MsignStatus status) {
  switch (status) {
    case MsignStatus::ok:
      return "ok";
    case MsignStatus::zero_input:
      return "zero_input";
    case MsignStatus::non_finite_input:
      return "non_finite_input";
    case MsignStatus::svd_failed:
      return "svd_failed";
    case MsignStatus::not_converged:
      return "not_converged";
  }
  return "unknown";
}

double default_msign_rel_tol(Eigen::Index d, Eigen::Index m) {
  return static_cast<double>(std::max(d, m)) * std::numeric_limits<double>::epsilon();
}

struct MsignSvd::Impl {
  Impl(Eigen::Index d, Eigen::Index m, double tol)
      : rel_tol(detail::resolve_rel_tol(tol, d, m)), svd(d, m) {}
  double rel_tol;
  detail::ThinSvd svd;
};

MsignSvd::MsignSvd(Eigen::Index d, Eigen::Index m, double rel_tol) {
  if (d < 1 || m < 1)
    throw Error("MsignSvd: d = " + std::to_string(d) + ", m = " + std::to_string(m) +
                ": both dimensions must be ≥ 1");
  impl_ = std::make_unique<Impl>(d, m, rel_tol);
}
MsignSvd::~MsignSvd() = default;
MsignSvd::MsignSvd(MsignSvd&&) noexcept = default;
MsignSvd& MsignSvd::operator=(MsignSvd&&) noexcept = default;

MsignResult MsignSvd::compute(const Eigen::Ref<const Eigen::MatrixXd>& G,
                              Eigen::Ref<Eigen::MatrixXd> Q) {
  detail::ThinSvd& svd = impl_->svd;
  detail::check_shape("G", G.rows(), G.cols(), svd.rows(), svd.cols());
  detail::check_shape("Q", Q.rows(), Q.cols(), svd.rows(), svd.cols());
  svd.s.setZero();
  // Finiteness first: LAPACK's bidiagonal SVD can loop forever on NaN/Inf.
  if (!G.allFinite()) return detail::zero_result(MsignStatus::non_finite_input, Q);
  if (G.cwiseAbs().maxCoeff() == 0.0) return detail::zero_result(MsignStatus::zero_input, Q);

  MsignResult result;
  if (!svd.compute(G.data(), G.outerStride(), result.used_fallback))
    return detail::zero_result(MsignStatus::svd_failed, Q);
  result.rank = detail::truncated_rank(svd.s, impl_->rel_tol);
  svd.write_polar(result.rank, Q.data(), Q.outerStride());
  return result;
}

const Eigen::VectorXd& MsignSvd::singular_values() const {
  return impl_->svd.s;
}
Eigen::Index MsignSvd::rows() const {
  return impl_->svd.rows();
}
Eigen::Index MsignSvd::cols() const {
  return impl_->svd.cols();
}

}  // namespace signdyn
