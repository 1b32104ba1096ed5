// Private: exact-to-O(ε²) compression of many linear modes that decay at rates proportional to
// one common scalar (docs/theory/signsgd.md, "Binned linear modes").
//
// Modes with dρ_i/dt = η² q_i − r(t) c_i ρ_i that enter the rest of a system only through linear
// sums Σ_i w_i ρ_i are grouped by c_i into bins of relative width ε. Since ρ_i is the sum of its
// initial part (no source) and its noise part (zero start) and both are linear, a bin carries,
// per weight w, two states: y^init = Σ_{i∈b} w_i ρ_i^init, decaying at the w_i ρ_i(0)-weighted
// mean rate, and y^noise = Σ_{i∈b} w_i ρ_i^noise with source η² Σ_{i∈b} w_i q_i, decaying at the
// w_i q_i-weighted mean rate. The only approximation is each c_i replaced by that weighted mean:
// the first-order error vanishes and the second is at most (ε²/8)·x²e^{−x(1−ε)} of the bin's
// weight, x = c̄ ∫r dt (≤ 0.068 ε² for any x).
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <vector>

namespace signdyn::detail {

/// A bin's total weight and weighted mean rate coefficient.
struct BinnedDecay {
  double amount = 0.0;  // Σ_{i∈b} a_i (initial value or source coefficient of the bin's state)
  double rate = 0.0;    // Σ_{i∈b} a_i c_i / Σ_{i∈b} a_i (0 for an empty bin)
};

/// Assignment of modes to bins of relative width `width` in c: bin k holds the modes with
/// c_max (1+ε)^{−k−1} < c_i ≤ c_max (1+ε)^{−k}, numbered densely (empty bins dropped);
/// bin[i] = −1 for c_i ≤ 0 (modes that never decay are not binned).
struct RateBins {
  int count = 0;
  std::vector<int> bin;
};

/// Bins of relative width `width` > 0 over the rate coefficients c.
inline RateBins rate_bins(const std::vector<double>& c, double width) {
  RateBins out;
  out.bin.assign(c.size(), -1);
  double cmax = 0.0;
  for (double x : c) cmax = std::max(cmax, x);
  if (cmax <= 0.0) return out;
  const double step = std::log1p(width);
  std::vector<std::pair<long, std::size_t>> key;
  key.reserve(c.size());
  for (std::size_t i = 0; i < c.size(); ++i)
    if (c[i] > 0.0)
      key.emplace_back(static_cast<long>(std::floor(std::log(cmax / c[i]) / step)), i);
  std::sort(key.begin(), key.end());
  long last = -1;
  for (const auto& [k, i] : key) {
    if (k != last) {
      ++out.count;
      last = k;
    }
    out.bin[i] = out.count - 1;
  }
  return out;
}

/// Per bin: Σ a_i and the a-weighted mean of c_i over the modes of the bin.
inline std::vector<BinnedDecay> binned_decays(const RateBins& bins, const std::vector<double>& c,
                                              const std::vector<double>& a) {
  std::vector<BinnedDecay> out(bins.count);
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (bins.bin[i] < 0) continue;
    out[bins.bin[i]].amount += a[i];
    out[bins.bin[i]].rate += a[i] * c[i];
  }
  for (auto& b : out) b.rate = b.amount > 0.0 ? b.rate / b.amount : 0.0;
  return out;
}

/// Bin width for a relative tolerance: ε = √rel_tol / 10 (at most 1e-2), so the compression error
/// (≤ 0.068 ε² of the binned initial energy, ≤ ε²/4 of the binned noise energy) stays a small
/// fraction of rel_tol.
inline double bin_width_for(double rel_tol) {
  return std::min(1e-2, 0.1 * std::sqrt(std::max(rel_tol, 0.0)));
}

}  // namespace signdyn::detail
