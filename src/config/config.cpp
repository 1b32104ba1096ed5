// Experiment configuration: TOML parsing, --set overrides, validation against the schema
// (schema.cpp), the resolved configuration text, and the embedded default (configs/default.toml).
#include "signdyn/config.hpp"

#include <toml++/toml.h>
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <tuple>
#include <variant>

#include "schema.hpp"
#include "signdyn/error.hpp"
#include "signdyn_default_config.hpp"
#include "text.hpp"

namespace signdyn {

namespace detail {
namespace {

namespace fs = std::filesystem;

// optimizer.lr: one rate for every optimizer (`all`), and per-optimizer rates that take
// precedence (`per`, keyed by optimizer name).
struct LrValue {
  std::optional<double> all;
  std::map<std::string, double, std::less<>> per;
};

using Value =
    std::variant<std::int64_t, double, bool, std::string, std::vector<std::string>, LrValue>;

// Where a value came from; relative paths are resolved against the config file's directory
// for `file`, and against the working directory otherwise.
enum class Origin { schema_default, file, command_line };

struct Setting {
  Value value;
  Origin origin = Origin::schema_default;
  bool bad = false;     // a value given for this key was rejected
  Value default_value;  // the schema default, to tell a setting that changes something
};

// True when two values are equal (lr tables are never compared: they are not problem keys).
bool same_value(const Value& a, const Value& b) {
  if (a.index() != b.index()) return false;
  return std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, LrValue>)
          return false;
        else
          return x == std::get<T>(b);
      },
      a);
}

// One problem found in the configuration. Problems are reported ordered by phase (file,
// then --set in argument order, then cross-field checks) and by position in the file.
struct Issue {
  std::string field;
  std::string text;
  int phase = 0;
  std::uint32_t line = 0;
  std::uint32_t column = 0;
};

enum Phase { kFilePhase = 0, kOverridePhase = 1, kCrossPhase = 2 };

// Where an issue is reported: phase and position.
struct Place {
  int phase = kFilePhase;
  std::uint32_t line = 0;
  std::uint32_t column = 0;
};

Place place_of(const toml::node& node, int phase) {
  return Place{phase, node.source().begin.line, node.source().begin.column};
}

class Issues {
 public:
  void add(std::string field, std::string text, Place place) {
    issues_.push_back(
        Issue{std::move(field), std::move(text), place.phase, place.line, place.column});
  }
  bool empty() const { return issues_.empty(); }

  // Throws one ConfigError listing every issue, each on its own line.
  [[noreturn]] void raise(const std::string& source) {
    std::stable_sort(issues_.begin(), issues_.end(), [](const Issue& a, const Issue& b) {
      return std::tie(a.phase, a.line, a.column) < std::tie(b.phase, b.line, b.column);
    });
    std::string message = "invalid configuration (" + source +
                          "): " + std::to_string(issues_.size()) +
                          (issues_.size() == 1 ? " problem" : " problems");
    for (const Issue& issue : issues_) message += "\n" + issue.text;
    throw ConfigError(issues_.front().field, message);
  }

 private:
  std::vector<Issue> issues_;
};

// " (set it in [problem] or with --set problem.d=...)" for a dotted key.
std::string where_to_set(std::string_view key) {
  const auto dot = key.rfind('.');
  const std::string table(key.substr(0, dot == std::string_view::npos ? 0 : dot));
  return " (set it in [" + table + "] or with --set " + std::string(key) + "=...)";
}

// TOML-like text of a node, for messages: "abc" quoted, floats marked, arrays and tables inline.
std::string node_text(const toml::node& node) {
  if (const auto* s = node.as_string()) return quote(s->get());
  if (const auto* i = node.as_integer()) return std::to_string(i->get());
  if (const auto* f = node.as_floating_point()) return format_real(f->get());
  if (const auto* b = node.as_boolean()) return b->get() ? "true" : "false";
  if (const auto* a = node.as_array()) {
    std::string out = "[";
    for (std::size_t i = 0; i < a->size(); ++i) out += (i ? ", " : "") + node_text(*a->get(i));
    return out + "]";
  }
  if (const auto* t = node.as_table()) {
    if (t->empty()) return "{}";
    std::string out = "{ ";
    bool first = true;
    for (const auto& [key, value] : *t) {
      out += (first ? "" : ", ") + std::string(key.str()) + " = " + node_text(value);
      first = false;
    }
    return out + " }";
  }
  std::ostringstream os;
  node.visit([&](const auto& n) { os << n; });
  return os.str();
}

std::string quoted_list(const std::vector<std::string_view>& names) {
  std::vector<std::string> quoted;
  for (const auto name : names) quoted.push_back(quote(name));
  return join_alternatives(quoted, "or");
}

std::vector<std::string> to_strings(const std::vector<std::string_view>& names) {
  return {names.begin(), names.end()};
}

