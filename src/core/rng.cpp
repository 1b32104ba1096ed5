// Philox4x32-10 streams with a portable Box–Muller transform (see signdyn/rng.hpp).
#include "signdyn/rng.hpp"

#include <Random123/philox.h>

#include <cmath>
#include <numbers>

namespace signdyn {

Rng::Rng(std::uint64_t seed, std::uint64_t stream)
    : key_{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)},
      counter_{0, 0, static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(stream >> 32)},
      block_{0, 0, 0, 0},
      used_(4),
      spare_normal_(0.0),
      has_spare_(false) {}

void Rng::refill() {
  r123::Philox4x32 gen;
  r123::Philox4x32::ctr_type ctr = {{counter_[0], counter_[1], counter_[2], counter_[3]}};
  r123::Philox4x32::key_type key = {{key_[0], key_[1]}};
  const r123::Philox4x32::ctr_type out = gen(ctr, key);
  for (int i = 0; i < 4; ++i) block_[i] = out[i];
  // 64-bit block counter in the first two words; the stream id stays in the last two.
  if (++counter_[0] == 0) ++counter_[1];
  used_ = 0;
}

double Rng::uniform() {
  if (used_ > 2) refill();
  const std::uint64_t hi = block_[used_];
  const std::uint64_t lo = block_[used_ + 1];
  used_ += 2;
  const std::uint64_t bits = ((hi << 32) | lo) >> 11;    // 53 bits
  return (static_cast<double>(bits) + 0.5) * 0x1.0p-53;  // strictly inside (0, 1)
}

double Rng::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_normal_;
  }
  const double u1 = uniform();
  const double u2 = uniform();
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = 2.0 * std::numbers::pi * u2;
  spare_normal_ = radius * std::sin(angle);
  has_spare_ = true;
  return radius * std::cos(angle);
}

void Rng::fill_normal(Eigen::Ref<Eigen::MatrixXd> out) {
  for (Eigen::Index j = 0; j < out.cols(); ++j)
    for (Eigen::Index i = 0; i < out.rows(); ++i) out(i, j) = normal();
}

}  // namespace signdyn
