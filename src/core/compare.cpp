// Monte Carlo vs theory on a shared time grid (see signdyn/compare.hpp).
#include "signdyn/compare.hpp"

#include <cmath>
#include <limits>
#include <vector>

namespace signdyn {

Eigen::Index Comparison::count_within(double z_max) const {
  return (z.array().abs() <= z_max).count();
}

Comparison compare_risk(const Trajectory& mc, const Trajectory& theory) {
  std::vector<std::pair<Eigen::Index, Eigen::Index>> pairs;
  for (Eigen::Index i = 0, j = 0; i < mc.t.size() && j < theory.t.size();) {
    if (mc.t(i) == theory.t(j)) {
      pairs.emplace_back(i, j);
      ++i;
      ++j;
    } else if (mc.t(i) < theory.t(j)) {
      ++i;
    } else {
      ++j;
    }
  }
  const auto n = static_cast<Eigen::Index>(pairs.size());
  Comparison c;
  c.t.resize(n);
  c.risk_mc.resize(n);
  c.risk_se.resize(n);
  c.risk_theory.resize(n);
  c.rel_error.resize(n);
  c.z.resize(n);
  for (Eigen::Index k = 0; k < n; ++k) {
    const auto [i, j] = pairs[static_cast<std::size_t>(k)];
    const double diff = mc.risk(i) - theory.risk(j);
    const double se = mc.risk_se.size() > i ? mc.risk_se(i) : 0.0;
    c.t(k) = mc.t(i);
    c.risk_mc(k) = mc.risk(i);
    c.risk_se(k) = se;
    c.risk_theory(k) = theory.risk(j);
    c.rel_error(k) = diff / theory.risk(j);
    c.z(k) =
        se > 0.0
            ? diff / se
            : (diff == 0.0 ? 0.0 : std::copysign(std::numeric_limits<double>::infinity(), diff));
    c.max_abs_rel_error = std::max(c.max_abs_rel_error, std::abs(c.rel_error(k)));
    c.max_abs_z = std::max(c.max_abs_z, std::abs(c.z(k)));
  }
  return c;
}

}  // namespace signdyn