// " (did you mean "x"?)" for a value close to one of `choices`; empty when none is close.
std::string value_suggestion(std::string_view word, const std::vector<std::string_view>& choices) {
  std::vector<std::string> close = suggest(word, to_strings(choices));
  if (close.empty()) return "";
  for (auto& c : close) c = quote(c);
  return " (did you mean " + join_alternatives(close, "or") + "?)";
}

// Reads a number of `spec` type (integer or real) from a node; on failure records an issue.
template <class T>
std::optional<T> read_number(const toml::node& node, std::string_view field, const Range& range,
                             std::string_view set_key, Place place, Issues& issues) {
  constexpr bool is_integer = std::is_same_v<T, std::int64_t>;
  const std::string noun = is_integer ? "an integer" : "a number";
  auto fail = [&](const std::string& rule) {
    issues.add(
        std::string(field),
        std::string(field) + " = " + node_text(node) + ": must be " + rule + where_to_set(set_key),
        place);
    return std::optional<T>{};
  };
  double x = 0.0;
  if (const auto* i = node.as_integer()) {
    x = static_cast<double>(i->get());
    if constexpr (is_integer) {
      if (!range.contains(x)) return fail(range.describe(noun));
      return i->get();
    }
  } else if (const auto* f = node.as_floating_point()) {
    x = f->get();
    if (!std::isfinite(x)) return fail(range.describe(is_integer ? noun : "a finite number"));
    if constexpr (is_integer) {
      // An integral float (d = 256.0) is accepted; its range is checked as a double.
      if (x != std::floor(x) || std::abs(x) >= 9.2e18) return fail(range.describe(noun));
    }
  } else {
    return fail(range.describe(noun));
  }
  if (!range.contains(x)) return fail(range.describe(noun));
  return static_cast<T>(x);
}

// Converts a node to the value of `spec`; records issues and returns nullopt when invalid.
std::optional<Value> convert(const KeySpec& spec, const toml::node& node, Place place,
                             Issues& issues) {
  const std::string field(spec.key);
  auto fail = [&](const std::string& why) {
    issues.add(field, field + " = " + node_text(node) + ": " + why + where_to_set(spec.key), place);
    return std::optional<Value>{};
  };
  switch (spec.type) {
    case KeyType::integer:
      if (auto x = read_number<std::int64_t>(node, field, spec.range, spec.key, place, issues))
        return Value{*x};
      return std::nullopt;
    case KeyType::real:
      if (auto x = read_number<double>(node, field, spec.range, spec.key, place, issues))
        return Value{*x};
      return std::nullopt;
    case KeyType::boolean:
      if (const auto* b = node.as_boolean()) return Value{b->get()};
      return fail("must be true or false");
    case KeyType::path:
      if (const auto* s = node.as_string()) return Value{s->get()};
      return fail("must be a string (a file path)");
    case KeyType::choice: {
      const auto* s = node.as_string();
      if (!s) return fail("must be one of " + quoted_list(spec.choices));
      const std::string& word = s->get();
      if (std::find(spec.choices.begin(), spec.choices.end(), word) != spec.choices.end())
        return Value{word};
      if (std::find(spec.not_implemented.begin(), spec.not_implemented.end(), word) !=
          spec.not_implemented.end())
        return fail("not implemented yet; accepted now: " + quoted_list(spec.choices));
      return fail("must be one of " + quoted_list(spec.choices) +
                  value_suggestion(word, spec.choices));
    }
    case KeyType::name_list: {
      const std::string rule =
          "must be a name or a list of distinct names out of " + quoted_list(spec.choices);
      std::vector<std::string> names;
      if (const auto* s = node.as_string()) {
        names.push_back(s->get());
      } else if (const auto* a = node.as_array()) {
        for (const auto& element : *a) {
          const auto* s_element = element.as_string();
          if (!s_element) return fail(rule);
          names.push_back(s_element->get());
        }
      } else {
        return fail(rule);
      }
      if (names.empty()) return fail("must list at least one of " + quoted_list(spec.choices));
      for (std::size_t i = 0; i < names.size(); ++i) {
        if (std::find(spec.choices.begin(), spec.choices.end(), names[i]) == spec.choices.end())
          return fail(quote(names[i]) + " is not one of " + quoted_list(spec.choices) +
                      value_suggestion(names[i], spec.choices));
        if (std::find(names.begin(), names.begin() + i, names[i]) != names.begin() + i)
          return fail(quote(names[i]) + " is listed twice; names must be distinct");
      }
      return Value{names};
    }
    case KeyType::lr: {
      if (node.is_number()) {
        if (auto x = read_number<double>(node, field, spec.range, spec.key, place, issues))
          return Value{LrValue{*x, {}}};
        return std::nullopt;
      }
      const auto* table = node.as_table();
      if (!table)
        return fail("must be " + spec.range.describe("a number") +
                    " for every optimizer, or a table of rates such as "
                    "{ sgd = 0.5, signsgd = 0.001 }");
      if (table->empty()) return fail("must give a rate for at least one optimizer");
      LrValue lr;
      bool ok = true;
      for (const auto& [key, value] : *table) {
        const std::string name(key.str());
        const std::string sub_field = field + "." + name;
        const auto& names = optimizer_names();
        if (std::find(names.begin(), names.end(), name) == names.end()) {
          std::vector<std::string> close = suggest(name, to_strings(names));
          issues.add(
              sub_field,
              sub_field + ": unknown optimizer; " +
                  (close.empty()
                       ? std::string()
                       : "did you mean " + field + "." + join_alternatives(close, "or") + "? ") +
                  "(the keys of " + field +
                  " are optimizer names: " + join_alternatives(to_strings(names), "and") + ")",
              place_of(value, place.phase));
          ok = false;
          continue;
        }
        const auto x = read_number<double>(value, sub_field, spec.range, sub_field,
                                           place_of(value, place.phase), issues);
        if (!x)
          ok = false;
        else
          lr.per[name] = *x;
      }
      if (!ok) return std::nullopt;
      return Value{lr};
    }
  }
  return std::nullopt;
}

