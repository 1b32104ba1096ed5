// Philox4x32-10 streams with a portable Box–Muller transform (see signdyn/rng.hpp).
//
// The transcendental functions of Box–Muller are computed here, not by libm: ln u by fdlibm's
// e_log.c reduction and polynomial, sin 2πu and cos 2πu by an exact quarter-turn reduction and
// fdlibm's __kernel_sin / __kernel_cos minimax polynomials. They use only IEEE-754 +, −, ×, ÷,
// √ and integer bit operations, and this file is compiled with -ffp-contract=off (no fused
// multiply-add), so every draw is the same on every platform, compiler and vector width; the
// scalar normal() and the block fill_normal() run the same functions and give the same stream.
// Being branch-free loops of plain arithmetic, the block path vectorises: 23–25 ns → 9 ns per
// normal (bench/README.md). Box–Muller alone costs 4.5 ns per normal here, as fast as glibc's
// libmvec (4.7 ns, which needs -ffast-math and differs from scalar libm in the last bits).
#include "signdyn/rng.hpp"

#include <Random123/philox.h>

#include <bit>
#include <cmath>

namespace signdyn {
namespace {

// Philox4x32 round constants (Salmon et al. 2011; Random123's PHILOX_M4x32_*, PHILOX_W32_*).
constexpr std::uint32_t kPhiloxM0 = 0xD2511F53u, kPhiloxM1 = 0xCD9E8D57u;
constexpr std::uint32_t kPhiloxW0 = 0x9E3779B9u, kPhiloxW1 = 0xBB67AE85u;

// Uniform from two 32-bit words: the top 53 bits of (hi, lo), u = (bits + 0.5)·2⁻⁵³ (rounded to
// nearest for bits ≥ 2⁵², so u = 1 has probability 2⁻⁵³). bits is converted exactly through
// its two halves (each < 2³²; a plain uint64 → double conversion has no SSE2 vector form).
inline double uniform_from_words(std::uint32_t hi, std::uint32_t lo) {
  const std::uint64_t bits = ((static_cast<std::uint64_t>(hi) << 32) | lo) >> 11;
  constexpr std::uint64_t kMagic = 0x4330000000000000ULL;  // 2⁵² as a bit pattern
  const double high = std::bit_cast<double>(kMagic | (bits >> 32)) - 0x1.0p52;
  const double low = std::bit_cast<double>(kMagic | (bits & 0xffffffffULL)) - 0x1.0p52;
  return (high * 0x1.0p32 + low + 0.5) * 0x1.0p-53;
}

// ln x for a normal x > 0 (here x = u ∈ [2⁻⁵⁴, 1]), fdlibm e_log.c without its special cases:
// x = 2ᵏ z with z ∈ [√2/2, √2), f = z − 1, s = f/(2 + f), ln(1 + f) = f − ½f² + s(½f² + R(s²)),
// R the minimax polynomial Lg1..Lg7; ln 2 split into ln2_hi (exact k·ln2_hi) and ln2_lo.
inline double log_positive(double x) {
  constexpr double kLn2Hi = 6.93147180369123816490e-01;  // 0x3fe62e42fee00000
  constexpr double kLn2Lo = 1.90821492927058770002e-10;  // 0x3dea39ef35793c76
  constexpr double kLg1 = 6.666666666666735130e-01, kLg2 = 3.999999999940941908e-01;
  constexpr double kLg3 = 2.857142874366239149e-01, kLg4 = 2.222219843214978396e-01;
  constexpr double kLg5 = 1.818357216161805012e-01, kLg6 = 1.531383769920937332e-01;
  constexpr double kLg7 = 1.479819860511658591e-01;
  constexpr std::uint64_t kOff = 0x3fe6a09e667f3bcdULL;  // bits of √2/2
  const std::uint64_t ix = std::bit_cast<std::uint64_t>(x);
  const std::uint64_t tmp = ix - kOff;
  const auto k = static_cast<std::int32_t>(static_cast<std::int64_t>(tmp) >> 52);
  const double z = std::bit_cast<double>(ix - (tmp & (0xfffULL << 52)));
  const double f = z - 1.0;
  const double s = f / (2.0 + f);
  const double dk = static_cast<double>(k);
  const double s2 = s * s, s4 = s2 * s2;
  const double t1 = s4 * (kLg2 + s4 * (kLg4 + s4 * kLg6));
  const double t2 = s2 * (kLg1 + s4 * (kLg3 + s4 * (kLg5 + s4 * kLg7)));
  const double r = t1 + t2;
  const double hfsq = 0.5 * f * f;
  return dk * kLn2Hi - ((hfsq - (s * (hfsq + r) + dk * kLn2Lo)) - f);
}

// sin 2πu and cos 2πu for u ∈ [0, 1]. u is a multiple of 2⁻⁵⁴, so u = q/4 + f holds exactly
// with q = round(4u) and |f| ≤ 1/8; θ = 2πf ∈ [−π/4, π/4] goes to fdlibm's kernels
// (|error| < 1 ulp there) and the quarter turns q are applied by swapping and negating.
inline void sincos_turn(double u, double& sin_out, double& cos_out) {
  constexpr double kTwoPi = 6.28318530717958647693;
  constexpr double kS1 = -1.66666666666666324348e-01, kS2 = 8.33333333332248946124e-03;
  constexpr double kS3 = -1.98412698298579493134e-04, kS4 = 2.75573137070700676789e-06;
  constexpr double kS5 = -2.50507602534068634195e-08, kS6 = 1.58969099521155010221e-10;
  constexpr double kC1 = 4.16666666666666019037e-02, kC2 = -1.38888888888741095749e-03;
  constexpr double kC3 = 2.48015872894767294178e-05, kC4 = -2.75573143513906633035e-07;
  constexpr double kC5 = 2.08757232129817482790e-09, kC6 = -1.13596475577881948265e-11;
  constexpr double kRound = 0x1.8p52;  // x + 1.5·2⁵² − 1.5·2⁵² rounds x to an integer
  const double q = (4.0 * u + kRound) - kRound;
  const double x = kTwoPi * (u - 0.25 * q);
  const double z = x * x, w = z * z;
  const double rs = kS2 + z * (kS3 + z * (kS4 + z * (kS5 + z * kS6)));
  const double s = x + z * x * (kS1 + z * rs);
  const double rc = z * (kC1 + z * (kC2 + z * kC3)) + w * w * (kC4 + z * (kC5 + z * kC6));
  const double hz = 0.5 * z, one_minus_hz = 1.0 - hz;
  const double c = one_minus_hz + (((1.0 - one_minus_hz) - hz) + z * rc);
  // 2πu = θ + q·π/2: q odd swaps sin and cos; sin is negated for q ∈ {2, 3}, cos for {1, 2}.
  const bool odd = q == 1.0 || q == 3.0;
  const double sv = odd ? c : s, cv = odd ? s : c;
  sin_out = (q == 2.0 || q == 3.0) ? -sv : sv;
  cos_out = (q == 1.0 || q == 2.0) ? -cv : cv;
}

// The Box–Muller pair from two uniforms: √(−2 ln u1)·(cos 2πu2, sin 2πu2).
inline void box_muller(double u1, double u2, double& z_cos, double& z_sin) {
  const double radius = std::sqrt(-2.0 * log_positive(u1));
  double s, c;
  sincos_turn(u2, s, c);
  z_cos = radius * c;
  z_sin = radius * s;
}

// Uniforms of `blocks` consecutive Philox blocks, block b with counter (base + b, stream):
// u[2b] from words 0, 1 and u[2b + 1] from words 2, 3, exactly as Rng::refill() + uniform().
// The loop over blocks carries no dependence and vectorises.
void philox_uniforms(std::uint64_t base, std::uint32_t s0, std::uint32_t s1, std::uint32_t k0,
                     std::uint32_t k1, std::size_t blocks, double* u) {
  for (std::size_t b = 0; b < blocks; ++b) {
    const std::uint64_t ctr = base + b;
    std::uint32_t x0 = static_cast<std::uint32_t>(ctr), x1 = static_cast<std::uint32_t>(ctr >> 32);
    std::uint32_t x2 = s0, x3 = s1, key0 = k0, key1 = k1;
    for (int round = 0; round < 10; ++round) {
      const std::uint64_t p0 = static_cast<std::uint64_t>(kPhiloxM0) * x0;
      const std::uint64_t p1 = static_cast<std::uint64_t>(kPhiloxM1) * x2;
      x0 = static_cast<std::uint32_t>(p1 >> 32) ^ x1 ^ key0;
      x1 = static_cast<std::uint32_t>(p1);
      x2 = static_cast<std::uint32_t>(p0 >> 32) ^ x3 ^ key1;
      x3 = static_cast<std::uint32_t>(p0);
      key0 += kPhiloxW0;
      key1 += kPhiloxW1;
    }
    u[2 * b] = uniform_from_words(x0, x1);
    u[2 * b + 1] = uniform_from_words(x2, x3);
  }
}

// In place: (z[2p], z[2p + 1]) holds (u1, u2) and becomes the Box–Muller pair.
void box_muller_in_place(double* z, std::size_t pairs) {
  for (std::size_t p = 0; p < pairs; ++p)
    box_muller(z[2 * p], z[2 * p + 1], z[2 * p], z[2 * p + 1]);
}

}  // namespace

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
  const double u = uniform_from_words(block_[used_], block_[used_ + 1]);
  used_ += 2;
  return u;
}

