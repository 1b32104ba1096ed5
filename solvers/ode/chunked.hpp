// Private: fixed-size chunks over [0, n) run in parallel with deterministic reductions.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <vector>

namespace signdyn::detail {

/// Elements per chunk: fixed, so partial sums (and hence results) do not depend on the number
/// of threads. 4096 doubles per array fit several arrays of a chunk in L2.
inline constexpr Eigen::Index kChunk = 4096;

/// Fewest chunks worth an OpenMP region: below it the chunks run one after another on the
/// calling thread (same partition and summation order, so the same results). Measured: with 3
/// chunks per sweep a run spent 94% of its time in libgomp's barriers on a loaded machine.
inline constexpr Eigen::Index kMinParallelChunks = 8;

/// Number of chunks covering [0, n).
inline Eigen::Index chunk_count(Eigen::Index n) {
  return (n + kChunk - 1) / kChunk;
}

/// Calls body(begin, end, acc) for every chunk [begin, end) of [0, n), in parallel (OpenMP) when
/// there is more than one chunk; acc points to N zeroed per-chunk slots. Returns, slot by slot,
/// the sum over chunks in chunk order (slots listed in `max_slots` take the maximum instead).
/// `partials` is caller-owned scratch (no allocation once it has the capacity).
template <int N, class Body>
std::array<double, N> chunked_reduce(Eigen::Index n, std::vector<double>& partials, Body&& body,
                                     std::array<bool, N> max_slots = {}) {
  const Eigen::Index nc = chunk_count(n);
  partials.assign(static_cast<std::size_t>(nc * N), 0.0);
  double* part = partials.data();
  if (nc < kMinParallelChunks) {  // no OpenMP region for small systems (kMinParallelChunks)
    for (Eigen::Index c = 0; c < nc; ++c)
      body(c * kChunk, std::min(n, (c + 1) * kChunk), part + c * N);
  } else {
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (Eigen::Index c = 0; c < nc; ++c)
      body(c * kChunk, std::min(n, (c + 1) * kChunk), part + c * N);
  }
  std::array<double, N> out{};
  for (Eigen::Index c = 0; c < nc; ++c)
    for (int k = 0; k < N; ++k) {
      const double v = part[c * N + k];
      out[k] = max_slots[k] ? std::max(out[k], v) : out[k] + v;
    }
  return out;
}

/// Calls body(begin, end) for every chunk of [0, n), in parallel when there is more than one.
template <class Body>
void chunked_for(Eigen::Index n, Body&& body) {
  const Eigen::Index nc = chunk_count(n);
  if (nc < kMinParallelChunks) {
    for (Eigen::Index c = 0; c < nc; ++c) body(c * kChunk, std::min(n, (c + 1) * kChunk));
    return;
  }
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (Eigen::Index c = 0; c < nc; ++c) body(c * kChunk, std::min(n, (c + 1) * kChunk));
}

}  // namespace signdyn::detail
