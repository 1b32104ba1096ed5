// Private: modes of nearly equal eigenvalue and target energy merged into weighted groups, for
// closures whose per-mode law depends on a mode only through (λ_j, ρ_j) and whose global sums are
// sums over modes (docs/theory/signsvd.md §4.5, "Mode compression").
//
// Modes with λ_j and b_j² both within relative ε of each other follow the same law from nearly
// the same start, so their energies stay within O(ε) of each other at all times. A group g then
// carries one state ρ̄_g (the energy of one of its modes) and its multiplicity w_g, and every sum
// Σ_j f(λ_j, ρ_j) becomes Σ_g w_g f(λ̄_g, ρ̄_g). With λ̄_g the mean of λ_j (Σλ kept exactly) and
// b̄_g² = Σλ_j b_j²/Σλ_j (the initial excess risk kept exactly) the first-order terms cancel, and
// the error of a smooth sum is O(ε²) of the group's share.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <tuple>
#include <vector>

namespace signdyn::detail {

/// The grouping of d modes: per group the mean λ, the initial energy per mode and the
/// multiplicity; per mode its group.
struct ModeGroups {
  Eigen::ArrayXd lambda;         // λ̄_g = mean of λ_j over the group
  Eigen::ArrayXd b2;             // b̄_g² = Σ λ_j b_j² / Σ λ_j over the group
  Eigen::ArrayXd weight;         // number of modes in the group
  std::vector<Eigen::Index> of;  // group of mode j (size d)
  Eigen::Index size() const { return lambda.size(); }
};

/// Groups modes whose λ_j and b_j² fall in the same cell of relative width `width` (> 0) in
/// both; modes listed in `keep` (1-based, e.g. the recorded ones) and modes with λ_j ≤ 0 stay
/// alone. Groups are numbered by their first mode, so a head of distinct modes keeps its order.
inline ModeGroups group_modes(const Eigen::ArrayXd& lambda, const Eigen::ArrayXd& b2, double width,
                              const Eigen::VectorXi& keep) {
  const Eigen::Index d = lambda.size();
  const double step = std::log1p(width);
  const double lmax = lambda.maxCoeff(), bmax = b2.maxCoeff();
  std::vector<bool> alone(static_cast<std::size_t>(d), false);
  for (Eigen::Index k = 0; k < keep.size(); ++k)
    if (keep(k) >= 1 && keep(k) <= d) alone[static_cast<std::size_t>(keep(k) - 1)] = true;
  // Cell key (λ cell, b² cell; −1 for b_j = 0), or a unique key for modes kept alone.
  std::vector<std::tuple<long, long, Eigen::Index>> key(static_cast<std::size_t>(d));
  for (Eigen::Index j = 0; j < d; ++j) {
    const auto sj = static_cast<std::size_t>(j);
    if (alone[sj] || !(lambda(j) > 0.0)) {
      key[sj] = {-2 - j, 0, j};
      continue;
    }
    const long kl = static_cast<long>(std::floor(std::log(lmax / lambda(j)) / step));
    const long kb = b2(j) > 0.0 ? static_cast<long>(std::floor(std::log(bmax / b2(j)) / step)) : -1;
    key[sj] = {kl, kb, j};
  }
  std::sort(key.begin(), key.end());
  // First mode of each cell → provisional group; then renumber by first mode.
  std::vector<Eigen::Index> cell_of(static_cast<std::size_t>(d));
  std::vector<Eigen::Index> first;  // first mode of each cell
  for (std::size_t i = 0; i < key.size(); ++i) {
    const auto& [kl, kb, j] = key[i];
    const bool fresh = i == 0 || std::get<0>(key[i - 1]) != kl || std::get<1>(key[i - 1]) != kb;
    if (fresh) first.push_back(j);  // sorted by (key, j): the first member has the smallest j
    cell_of[static_cast<std::size_t>(j)] = static_cast<Eigen::Index>(first.size()) - 1;
  }
  std::vector<Eigen::Index> order(first.size());
  for (std::size_t c = 0; c < first.size(); ++c) order[c] = static_cast<Eigen::Index>(c);
  std::sort(order.begin(), order.end(), [&](Eigen::Index a, Eigen::Index b) {
    return first[static_cast<std::size_t>(a)] < first[static_cast<std::size_t>(b)];
  });
  std::vector<Eigen::Index> rank(first.size());
  for (std::size_t r = 0; r < order.size(); ++r)
    rank[static_cast<std::size_t>(order[r])] = static_cast<Eigen::Index>(r);

  ModeGroups g;
  const auto n = static_cast<Eigen::Index>(first.size());
  g.lambda = Eigen::ArrayXd::Zero(n);
  g.b2 = Eigen::ArrayXd::Zero(n);
  g.weight = Eigen::ArrayXd::Zero(n);
  g.of.resize(static_cast<std::size_t>(d));
  for (Eigen::Index j = 0; j < d; ++j) {
    const Eigen::Index c = rank[static_cast<std::size_t>(cell_of[static_cast<std::size_t>(j)])];
    g.of[static_cast<std::size_t>(j)] = c;
    g.lambda(c) += lambda(j);
    g.b2(c) += lambda(j) * b2(j);
    g.weight(c) += 1.0;
  }
  for (Eigen::Index c = 0; c < n; ++c) {
    // Σλb²/Σλ; a lone mode with λ_j ≤ 0 keeps its own b_j².
    if (g.lambda(c) > 0.0) {
      g.b2(c) /= g.lambda(c);
    }
    g.lambda(c) /= g.weight(c);
  }
  for (Eigen::Index j = 0; j < d; ++j) {
    const Eigen::Index c = g.of[static_cast<std::size_t>(j)];
    if (!(lambda(j) > 0.0)) g.b2(c) = b2(j);
  }
  return g;
}

}  // namespace signdyn::detail
