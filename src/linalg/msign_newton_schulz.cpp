// src/linalg/msign_newton_schulz.cpp: Muon's Newton–Schulz iteration on the smaller Gram side.
//
// With X₀ = G/‖G‖_F, each step is X ← a X + (b A + c A²) X with A = XXᵀ (d ≤ m), or
// X ← a X + X (b A + c A²) with A = XᵀX (d > m): the same map, since (XXᵀ)ᵏX = X(XᵀX)ᵏ.
// A comes from dsyrk (p²q flops), A² and the update from dgemm; p = min(d, m), q = max(d, m).
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "lapack.hpp"
#include "signdyn/error.hpp"
#include "signdyn/msign.hpp"

namespace signdyn {

struct MsignNewtonSchulz::Impl {
  Impl(Eigen::Index d_, Eigen::Index m_, NewtonSchulzOptions opt)
      : d(d_),
        m(m_),
        p(std::min(d_, m_)),
        options(opt),
        x(d_, m_),
        y(d_, m_),
        a(std::min(d_, m_), std::min(d_, m_)),
        poly(std::min(d_, m_), std::min(d_, m_)) {}
  Eigen::Index d, m, p;
  NewtonSchulzOptions options;
  Eigen::MatrixXd x, y;  // current and next iterate (swapped each step)
  Eigen::MatrixXd a;     // Gram matrix (p×p)
  Eigen::MatrixXd poly;  // b A + c A²

  // One step y = a x + (b A + c A²) x (or x (b A + c A²)), A the Gram matrix of x.
  void step() {
    const NewtonSchulzPolynomial& pc = options.polynomial;
    const int n = static_cast<int>(p);
    const bool left = d <= m;  // Gram on the left: A = XXᵀ
    const int k = static_cast<int>(left ? m : d);
    cblas_dsyrk(CblasColMajor, CblasLower, left ? CblasNoTrans : CblasTrans, n, k, 1.0, x.data(),
                static_cast<int>(d), 0.0, a.data(), n);
    for (Eigen::Index j = 1; j < p; ++j)  // dsyrk filled the lower triangle; mirror it
      for (Eigen::Index i = 0; i < j; ++i) a(i, j) = a(j, i);
    poly = pc.b * a;
    if (pc.c != 0.0)
      detail::gemm(false, false, p, p, p, pc.c, a.data(), p, a.data(), p, 1.0, poly.data(), p);
    y = pc.a * x;
    if (left)
      detail::gemm(false, false, d, m, d, 1.0, poly.data(), p, x.data(), d, 1.0, y.data(), d);
    else
      detail::gemm(false, false, d, m, m, 1.0, x.data(), d, poly.data(), p, 1.0, y.data(), d);
  }
};

MsignNewtonSchulz::MsignNewtonSchulz(Eigen::Index d, Eigen::Index m, NewtonSchulzOptions options) {
  if (d < 1 || m < 1)
    throw Error("MsignNewtonSchulz: d = " + std::to_string(d) + ", m = " + std::to_string(m) +
                ": both dimensions must be ≥ 1");
  if (options.steps < 0)
    throw Error("MsignNewtonSchulz: steps = " + std::to_string(options.steps) +
                ": the number of Newton–Schulz steps must be ≥ 0");
  if (!(options.stop_tol >= 0.0))
    throw Error("MsignNewtonSchulz: stop_tol = " + std::to_string(options.stop_tol) +
                ": must be ≥ 0 (0 runs a fixed number of steps)");
  impl_ = std::make_unique<Impl>(d, m, options);
}
MsignNewtonSchulz::~MsignNewtonSchulz() = default;
MsignNewtonSchulz::MsignNewtonSchulz(MsignNewtonSchulz&&) noexcept = default;
MsignNewtonSchulz& MsignNewtonSchulz::operator=(MsignNewtonSchulz&&) noexcept = default;

const NewtonSchulzOptions& MsignNewtonSchulz::options() const {
  return impl_->options;
}

MsignResult MsignNewtonSchulz::compute(const Eigen::Ref<const Eigen::MatrixXd>& G,
                                       Eigen::Ref<Eigen::MatrixXd> Q) {
  Impl& w = *impl_;
  detail::check_shape("G", G.rows(), G.cols(), w.d, w.m);
  detail::check_shape("Q", Q.rows(), Q.cols(), w.d, w.m);
  if (!G.allFinite()) return detail::zero_result(MsignStatus::non_finite_input, Q);
  const double max_abs = G.cwiseAbs().maxCoeff();
  if (max_abs == 0.0) return detail::zero_result(MsignStatus::zero_input, Q);
  // X₀ = G/‖G‖_F, with an exact power-of-two prescale so that ‖·‖_F neither under- nor
  // overflows: no ε guard, so the result is scale invariant for every finite G ≠ 0.
  const double scale = detail::power_of_two_scale(max_abs);
  w.x = G * scale;
  w.x /= w.x.norm();

  MsignResult result;
  result.rank = -1;
  const double stop_tol = w.options.stop_tol;
  bool converged = stop_tol == 0.0;
  for (int k = 0; k < w.options.steps; ++k) {
    w.step();
    std::swap(w.x, w.y);  // x = new iterate, y = previous
    result.iterations = k + 1;
    if (stop_tol > 0.0 && (w.x - w.y).norm() <= stop_tol * w.y.norm()) {
      converged = true;
      break;
    }
  }
  Q = w.x;
  if (!converged) result.status = MsignStatus::not_converged;
  return result;
}

}  // namespace signdyn
