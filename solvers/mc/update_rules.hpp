// solvers/mc/update_rules.hpp: the per-replica update rules of theory.md §1 as small value types.
//
// The replica engine (replica_engine.hpp) is a template over the rule: the rule is chosen once
// per run, so a step has no virtual call and no variant check. A rule `Rule` must provide
//
//   | expression                          | meaning                                             |
//   |-------------------------------------|-----------------------------------------------------|
//   | Rule(problem, spec)                 | sizes its state and workspace once (per replica)    |
//   | rule.step(lr, X, resid, delta)      | Δ ← Δ − lr·U(G), G = (1/B) Xᵀ resid, X is B×d,     |
//   |                                     | resid = XΔ − E is B×m, Δ is d×m, all in the frame   |
//   |                                     | the engine runs in; returns false if the update is  |
//   |                                     | not finite (the engine then stops the replica)      |
//   | Rule::rotation_equivariant          | true if U(O G) = O U(G) for orthogonal O: the       |
//   |                                     | engine may then run in K's eigenbasis for any basis |
//
// step() must not allocate: buffers are members sized in the constructor.
#pragma once

#include <Eigen/Core>

#include "signdyn/optimizer.hpp"
#include "signdyn/problem.hpp"

namespace signdyn::detail {

/// SGD: Δ ← Δ − lr G with G = (1/B) Xᵀ(XΔ − E) (theory.md §1); rotation-equivariant.
class SgdRule {
 public:
  static constexpr bool rotation_equivariant = true;

  SgdRule(const Problem& problem, const OptimizerSpec& spec)
      : inv_batch_(1.0 / static_cast<double>(spec.batch)) {}

  bool step(double lr, const Eigen::Ref<const Eigen::MatrixXd>& X,
            const Eigen::Ref<const Eigen::MatrixXd>& resid, Eigen::Ref<Eigen::MatrixXd> delta) {
    delta.noalias() -= (lr * inv_batch_) * (X.transpose() * resid);  // one GEMM, alpha = −lr/B
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

  SignSgdRule(const Problem& problem, const OptimizerSpec& spec) : G_(problem.d, problem.m) {}

  bool step(double lr, const Eigen::Ref<const Eigen::MatrixXd>& X,
            const Eigen::Ref<const Eigen::MatrixXd>& resid, Eigen::Ref<Eigen::MatrixXd> delta) {
    G_.noalias() = X.transpose() * resid;  // B·G; the positive factor 1/B does not change signs
    delta -= lr * G_.unaryExpr([](double g) { return sign_of(g); });
    return true;
  }

 private:
  Eigen::MatrixXd G_;  // d×m gradient buffer
};

}  // namespace signdyn::detail
