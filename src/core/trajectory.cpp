// Record grids in time and mode index (see signdyn/trajectory.hpp).
#include "signdyn/trajectory.hpp"

#include <algorithm>
#include <cmath>

namespace signdyn {

std::string to_string(RunStatus status) {
  switch (status) {
    case RunStatus::completed:
      return "completed";
    case RunStatus::diverged:
      return "diverged";
    case RunStatus::stalled:
      return "stalled";
  }
  return "unknown";
}

std::vector<std::int64_t> record_steps(std::int64_t steps, std::int64_t records) {
  std::vector<std::int64_t> out{0};
  if (steps <= 0) return out;
  const std::int64_t n = std::max<std::int64_t>(records, 2);
  const double log_end = std::log(static_cast<double>(steps));
  for (std::int64_t i = 0; i < n; ++i) {
    const double x = log_end * static_cast<double>(i) / static_cast<double>(n - 1);
    const auto k = std::clamp<std::int64_t>(std::llround(std::exp(x)), 1, steps);
    if (k > out.back()) out.push_back(k);
  }
  if (out.back() != steps) out.push_back(steps);
  return out;
}

Eigen::VectorXi record_modes(Eigen::Index d, Eigen::Index count) {
  if (count <= 0 || count >= d) return Eigen::VectorXi::LinSpaced(d, 1, static_cast<int>(d));
  // Geometric grid from 1 to d; rounding collisions at small j are dropped, so the result
  // may hold fewer than `count` indices.
  std::vector<int> out;
  const double log_end = std::log(static_cast<double>(d));
  for (Eigen::Index i = 0; i < count; ++i) {
    const double x = log_end * static_cast<double>(i) /
                     static_cast<double>(std::max<Eigen::Index>(count - 1, 1));
    const int j = static_cast<int>(std::clamp<long long>(std::llround(std::exp(x)), 1, d));
    if (out.empty() || j > out.back()) out.push_back(j);
  }
  return Eigen::Map<Eigen::VectorXi>(out.data(), static_cast<Eigen::Index>(out.size()));
}

}  // namespace signdyn
