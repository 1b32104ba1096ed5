// Text helpers of the config layer (see text.hpp).
#include "text.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <tuple>

namespace signdyn::detail {

std::string format_number(double x) {
  char buffer[64];
  // Integers up to 10^15 in full ("10000000", not "1e+07"); otherwise the shortest form.
  const bool whole = std::abs(x) < 1e15 && x == std::floor(x);
  const auto result =
      whole ? std::to_chars(buffer, buffer + sizeof buffer, x, std::chars_format::fixed)
            : std::to_chars(buffer, buffer + sizeof buffer, x);
  std::string text(buffer, result.ptr);
  if (text == "-nan") text = "nan";
  return text;
}

std::string format_real(double x) {
  std::string text = format_number(x);
  if (text.find_first_of(".eEn") == std::string::npos) text += ".0";  // "n": inf and nan
  return text;
}

std::string quote(std::string_view x) {
  std::string out = "\"";
  for (const char c : x) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char escape[8];
          std::snprintf(escape, sizeof escape, "\\u%04x", static_cast<unsigned char>(c));
          out += escape;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // d[i][j]: distance between the first i characters of a and the first j of b.
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1, 0));
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[n][m];
}

std::string_view last_component(std::string_view dotted) {
  const auto dot = dotted.rfind('.');
  return dot == std::string_view::npos ? dotted : dotted.substr(dot + 1);
}

namespace {

// Largest edit distance still taken for a typo of a word of this length.
std::size_t allowed_distance(std::size_t length) {
  if (length <= 2) return 0;
  if (length <= 5) return 1;
  if (length <= 9) return 2;
  return 3;
}

}  // namespace

std::vector<std::string> suggest(std::string_view word, const std::vector<std::string>& candidates,
                                 std::size_t max_count) {
  const std::string_view word_leaf = last_component(word);
  // (score, whole-name distance, candidate) for every candidate close enough.
  std::vector<std::tuple<std::size_t, std::size_t, std::string>> close;
  for (const std::string& candidate : candidates) {
    const std::size_t whole = edit_distance(word, candidate);
    const std::size_t leaf = edit_distance(word_leaf, last_component(candidate));
    const bool whole_ok = whole <= allowed_distance(word.size());
    const bool leaf_ok = leaf <= allowed_distance(word_leaf.size());
    if (!whole_ok && !leaf_ok) continue;
    const std::size_t score = whole_ok && leaf_ok ? std::min(whole, leaf) : whole_ok ? whole : leaf;
    close.emplace_back(score, whole, candidate);
  }
  std::sort(close.begin(), close.end());
  std::vector<std::string> best;
  for (const auto& [score, whole, candidate] : close) {
    if (score != std::get<0>(close.front()) || best.size() == max_count) break;
    best.push_back(candidate);
  }
  return best;
}

std::string join_alternatives(const std::vector<std::string>& names, std::string_view conjunction) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0 && i + 1 == names.size()) {
      out += ' ';
      out += conjunction;
      out += ' ';
    } else if (i > 0) {
      out += ", ";
    }
    out += names[i];
  }
  return out;
}

}  // namespace signdyn::detail
