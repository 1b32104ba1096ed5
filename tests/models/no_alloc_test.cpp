// The minibatch sampler writes into caller-owned buffers without touching the heap.
#include <gtest/gtest.h>

#include "models/malloc_counter.hpp"
#include "signdyn/problem.hpp"

namespace signdyn {
namespace {

// sample_batch_eigenbasis performs no heap allocation (counted by interposing malloc).
TEST(Sampling, BatchSamplerDoesNotAllocate) {
  ProblemSpec s;
  s.d = 64;
  s.m = 32;
  const Problem p = make_problem(s);
  Rng rng(1, 0);
  Eigen::MatrixXd X(8, p.d), E(8, p.m);
  sample_batch_eigenbasis(p, rng, X, E);  // warm-up
  const long before = test::malloc_calls();
  for (int i = 0; i < 10; ++i) sample_batch_eigenbasis(p, rng, X, E);
  EXPECT_EQ(test::malloc_calls() - before, 0);
}

// The counter itself works: an Eigen allocation is counted.
TEST(Sampling, MallocCounterCountsAllocations) {
  const long before = test::malloc_calls();
  Eigen::MatrixXd A(100, 100);
  A.setZero();
  EXPECT_GT(test::malloc_calls() - before, 0);
}

}  // namespace
}  // namespace signdyn
