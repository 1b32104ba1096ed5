// signdyn/rng.hpp: counter-based random streams, identical on every platform and thread count.
#pragma once

#include <Eigen/Core>
#include <cstddef>
#include <cstdint>

namespace signdyn {

/// A Philox4x32-10 stream keyed on (seed, stream); stream = replica index (or a purpose tag).
/// Normals use our own Box–Muller on 53-bit uniforms, so draws do not depend on the standard
/// library (std::normal_distribution differs between libstdc++ and libc++).
///
/// Determinism: the stream is a function of (seed, stream) alone, bit for bit on every platform,
/// compiler, vector width and thread count. Box–Muller's ln, sin and cos are signdyn's own
/// (fdlibm's reductions and minimax polynomials, in src/core/rng.cpp), built from IEEE-754
/// arithmetic only and compiled without fused multiply-add, so no libm is involved. They agree
/// with glibc's log, sin and cos to about an ulp; draws made before this change (with libm)
/// differ from today's in the last bits only.
///
/// fill_normal(A) writes exactly the values that A.size() calls of normal() would return, in
/// column-major order, and leaves the stream in the same state, so calls of the two (and of
/// uniform()) may be interleaved freely. It generates whole Philox blocks and runs Box–Muller
/// over arrays (vectorised): 8.8–9.4 ns per normal, against 20–24 ns for normal() one at a time
/// and 23–25 ns for the former libm-based fill (numpy's ziggurat: 9.4–11 ns; bench/README.md).
class Rng {
 public:
  Rng(std::uint64_t seed, std::uint64_t stream);

  /// Uniform double (bits + 0.5)·2⁻⁵³ from 53 random bits, rounded to double: in (0, 1], with
  /// u = 1 (from the rounding of the largest bits) at probability 2⁻⁵³.
  double uniform();
  /// Standard normal N(0, 1): √(−2 ln u₁)·cos 2πu₂, then √(−2 ln u₁)·sin 2πu₂ on the next call.
  double normal();
  /// Fills `out` with i.i.d. N(0, 1) entries (column-major order): the values of repeated normal().
  void fill_normal(Eigen::Ref<Eigen::MatrixXd> out);

 private:
  void refill();
  void fill_uniform(double* u, std::size_t count);  // the next `count` values of uniform()
  void fill_normal_span(double* z, std::size_t n);  // the next n values of normal()
  std::uint32_t key_[2];
  std::uint32_t counter_[4];
  std::uint32_t block_[4];
  int used_;
  double spare_normal_;
  bool has_spare_;
};

/// Stream tags that keep purposes apart for the same seed (replica streams use index < 2^32).
enum class StreamTag : std::uint64_t {
  basis = 0x1'0000'0001ULL,     // the Haar rotation O of a generic basis
  target = 0x1'0000'0002ULL,    // reserved: a shared target draw
  basis_in = 0x1'0000'0003ULL,  // the bilinear family's input-side rotation O_in
};

}  // namespace signdyn