// Every dotted key of the schema, as candidates for did-you-mean.
std::vector<std::string> known_keys() {
  std::vector<std::string> keys;
  for (const auto& spec : config_schema()) keys.emplace_back(spec.key);
  return keys;
}

// True when `path` is a table of the schema ("problem", "problem.covariance", ...).
bool is_known_table(std::string_view path) {
  for (const auto& spec : config_schema()) {
    const std::string_view key = spec.key;
    if (key.size() > path.size() && key.substr(0, path.size()) == path && key[path.size()] == '.')
      return true;
  }
  return false;
}

// Every table of the schema ("problem", "problem.covariance", ...).
std::vector<std::string> known_tables() {
  std::vector<std::string> tables;
  for (const auto& spec : config_schema()) {
    std::string_view key = spec.key;
    for (auto dot = key.find('.'); dot != std::string_view::npos; dot = key.find('.', dot + 1)) {
      const std::string table(key.substr(0, dot));
      if (std::find(tables.begin(), tables.end(), table) == tables.end()) tables.push_back(table);
    }
  }
  return tables;
}

// "<key>: unknown key; did you mean ...?" (or "unknown table" for an empty unknown table).
std::string unknown_key_text(const std::string& key, bool is_table = false) {
  const std::vector<std::string> close = suggest(key, is_table ? known_tables() : known_keys());
  const std::string what = is_table ? ": unknown table" : ": unknown key";
  if (close.empty())
    return key + what + " (the accepted keys and their ranges are listed by --help)";
  return key + what + "; did you mean " + join_alternatives(close, "or") + "?";
}

// The parsed configuration: every schema key with its current value.
class Settings {
 public:
  Settings() {
    for (const auto& spec : config_schema()) {
      // Defaults are TOML literals, read exactly like user input.
      const toml::table parsed = toml::parse("v = " + std::string(spec.default_toml));
      Issues issues;
      auto value = convert(spec, *parsed.get("v"), Place{}, issues);
      if (!value) throw std::logic_error("invalid schema default for " + std::string(spec.key));
      settings_.emplace(std::string(spec.key),
                        Setting{*value, Origin::schema_default, false, std::move(*value)});
    }
  }

  Setting& at(std::string_view key) { return settings_.find(key)->second; }
  const Setting& at(std::string_view key) const { return settings_.find(key)->second; }
  template <class T>
  const T& get(std::string_view key) const {
    return std::get<T>(at(key).value);
  }

  // Converts and stores the value of `spec` from `node`, or marks the key bad.
  void assign(const KeySpec& spec, const toml::node& node, Origin origin, Place place,
              Issues& issues) {
    Setting& setting = at(spec.key);
    if (auto value = convert(spec, node, place, issues)) {
      setting.value = std::move(*value);
      setting.origin = origin;
    } else {
      setting.bad = true;
    }
  }

  // Walks a parsed TOML table, storing every known key and reporting unknown ones.
  void read_table(const toml::table& table, const std::string& prefix, Issues& issues) {
    for (const auto& [key, node] : table) {
      const std::string path =
          prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
      const Place place = place_of(node, kFilePhase);
      if (const KeySpec* spec = find_key(path)) {
        assign(*spec, node, Origin::file, place, issues);
      } else if (is_known_table(path)) {
        if (const auto* sub = node.as_table()) {
          read_table(*sub, path, issues);
        } else {
          issues.add(path,
                     path + " = " + node_text(node) + ": must be a table ([" + path +
                         "]) of keys such as " + first_key_under(path),
                     place);
        }
      } else if (const auto* sub = node.as_table(); sub && !sub->empty()) {
        read_table(*sub, path, issues);  // reports each unknown leaf, with suggestions
      } else {
        issues.add(path, unknown_key_text(path, node.is_table()), place);
      }
    }
  }

