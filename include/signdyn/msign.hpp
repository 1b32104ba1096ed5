// signdyn/msign.hpp: polar-factor (matrix sign) kernels msign(G) = U Vᵀ for SignSVD and Muon.
//
// msign(G) of a d×m matrix G = U Σ Vᵀ (thin SVD) is U_r V_rᵀ, where r counts the singular values
// σ_i > rel_tol·σ_max (default rel_tol = max(d, m)·ε, numpy pinv's rcond). It is the orthogonal
// polar factor when G has full rank, and otherwise the partial isometry that is zero on the null
// space of G: msign(G)ᵀ msign(G) is the projector onto the row space of G. It is invariant under
// positive scaling (msign(cG) = msign(G), c > 0) and equivariant under rotations
// (msign(O₁ G O₂) = O₁ msign(G) O₂).
//
// Which kernel to use when (measured figures in bench/README.md):
//
// clang-format off
//   kernel                     input                   result                 cost (p = min(d,m), q = max)
//   MsignSvd                   G (d×m)                 exact, rank-truncated  gesdd, ≈ 22·p²·q flops
//   MsignLowRank               X (B×d), R (B×m)        exact msign(XᵀR / B)   ≈ 2dmB + O((d+m)B²)
//   MsignFactored              X, R                    exact; picks one of the two above
//   MsignNewtonSchulz          G                       approximate (Muon)     k·(4p²q + 2p³)
//   MsignNewtonSchulzFactored  X, R                    NS_k(G/‖G‖_F) as above ≈ 2dmB + O((d+m)B²)
//   MsignBatch                 many G, or many (X, R)  any of the above, OpenMP over matrices
// clang-format on
//
// * A minibatch gradient G = (1/B) Xᵀ R with B < min(d, m) has rank ≤ B: use MsignLowRank, or
//   MsignFactored, which does so while it is the cheaper route (B ≤ 0.75·min(d, m)). It never
//   forms the SVD of the d×m matrix: at d = m = 512, B = 32 it takes 0.9 ms against 57 ms for
//   MsignSvd, and agrees to ~1e-16.
// * For a full-rank G (B ≥ min(d, m), or Muon momentum buffers) the exact route is MsignSvd
//   (gesdd: 79 ms at 512×512 on one core; 2 BLAS threads do not speed it up, so use the second
//   core through MsignBatch over replicas).
// * MsignNewtonSchulz is Muon's quintic iteration: it does NOT compute msign. Its output's
//   singular values are p^k(σ_i/‖G‖_F), about [0.68, 1.2] for σ_i/‖G‖_F ≳ 1.5e-3 after 5 steps,
//   and tiny ones are not lifted. With the cubic polynomial and a stop tolerance it converges to
//   msign(G) (slowly, for ill-conditioned G).
// * For Muon on a minibatch gradient without momentum, MsignNewtonSchulzFactored runs the same
//   iteration exactly on the B×B core of G = (1/B) XᵀR (B ≤ 0.75·min(d, m)). A momentum buffer
//   V ← μV + G accumulates rank, so Muon with μ > 0 needs MsignNewtonSchulz on the dense V.
//
// Contract shared by every kernel:
// * Workspaces are sized in the constructor; compute() does not allocate (MsignBatch sizes a
//   kernel per thread on the first call of each method). OpenBLAS 0.3.21's own small-matrix
//   DGEMM kernels may malloc a few hundred bytes inside at some shapes; that is outside signdyn.
// * Numerical outcomes are a status, never an exception: zero_input (G = 0) and
//   non_finite_input (NaN or Inf anywhere in the input; LAPACK is not called, since its SVD can
//   hang on such input) both set Q = 0 and rank = 0. The engine decides what a status means
//   (skip the update, or mark the replica diverged). Shape mismatches are programming errors
//   and throw signdyn::Error.
// * BLAS threading is left as the caller set it; MsignBatch runs BLAS single-threaded inside its
//   OpenMP loop and restores the previous count. Outputs must not alias inputs.
#pragma once

#include <Eigen/Core>
#include <memory>
#include <span>
#include <string_view>

