// bench/msign_bench.cpp: msign kernels, Muon's Newton–Schulz (dense and on the B×B core), and the
// full SignSVD step (sampling, GEMMs, polar, update).
//
// Every benchmark sizes its buffers before the timed loop; the loop itself does not allocate.
// Errors are reported next to times (counter err_vs_svd: max |Q − Q_svd| against MsignSvd).
// Run single-threaded for the numpy comparison: OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1.
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <omp.h>

#include <Eigen/Core>
#include <chrono>
#include <string>
#include <vector>

#include "signdyn/msign.hpp"
#include "signdyn/problem.hpp"
#include "signdyn/rng.hpp"

namespace {

using signdyn::MsignFactored;
using signdyn::MsignLowRank;
using signdyn::MsignNewtonSchulz;
using signdyn::MsignResult;
using signdyn::MsignSvd;
using Clock = std::chrono::steady_clock;

constexpr double kLr = 1e-3;  // η of the benchmark step (small: Δ stays O(1) over many steps)

// C = alpha·op(A)·op(B) + beta·C, column-major, through OpenBLAS.
void dgemm(bool ta, bool tb, Eigen::Index rows, Eigen::Index cols, Eigen::Index inner, double alpha,
           const Eigen::MatrixXd& a, const Eigen::MatrixXd& b, double beta, Eigen::MatrixXd& c) {
  cblas_dgemm(CblasColMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<int>(rows), static_cast<int>(cols), static_cast<int>(inner), alpha,
              a.data(), static_cast<int>(a.rows()), b.data(), static_cast<int>(b.rows()), beta,
              c.data(), static_cast<int>(c.rows()));
}

signdyn::Problem make_bench_problem(Eigen::Index d, Eigen::Index m) {
  signdyn::ProblemSpec spec;
  spec.d = d;
  spec.m = m;
  spec.alpha = 0.5;  // λ_j = j^(−1)
  spec.beta = 0.5;   // b_j = j^(−1/2)
  spec.sigma = 0.5;
  return signdyn::make_problem(spec);
}

// One replica of the SignSVD step in K's eigenbasis, with buffers sized once:
// X ~ N(0, K) (B×d), E = σN (B×m); R = XΔ − E; G = (1/B) XᵀR; Δ ← Δ − η msign(G).
// low_rank_pays_off(d, m, B): msign by the low-rank route from (X, R), G never formed.
// Otherwise: G by one dgemm, msign by MsignSvd (gesdd).
struct SignSvdStep {
  SignSvdStep(const signdyn::Problem& p, Eigen::Index batch, std::uint64_t stream)
      : problem(p),
        rng(1, stream),
        x(batch, p.d),
        e(batch, p.m),
        r(batch, p.m),
        delta(p.d, p.m),
        q(p.d, p.m),
        low_rank_route(signdyn::low_rank_pays_off(p.d, p.m, batch)) {
    signdyn::sample_initial_residual(p, rng, delta);
    if (low_rank_route) {
      low_rank.emplace_back(p.d, p.m, batch);
    } else {
      svd.emplace_back(p.d, p.m);
      g.resize(p.d, p.m);
    }
  }

  // Runs one step; adds the seconds spent in each phase to t[0..3].
  MsignResult run(double* t) {
    const auto t0 = Clock::now();
    signdyn::sample_batch_eigenbasis(problem, rng, x, e);
    const auto t1 = Clock::now();
    r = e;
    dgemm(false, false, x.rows(), problem.m, problem.d, 1.0, x, delta, -1.0, r);  // XΔ − E
    if (!low_rank_route)
      dgemm(true, false, problem.d, problem.m, x.rows(), 1.0 / x.rows(), x, r, 0.0, g);
    const auto t2 = Clock::now();
    const MsignResult res = low_rank_route ? low_rank[0].compute(x, r, q) : svd[0].compute(g, q);
    const auto t3 = Clock::now();
    delta -= kLr * q;
    const auto t4 = Clock::now();
    t[0] += std::chrono::duration<double>(t1 - t0).count();
    t[1] += std::chrono::duration<double>(t2 - t1).count();
    t[2] += std::chrono::duration<double>(t3 - t2).count();
    t[3] += std::chrono::duration<double>(t4 - t3).count();
    return res;
  }

