// signdyn/io.hpp: self-describing HDF5 result files (layout in docs/output-format.md).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "signdyn/bilinear.hpp"
#include "signdyn/trajectory.hpp"

namespace signdyn {

/// Root metadata of a result file: what produced it and from which configuration.
struct ResultMeta {
  std::string config_toml;  // the fully resolved configuration (defaults and --set applied)
  std::string version;      // signdyn version
  std::string git_commit;   // commit the binary was built from
  std::string command;      // the subcommand that wrote the file ("run", "simulate", ...)
  std::string created;      // UTC time stamp, ISO 8601
  std::string family;       // problem family ("regression", "bilinear"); empty: not recorded
  std::optional<BilinearSpec> bilinear;  // the bilinear problem (group /bilinear), if any
};

/// A whole result file: its metadata and one Trajectory per run group.
struct ResultFile {
  ResultMeta meta;
  int format_version = 0;
  std::vector<Trajectory> runs;
};

/// Current layout version written to the root attribute `format_version`.
inline constexpr int kFormatVersion = 1;

/// Group name of a run inside /runs: "<optimizer>_<method>", e.g. "sgd_mc", "signsgd_theory".
std::string run_group_name(const Trajectory& run);

/// Writes the runs to `path` atomically: everything goes to `path.tmp`, which is closed and
/// renamed to `path` only when complete. Throws IoError naming the path on failure (and
/// removes the temporary file).
void write_result(const std::string& path, const ResultMeta& meta,
                  const std::vector<Trajectory>& runs);

/// Reads a file written by write_result; throws IoError naming the path and the missing
/// piece if the file is not a signdyn result.
ResultFile read_result(const std::string& path);

}  // namespace signdyn