namespace signdyn {

enum class MsignStatus {
  ok,                // Q holds the result
  zero_input,        // G = 0 (or XᵀR = 0 to round-off of its factors): Q = 0, rank = 0
  non_finite_input,  // NaN or Inf in the input: Q = 0, rank = 0
  svd_failed,        // gesdd and the gesvd fallback both failed to converge: Q = 0, rank = 0
  not_converged,     // Newton–Schulz with a stop tolerance used all its steps (Q = last iterate)
};

/// Lower-case name of a status ("ok", "zero_input", ...), for messages.
std::string_view to_string(MsignStatus status);

/// Outcome of one msign computation.
struct MsignResult {
  MsignStatus status = MsignStatus::ok;
  Eigen::Index rank = 0;       // singular directions kept; -1 where not computed (Newton–Schulz)
  int iterations = 0;          // Newton–Schulz steps run; 0 for the SVD-based kernels
  bool used_fallback = false;  // gesdd failed and the gesvd fallback produced the result
  bool ok() const { return status == MsignStatus::ok; }
};

/// Default relative rank tolerance max(d, m)·ε (numpy.linalg.pinv's rcond).
double default_msign_rel_tol(Eigen::Index d, Eigen::Index m);

/// Sets the OpenBLAS thread count (process-wide) and returns the previous one.
int set_blas_threads(int threads);

/// Exact msign of d×m matrices by LAPACK dgesdd (fallback dgesvd), truncated at rel_tol·σ_max.
/// The reference kernel. rel_tol < 0 selects default_msign_rel_tol(d, m).
class MsignSvd {
 public:
  /// Sizes the gesdd/gesvd workspaces for d×m inputs; throws Error unless d, m ≥ 1.
  MsignSvd(Eigen::Index d, Eigen::Index m, double rel_tol = -1.0);
  ~MsignSvd();
  MsignSvd(MsignSvd&&) noexcept;
  MsignSvd& operator=(MsignSvd&&) noexcept;

  /// Q = msign(G) (d×m); any positive scale of G gives the same Q.
  MsignResult compute(const Eigen::Ref<const Eigen::MatrixXd>& G, Eigen::Ref<Eigen::MatrixXd> Q);
  /// All min(d, m) singular values of the last G (descending); zeros after a non-ok status.
  const Eigen::VectorXd& singular_values() const;
  Eigen::Index rows() const;  // d
  Eigen::Index cols() const;  // m

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Exact msign of a rank-≤B product G = (1/B) Xᵀ R, X ∈ R^{B×d}, R ∈ R^{B×m}, through thin
/// Householder QR of Xᵀ and Rᵀ and the SVD of the small core R_x R_rᵀ; the d×m SVD is never
/// formed. Rank-deficient factors give the exact truncated polar. Any B ≥ 1 is accepted; it
/// pays off for B ≤ 0.75·min(d, m). rel_tol < 0 selects default_msign_rel_tol(d, m).
class MsignLowRank {
 public:
  /// Sizes the QR and core-SVD workspaces for B×d and B×m factors; throws Error unless all ≥ 1.
  MsignLowRank(Eigen::Index d, Eigen::Index m, Eigen::Index batch, double rel_tol = -1.0);
  ~MsignLowRank();
  MsignLowRank(MsignLowRank&&) noexcept;
  MsignLowRank& operator=(MsignLowRank&&) noexcept;