double Rng::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_normal_;
  }
  const double u1 = uniform();
  const double u2 = uniform();
  double z;
  box_muller(u1, u2, z, spare_normal_);
  has_spare_ = true;
  return z;
}

void Rng::fill_uniform(double* u, std::size_t count) {
  std::size_t i = 0;
  while (i < count && used_ <= 2) u[i++] = uniform();  // the rest of the current block
  const std::size_t blocks = (count - i) / 2;
  const std::uint64_t base =
      static_cast<std::uint64_t>(counter_[0]) | (static_cast<std::uint64_t>(counter_[1]) << 32);
  philox_uniforms(base, counter_[2], counter_[3], key_[0], key_[1], blocks, u + i);
  const std::uint64_t next = base + blocks;
  counter_[0] = static_cast<std::uint32_t>(next);
  counter_[1] = static_cast<std::uint32_t>(next >> 32);
  i += 2 * blocks;
  if (i < count) u[i] = uniform();  // one uniform of a fresh block; its second one stays
}

void Rng::fill_normal_span(double* z, std::size_t n) {
  std::size_t i = 0;
  if (n > 0 && has_spare_) {
    z[i++] = spare_normal_;
    has_spare_ = false;
  }
  const std::size_t pairs = (n - i) / 2;
  fill_uniform(z + i, 2 * pairs);  // (u1, u2) of each pair, in stream order
  box_muller_in_place(z + i, pairs);
  i += 2 * pairs;
  if (i < n) z[i] = normal();  // odd tail: the pair's second value becomes the spare
}

void Rng::fill_normal(Eigen::Ref<Eigen::MatrixXd> out) {
  if (out.outerStride() == out.rows()) {
    fill_normal_span(out.data(), static_cast<std::size_t>(out.size()));
    return;
  }
  for (Eigen::Index j = 0; j < out.cols(); ++j)
    fill_normal_span(out.col(j).data(), static_cast<std::size_t>(out.rows()));
}

}  // namespace signdyn