 private:
  static std::string first_key_under(std::string_view table) {
    for (const auto& spec : config_schema())
      if (spec.key.substr(0, table.size()) == table) return std::string(spec.key);
    return "";
  }

  std::map<std::string, Setting, std::less<>> settings_;
};

std::string_view trim(std::string_view x) {
  const auto begin = x.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return {};
  const auto end = x.find_last_not_of(" \t");
  return x.substr(begin, end - begin + 1);
}

// The node of "v = <text>" when `text` is one TOML value; nullopt when it is not.
std::optional<toml::table> parse_toml_value(std::string_view text, std::string* error = nullptr) {
  try {
    toml::table parsed = toml::parse("v = " + std::string(text));
    if (parsed.size() != 1 || !parsed.contains("v")) return std::nullopt;
    return parsed;
  } catch (const toml::parse_error& e) {
    if (error) *error = std::string(e.description());
    return std::nullopt;
  }
}

// An unquoted string, or the content of a quoted TOML string ("x" or 'x').
std::string unquote(std::string_view text) {
  if (!text.empty() && (text.front() == '"' || text.front() == '\'')) {
    if (auto parsed = parse_toml_value(text))
      if (const auto* s = parsed->get("v")->as_string()) return s->get();
  }
  return std::string(text);
}

// Builds the node a --set value stands for, read with the key's declared type.
// Returns nullopt (after recording an issue) when the value cannot be read at all.
std::optional<toml::table> override_node(KeyType type, std::string_view text,
                                         const std::string& argument, Place place, Issues& issues,
                                         const std::string& field) {
  toml::table holder;
  switch (type) {
    case KeyType::integer:
    case KeyType::real:
    case KeyType::boolean:
      if (auto parsed = parse_toml_value(text)) return parsed;
      holder.insert("v", std::string(text));  // reported as a string of the wrong type
      return holder;
    case KeyType::choice:
    case KeyType::path:
      holder.insert("v", unquote(text));
      return holder;
    case KeyType::name_list: {
      std::string_view inner = text;
      const bool bracketed = inner.size() >= 2 && inner.front() == '[' && inner.back() == ']';
      if (bracketed) inner = trim(inner.substr(1, inner.size() - 2));
      if (!bracketed && inner.find(',') == std::string_view::npos) {
        holder.insert("v", unquote(inner));
        return holder;
      }
      toml::array names;
      while (!inner.empty()) {
        const auto comma = inner.find(',');
        names.push_back(unquote(trim(inner.substr(0, comma))));
        inner = comma == std::string_view::npos ? std::string_view{} : inner.substr(comma + 1);
      }
      holder.insert("v", std::move(names));
      return holder;
    }
    case KeyType::lr: {
      std::string error;
      if (auto parsed = parse_toml_value(text, &error)) return parsed;
      if (!text.empty() && text.front() == '{') {
        issues.add(field, argument + ": cannot read the value as a TOML inline table: " + error,
                   place);
        return std::nullopt;
      }
      holder.insert("v", std::string(text));
      return holder;
    }
  }
  return std::nullopt;
}

// Applies one --set argument ("dotted.key=value").
void apply_override(Settings& settings, const std::string& argument, std::size_t index,
                    Issues& issues) {
  const Place place{kOverridePhase, static_cast<std::uint32_t>(index), 0};
  const std::string shown = "--set " + quote(argument);
  const auto eq = argument.find('=');
  const std::string_view key = trim(std::string_view(argument).substr(0, eq));
  if (eq == std::string::npos || key.empty()) {
    issues.add(std::string(key.empty() ? argument : key),
               shown + ": expected key=value, e.g. --set problem.d=512", place);
    return;
  }
  const std::string_view text = trim(std::string_view(argument).substr(eq + 1));
  const std::string field(key);
  const std::string argument_text = "--set " + field + "=" + std::string(text);

  // optimizer.lr.<name>=x sets the rate of one optimizer.
  constexpr std::string_view lr_prefix = "optimizer.lr.";
  if (key.substr(0, lr_prefix.size()) == lr_prefix) {
    const std::string name(key.substr(lr_prefix.size()));
    const auto& names = optimizer_names();
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      std::vector<std::string> close = suggest(name, to_strings(names));
      issues.add(field,
                 field + ": unknown optimizer" +
                     (close.empty()
                          ? std::string()
                          : "; did you mean optimizer.lr." + join_alternatives(close, "or") + "?") +
                     " (optimizer.lr.NAME takes NAME out of " +
                     join_alternatives(to_strings(names), "and") + ")",
                 place);
      return;
    }
    const KeySpec& spec = *find_key("optimizer.lr");
    const auto node = override_node(KeyType::real, text, argument_text, place, issues, field);
    Setting& setting = settings.at(spec.key);
    const auto x = read_number<double>(*node->get("v"), field, spec.range, field, place, issues);
    if (!x) {
      setting.bad = true;
      return;
    }
    std::get<LrValue>(setting.value).per[name] = *x;
    setting.origin = Origin::command_line;
    return;
  }

  const KeySpec* spec = find_key(key);
  if (!spec) {
    issues.add(field, unknown_key_text(field), place);
    return;
  }
  if (const auto node = override_node(spec->type, text, argument_text, place, issues, field))
    settings.assign(*spec, *node->get("v"), Origin::command_line, place, issues);
  else
    settings.at(spec->key).bad = true;
}

