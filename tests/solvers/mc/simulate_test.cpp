// Tests of the replica engine's contract: determinism, metadata, divergence, progress, errors.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "models/malloc_counter.hpp"
#include "replica_engine.hpp"
#include "signdyn/error.hpp"
#include "signdyn/problem.hpp"
#include "signdyn/simulate.hpp"
#include "update_rules.hpp"

namespace signdyn {
namespace {

Problem small_problem(BasisKind basis, Eigen::Index d = 24, Eigen::Index m = 12) {
  ProblemSpec s;
  s.d = d;
  s.m = m;
  s.alpha = 0.7;
  s.beta = 0.4;
  s.basis = basis;
  s.normalise_trace = true;
  return make_problem(s);
}

OptimizerSpec optimizer(OptimizerKind kind, double lr, std::int64_t batch = 4) {
  OptimizerSpec o;
  o.kind = kind;
  o.lr = lr;
  o.batch = batch;
  return o;
}

SimulateOptions options(std::int64_t steps, std::int64_t replicas, int threads) {
  SimulateOptions o;
  o.record_steps = record_steps(steps, 15);
  o.modes = record_modes(24, 5);
  o.replicas = replicas;
  o.seed = 5;
  o.threads = threads;
  return o;
}

// Bit-for-bit equality of everything a trajectory reports except the wall time.
void expect_identical(const Trajectory& a, const Trajectory& b) {
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.t, b.t);
  EXPECT_EQ(a.risk, b.risk);
  EXPECT_EQ(a.risk_se, b.risk_se);
  EXPECT_EQ(a.modes, b.modes);
  EXPECT_EQ(a.rho, b.rho);
  EXPECT_EQ(a.rho_se, b.rho_se);
}

// Replica r draws from the stream (seed, r) and the reduction runs in replica order: 1 and 2
// threads, and a repeated run, give bit-identical trajectories (SGD and SignSGD, both frames).
TEST(Simulate, IdenticalForAnyThreadCountAndRepeat) {
  for (BasisKind basis : {BasisKind::diagonal, BasisKind::generic}) {
    const Problem p = small_problem(basis);
    for (OptimizerKind kind : {OptimizerKind::sgd, OptimizerKind::signsgd}) {
      const OptimizerSpec spec = optimizer(kind, kind == OptimizerKind::sgd ? 1.0 : 0.01);
      const Trajectory one = simulate(p, spec, options(200, 13, 1));
      const Trajectory two = simulate(p, spec, options(200, 13, 2));
      const Trajectory again = simulate(p, spec, options(200, 13, 2));
      expect_identical(one, two);
      expect_identical(two, again);
    }
  }
}

// Reducing the replicas in several chunks (a small record budget) gives exactly the result of a
// single chunk.
TEST(Simulate, ChunkedReductionIsIdentical) {
  const Problem p = small_problem(BasisKind::diagonal);
  const OptimizerSpec spec = optimizer(OptimizerKind::sgd, 1.0);
  const SimulateOptions o = options(100, 11, 2);
  const std::size_t per_replica = o.record_steps.size() * (1 + o.modes.size());
  const Trajectory whole = detail::simulate_in_frame(p, spec, o, detail::Frame::eigenbasis);
  const Trajectory chunked =
      detail::simulate_in_frame(p, spec, o, detail::Frame::eigenbasis, 3 * per_replica);
  expect_identical(whole, chunked);
}

// Every metadata field of the trajectory is filled; SE = sample sd/√R is positive and finite.
TEST(Simulate, FillsEveryTrajectoryField) {
  const Problem p = small_problem(BasisKind::diagonal);
  OptimizerSpec spec = optimizer(OptimizerKind::signsgd, 0.02, 3);
  SimulateOptions o = options(50, 6, 0);
  o.seed = 77;
  const Trajectory t = simulate(p, spec, o);
  EXPECT_EQ(t.method, "mc");
  EXPECT_EQ(t.optimizer, "signsgd");
  EXPECT_EQ(t.solver, "replicas");
  EXPECT_EQ(t.batch, 3);
  EXPECT_EQ(t.lr, 0.02);
  EXPECT_EQ(t.seed, 77u);
  EXPECT_EQ(t.replicas, 6);
  EXPECT_GT(t.wall_seconds, 0.0);
  EXPECT_EQ(t.status, RunStatus::completed);
  EXPECT_TRUE(t.message.empty());
  ASSERT_EQ(t.t.size(), static_cast<Eigen::Index>(o.record_steps.size()));
  EXPECT_EQ(t.t(0), 0.0);
  EXPECT_EQ(t.t(t.t.size() - 1), 50.0);
  EXPECT_EQ(t.modes, o.modes);
  EXPECT_EQ(t.rho.rows(), t.t.size());
  EXPECT_EQ(t.rho.cols(), o.modes.size());
  EXPECT_EQ(t.rho_se.rows(), t.t.size());
  EXPECT_TRUE((t.risk_se.array() > 0).all() && t.risk_se.allFinite());
  EXPECT_TRUE((t.rho_se.array() > 0).all() && t.rho_se.allFinite());
  // Risk at t = 0 is ½ Σ_j λ_j ρ_j(0) + σ²/2 of the same replicas (exact identity, all modes).
  SimulateOptions all = o;
  all.modes = record_modes(p.d, 0);
  const Trajectory a = simulate(p, spec, all);
  EXPECT_NEAR(a.risk(0), risk_from_rho(p, a.rho.row(0).transpose()), 1e-14);
}

// A huge lr makes SGD diverge: status diverged, a message naming the replica and step, the
// records before the divergence kept (finite), and no crash.
TEST(Simulate, HugeLearningRateReportsDivergenceAndKeepsRecords) {
  const Problem p = small_problem(BasisKind::diagonal);
  SimulateOptions o = options(5000, 4, 2);
  const Trajectory t = simulate(p, optimizer(OptimizerKind::sgd, 50.0), o);
  EXPECT_EQ(t.status, RunStatus::diverged);
  EXPECT_NE(t.message.find("replica "), std::string::npos) << t.message;
  EXPECT_NE(t.message.find("at step "), std::string::npos) << t.message;
  ASSERT_GE(t.t.size(), 1);
  EXPECT_LT(t.t.size(), static_cast<Eigen::Index>(o.record_steps.size()));
  EXPECT_TRUE(t.risk.allFinite() && t.risk_se.allFinite() && t.rho.allFinite());
  EXPECT_EQ(t.rho.rows(), t.t.size());
}

// Progress is reported from the calling thread only, non-decreasing in [0, 1], ending at 1.
TEST(Simulate, ProgressComesFromCallingThreadAndEndsAtOne) {
  const Problem p = small_problem(BasisKind::diagonal);
  SimulateOptions o = options(3000, 8, 2);
  const std::thread::id caller = std::this_thread::get_id();
  std::vector<double> seen;
  bool other_thread = false;
  o.progress = [&](double f) {
    other_thread |= std::this_thread::get_id() != caller;
    seen.push_back(f);
  };
  simulate(p, optimizer(OptimizerKind::sgd, 0.5), o);
  EXPECT_FALSE(other_thread);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back(), 1.0);
  for (std::size_t i = 0; i < seen.size(); ++i) {
    EXPECT_GE(seen[i], 0.0);
    EXPECT_LE(seen[i], 1.0);
    if (i > 0) {
      EXPECT_GE(seen[i], seen[i - 1]);
    }
  }
}

