// src/config/schema.hpp: the config schema, declared once: every key, its type, default,
// accepted range or choices, and a one-line description. Parsing, --set and --help use it.
#pragma once

#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace signdyn::detail {

/// How a key's value is read and checked.
enum class KeyType {
  integer,    // TOML integer (or an integral float), checked against `range`
  real,       // TOML float (or integer), finite, checked against `range`
  boolean,    // true / false
  choice,     // one string out of `choices`
  path,       // a file path (string); relative paths are resolved when validated
  name_list,  // a string or an array of distinct strings, each out of `choices`
  lr,         // a real in `range` for every optimizer, or a table {optimizer name = real}
};

/// Accepted interval of a number: [lo, hi] with either end open (strict) or absent (±inf).
struct Range {
  double lo = -std::numeric_limits<double>::infinity();
  bool lo_strict = false;
  double hi = std::numeric_limits<double>::infinity();
  bool hi_strict = false;

  /// True when x lies in the interval.
  bool contains(double x) const;
  /// The rule in words for a value of type `noun`, e.g. "an integer >= 1 and <= 10000000".
  std::string describe(std::string_view noun) const;
  /// The interval in compact notation for --help, e.g. "[1, 10000000]", "> 0".
  std::string compact() const;
};

/// One config key. `default_toml` is the default as a TOML literal (parsed like user input).
struct KeySpec {
  std::string_view key;  // dotted name, e.g. "problem.covariance.alpha"
  KeyType type = KeyType::real;
  std::string_view default_toml;
  Range range;                                    // integer, real, lr
  std::vector<std::string_view> choices;          // choice, name_list
  std::vector<std::string_view> not_implemented;  // choice values announced but not yet supported
  std::string_view description;

  /// The enclosing TOML table of the key, e.g. "problem.covariance".
  std::string_view table() const;
  /// The last component of the dotted name, e.g. "alpha".
  std::string_view leaf() const;
};

/// The schema, in the order keys appear in resolved configurations (grouped by table).
const std::vector<KeySpec>& config_schema();

/// The schema entry for a dotted key, or nullptr when the key is unknown.
const KeySpec* find_key(std::string_view key);

/// Canonical optimizer names, in OptimizerKind order (the keys of an optimizer.lr table).
const std::vector<std::string_view>& optimizer_names();

}  // namespace signdyn::detail