  /// Q = msign(Xᵀ R) (d×m), the same for any positive scale such as 1/B.
  MsignResult compute(const Eigen::Ref<const Eigen::MatrixXd>& X,
                      const Eigen::Ref<const Eigen::MatrixXd>& R, Eigen::Ref<Eigen::MatrixXd> Q);
  /// All min(B, d, m) singular values of the last G = (1/B) Xᵀ R (descending); zeros after a
  /// non-ok status.
  const Eigen::VectorXd& singular_values() const;
  Eigen::Index rows() const;   // d
  Eigen::Index cols() const;   // m
  Eigen::Index batch() const;  // B

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// True when the low-rank route is the cheaper exact one for G = (1/B) XᵀR: 4B ≤ 3·min(d, m).
/// Measured at d = m = 512 (bench/README.md): B = 256 low-rank 29 ms vs gesdd 70 ms; B = 448
/// low-rank 80 ms vs gesdd 73 ms (crossover ≈ 0.8·min(d, m)).
bool low_rank_pays_off(Eigen::Index d, Eigen::Index m, Eigen::Index batch);

/// Exact msign of G = (1/B) Xᵀ R by the cheaper exact route: MsignLowRank when
/// low_rank_pays_off(d, m, B), otherwise G is formed (one GEMM) and MsignSvd runs on it.
class MsignFactored {
 public:
  /// Sizes the kernel of the chosen route; throws Error unless d, m, batch ≥ 1.
  MsignFactored(Eigen::Index d, Eigen::Index m, Eigen::Index batch, double rel_tol = -1.0);
  ~MsignFactored();
  MsignFactored(MsignFactored&&) noexcept;
  MsignFactored& operator=(MsignFactored&&) noexcept;

  /// Q = msign(Xᵀ R) (d×m) by the route above.
  MsignResult compute(const Eigen::Ref<const Eigen::MatrixXd>& X,
                      const Eigen::Ref<const Eigen::MatrixXd>& R, Eigen::Ref<Eigen::MatrixXd> Q);
  /// True when compute() takes the low-rank route (low_rank_pays_off(d, m, B)).
  bool uses_low_rank() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The odd polynomial p(x) = a x + b x³ + c x⁵ applied to the singular values per step,
/// X ← a X + b (XXᵀ) X + c (XXᵀ)² X.
struct NewtonSchulzPolynomial {
  double a = 3.4445;
  double b = -4.7750;
  double c = 2.0315;

  /// Keller Jordan's quintic for Muon (3.4445, −4.7750, 2.0315): fast, not convergent to 1.
  static constexpr NewtonSchulzPolynomial muon_quintic() { return {3.4445, -4.7750, 2.0315}; }
  /// The classical cubic X ← 1.5 X − 0.5 X XᵀX: converges to msign(G) for ‖G‖₂ < √3.
  static constexpr NewtonSchulzPolynomial cubic() { return {1.5, -0.5, 0.0}; }
};

struct NewtonSchulzOptions {
  int steps = 5;  // fixed number of steps (or the maximum, with stop_tol > 0); ≥ 0
  NewtonSchulzPolynomial polynomial = NewtonSchulzPolynomial::muon_quintic();
  // > 0: stop once ‖X_{k+1} − X_k‖_F ≤ stop_tol·‖X_k‖_F; status not_converged if `steps` ran out.
  double stop_tol = 0.0;
};

/// Newton–Schulz iteration on X₀ = G/‖G‖_F (Muon's NS_k), on the smaller Gram side:
/// with d ≤ m it uses XXᵀ (d×d), otherwise XᵀX (m×m). Not the polar factor (see above).
class MsignNewtonSchulz {
 public:
  /// Sizes the iterates and the Gram matrix; throws Error for d, m < 1, steps < 0, stop_tol < 0.
  MsignNewtonSchulz(Eigen::Index d, Eigen::Index m, NewtonSchulzOptions options = {});
  ~MsignNewtonSchulz();
  MsignNewtonSchulz(MsignNewtonSchulz&&) noexcept;
  MsignNewtonSchulz& operator=(MsignNewtonSchulz&&) noexcept;

