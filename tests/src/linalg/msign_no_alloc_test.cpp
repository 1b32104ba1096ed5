// The msign kernels do not allocate in compute(): workspaces are sized in the constructor.
#include <gtest/gtest.h>

#include <Eigen/Core>
#include <functional>
#include <string>
#include <vector>

#include "blas_aware_malloc_counter.hpp"
#include "msign_test_util.hpp"
#include "signdyn/msign.hpp"

namespace signdyn {
namespace {

// After one warm-up call, a second compute() of each kernel makes no heap allocation from
// signdyn's (or Eigen's) code on the calling thread. Allocations made inside OpenBLAS (its
// small-matrix DGEMM kernels malloc packing buffers at some shapes, also under LAPACK's gesdd)
// are counted apart and not asserted: they are not ours to remove.
TEST(MsignNoAlloc, ComputeMakesNoAllocationOfItsOwn) {
  const int previous = set_blas_threads(1);
  test::malloc_counts();  // find the library ranges before counting
  for (auto [d, m] : {std::pair{48, 40}, std::pair{40, 64}, std::pair{100, 100}}) {
    const Eigen::Index B = 6, B_full = std::min(d, m) + 5;
    const Eigen::MatrixXd G = test::gaussian(d, m, 401);
    const Eigen::MatrixXd X = test::gaussian(B, d, 402), R = test::gaussian(B, m, 403);
    const Eigen::MatrixXd Xf = test::gaussian(B_full, d, 404), Rf = test::gaussian(B_full, m, 405);
    Eigen::MatrixXd Q(d, m);
    MsignSvd svd(d, m);
    MsignLowRank low_rank(d, m, B);
    MsignFactored factored_low(d, m, B), factored_full(d, m, B_full);
    MsignNewtonSchulz ns(d, m);
    MsignNewtonSchulzFactored ns_core(d, m, B), ns_dense(d, m, B_full);
    const std::vector<std::pair<std::string, std::function<void()>>> kernels = {
        {"MsignSvd", [&] { svd.compute(G, Q); }},
        {"MsignLowRank", [&] { low_rank.compute(X, R, Q); }},
        {"MsignFactored (low-rank)", [&] { factored_low.compute(X, R, Q); }},
        {"MsignFactored (svd)", [&] { factored_full.compute(Xf, Rf, Q); }},
        {"MsignNewtonSchulz", [&] { ns.compute(G, Q); }},
        {"MsignNewtonSchulzFactored (core)", [&] { ns_core.compute(X, R, Q); }},
        {"MsignNewtonSchulzFactored (dense)", [&] { ns_dense.compute(Xf, Rf, Q); }},
    };
    for (const auto& [name, run] : kernels) {
      run();
      const test::MallocCounts before = test::malloc_counts();
      run();
      const test::MallocCounts after = test::malloc_counts();
      EXPECT_EQ(after.own - before.own, 0) << name << " at " << d << "×" << m << " (external "
                                           << after.external - before.external << ")";
    }
  }
  set_blas_threads(previous);
}

}  // namespace
}  // namespace signdyn
