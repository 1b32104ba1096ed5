// Private: small helpers shared by the exploration subcommands (sweep, lr-search, phase
// diagram, batch transition).
#pragma once

#include <iosfwd>
#include <ostream>
#include <streambuf>
#include <string>
#include <vector>

#include "signdyn/config.hpp"
#include "signdyn/io.hpp"

namespace signdyn::cli {

/// An ostream that discards everything (for the tables of a job run inside a sweep).
class NullStream : public std::ostream {
 public:
  NullStream() : std::ostream(&buffer_) {}

 private:
  struct NullBuffer : std::streambuf {
    int overflow(int c) override { return c; }
  } buffer_;
};

/// results/<config stem or "default">-<command>.h5, the default output of a subcommand.
std::string default_result_path(const std::string& config_path, const std::string& command);

/// Creates the parent directory of `path`; throws IoError when `path` cannot be a file there.
void prepare_output_path(const std::string& path);

/// Throws ConfigError naming problem.family when `command` (an exploration subcommand built on
/// the regression family's dynamics) is asked of the bilinear family.
void require_regression(const Experiment& experiment, const std::string& command);

/// Root metadata of a file written by `command` from the resolved configuration `config_toml`.
ResultMeta make_meta(const std::string& command, const std::string& config_toml);

/// Runs the embedded plotting script `script` (Python text) with `args` under Debian's
/// python3; returns false (with a warning on `err`) when Python or matplotlib is missing.
bool run_plot_script(const char* script, const std::vector<std::string>& args, std::ostream& err);

}  // namespace signdyn::cli
