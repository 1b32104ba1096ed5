// Record grids in time and mode index (see signdyn/trajectory.hpp).
#include "signdyn/trajectory.hpp"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

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

Eigen::MatrixXi record_mode_pairs(Eigen::Index n_out, Eigen::Index n_in, Eigen::Index count) {
  std::vector<std::pair<int, int>> out;
  if (count <= 0) {
    for (Eigen::Index k = 1; k <= n_out; ++k)
      for (Eigen::Index l = 1; l <= n_in; ++l)
        out.emplace_back(static_cast<int>(k), static_cast<int>(l));
  } else {
    const double log_out = std::log(static_cast<double>(n_out));
    const double log_in = std::log(static_cast<double>(n_in));
    for (Eigen::Index i = 0; i < count; ++i) {
      const double s =
          static_cast<double>(i) / static_cast<double>(std::max<Eigen::Index>(count - 1, 1));
      const auto k =
          static_cast<int>(std::clamp<long long>(std::llround(std::exp(s * log_out)), 1, n_out));
      const auto l =
          static_cast<int>(std::clamp<long long>(std::llround(std::exp(s * log_in)), 1, n_in));
      if (out.empty() || out.back() != std::pair{k, l}) out.emplace_back(k, l);
    }
  }
  Eigen::MatrixXi pairs(static_cast<Eigen::Index>(out.size()), 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    pairs(static_cast<Eigen::Index>(i), 0) = out[i].first;
    pairs(static_cast<Eigen::Index>(i), 1) = out[i].second;
  }
  return pairs;
}

}  // namespace signdyn