// An exception thrown by the progress callback propagates out of simulate() (no terminate).
TEST(Simulate, ExceptionFromProgressPropagates) {
  const Problem p = small_problem(BasisKind::diagonal);
  SimulateOptions o = options(20000, 4, 2);
  o.progress = [](double f) {
    if (f < 1.0) throw Error("cancelled");
  };
  EXPECT_THROW(simulate(p, optimizer(OptimizerKind::sgd, 0.5), o), Error);
}

// Invalid options are ConfigErrors naming the field.
TEST(Simulate, RejectsInvalidOptionsNamingTheField) {
  const Problem p = small_problem(BasisKind::diagonal);
  auto field_of = [&](OptimizerSpec spec, SimulateOptions o) -> std::string {
    try {
      simulate(p, spec, o);
    } catch (const ConfigError& e) {
      return e.field();
    }
    return "(accepted)";
  };
  const OptimizerSpec sgd = optimizer(OptimizerKind::sgd, 0.5);
  SimulateOptions o = options(10, 2, 1);
  o.replicas = 0;
  EXPECT_EQ(field_of(sgd, o), "run.replicas");
  o = options(10, 2, 1);
  o.modes = Eigen::VectorXi::Constant(1, 25);
  EXPECT_EQ(field_of(sgd, o), "run.modes");
  o = options(10, 2, 1);
  o.record_steps = {0, 5, 5};
  EXPECT_EQ(field_of(sgd, o), "run.records");
  o = options(10, 2, 1);
  OptimizerSpec bad = sgd;
  bad.batch = 0;
  EXPECT_EQ(field_of(bad, o), "optimizer.batch");
  bad = sgd;
  bad.lr = std::nan("");
  EXPECT_EQ(field_of(bad, o), "optimizer.lr");
}