  /// Q = NS_k(G/‖G‖_F) (d×m); rank is reported as −1.
  MsignResult compute(const Eigen::Ref<const Eigen::MatrixXd>& G, Eigen::Ref<Eigen::MatrixXd> Q);
  /// The options the kernel was built with.
  const NewtonSchulzOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Muon's NS_k(G/‖G‖_F) for a minibatch gradient G = (1/B) Xᵀ R given by its factors
/// X ∈ R^{B×d}, R ∈ R^{B×m}. Every Newton–Schulz iterate is an odd polynomial in G, X_k =
/// G q_k(GᵀG), so with the thin QR factors of MsignLowRank (G = Q_x C Q_rᵀ / B, C = R_x R_rᵀ,
/// ‖G‖_F = ‖C‖_F / B) it holds exactly that NS_k(G/‖G‖_F) = Q_x NS_k(C/‖C‖_F) Q_rᵀ: the same
/// iteration, same polynomial and same stop rule, run on the B×B core. When
/// low_rank_pays_off(d, m, B) it takes that route, O((d+m)B² + dmB) instead of
/// k·(4p²q + 2p³) (measured: bench/README.md); otherwise it forms G (one GEMM) and runs
/// MsignNewtonSchulz on it. Both routes equal MsignNewtonSchulz on G to round-off. Status as
/// MsignFactored: zero_input when ‖XᵀR‖_F is below its rounding bound B·ε·‖X‖_F‖R‖_F.
class MsignNewtonSchulzFactored {
 public:
  /// Sizes the kernel of the chosen route; throws Error for d, m, batch < 1 or bad options.
  MsignNewtonSchulzFactored(Eigen::Index d, Eigen::Index m, Eigen::Index batch,
                            NewtonSchulzOptions options = {});
  ~MsignNewtonSchulzFactored();
  MsignNewtonSchulzFactored(MsignNewtonSchulzFactored&&) noexcept;
  MsignNewtonSchulzFactored& operator=(MsignNewtonSchulzFactored&&) noexcept;

  /// Q = NS_k(G/‖G‖_F) (d×m) for G = (1/B) XᵀR (any positive scale of XᵀR gives the same Q).
  MsignResult compute(const Eigen::Ref<const Eigen::MatrixXd>& X,
                      const Eigen::Ref<const Eigen::MatrixXd>& R, Eigen::Ref<Eigen::MatrixXd> Q);
  /// True when compute() runs on the B×B core (low_rank_pays_off(d, m, B)).
  bool uses_low_rank() const;
  /// The options the kernel was built with.
  const NewtonSchulzOptions& options() const;
  Eigen::Index batch() const;  // B

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

enum class MsignMethod {
  automatic,      // dense G: svd; factors: low_rank if low_rank_pays_off, else form G and svd
  svd,            // MsignSvd (factors: G = (1/B) XᵀR is formed first)
  low_rank,       // MsignLowRank (factored input only)
  newton_schulz,  // MsignNewtonSchulz (factors: MsignNewtonSchulzFactored, core route if it pays)
};

struct MsignBatchOptions {
  int threads = 0;        // OpenMP threads over matrices; 0 = omp_get_max_threads()
  double rel_tol = -1.0;  // < 0: default_msign_rel_tol(d, m)
  NewtonSchulzOptions newton_schulz;
};

/// Batched msign over many independent d×m matrices (replicas): OpenMP over matrices with one
/// kernel per thread and single-threaded BLAS inside. Every result is bit-identical to the
/// single kernel run with one BLAS thread, for any thread count. Call from one thread at a time.
class MsignBatch {
 public:
  /// Resolves the thread count; per-thread kernels are sized on the first call of each method.
  MsignBatch(Eigen::Index d, Eigen::Index m, MsignBatchOptions options = {});
  ~MsignBatch();
  MsignBatch(MsignBatch&&) noexcept;
  MsignBatch& operator=(MsignBatch&&) noexcept;

  /// Q[i] = msign(G[i]) (svd or automatic) or NS_k(G[i]/‖G[i]‖_F) (newton_schulz).
  void compute(MsignMethod method, std::span<const Eigen::MatrixXd> G, std::span<Eigen::MatrixXd> Q,
               std::span<MsignResult> results);
  /// Q[i] = msign(X[i]ᵀ R[i]) for X[i] ∈ R^{B×d}, R[i] ∈ R^{B×m} (same B for all i);
  /// newton_schulz: NS_k of (1/B) X[i]ᵀ R[i] by MsignNewtonSchulzFactored.
  void compute(MsignMethod method, std::span<const Eigen::MatrixXd> X,
               std::span<const Eigen::MatrixXd> R, std::span<Eigen::MatrixXd> Q,
               std::span<MsignResult> results);
  /// Number of OpenMP threads (and per-thread kernels) used.
  int threads() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace signdyn
