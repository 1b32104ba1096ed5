// Private: the mean sign h_B(c) of a minibatch gradient entry (see sign_mean.hpp).
#include "sign_mean.hpp"

#include <boost/math/special_functions/beta.hpp>
#include <boost/math/special_functions/gamma.hpp>
#include <cmath>
#include <string>

#include "signdyn/error.hpp"

namespace signdyn::detail {

SignMean::SignMean(std::int64_t batch) : batch_(batch) {
  if (batch < 1) throw Error("SignMean: the batch size must be >= 1, got " + std::to_string(batch));
  const double half = 0.5 * static_cast<double>(batch);
  log_norm_ = -std::log(boost::math::beta(half, half)) - (half - 1.0) * std::log(4.0);
  slope0_ = std::exp(log_norm_);
  if (batch <= 2) return;
  value_.resize(kIntervals + 1);
  slope_.resize(kIntervals + 1);
  for (int i = 0; i <= kIntervals; ++i) {
    const double c = static_cast<double>(i) / kIntervals;
    // 1 − 2 I_{(1−c)/2}(B/2, B/2) = I_{(1+c)/2} − I_{(1−c)/2}; use the complement for accuracy.
    value_[i] = c >= 1.0 ? 1.0 : 1.0 - 2.0 * boost::math::ibeta(half, half, 0.5 * (1.0 - c));
    slope_[i] = derivative(c);
  }
}

double SignMean::arcsin_mean(double a) {
  return 2.0 / M_PI * std::asin(a);
}

double SignMean::derivative_exp(double c) const {
  const double half = 0.5 * static_cast<double>(batch_);
  return std::exp(log_norm_ + (half - 1.0) * std::log1p(-c * c));
}

}  // namespace signdyn::detail