// The directory relative paths in the config text are resolved against.
fs::path config_directory(const std::string& source) {
  if (source.empty() || source.front() == '<') return fs::current_path();
  const fs::path parent = fs::path(source).parent_path();
  return parent.empty() ? fs::current_path() : fs::absolute(parent);
}

// The resolved (absolute, normalised) value of every path key, by key; "" where not given.
using ResolvedPaths = std::map<std::string, std::string, std::less<>>;

// The absolute, normalised form of a path given in the config or with --set.
std::string resolve_path(const std::string& text, Origin origin, const fs::path& config_dir) {
  if (text.empty()) return text;
  fs::path path(text);
  if (path.is_relative()) path = (origin == Origin::file ? config_dir : fs::current_path()) / path;
  return path.lexically_normal().string();
}

// The rate of optimizer `name`: its own entry, else the common rate.
std::optional<double> lr_of(const LrValue& lr, std::string_view name) {
  const auto it = lr.per.find(name);
  if (it != lr.per.end()) return it->second;
  return lr.all;
}

// TOML literal of a scalar value (integer, real, boolean, string), for messages.
std::string literal_of(const Value& value) {
  if (const auto* i = std::get_if<std::int64_t>(&value)) return std::to_string(*i);
  if (const auto* x = std::get_if<double>(&value)) return format_real(*x);
  if (const auto* b = std::get_if<bool>(&value)) return *b ? "true" : "false";
  if (const auto* t = std::get_if<std::string>(&value)) return quote(*t);
  return "...";
}

// What to do instead of a regression-family key when problem.family = "bilinear".
std::string bilinear_replacement(std::string_view key) {
  if (key == "problem.d" || key == "problem.m")
    return "the bilinear dimensions are problem.bilinear.n_out and problem.bilinear.n_in";
  if (key == "problem.covariance.alpha")
    return "the bilinear exponents are problem.bilinear.alpha_out and problem.bilinear.alpha_in";
  if (key == "problem.target.beta")
    return "the bilinear exponents are problem.bilinear.beta_out and problem.bilinear.beta_in";
  if (key == "problem.covariance.kind" || key == "problem.covariance.path")
    return "the bilinear spectra are problem.bilinear.covariance_out and covariance_in (with "
           "path_out, path_in for from_file)";
  if (key == "problem.target.kind")
    return "the bilinear target is a power law; problem.bilinear.beta_out = beta_in = 0 makes "
           "it isotropic";
  if (key == "problem.basis.kind" || key == "problem.basis.seed")
    return "the bilinear bases are problem.bilinear.basis_out, basis_in and basis_seed";
  if (key == "theory.solver")
    return "the bilinear dynamics are iterated as exact maps; remove the key or set "
           "theory.solver = \"exact_map\"";
  return "remove it";
}