  const signdyn::Problem& problem;
  signdyn::Rng rng;
  Eigen::MatrixXd x, e, r, delta, q, g;
  bool low_rank_route;
  std::vector<MsignLowRank> low_rank;
  std::vector<MsignSvd> svd;
};

void set_phase_counters(benchmark::State& state, const double* t, double rank) {
  const double n = static_cast<double>(state.iterations());
  state.counters["sample_ms"] = 1e3 * t[0] / n;
  state.counters["gemm_ms"] = 1e3 * t[1] / n;
  state.counters["polar_ms"] = 1e3 * t[2] / n;
  state.counters["update_ms"] = 1e3 * t[3] / n;
  state.counters["rank"] = rank;
}

// Full SignSVD step, one replica, args (d = m, B). The per-phase split is in the counters.
void BM_SignSvdStep(benchmark::State& state) {
  const Eigen::Index d = state.range(0), batch = state.range(1);
  const signdyn::Problem p = make_bench_problem(d, d);
  SignSvdStep step(p, batch, 0);
  double t[4] = {0, 0, 0, 0};
  MsignResult res;
  step.run(t);  // warm-up (first-touch of buffers, LAPACK workspaces)
  t[0] = t[1] = t[2] = t[3] = 0;
  for (auto _ : state) {
    res = step.run(t);
    benchmark::DoNotOptimize(step.delta.data());
  }
  set_phase_counters(state, t, static_cast<double>(res.rank));
  state.SetLabel(step.low_rank_route ? "low-rank route" : "gesdd route");
}
BENCHMARK(BM_SignSvdStep)
    ->Args({512, 32})
    ->Args({512, 1024})
    ->Args({2048, 64})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Replica throughput: `replicas` independent steps per iteration, OpenMP over replicas with
// single-threaded BLAS (args d = m, B, threads). Time per replica-step = real time / replicas.
void BM_SignSvdStepReplicas(benchmark::State& state) {
  const Eigen::Index d = state.range(0), batch = state.range(1);
  const int threads = static_cast<int>(state.range(2));
  const int replicas = 2;
  const signdyn::Problem p = make_bench_problem(d, d);
  std::vector<SignSvdStep> steps;
  steps.reserve(replicas);
  for (int i = 0; i < replicas; ++i) steps.emplace_back(p, batch, static_cast<std::uint64_t>(i));
  const int previous = signdyn::set_blas_threads(1);
  std::vector<double> t(4 * replicas, 0.0);
  for (auto _ : state) {
#pragma omp parallel for num_threads(threads) schedule(static, 1)
    for (int i = 0; i < replicas; ++i) steps[i].run(&t[4 * i]);
  }
  signdyn::set_blas_threads(previous);
  // Seconds per replica-step (printed with an SI prefix, e.g. 1.1ms).
  state.counters["per_replica_step"] = benchmark::Counter(
      replicas, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_SignSvdStepReplicas)
    ->Args({512, 32, 1})
    ->Args({512, 32, 2})
    ->Args({512, 1024, 1})
    ->Args({512, 1024, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Kernels on a rank-B gradient G = (1/B) XᵀR (Gaussian X, R), args (d = m, B).
struct KernelInput {
  KernelInput(Eigen::Index d, Eigen::Index batch) : x(batch, d), r(batch, d), g(d, d), q_svd(d, d) {
    signdyn::Rng rng(2, 0);
    rng.fill_normal(x);
    rng.fill_normal(r);
    g = x.transpose() * r / static_cast<double>(batch);
    MsignSvd svd(d, d);
    svd.compute(g, q_svd);
  }
  Eigen::MatrixXd x, r, g, q_svd;
};

void BM_MsignSvd(benchmark::State& state) {
  const Eigen::Index d = state.range(0);
  KernelInput in(d, state.range(1));
  MsignSvd kernel(d, d);
  Eigen::MatrixXd q(d, d);
  for (auto _ : state) benchmark::DoNotOptimize(kernel.compute(in.g, q));
  state.counters["rank"] = static_cast<double>(kernel.compute(in.g, q).rank);
}
BENCHMARK(BM_MsignSvd)
    ->Args({512, 32})
    ->Args({512, 256})
    ->Args({512, 448})
    ->Args({512, 1024})
    ->Unit(benchmark::kMillisecond);

void BM_MsignLowRank(benchmark::State& state) {
  const Eigen::Index d = state.range(0), batch = state.range(1);
  KernelInput in(d, batch);
  MsignLowRank kernel(d, d, batch);
  Eigen::MatrixXd q(d, d);
  for (auto _ : state) benchmark::DoNotOptimize(kernel.compute(in.x, in.r, q));
  state.counters["err_vs_svd"] = (q - in.q_svd).cwiseAbs().maxCoeff();
}
BENCHMARK(BM_MsignLowRank)
    ->Args({512, 32})
    ->Args({512, 128})
    ->Args({512, 256})
    ->Args({512, 448})
    ->Args({2048, 64})
    ->Unit(benchmark::kMillisecond);

// Muon's NS5 on the same G: err_vs_svd shows it is not the polar factor (≈ 0.2 relative).
void BM_MsignNewtonSchulz(benchmark::State& state) {
  const Eigen::Index d = state.range(0);
  KernelInput in(d, state.range(1));
  MsignNewtonSchulz kernel(d, d);
  Eigen::MatrixXd q(d, d);
  for (auto _ : state) benchmark::DoNotOptimize(kernel.compute(in.g, q));
  state.counters["rel_err_vs_svd"] = (q - in.q_svd).norm() / in.q_svd.norm();
}
BENCHMARK(BM_MsignNewtonSchulz)
    ->Args({256, 8})
    ->Args({512, 32})
    ->Args({512, 1024})
    ->Unit(benchmark::kMillisecond);

// The same NS5 from the factors (X, R): on the B×B core when low_rank_pays_off(d, m, B), else
// G formed and the dense iteration (B = 1024). rel_err_vs_dense: relative Frobenius distance to
// MsignNewtonSchulz on G (round-off only: the identity NS_k(G) = Q_x NS_k(C) Q_rᵀ is exact).
void BM_MsignNewtonSchulzFactored(benchmark::State& state) {
  const Eigen::Index d = state.range(0), batch = state.range(1);
  KernelInput in(d, batch);
  MsignNewtonSchulz dense(d, d);
  Eigen::MatrixXd q_dense(d, d), q(d, d);
  dense.compute(in.g, q_dense);
  signdyn::MsignNewtonSchulzFactored kernel(d, d, batch);
  for (auto _ : state) benchmark::DoNotOptimize(kernel.compute(in.x, in.r, q));
  state.counters["rel_err_vs_dense"] = (q - q_dense).norm() / q_dense.norm();
  state.SetLabel(kernel.uses_low_rank() ? "core route" : "dense route");
}
BENCHMARK(BM_MsignNewtonSchulzFactored)
    ->Args({256, 8})
    ->Args({512, 32})
    ->Args({512, 1024})
    ->Unit(benchmark::kMillisecond);

// Sampling: N(0, 1) into a d×B matrix (arg 1 = 1: Rng::fill_normal, the block path; 0: a loop
// of Rng::normal(), the same values one at a time). Counter per_normal (from CPU time).
void BM_FillNormal(benchmark::State& state) {
  const Eigen::Index rows = state.range(0), cols = state.range(1);
  const bool block = state.range(2) == 1;
  signdyn::Rng rng(4, 0);
  Eigen::MatrixXd a(rows, cols);
  for (auto _ : state) {
    if (block) {
      rng.fill_normal(a);
    } else {
      for (Eigen::Index i = 0; i < a.size(); ++i) a.data()[i] = rng.normal();
    }
    benchmark::DoNotOptimize(a.data());
  }
  // Seconds per normal, printed with an SI prefix (e.g. 9.5n = 9.5 ns).
  state.counters["per_normal"] = benchmark::Counter(
      static_cast<double>(a.size()),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.SetLabel(block ? "fill_normal" : "normal() loop");
}
BENCHMARK(BM_FillNormal)->Args({512, 64, 1})->Args({512, 64, 0})->Unit(benchmark::kMicrosecond);

// GEMM backend choice for the shapes of the step: C (d×m) = op(A) op(B) with inner size k.
// Arg 3 = 0: Eigen (this build's flags, one thread), 1: OpenBLAS cblas_dgemm.
void BM_Gemm(benchmark::State& state) {
  const Eigen::Index d = state.range(0), m = state.range(1), k = state.range(2);
  const bool blas = state.range(3) == 1;
  Eigen::setNbThreads(1);  // Eigen's GEMM is OpenMP-parallel in this (OpenMP) build
  signdyn::Rng rng(3, 0);
  Eigen::MatrixXd a(k, d), b(k, m), c(d, m);
  rng.fill_normal(a);
  rng.fill_normal(b);
  for (auto _ : state) {
    if (blas)
      dgemm(true, false, d, m, k, 1.0, a, b, 0.0, c);
    else
      c.noalias() = a.transpose() * b;
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOPs"] = benchmark::Counter(2e-9 * static_cast<double>(d * m * k),
                                                benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(blas ? "openblas" : "eigen");
}
BENCHMARK(BM_Gemm)
    ->ArgsProduct({{512}, {512}, {32, 1024}, {0, 1}})
    ->Args({2048, 2048, 64, 0})
    ->Args({2048, 2048, 64, 1})
    ->Unit(benchmark::kMillisecond);

}  // namespace

// BENCHMARK_MAIN plus the OpenBLAS build and the CPU kernel it selected, in the report context.
int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("openblas_config", openblas_get_config());
  benchmark::AddCustomContext("openblas_core", openblas_get_corename());
  benchmark::AddCustomContext("openblas_threads", std::to_string(openblas_get_num_threads()));
  benchmark::AddCustomContext("omp_max_threads", std::to_string(omp_get_max_threads()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
