// solvers/mc/update_rules.hpp: the per-replica update rules of theory.md §1 as small value types.
//
// The replica engine (replica_engine.hpp) is a template over the rule: the rule is chosen once
// per run, so a step has no virtual call and no variant check. A rule `Rule` must provide
//
//   | expression                          | meaning                                             |
//   |-------------------------------------|-----------------------------------------------------|
//   | Rule(d, m, spec)                    | sizes its state and workspace once (per replica)    |
//   | Rule(problem, spec)                 | the same with d = problem.d, m = problem.m          |
//   | rule.step(lr, X, resid, delta)      | Δ ← Δ − lr·U(G), G = (1/B) Xᵀ resid, X is B×d,     |
//   |                                     | resid = XΔ − E is B×m, Δ is d×m, all in the frame   |
//   |                                     | the engine runs in; returns false if the update is  |
//   |                                     | not finite (the engine then stops the replica)      |
//   | Rule::rotation_equivariant          | true if U(O G) = O U(G) for orthogonal O: the       |
//   |                                     | engine may then run in K's eigenbasis for any basis |
//
// The engine runs OpenBLAS single-threaded while the rules step, so rules may call BLAS/LAPACK
// (blas.hpp's gemm, the msign kernels). A rule is constructed once per replica and holds that
// replica's optimizer state (e.g. Muon's momentum buffer). step() must not allocate: buffers are
// members sized in the constructor. A false return means the update could not be formed (non-finite
// input, or an msign failure); the engine stops the replica and marks the run diverged.
#pragma once

#include <Eigen/Core>
#include <optional>

#include "blas.hpp"
#include "signdyn/msign.hpp"
#include "signdyn/optimizer.hpp"
#include "signdyn/problem.hpp"

namespace signdyn::detail {

/// SGD: Δ ← Δ − lr G with G = (1/B) Xᵀ(XΔ − E) (theory.md §1); rotation-equivariant.
class SgdRule {
 public:
  static constexpr bool rotation_equivariant = true;

  SgdRule(Eigen::Index /*d*/, Eigen::Index /*m*/, const OptimizerSpec& spec)
      : inv_batch_(1.0 / static_cast<double>(spec.batch)) {}
  SgdRule(const Problem& problem, const OptimizerSpec& spec)
      : SgdRule(problem.d, problem.m, spec) {}

  bool step(double lr, const Eigen::Ref<const Eigen::MatrixXd>& X,
            const Eigen::Ref<const Eigen::MatrixXd>& resid, Eigen::Ref<Eigen::MatrixXd> delta) {
    gemm(true, false, -lr * inv_batch_, X, resid, 1.0, delta);  // Δ −= (lr/B) Xᵀ resid
    return true;
  }

 private:
  double inv_batch_;
};

/// Entrywise sign with sign(0) = 0 (theory.md §1).
inline double sign_of(double g) {
  return static_cast<double>((g > 0.0) - (g < 0.0));
}

/// SignSGD: Δ ← Δ − lr sign(G), entrywise, sign(0) = 0; NOT rotation-equivariant, so a generic
/// basis must run in the true basis.
class SignSgdRule {
 public:
  static constexpr bool rotation_equivariant = false;

  SignSgdRule(Eigen::Index d, Eigen::Index m, const OptimizerSpec& /*spec*/) : G_(d, m) {}
  SignSgdRule(const Problem& problem, const OptimizerSpec& spec)
      : SignSgdRule(problem.d, problem.m, spec) {}

  bool step(double lr, const Eigen::Ref<const Eigen::MatrixXd>& X,
            const Eigen::Ref<const Eigen::MatrixXd>& resid, Eigen::Ref<Eigen::MatrixXd> delta) {
    gemm(true, false, 1.0, X, resid, 0.0, G_);  // B·G; the factor 1/B does not change signs
    delta -= lr * G_.unaryExpr([](double g) { return sign_of(g); });
    return true;
  }

 private:
  Eigen::MatrixXd G_;  // d×m gradient buffer
};

/// SignSVD: Δ ← Δ − lr msign(G), the rank-truncated polar factor of G (theory.md §1), by the
/// cheaper exact route of MsignFactored (rank-B QR path when B < min(d, m), else the SVD of
/// G). A zero gradient gives no update. Rotation-equivariant: msign(O G) = O msign(G).
class SignSvdRule {
 public:
  static constexpr bool rotation_equivariant = true;