// Keys that belong to one family are an error when the other family runs and they are set to
// something other than their default (at their default they change nothing and are ignored,
// so configs/default.toml, which spells out every key, works for both families).
void check_family(const Settings& s, Issues& issues) {
  const Place place{kCrossPhase, 0, 0};
  if (s.at("problem.family").bad) return;
  const bool bilinear = s.get<std::string>("problem.family") == "bilinear";
  constexpr std::string_view bilinear_table = "problem.bilinear.";
  for (const auto& spec : config_schema()) {
    const std::string_view key = spec.key;
    const bool of_bilinear = key.substr(0, bilinear_table.size()) == bilinear_table;
    const bool of_regression = (key.substr(0, 8) == "problem." && !of_bilinear &&
                                key != "problem.family" && key != "problem.sigma") ||
                               key == "theory.solver";
    const Setting& setting = s.at(key);
    if (setting.bad || same_value(setting.value, setting.default_value)) continue;
    const std::string given = std::string(key) + " = " + literal_of(setting.value);
    if (bilinear && of_regression)
      issues.add(std::string(key),
                 given + ": not used by problem.family = \"bilinear\"; " +
                     bilinear_replacement(key) + " (or remove " + std::string(key) + ")",
                 place);
    else if (!bilinear && of_bilinear)
      issues.add(std::string(key),
                 given + ": used only when problem.family = \"bilinear\" (it is \"" +
                     s.get<std::string>("problem.family") +
                     "\"); set problem.family = \"bilinear\" or remove " + std::string(key),
                 place);
  }
  if (bilinear && !s.at("problem.bilinear.n_out").bad && !s.at("problem.bilinear.n_in").bad) {
    const auto n_out = s.get<std::int64_t>("problem.bilinear.n_out");
    const auto n_in = s.get<std::int64_t>("problem.bilinear.n_in");
    if (static_cast<double>(n_out) * static_cast<double>(n_in) > 1e8)
      issues.add("problem.bilinear.n_in",
                 "problem.bilinear.n_in = " + std::to_string(n_in) +
                     ": n_out * n_in = " + std::to_string(n_out * n_in) +
                     " must be <= 100000000 (W and every per-mode energy matrix have n_out * n_in "
                     "entries; problem.bilinear.n_out = " +
                     std::to_string(n_out) + ")",
                 place);
  }
}

// Cross-field checks; skipped for keys whose own value was rejected.
void check_consistency(const Settings& s, const ResolvedPaths& paths, Issues& issues) {
  const Place place{kCrossPhase, 0, 0};
  const auto ok = [&](std::initializer_list<std::string_view> keys) {
    return std::none_of(keys.begin(), keys.end(), [&](auto k) { return s.at(k).bad; });
  };

  // A from_file spectrum needs an existing file: (kind key, path key, what the file holds).
  struct FileKey {
    std::string_view kind, path, holds;
  };
  const bool bilinear =
      !s.at("problem.family").bad && s.get<std::string>("problem.family") == "bilinear";
  for (const FileKey& f :
       {FileKey{"problem.covariance.kind", "problem.covariance.path", "d eigenvalues"},
        FileKey{"problem.bilinear.covariance_out", "problem.bilinear.path_out",
                "n_out eigenvalues of K_out"},
        FileKey{"problem.bilinear.covariance_in", "problem.bilinear.path_in",
                "n_in eigenvalues of K_in"}}) {
    const bool of_bilinear = f.kind.substr(0, 17) == "problem.bilinear.";
    if (of_bilinear != bilinear) continue;  // the other family's keys are check_family's
    if (!ok({f.kind, f.path}) || s.get<std::string>(f.kind) != "from_file") continue;
    const std::string& given = s.get<std::string>(f.path);
    const std::string& resolved = paths.at(std::string(f.path));
    const std::string field(f.path);
    std::error_code ec;
    if (given.empty())
      issues.add(field,
                 field + " = \"\": required when " + std::string(f.kind) +
                     " = \"from_file\" (a text file of " + std::string(f.holds) + ")" +
                     where_to_set(field),
                 place);
    else if (fs::is_directory(resolved, ec))
      issues.add(field, field + " = " + quote(given) + ": " + resolved + " is a directory", place);
    else if (!fs::exists(resolved, ec))
      issues.add(field,
                 field + " = " + quote(given) + ": no file at " + resolved +
                     " (relative paths are read from the config file's directory, or from the "
                     "working directory for --set)",
                 place);
  }

  check_family(s, issues);

  if (ok({"optimizer.name", "optimizer.lr"})) {
    const auto& lr = s.get<LrValue>("optimizer.lr");
    std::vector<std::string> missing;
    for (const auto& name : s.get<std::vector<std::string>>("optimizer.name"))
      if (!lr_of(lr, name)) missing.push_back(name);
    if (!missing.empty()) {
      std::string given = "{ ";
      for (const auto& [name, x] : lr.per)
        given += (given.size() > 2 ? ", " : "") + name + " = " + format_real(x);
      issues.add("optimizer.lr",
                 "optimizer.lr = " + given + " }: has no rate for " +
                     join_alternatives(missing, "and") +
                     ", listed in optimizer.name; add it to [optimizer.lr] (or --set "
                     "optimizer.lr." +
                     missing.front() + "=...), or give one number for all optimizers",
                 place);
    }
  }

  if (ok({"optimizer.name", "optimizer.momentum"}) && s.get<double>("optimizer.momentum") != 0.0) {
    const auto& names = s.get<std::vector<std::string>>("optimizer.name");
    if (std::find(names.begin(), names.end(), "muon") == names.end())
      issues.add("optimizer.momentum",
                 "optimizer.momentum = " + format_real(s.get<double>("optimizer.momentum")) +
                     ": momentum is Muon's, and optimizer.name has no \"muon\"; remove it "
                     "(--set optimizer.momentum=0) or add muon to optimizer.name",
                 place);
  }
  if (ok({"optimizer.nesterov", "optimizer.momentum"}) && s.get<bool>("optimizer.nesterov") &&
      s.get<double>("optimizer.momentum") == 0.0)
    issues.add("optimizer.nesterov",
               "optimizer.nesterov = true: needs optimizer.momentum > 0 (it is 0); set a "
               "momentum or --set optimizer.nesterov=false",
               place);
}

