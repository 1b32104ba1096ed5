// src/config/text.hpp: small text helpers of the config layer: TOML literals, edit distance,
// did-you-mean suggestions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace signdyn::detail {

/// Shortest decimal text that reads back as exactly x, always marked as a TOML float ("2.0").
std::string format_real(double x);

/// Shortest decimal text of x with no float marker, for ranges in messages ("0", "1e-08").
std::string format_number(double x);

/// A TOML basic string literal: x in double quotes, with \\, \" and control characters escaped.
std::string quote(std::string_view x);

/// Optimal-string-alignment edit distance (insertions, deletions, substitutions, adjacent
/// transpositions each cost 1).
std::size_t edit_distance(std::string_view a, std::string_view b);

/// Up to `max_count` candidates close to `word`: candidates within a length-dependent edit
/// distance, matched on the whole dotted name or on its last component, best first.
std::vector<std::string> suggest(std::string_view word, const std::vector<std::string>& candidates,
                                 std::size_t max_count = 3);

/// " (did you mean a, b or c?)"-style phrase joining `names`; empty when `names` is empty.
std::string join_alternatives(const std::vector<std::string>& names, std::string_view conjunction);

/// The text after the last '.', or the whole text when it has none.
std::string_view last_component(std::string_view dotted);

}  // namespace signdyn::detail
