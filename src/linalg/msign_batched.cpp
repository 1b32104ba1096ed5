// src/linalg/msign_batched.cpp: msign over many independent matrices, OpenMP over matrices.
//
// Debian's OpenBLAS is the pthread build: calling it with several BLAS threads from inside an
// OpenMP region oversubscribes the cores (OpenBLAS #3187, #1193), so the loop runs BLAS
// single-threaded and restores the caller's setting afterwards. One kernel per OpenMP thread
// holds that thread's workspace; a result depends only on its own input, never on the thread.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "lapack.hpp"
#include "signdyn/error.hpp"
#include "signdyn/msign.hpp"

namespace signdyn {

int set_blas_threads(int threads) {
  const int previous = openblas_get_num_threads();
  openblas_set_num_threads(std::max(1, threads));
  return previous;
}

namespace {

// Restores the BLAS thread count on scope exit (also when an exception leaves the scope).
class SingleThreadedBlas {
 public:
  SingleThreadedBlas() : previous_(set_blas_threads(1)) {}
  ~SingleThreadedBlas() { set_blas_threads(previous_); }
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

 private:
  int previous_;
};

std::string size_message(const char* what, std::size_t got, std::size_t want) {
  return std::string("MsignBatch: ") + what + " holds " + std::to_string(got) +
         " entries but there are " + std::to_string(want) + " matrices; pass spans of equal size";
}

}  // namespace

struct MsignBatch::Impl {
  Eigen::Index d = 0, m = 0;
  MsignBatchOptions options;
  int threads = 1;
  // One kernel of each kind per thread, created on the first call that needs it.
  std::vector<std::optional<MsignSvd>> svd;
  std::vector<std::optional<MsignNewtonSchulz>> newton_schulz;
  std::vector<std::optional<MsignLowRank>> low_rank;
  std::vector<std::optional<MsignFactored>> factored;
  std::vector<std::optional<MsignNewtonSchulzFactored>> newton_schulz_factored;
  std::vector<Eigen::MatrixXd> g;  // formed gradients (factored input, svd)
  std::vector<std::optional<detail::ScaledProduct>> product;