// TOML literal of a setting, for the resolved configuration.
std::string literal(const Settings& s, const KeySpec& spec, const ResolvedPaths& paths) {
  const Value& value = s.at(spec.key).value;
  switch (spec.type) {
    case KeyType::integer:
      return std::to_string(std::get<std::int64_t>(value));
    case KeyType::real:
      return format_real(std::get<double>(value));
    case KeyType::boolean:
      return std::get<bool>(value) ? "true" : "false";
    case KeyType::choice:
      return quote(std::get<std::string>(value));
    case KeyType::path:
      return quote(paths.at(std::string(spec.key)));
    case KeyType::name_list: {
      const auto& names = std::get<std::vector<std::string>>(value);
      if (names.size() == 1) return quote(names.front());
      std::string out = "[";
      for (std::size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + quote(names[i]);
      return out + "]";
    }
    case KeyType::lr: {
      // One number when every optimizer runs at the same rate, else one entry per optimizer.
      const auto& lr = std::get<LrValue>(value);
      const auto& names = s.get<std::vector<std::string>>("optimizer.name");
      std::vector<double> rates;
      for (const auto& name : names) rates.push_back(*lr_of(lr, name));
      if (std::all_of(rates.begin(), rates.end(), [&](double x) { return x == rates.front(); }))
        return format_real(rates.front());
      std::string out = "{ ";
      for (std::size_t i = 0; i < names.size(); ++i)
        out += (i ? ", " : "") + names[i] + " = " + format_real(rates[i]);
      return out + " }";
    }
  }
  return "";
}

std::string resolved_text(const Settings& s, const ResolvedPaths& paths) {
  std::string out = "# signdyn configuration: every key, with defaults and overrides applied.\n";
  std::string_view table = "";
  for (const auto& spec : config_schema()) {
    if (spec.table() != table) {
      table = spec.table();
      out += "\n[" + std::string(table) + "]\n";
    }
    out += std::string(spec.leaf()) + " = " + literal(s, spec, paths) + "\n";
  }
  return out;
}

OptimizerKind optimizer_kind(std::string_view name) {
  for (auto kind :
       {OptimizerKind::sgd, OptimizerKind::signsgd, OptimizerKind::signsvd, OptimizerKind::muon})
    if (to_string(kind) == name) return kind;
  throw std::logic_error("unknown optimizer name " + std::string(name));
}

Experiment build_experiment(const Settings& s, const ResolvedPaths& paths) {
  Experiment e;
  ProblemSpec& p = e.problem;
  p.d = s.get<std::int64_t>("problem.d");
  p.m = s.get<std::int64_t>("problem.m");
  p.sigma = s.get<double>("problem.sigma");
  p.basis = basis_kind_of(s.get<std::string>("problem.basis.kind"));
  p.basis_seed = static_cast<std::uint64_t>(s.get<std::int64_t>("problem.basis.seed"));
  p.covariance = covariance_kind_of(s.get<std::string>("problem.covariance.kind"));
  p.alpha = s.get<double>("problem.covariance.alpha");
  p.covariance_file =
      p.covariance == CovarianceKind::from_file ? paths.at("problem.covariance.path") : "";
  p.normalise_trace = s.get<std::string>("problem.covariance.normalise") == "trace";
  p.target = s.get<std::string>("problem.target.kind") == "isotropic" ? TargetKind::isotropic
                                                                      : TargetKind::power_law;
  p.beta = s.get<double>("problem.target.beta");
  p.normalise_target = s.get<std::string>("problem.target.normalise") == "unit";

  const auto& lr = s.get<LrValue>("optimizer.lr");
  Schedule schedule;
  schedule.kind = s.get<std::string>("optimizer.schedule.kind") == "power" ? ScheduleKind::power
                                                                           : ScheduleKind::constant;
  schedule.k0 = s.get<double>("optimizer.schedule.k0");
  schedule.gamma = s.get<double>("optimizer.schedule.gamma");
  for (const auto& name : s.get<std::vector<std::string>>("optimizer.name")) {
    OptimizerSpec o;
    o.kind = optimizer_kind(name);
    o.lr = *lr_of(lr, name);
    o.batch = s.get<std::int64_t>("optimizer.batch");
    o.schedule = schedule;
    // Momentum is Muon's (theory.md §1): the other optimizers run without it.
    const bool muon = o.kind == OptimizerKind::muon;
    o.momentum = muon ? s.get<double>("optimizer.momentum") : 0.0;
    o.nesterov = muon && s.get<bool>("optimizer.nesterov");
    o.ns_steps = static_cast<int>(s.get<std::int64_t>("optimizer.ns_steps"));
    e.optimizers.push_back(o);
  }

  RunSpec& r = e.run;
  r.steps = s.get<std::int64_t>("run.steps");
  r.records = s.get<std::int64_t>("run.records");
  r.replicas = s.get<std::int64_t>("run.replicas");
  r.seed = static_cast<std::uint64_t>(s.get<std::int64_t>("run.seed"));
  r.modes = s.get<std::int64_t>("run.modes");
  const auto& methods = s.get<std::vector<std::string>>("run.methods");
  r.mc = std::find(methods.begin(), methods.end(), "mc") != methods.end();
  r.theory = std::find(methods.begin(), methods.end(), "theory") != methods.end();

  e.theory.solver =
      s.get<std::string>("theory.solver") == "ode" ? TheorySolver::ode : TheorySolver::exact_map;
  e.theory.rel_tol = s.get<double>("theory.rel_tol");
  e.theory.abs_tol = s.get<double>("theory.abs_tol");
  e.family = s.get<std::string>("problem.family") == "bilinear" ? ProblemFamily::bilinear
                                                                : ProblemFamily::regression;
  BilinearSpec& b = e.bilinear;
  b.n_out = s.get<std::int64_t>("problem.bilinear.n_out");
  b.n_in = s.get<std::int64_t>("problem.bilinear.n_in");
  b.sigma = p.sigma;
  b.alpha_out = s.get<double>("problem.bilinear.alpha_out");
  b.alpha_in = s.get<double>("problem.bilinear.alpha_in");
  b.beta_out = s.get<double>("problem.bilinear.beta_out");
  b.beta_in = s.get<double>("problem.bilinear.beta_in");
  b.covariance_out = covariance_kind_of(s.get<std::string>("problem.bilinear.covariance_out"));
  b.covariance_in = covariance_kind_of(s.get<std::string>("problem.bilinear.covariance_in"));
  b.file_out =
      b.covariance_out == CovarianceKind::from_file ? paths.at("problem.bilinear.path_out") : "";
  b.file_in =
      b.covariance_in == CovarianceKind::from_file ? paths.at("problem.bilinear.path_in") : "";
  b.basis_out = basis_kind_of(s.get<std::string>("problem.bilinear.basis_out"));
  b.basis_in = basis_kind_of(s.get<std::string>("problem.bilinear.basis_in"));
  b.basis_seed = static_cast<std::uint64_t>(s.get<std::int64_t>("problem.bilinear.basis_seed"));
  e.resolved_toml = resolved_text(s, paths);
  return e;
}

}  // namespace
}  // namespace detail