  SignSvdRule(Eigen::Index d, Eigen::Index m, const OptimizerSpec& spec)
      : msign_(d, m, spec.batch), Q_(d, m) {}
  SignSvdRule(const Problem& problem, const OptimizerSpec& spec)
      : SignSvdRule(problem.d, problem.m, spec) {}

  bool step(double lr, const Eigen::Ref<const Eigen::MatrixXd>& X,
            const Eigen::Ref<const Eigen::MatrixXd>& resid, Eigen::Ref<Eigen::MatrixXd> delta) {
    const MsignResult r = msign_.compute(X, resid, Q_);  // msign(Xᵀ resid) = msign(G)
    if (r.status == MsignStatus::zero_input) return true;
    if (!r.ok()) return false;
    delta -= lr * Q_;
    return true;
  }

 private:
  MsignFactored msign_;
  Eigen::MatrixXd Q_;  // d×m polar factor
};

/// Muon: Δ ← Δ − lr NS_k(D/‖D‖_F) with Keller Jordan's quintic Newton–Schulz (k = ns_steps),
/// D = V ← μV + G (heavy ball) or D = G + μV (Nesterov), V_0 = 0; D = G when μ = 0
/// (theory.md §1). A zero direction gives no update. Rotation-equivariant: NS_k is an odd
/// polynomial in G Gᵀ G and the momentum is linear.
///
/// μ = 0: D = G = (1/B) Xᵀ resid has rank ≤ B, and NS_k(G/‖G‖_F) = Q_x NS_k(C/‖C‖_F) Q_rᵀ
/// exactly (MsignNewtonSchulzFactored: thin QR of Xᵀ and residᵀ, the iteration on the B×B core
/// C), so G is never formed when low_rank_pays_off(d, m, B); a gradient that is zero to its
/// rounding bound gives no update. μ > 0: the buffer V = Σ_s μ^{t−s} G_s gains up to B in rank
/// per step (full rank after min(d, m)/B steps), so no factored form of V is both exact and
/// cheap; V is kept dense and NS_k runs on the d×m matrix (MsignNewtonSchulz).
class MuonRule {
 public:
  static constexpr bool rotation_equivariant = true;

  MuonRule(Eigen::Index d, Eigen::Index m, const OptimizerSpec& spec)
      : inv_batch_(1.0 / static_cast<double>(spec.batch)),
        momentum_(spec.momentum),
        nesterov_(spec.nesterov),
        Q_(d, m) {
    const NewtonSchulzOptions options{spec.ns_steps};
    if (momentum_ == 0.0) {
      factored_.emplace(d, m, spec.batch, options);
    } else {
      newton_schulz_.emplace(d, m, options);
      G_.resize(d, m);
      V_ = Eigen::MatrixXd::Zero(d, m);
      if (nesterov_) D_.resize(d, m);
    }
  }
  MuonRule(const Problem& problem, const OptimizerSpec& spec)
      : MuonRule(problem.d, problem.m, spec) {}

  bool step(double lr, const Eigen::Ref<const Eigen::MatrixXd>& X,
            const Eigen::Ref<const Eigen::MatrixXd>& resid, Eigen::Ref<Eigen::MatrixXd> delta) {
    MsignResult r;
    if (factored_) {
      r = factored_->compute(X, resid, Q_);  // NS_k of (1/B) Xᵀ resid, from its factors
    } else {
      gemm(true, false, inv_batch_, X, resid, 0.0, G_);
      V_ = momentum_ * V_ + G_;
      const Eigen::MatrixXd* direction = &V_;
      if (nesterov_) {
        D_ = G_ + momentum_ * V_;
        direction = &D_;
      }
      r = newton_schulz_->compute(*direction, Q_);
    }
    if (r.status == MsignStatus::zero_input) return true;
    if (!r.ok()) return false;
    delta -= lr * Q_;
    return true;
  }

 private:
  double inv_batch_;
  double momentum_;
  bool nesterov_;
  std::optional<MsignNewtonSchulzFactored> factored_;  // μ = 0
  std::optional<MsignNewtonSchulz> newton_schulz_;     // μ > 0
  Eigen::MatrixXd G_;                                  // minibatch gradient (d×m, μ > 0)
  Eigen::MatrixXd V_;                                  // momentum buffer (μ > 0)
  Eigen::MatrixXd D_;                                  // Nesterov direction G + μV
  Eigen::MatrixXd Q_;                                  // NS_k output
};

}  // namespace signdyn::detail
