// The config schema (see schema.hpp) and the --help table generated from it.
#include "schema.hpp"

#include <algorithm>
#include <cmath>

#include "signdyn/config.hpp"
#include "text.hpp"

namespace signdyn::detail {

namespace {

// Designated initializers leave members with default initializers out on purpose; GCC 12
// warns about that under -Wextra (GCC bug 96868).
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

constexpr double kInf = std::numeric_limits<double>::infinity();

// Range shorthands: [lo, inf), (lo, inf), [lo, hi], ...
Range at_least(double lo) {
  return Range{.lo = lo};
}
Range above(double lo) {
  return Range{.lo = lo, .lo_strict = true};
}
Range between(double lo, double hi) {
  return Range{.lo = lo, .hi = hi};
}

std::vector<KeySpec> make_schema() {
  using enum KeyType;
  const std::vector<std::string_view> optimizers = {"sgd", "signsgd", "signsvd", "muon"};
  return {
      // [problem]
      {.key = "problem.family",
       .type = choice,
       .default_toml = R"("regression")",
       .choices = {"regression", "bilinear"},
       .description =
           "problem family: matrix least squares (problem.d, m, basis, covariance, "
           "target), or bilinear regression y = x_out^T W* x_in + eps (problem.bilinear)"},
      {.key = "problem.d",
       .type = integer,
       .default_toml = "256",
       .range = between(1, 1e7),
       .description = "input dimension d (rows of W)"},
      {.key = "problem.m",
       .type = integer,
       .default_toml = "256",
       .range = between(1, 1e7),
       .description = "output dimension m (columns of W)"},
      {.key = "problem.sigma",
       .type = real,
       .default_toml = "0.5",
       .range = at_least(0),
       .description = "label-noise standard deviation sigma"},
      // [problem.basis]
      {.key = "problem.basis.kind",
       .type = choice,
       .default_toml = R"("diagonal")",
       .choices = {"diagonal", "generic"},
       .description = "eigenbasis O of K: identity, or Haar-random from problem.basis.seed"},
      {.key = "problem.basis.seed",
       .type = integer,
       .default_toml = "1",
       .range = at_least(0),
       .description = "seed of the Haar rotation O (generic basis)"},
      // [problem.covariance]
      {.key = "problem.covariance.kind",
       .type = choice,
       .default_toml = R"("power_law")",
       .choices = {"power_law", "isotropic", "from_file"},
       .description = "spectrum of K: lambda_j = j^(-2 alpha), all ones, or read from a file"},
      {.key = "problem.covariance.alpha",
       .type = real,
       .default_toml = "0.5",
       .range = at_least(0),
       .description = "power-law exponent alpha of lambda_j = j^(-2 alpha)"},
      {.key = "problem.covariance.path",
       .type = path,
       .default_toml = R"("")",
       .description = "from_file: text file of d eigenvalues (relative to the config file)"},
      {.key = "problem.covariance.normalise",
       .type = choice,
       .default_toml = R"("none")",
       .choices = {"none", "trace"},
       .description = "rescale lambda: none, or so that tr K = 1"},
      // [problem.target]
      {.key = "problem.target.kind",
       .type = choice,
       .default_toml = R"("power_law")",
       .choices = {"power_law", "isotropic"},
       .description = "target amplitudes: b_j = j^(-beta), or all ones"},
      {.key = "problem.target.beta",
       .type = real,
       .default_toml = "0.5",
       .range = at_least(0),
       .description = "power-law exponent beta of b_j = j^(-beta)"},
      {.key = "problem.target.normalise",
       .type = choice,
       .default_toml = R"("none")",
       .choices = {"none", "unit"},
       .description = "rescale b: none, or so that sum_j lambda_j b_j^2 = 1"},
      // [problem.bilinear] (problem.family = "bilinear"; docs/theory/bilinear.md)
      {.key = "problem.bilinear.n_out",
       .type = integer,
       .default_toml = "64",
       .range = between(1, 1e5),
       .description = "bilinear: dimension n_out of x_out (rows of W)"},
      {.key = "problem.bilinear.n_in",
       .type = integer,
       .default_toml = "64",
       .range = between(1, 1e5),
       .description = "bilinear: dimension n_in of x_in (columns of W)"},
      {.key = "problem.bilinear.alpha_out",
       .type = real,
       .default_toml = "0.5",
       .range = at_least(0),
       .description = "bilinear: K_out eigenvalues mu_k = k^(-2 alpha_out) (0: isotropic)"},
      {.key = "problem.bilinear.alpha_in",
       .type = real,
       .default_toml = "0.5",
       .range = at_least(0),
       .description = "bilinear: K_in eigenvalues lambda_l = l^(-2 alpha_in) (0: isotropic)"},
      {.key = "problem.bilinear.beta_out",
       .type = real,
       .default_toml = "0.5",
       .range = at_least(0),
       .description = "bilinear: target row amplitudes b_k = k^(-beta_out) (0: all ones)"},
      {.key = "problem.bilinear.beta_in",
       .type = real,
       .default_toml = "0.5",
       .range = at_least(0),
       .description = "bilinear: target column amplitudes c_l = l^(-beta_in) (0: all ones)"},
      {.key = "problem.bilinear.covariance_out",
       .type = choice,
       .default_toml = R"("power_law")",
       .choices = {"power_law", "isotropic", "from_file"},
       .description = "bilinear: spectrum of K_out: mu_k = k^(-2 alpha_out), all ones, or read "
                      "from problem.bilinear.path_out"},
      {.key = "problem.bilinear.covariance_in",
       .type = choice,
       .default_toml = R"("power_law")",
       .choices = {"power_law", "isotropic", "from_file"},
       .description = "bilinear: spectrum of K_in: lambda_l = l^(-2 alpha_in), all ones, or read "
                      "from problem.bilinear.path_in"},
      {.key = "problem.bilinear.path_out",
       .type = path,
       .default_toml = R"("")",
       .description = "bilinear, from_file: text file of n_out eigenvalues of K_out (relative "
                      "to the config file)"},
      {.key = "problem.bilinear.path_in",
       .type = path,
       .default_toml = R"("")",
       .description = "bilinear, from_file: text file of n_in eigenvalues of K_in (relative to "
                      "the config file)"},
      {.key = "problem.bilinear.basis_out",
       .type = choice,
       .default_toml = R"("diagonal")",
       .choices = {"diagonal", "generic"},
       .description = "bilinear: eigenbasis O_out of K_out: identity, or Haar-random from "
                      "problem.bilinear.basis_seed"},
      {.key = "problem.bilinear.basis_in",
       .type = choice,
       .default_toml = R"("diagonal")",
       .choices = {"diagonal", "generic"},
       .description = "bilinear: eigenbasis O_in of K_in: identity, or Haar-random from "
                      "problem.bilinear.basis_seed (a stream apart from O_out's)"},
      {.key = "problem.bilinear.basis_seed",
       .type = integer,
       .default_toml = "1",
       .range = at_least(0),
       .description = "bilinear: seed of the Haar rotations O_out, O_in (generic bases)"},
      // [optimizer]
      {.key = "optimizer.name",
       .type = name_list,
       .default_toml = R"(["sgd", "signsgd", "signsvd"])",
       .choices = optimizers,
       .description = "optimizer, or a list of distinct optimizers run one after another"},
      {.key = "optimizer.lr",
       .type = lr,
       .default_toml = "{ sgd = 0.5, signsgd = 0.003, signsvd = 0.05, muon = 0.05 }",
       .range = above(0),
       .description = "learning rate eta (raw units), or a table {sgd = 0.5, signsgd = 1e-3}"},
      {.key = "optimizer.batch",
       .type = integer,
       .default_toml = "8",
       .range = at_least(1),
       .description = "batch size B: fresh samples per step"},
      {.key = "optimizer.momentum",
       .type = real,
       .default_toml = "0.0",
       .range = Range{.lo = 0, .hi = 1, .hi_strict = true},
       .description = "Muon momentum mu: V <- mu V + G"},
      {.key = "optimizer.nesterov",
       .type = boolean,
       .default_toml = "false",
       .description = "Muon: step along G + mu V (needs momentum > 0)"},
      {.key = "optimizer.ns_steps",
       .type = integer,
       .default_toml = "5",
       .range = between(1, 100),
       .description = "Muon: quintic Newton-Schulz steps"},
      // [optimizer.schedule]
      {.key = "optimizer.schedule.kind",
       .type = choice,
       .default_toml = R"("constant")",
       .choices = {"constant", "power"},
       .description = "learning-rate schedule: constant, or eta_k = eta (1 + k/k0)^(-gamma)"},
      {.key = "optimizer.schedule.k0",
       .type = real,
       .default_toml = "1000.0",
       .range = above(0),
       .description = "power schedule: time scale k0 in steps"},
      {.key = "optimizer.schedule.gamma",
       .type = real,
       .default_toml = "0.5",
       .range = at_least(0),
       .description = "power schedule: decay exponent gamma"},
      // [run]
      {.key = "run.steps",
       .type = integer,
       .default_toml = "2000",
       .range = between(1, 1e9),
       .description = "horizon in optimizer steps"},
      {.key = "run.records",
       .type = integer,
       .default_toml = "40",
       .range = between(2, 100000),
       .description = "number of log-spaced record times"},
      {.key = "run.replicas",
       .type = integer,
       .default_toml = "32",
       .range = at_least(2),
       .description = "Monte Carlo replicas (two at least, for a standard error)"},
      {.key = "run.seed",
       .type = integer,
       .default_toml = "1",
       .range = at_least(0),
       .description = "Monte Carlo seed (replica r uses stream (seed, r))"},
      {.key = "run.modes",
       .type = integer,
       .default_toml = "16",
       .range = at_least(0),
       .description = "number of log-spaced modes j whose rho_j is recorded (0 = all); bilinear: "
                      "pairs (k, l) log-spaced along the diagonal (0 = all n_out n_in)"},
      {.key = "run.methods",
       .type = name_list,
       .default_toml = R"(["mc", "theory"])",
       .choices = {"mc", "theory"},
       .description = "what to run: Monte Carlo simulation, deterministic theory, or both"},
      // [theory]
      {.key = "theory.solver",
       .type = choice,
       .default_toml = R"("exact_map")",
       .choices = {"exact_map", "ode"},
       .description = "iterate the exact expected one-step map, or integrate the ODE"},
      {.key = "theory.rel_tol",
       .type = real,
       .default_toml = "1e-8",
       .range = Range{.lo = 0, .lo_strict = true, .hi = 0.1},
       .description = "ode: relative error tolerance per step"},
      {.key = "theory.abs_tol",
       .type = real,
       .default_toml = "1e-12",
       .range = above(0),
       .description = "ode: absolute error tolerance per step"},
  };
}

// Type column of the --help table.
std::string_view type_name(KeyType type) {
  switch (type) {
    case KeyType::integer:
      return "integer";
    case KeyType::real:
      return "float";
    case KeyType::boolean:
      return "bool";
    case KeyType::choice:
      return "string";
    case KeyType::path:
      return "string";
    case KeyType::name_list:
      return "string|list";
    case KeyType::lr:
      return "float|table";
  }
  return "?";
}

// "Accepted" column of the --help table.
std::string accepted_text(const KeySpec& spec) {
  std::string out;
  switch (spec.type) {
    case KeyType::integer:
    case KeyType::real:
      return spec.range.compact();
    case KeyType::boolean:
      return "true | false";
    case KeyType::path:
      return "file path";
    case KeyType::lr:
      return spec.range.compact() + ", per optimizer or one for all";
    case KeyType::choice:
    case KeyType::name_list:
      if (spec.type == KeyType::name_list) out = "one or more of: ";
      for (std::size_t i = 0; i < spec.choices.size(); ++i)
        out += (i ? " | " : "") + std::string(spec.choices[i]);
      return out;
  }
  return out;
}

}  // namespace

bool Range::contains(double x) const {
  const bool lo_ok = lo_strict ? x > lo : x >= lo;
  const bool hi_ok = hi_strict ? x < hi : x <= hi;
  return lo_ok && hi_ok;
}

std::string Range::describe(std::string_view noun) const {
  std::string out(noun);
  if (lo > -kInf) {
    out += lo_strict ? " > " : " >= ";
    out += format_number(lo);
  }
  if (hi < kInf) {
    if (lo > -kInf) out += " and";
    out += hi_strict ? " < " : " <= ";
    out += format_number(hi);
  }
  return out;
}

std::string Range::compact() const {
  std::string out;
  if (lo > -kInf && hi < kInf) {
    out += lo_strict ? "(" : "[";
    out += format_number(lo);
    out += ", ";
    out += format_number(hi);
    out += hi_strict ? ")" : "]";
  } else if (lo > -kInf) {
    out += lo_strict ? "> " : ">= ";
    out += format_number(lo);
  } else if (hi < kInf) {
    out += hi_strict ? "< " : "<= ";
    out += format_number(hi);
  } else {
    out = "any";
  }
  return out;
}

std::string_view KeySpec::table() const {
  const auto dot = key.rfind('.');
  return dot == std::string_view::npos ? std::string_view{} : key.substr(0, dot);
}

std::string_view KeySpec::leaf() const {
  return last_component(key);
}

const std::vector<KeySpec>& config_schema() {
  static const std::vector<KeySpec> schema = make_schema();
  return schema;
}

const KeySpec* find_key(std::string_view key) {
  const auto& schema = config_schema();
  const auto it =
      std::find_if(schema.begin(), schema.end(), [&](const KeySpec& s) { return s.key == key; });
  return it == schema.end() ? nullptr : &*it;
}

const std::vector<std::string_view>& optimizer_names() {
  static const std::vector<std::string_view> names = find_key("optimizer.name")->choices;
  return names;
}

}  // namespace signdyn::detail

namespace signdyn {

// One row per key: key, type, default, accepted values, description; columns aligned.
std::string describe_config_keys() {
  using detail::config_schema;
  const std::vector<std::string> header = {"key", "type", "default", "accepted", "description"};
  std::vector<std::vector<std::string>> rows = {header};
  for (const auto& spec : config_schema())
    rows.push_back({std::string(spec.key), std::string(detail::type_name(spec.type)),
                    std::string(spec.default_toml), detail::accepted_text(spec),
                    std::string(spec.description)});
  std::vector<std::size_t> width(header.size(), 0);
  for (const auto& row : rows)
    for (std::size_t c = 0; c + 1 < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  std::string out;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    for (std::size_t c = 0; c < rows[r].size(); ++c) {
      out += rows[r][c];
      if (c + 1 < rows[r].size()) out += std::string(width[c] - rows[r][c].size() + 2, ' ');
    }
    out += '\n';
    if (r == 0) {
      std::size_t total = 0;
      for (std::size_t c = 0; c + 1 < width.size(); ++c) total += width[c] + 2;
      out += std::string(total + header.back().size(), '-') + '\n';
    }
  }
  return out;
}

}  // namespace signdyn
