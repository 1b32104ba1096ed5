// tests/src/config/config_test_util.hpp: helpers shared by the config tests.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "signdyn/config.hpp"
#include "signdyn/error.hpp"

namespace signdyn::test {

/// Compares every field of two experiments except resolved_toml.
inline void expect_same_experiment(const Experiment& a, const Experiment& b) {
  EXPECT_EQ(a.family, b.family);
  EXPECT_EQ(a.bilinear.n_out, b.bilinear.n_out);
  EXPECT_EQ(a.bilinear.n_in, b.bilinear.n_in);
  EXPECT_EQ(a.bilinear.sigma, b.bilinear.sigma);
  EXPECT_EQ(a.bilinear.alpha_out, b.bilinear.alpha_out);
  EXPECT_EQ(a.bilinear.alpha_in, b.bilinear.alpha_in);
  EXPECT_EQ(a.bilinear.beta_out, b.bilinear.beta_out);
  EXPECT_EQ(a.bilinear.beta_in, b.bilinear.beta_in);
  EXPECT_EQ(a.bilinear.covariance_out, b.bilinear.covariance_out);
  EXPECT_EQ(a.bilinear.covariance_in, b.bilinear.covariance_in);
  EXPECT_EQ(a.bilinear.file_out, b.bilinear.file_out);
  EXPECT_EQ(a.bilinear.file_in, b.bilinear.file_in);
  EXPECT_EQ(a.bilinear.basis_out, b.bilinear.basis_out);
  EXPECT_EQ(a.bilinear.basis_in, b.bilinear.basis_in);
  EXPECT_EQ(a.bilinear.basis_seed, b.bilinear.basis_seed);
  const ProblemSpec &p = a.problem, &q = b.problem;
  EXPECT_EQ(p.d, q.d);
  EXPECT_EQ(p.m, q.m);
  EXPECT_EQ(p.sigma, q.sigma);
  EXPECT_EQ(p.basis, q.basis);
  EXPECT_EQ(p.basis_seed, q.basis_seed);
  EXPECT_EQ(p.covariance, q.covariance);
  EXPECT_EQ(p.alpha, q.alpha);
  EXPECT_EQ(p.covariance_file, q.covariance_file);
  EXPECT_EQ(p.normalise_trace, q.normalise_trace);
  EXPECT_EQ(p.target, q.target);
  EXPECT_EQ(p.beta, q.beta);
  EXPECT_EQ(p.normalise_target, q.normalise_target);
  ASSERT_EQ(a.optimizers.size(), b.optimizers.size());
  for (std::size_t i = 0; i < a.optimizers.size(); ++i) {
    const OptimizerSpec &o = a.optimizers[i], &r = b.optimizers[i];
    EXPECT_EQ(o.kind, r.kind) << "optimizer " << i;
    EXPECT_EQ(o.lr, r.lr) << "optimizer " << i;
    EXPECT_EQ(o.batch, r.batch);
    EXPECT_EQ(o.schedule.kind, r.schedule.kind);
    EXPECT_EQ(o.schedule.k0, r.schedule.k0);
    EXPECT_EQ(o.schedule.gamma, r.schedule.gamma);
    EXPECT_EQ(o.momentum, r.momentum);
    EXPECT_EQ(o.nesterov, r.nesterov);
    EXPECT_EQ(o.ns_steps, r.ns_steps);
  }
  EXPECT_EQ(a.run.steps, b.run.steps);
  EXPECT_EQ(a.run.records, b.run.records);
  EXPECT_EQ(a.run.replicas, b.run.replicas);
  EXPECT_EQ(a.run.seed, b.run.seed);
  EXPECT_EQ(a.run.modes, b.run.modes);
  EXPECT_EQ(a.run.mc, b.run.mc);
  EXPECT_EQ(a.run.theory, b.run.theory);
  EXPECT_EQ(a.theory.solver, b.theory.solver);
  EXPECT_EQ(a.theory.rel_tol, b.theory.rel_tol);
  EXPECT_EQ(a.theory.abs_tol, b.theory.abs_tol);
}

/// The ConfigError thrown by parse_config (fails the test when none is thrown).
inline ConfigError config_error(const std::string& text,
                                const std::vector<std::string>& overrides = {}) {
  try {
    parse_config(text, "test.toml", overrides);
  } catch (const ConfigError& e) {
    return e;
  }
  ADD_FAILURE() << "no ConfigError for:\n" << text;
  return ConfigError("", "");
}

/// Number of lines in s (a trailing newline does not start a line).
inline int count_lines(const std::string& s) {
  int lines = s.empty() ? 0 : 1;
  for (std::size_t i = 0; i + 1 < s.size(); ++i) lines += s[i] == '\n';
  return lines;
}

}  // namespace signdyn::test
