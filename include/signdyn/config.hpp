// signdyn/config.hpp: the experiment configuration (TOML + --set overrides), validated.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "signdyn/bilinear.hpp"
#include "signdyn/dynamics.hpp"
#include "signdyn/optimizer.hpp"
#include "signdyn/problem.hpp"

namespace signdyn {

/// `[run]`: horizon, records and Monte Carlo settings.
struct RunSpec {
  std::int64_t steps = 2000;   // horizon in optimizer steps
  std::int64_t records = 40;   // number of log-spaced record times
  std::int64_t replicas = 32;  // Monte Carlo replicas
  std::uint64_t seed = 1;      // Monte Carlo seed (replica r uses stream (seed, r))
  std::int64_t modes = 16;     // number of log-spaced modes whose ρ_j is recorded (0 = all)
  bool mc = true;              // run the Monte Carlo simulation
  bool theory = true;          // run the deterministic dynamics
};

/// `[theory]`: how the deterministic dynamics are solved.
struct TheorySpec {
  TheorySolver solver = TheorySolver::exact_map;
  double rel_tol = 1e-8;
  double abs_tol = 1e-12;
};

/// `problem.family`: which problem the experiment runs (theory.md §1).
enum class ProblemFamily {
  regression,  // matrix least squares: `problem` (d, m, basis, covariance, target)
  bilinear,    // bilinear matrix regression: `bilinear` ([problem.bilinear], sigma shared)
};

/// Canonical name of a family ("regression", "bilinear"), as in problem.family.
std::string_view to_string(ProblemFamily family);

/// A complete, validated experiment. `optimizers` has one entry per name in optimizer.name.
/// `problem` is used when family = regression, `bilinear` (sigma = problem.sigma) when bilinear.
struct Experiment {
  ProblemFamily family = ProblemFamily::regression;
  ProblemSpec problem;
  BilinearSpec bilinear;
  std::vector<OptimizerSpec> optimizers;
  RunSpec run;
  TheorySpec theory;
  std::string resolved_toml;  // the configuration with defaults and overrides applied
};

/// The built-in default configuration (configs/default.toml, embedded at build time).
std::string_view default_config_text();

/// Parses and validates TOML text, then applies `overrides` ("dotted.key=value", in order).
/// `source` names the text in messages (a path, or "<default>"). Throws ConfigError listing
/// every problem found, each with its dotted field, the value and the accepted range;
/// unknown keys are errors with a did-you-mean suggestion.
Experiment parse_config(std::string_view toml_text, const std::string& source,
                        const std::vector<std::string>& overrides = {});

/// Reads the file at `path` (or the built-in default when `path` is empty) and parses it.
Experiment load_config(const std::string& path, const std::vector<std::string>& overrides = {});

/// Human-readable table of every config key: type, default, accepted range, description.
std::string describe_config_keys();

}  // namespace signdyn
