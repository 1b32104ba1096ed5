// Private: spectral factors that correct a cheap per-mode drift/noise law by an expensive one,
// recomputed only when the state has moved (docs/theory/signsvd.md §4.4 and §5.3).
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <utility>

namespace signdyn::detail {

/// Holds the factors exact/base of the drift A_j and noise N_j and refreshes them when the risk
/// R = ½(Σ λ_j ρ_j + σ²) or the excess risk R − σ²/2 has moved by more than a relative
/// `tolerance` (in log) since the last refresh; the factors are smooth in the state.
class RefreshedFactors {
 public:
  RefreshedFactors(Eigen::ArrayXd lambda, double sigma2, double tolerance)
      : lambda_(std::move(lambda)), sigma2_(sigma2), tolerance_(tolerance) {}

  /// Multiplies drift and noise, the cheap law at rho, by the factors; when they are stale,
  /// first recomputes them from exact(rho, a, n), which fills the expensive law's A_j and N_j.
  /// Modes where the cheap law is exactly 0 keep factor 1.
  template <class Exact>
  void apply(const Eigen::ArrayXd& rho, Eigen::ArrayXd& drift, Eigen::ArrayXd& noise,
             Exact&& exact) {
    const double excess = 0.5 * (lambda_ * rho).sum(), risk = excess + 0.5 * sigma2_;
    if (drift_factor_.size() == 0 || std::abs(std::log(risk / risk_ref_)) > tolerance_ ||
        std::abs(std::log(excess / excess_ref_)) > tolerance_) {
      Eigen::ArrayXd a, n;
      exact(rho, a, n);
      drift_factor_ = (drift > 0.0).select(a / drift, 1.0);
      noise_factor_ = (noise > 0.0).select(n / noise, 1.0);
      risk_ref_ = risk;
      excess_ref_ = excess;
    }
    drift *= drift_factor_;
    noise *= noise_factor_;
  }

 private:
  Eigen::ArrayXd lambda_;
  double sigma2_, tolerance_;
  Eigen::ArrayXd drift_factor_, noise_factor_;
  double risk_ref_ = 0.0, excess_ref_ = 0.0;
};

}  // namespace signdyn::detail
