// signdyn/rng.hpp: counter-based random streams, identical on every platform and thread count.
#pragma once

#include <Eigen/Core>
#include <cstdint>

namespace signdyn {

/// A Philox4x32-10 stream keyed on (seed, stream); stream = replica index (or a purpose tag).
/// Normals use our own Box–Muller on 53-bit uniforms, so draws do not depend on the standard
/// library (std::normal_distribution differs between libstdc++ and libc++).
class Rng {
 public:
  Rng(std::uint64_t seed, std::uint64_t stream);

  /// Uniform double in (0, 1), 53 random bits.
  double uniform();
  /// Standard normal N(0, 1).
  double normal();
  /// Fills `out` with i.i.d. N(0, 1) entries (column-major order).
  void fill_normal(Eigen::Ref<Eigen::MatrixXd> out);

 private:
  void refill();
  std::uint32_t key_[2];
  std::uint32_t counter_[4];
  std::uint32_t block_[4];
  int used_;
  double spare_normal_;
  bool has_spare_;
};

/// Stream tags that keep purposes apart for the same seed (replica streams use index < 2^32).
enum class StreamTag : std::uint64_t {
  basis = 0x1'0000'0001ULL,   // the Haar rotation O of a generic basis
  target = 0x1'0000'0002ULL,  // reserved: a shared target draw
};

}  // namespace signdyn