std::string_view to_string(ProblemFamily family) {
  return family == ProblemFamily::bilinear ? "bilinear" : "regression";
}

// The text of configs/default.toml, embedded at build time.
std::string_view default_config_text() {
  return detail::kDefaultConfigText;
}

// Parses TOML text, applies --set overrides in order, validates, and maps to an Experiment.
Experiment parse_config(std::string_view toml_text, const std::string& source,
                        const std::vector<std::string>& overrides) {
  using namespace detail;
  toml::table document;
  try {
    document = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    const auto& begin = e.source().begin;
    throw ConfigError("", source + ":" + std::to_string(begin.line) + ":" +
                              std::to_string(begin.column) +
                              ": TOML syntax error: " + std::string(e.description()));
  }
  Settings settings;
  Issues issues;
  settings.read_table(document, "", issues);
  for (std::size_t i = 0; i < overrides.size(); ++i)
    apply_override(settings, overrides[i], i, issues);

  ResolvedPaths paths;
  for (const auto& spec : config_schema()) {
    if (spec.type != KeyType::path) continue;
    const Setting& setting = settings.at(spec.key);
    paths[std::string(spec.key)] = setting.bad
                                       ? std::string()
                                       : resolve_path(std::get<std::string>(setting.value),
                                                      setting.origin, config_directory(source));
  }
  check_consistency(settings, paths, issues);
  if (!issues.empty()) issues.raise(source);
  return build_experiment(settings, paths);
}

// Reads the config file at `path` (the embedded default when empty) and parses it.
Experiment load_config(const std::string& path, const std::vector<std::string>& overrides) {
  if (path.empty()) return parse_config(default_config_text(), "<default>", overrides);
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw IoError("cannot read config file '" + path + "': it is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw IoError("cannot read config file '" + path + "': " + std::strerror(errno) +
                  " (pass an existing TOML file, or no file for the built-in default)");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw IoError("cannot read config file '" + path + "': read error");
  return parse_config(text.str(), path, overrides);
}

}  // namespace signdyn