// A generic basis beyond kMaxRealisedBasis has no rotation: the equivariant optimizers run in
// the eigenbasis without it (the same curve as the diagonal basis's, bit for bit), and SignSGD,
// whose Monte Carlo needs the true basis, is refused naming problem.d before any work.
TEST(Simulate, LargeGenericBasisRunsEquivariantOptimizersAndRefusesSignSgd) {
  const Eigen::Index d = kMaxRealisedBasis + 1;
  const Problem generic = small_problem(BasisKind::generic, d, 1);
  const Problem diagonal = small_problem(BasisKind::diagonal, d, 1);
  ASSERT_FALSE(generic.has_rotation());
  SimulateOptions o;
  o.record_steps = {0, 1, 3};
  o.modes = record_modes(d, 3);
  o.replicas = 2;
  o.threads = 1;
  const OptimizerSpec sgd = optimizer(OptimizerKind::sgd, 0.5, 2);
  expect_identical(simulate(generic, sgd, o), simulate(diagonal, sgd, o));
  try {
    simulate(generic, optimizer(OptimizerKind::signsgd, 1e-3, 2), o);
    ADD_FAILURE() << "SignSGD ran without the rotation";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), "problem.d");
    EXPECT_NE(std::string(e.what()).find("signdyn ode"), std::string::npos) << e.what();
  }
}

// The per-step update of SGD and SignSGD touches no heap memory (buffers sized once).
TEST(Simulate, UpdateRulesDoNotAllocate) {
  const Problem p = small_problem(BasisKind::diagonal, 64, 48);
  const OptimizerSpec spec = optimizer(OptimizerKind::sgd, 0.1, 8);
  Rng rng(1, 0);
  Eigen::MatrixXd X(8, 64), E(8, 48), resid(8, 48), delta(64, 48);
  sample_initial_residual(p, rng, delta);
  sample_batch_eigenbasis(p, rng, X, E);
  resid.noalias() = X * delta;
  detail::SgdRule sgd(p, spec);
  detail::SignSgdRule signsgd(p, spec);
  const long before = test::malloc_calls();
  sgd.step(0.1, X, resid, delta);
  signsgd.step(0.01, X, resid, delta);
  resid.noalias() = X * delta;
  EXPECT_EQ(test::malloc_calls() - before, 0);
}

}  // namespace
}  // namespace signdyn