  void ensure_svd() {
    for (auto& k : svd)
      if (!k) k.emplace(d, m, options.rel_tol);
  }
  void ensure_newton_schulz() {
    for (auto& k : newton_schulz)
      if (!k) k.emplace(d, m, options.newton_schulz);
  }
  void ensure_low_rank(Eigen::Index batch) {
    for (auto& k : low_rank)
      if (!k || k->batch() != batch) k.emplace(d, m, batch, options.rel_tol);
  }
  void ensure_factored(Eigen::Index batch) {
    for (auto& k : factored)
      if (!k || k_batch != batch) k.emplace(d, m, batch, options.rel_tol);
    k_batch = batch;
  }
  void ensure_newton_schulz_factored(Eigen::Index batch) {
    for (auto& k : newton_schulz_factored)
      if (!k || k->batch() != batch) k.emplace(d, m, batch, options.newton_schulz);
  }
  void ensure_g() {
    for (auto& x : g)
      if (x.rows() != d || x.cols() != m) x.resize(d, m);
    for (auto& p : product)
      if (!p) p.emplace(d, m);
  }
  Eigen::Index k_batch = 0;
};

MsignBatch::MsignBatch(Eigen::Index d, Eigen::Index m, MsignBatchOptions options) {
  if (d < 1 || m < 1)
    throw Error("MsignBatch: d = " + std::to_string(d) + ", m = " + std::to_string(m) +
                ": both dimensions must be ≥ 1");
  if (options.threads < 0)
    throw Error("MsignBatch: threads = " + std::to_string(options.threads) +
                ": must be ≥ 1, or 0 for all available threads");
  impl_ = std::make_unique<Impl>();
  impl_->d = d;
  impl_->m = m;
  impl_->options = options;
  impl_->threads = options.threads > 0 ? options.threads : omp_get_max_threads();
  const auto t = static_cast<std::size_t>(impl_->threads);
  impl_->svd.resize(t);
  impl_->newton_schulz.resize(t);
  impl_->low_rank.resize(t);
  impl_->factored.resize(t);
  impl_->newton_schulz_factored.resize(t);
  impl_->g.resize(t);
  impl_->product.resize(t);
}
MsignBatch::~MsignBatch() = default;
MsignBatch::MsignBatch(MsignBatch&&) noexcept = default;
MsignBatch& MsignBatch::operator=(MsignBatch&&) noexcept = default;

int MsignBatch::threads() const {
  return impl_->threads;
}

void MsignBatch::compute(MsignMethod method, std::span<const Eigen::MatrixXd> G,
                         std::span<Eigen::MatrixXd> Q, std::span<MsignResult> results) {
  Impl& w = *impl_;
  const std::size_t n = G.size();
  if (Q.size() != n) throw Error(size_message("Q", Q.size(), n));
  if (results.size() != n) throw Error(size_message("results", results.size(), n));
  if (method == MsignMethod::low_rank)
    throw Error(
        "MsignBatch: method low_rank needs the factors X, R of G = (1/B) XᵀR; call the "
        "factored overload, or use svd for a dense G");
  // Shapes are checked here so that no kernel throws inside the parallel region.
  for (std::size_t i = 0; i < n; ++i) {
    detail::check_shape("G[i]", G[i].rows(), G[i].cols(), w.d, w.m);
    detail::check_shape("Q[i]", Q[i].rows(), Q[i].cols(), w.d, w.m);
  }
  const bool ns = method == MsignMethod::newton_schulz;
  if (ns)
    w.ensure_newton_schulz();
  else
    w.ensure_svd();

  SingleThreadedBlas single;
  const auto count = static_cast<std::ptrdiff_t>(n);
#pragma omp parallel for num_threads(w.threads) schedule(dynamic, 1)
  for (std::ptrdiff_t i = 0; i < count; ++i) {
    const auto t = static_cast<std::size_t>(omp_get_thread_num());
    results[i] = ns ? w.newton_schulz[t]->compute(G[i], Q[i]) : w.svd[t]->compute(G[i], Q[i]);
  }
}

void MsignBatch::compute(MsignMethod method, std::span<const Eigen::MatrixXd> X,
                         std::span<const Eigen::MatrixXd> R, std::span<Eigen::MatrixXd> Q,
                         std::span<MsignResult> results) {
  Impl& w = *impl_;
  const std::size_t n = X.size();
  if (R.size() != n) throw Error(size_message("R", R.size(), n));
  if (Q.size() != n) throw Error(size_message("Q", Q.size(), n));
  if (results.size() != n) throw Error(size_message("results", results.size(), n));
  if (n == 0) return;
  const Eigen::Index batch = X[0].rows();
  if (batch < 1) throw Error("MsignBatch: X[0] has no rows; the batch size B must be ≥ 1");
  for (std::size_t i = 0; i < n; ++i) {
    detail::check_shape("X[i]", X[i].rows(), X[i].cols(), batch, w.d);
    detail::check_shape("R[i]", R[i].rows(), R[i].cols(), batch, w.m);
    detail::check_shape("Q[i]", Q[i].rows(), Q[i].cols(), w.d, w.m);
  }
  switch (method) {
    case MsignMethod::automatic:
      w.ensure_factored(batch);
      break;
    case MsignMethod::low_rank:
      w.ensure_low_rank(batch);
      break;
    case MsignMethod::svd:
      w.ensure_svd();
      w.ensure_g();
      break;
    case MsignMethod::newton_schulz:
      w.ensure_newton_schulz_factored(batch);
      break;
  }

  SingleThreadedBlas single;
  const auto count = static_cast<std::ptrdiff_t>(n);
#pragma omp parallel for num_threads(w.threads) schedule(dynamic, 1)
  for (std::ptrdiff_t i = 0; i < count; ++i) {
    const auto t = static_cast<std::size_t>(omp_get_thread_num());
    switch (method) {
      case MsignMethod::automatic:
        results[i] = w.factored[t]->compute(X[i], R[i], Q[i]);
        break;
      case MsignMethod::low_rank:
        results[i] = w.low_rank[t]->compute(X[i], R[i], Q[i]);
        break;
      case MsignMethod::newton_schulz:
        results[i] = w.newton_schulz_factored[t]->compute(X[i], R[i], Q[i]);
        break;
      case MsignMethod::svd: {
        if (!X[i].allFinite() || !R[i].allFinite()) {
          results[i] = detail::zero_result(MsignStatus::non_finite_input, Q[i]);
          break;
        }
        const double max_x = X[i].cwiseAbs().maxCoeff(), max_r = R[i].cwiseAbs().maxCoeff();
        if (max_x == 0.0 || max_r == 0.0) {
          results[i] = detail::zero_result(MsignStatus::zero_input, Q[i]);
          break;
        }
        // G ∝ XᵀR up to a power of two (msign is scale invariant).
        Eigen::MatrixXd& g = w.g[t];
        w.product[t]->compute(X[i], R[i], max_x, max_r, g);
        results[i] = w.svd[t]->compute(g, Q[i]);
        break;
      }
    }
  }
}

}  // namespace signdyn
