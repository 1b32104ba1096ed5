// Private: the mean sign of a minibatch gradient entry (theory-derivations.md §4.1).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

namespace signdyn::detail {

/// h_B(c) = E[sign(Σ_{b≤B} x_b r_b)] for i.i.d. bivariate Gaussian pairs (x_b, r_b) with
/// correlation c: h_B(c) = 1 − 2 I_{(1−c)/2}(B/2, B/2) (regularised incomplete beta; exact for
/// every B). h_1(c) = (2/π) arcsin c and h_2(c) = c are used in closed form; other B are
/// tabulated once (cubic Hermite on 8192 intervals of [0, 1], with the exact derivative).
class SignMean {
 public:
  explicit SignMean(std::int64_t batch);

  /// h_B(c) for c in [−1, 1] (clamped outside).
  double operator()(double c) const {
    if (batch_ == 2) return c < -1.0 ? -1.0 : (c > 1.0 ? 1.0 : c);
    const double a = c < 0.0 ? -c : c;
    const double v = a >= 1.0 ? 1.0 : (batch_ == 1 ? arcsin_mean(a) : table(a));
    return c < 0.0 ? -v : v;
  }

  /// h_B'(c) = ((1 − c²)/4)^{B/2 − 1} / Beta(B/2, B/2) for |c| < 1, 0 beyond. For B ≤ 64 the
  /// power is formed by repeated squaring (and one square root for odd B) instead of exp/log1p.
  double derivative(double c) const {
    if (c <= -1.0 || c >= 1.0) return 0.0;
    if (batch_ == 2) return 1.0;
    if (batch_ > 64) return derivative_exp(c);
    const double x = (1.0 - c) * (1.0 + c);
    // x^{B/2 − 1} = x^{(B mod 2)/2} · x^k, k = ⌊B/2⌋ − 1 (B = 1: x^{−1/2}).
    double r = (batch_ & 1) ? std::sqrt(x) : 1.0;
    if (batch_ == 1) return slope0_ / r;
    double base = x;
    for (std::int64_t k = batch_ / 2 - 1; k > 0; k >>= 1) {
      if (k & 1) r *= base;
      base *= base;
    }
    return slope0_ * r;
  }

  /// h_B'(0) = 2Γ((B+1)/2) / (√π Γ(B/2)) (→ √(2B/π) for large B).
  double slope0() const { return slope0_; }

  /// k3 in h_B(c) = h_B'(0) (c + k3 c³ + O(c⁵)): from h_B'(c) = h_B'(0)(1 − c²)^{B/2 − 1},
  /// k3 = −(B − 2)/6 (k3 = 1/6 for B = 1: the arcsin series).
  double cubic_coefficient() const { return -(static_cast<double>(batch_) - 2.0) / 6.0; }

  std::int64_t batch() const { return batch_; }

 private:
  double derivative_exp(double c) const;
  static double arcsin_mean(double a);
  double table(double a) const {
    const double x = a * kIntervals;
    int i = static_cast<int>(x);
    if (i >= kIntervals) i = kIntervals - 1;
    const double t = x - i, t2 = t * t, t3 = t2 * t;
    const double dx = 1.0 / kIntervals;
    return (2 * t3 - 3 * t2 + 1) * value_[i] + (t3 - 2 * t2 + t) * dx * slope_[i] +
           (-2 * t3 + 3 * t2) * value_[i + 1] + (t3 - t2) * dx * slope_[i + 1];
  }

  static constexpr int kIntervals = 8192;
  std::int64_t batch_;
  double slope0_ = 0.0;
  double log_norm_ = 0.0;  // −log Beta(B/2, B/2) − (B/2 − 1) log 4
  std::vector<double> value_, slope_;
};

}  // namespace signdyn::detail
