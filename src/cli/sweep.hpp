// Private: `signdyn sweep`, a cartesian grid over config keys with one HDF5 group per point.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "ranks.hpp"
#include "signdyn/config.hpp"

namespace signdyn::cli {

/// Options of `signdyn sweep`.
struct SweepRequest {
  std::string config_path;             // empty: the built-in default
  std::vector<std::string> overrides;  // --set key=value, applied to every point first
  std::vector<std::string> grid;       // --grid key=v1,v2,... (first key varies slowest)
  std::string methods;                 // --methods mc,theory (empty: run.methods of the config)
  std::string out_path;                // empty: results/<stem>-sweep.h5
  int threads = 0;
  bool quiet = false;
};

/// One axis of the grid: a config key and the values it takes, as text.
struct GridAxis {
  std::string key;
  std::vector<std::string> values;
};

/// Splits "v1,v2,..." at the commas outside brackets, braces and quotes, so that list and
/// table values stay whole ("[sgd,signsvd],sgd" is two values); trims each value.
std::vector<std::string> split_grid_values(std::string_view text);

/// Reads one --grid argument "key=v1,v2,..."; throws ConfigError naming the key when the
/// argument has no '=', no key or an empty value.
GridAxis parse_grid_axis(const std::string& argument);

/// One point of the grid, resolved and validated.
struct SweepPoint {
  std::int64_t index = 0;                // row-major position (first axis slowest)
  std::vector<std::string> grid_values;  // one per axis
  std::vector<std::string> overrides;    // base --set, --methods, then the grid values
  Experiment experiment;                 // the point's validated configuration
};

/// Expands the grid and validates every point with the config's own parser (load_config),
/// before any work. A bad key or value throws ConfigError whose field is the grid key and
/// whose message starts with the --grid argument.
std::vector<SweepPoint> plan_sweep(const SweepRequest& request);

/// Path of the directory that holds the finished points of an unfinished sweep to `out_path`.
std::string sweep_parts_dir(const std::string& out_path);

/// Runs every point not already complete in the parts directory (each written atomically to
/// its own result file), then merges them into the sweep file and removes the parts.
/// Progress lines go to `err`, a summary table to `out`. Returns the exit code.
/// Across the ranks of `group`, rank r computes the points with index % size == r; rank 0
/// merges them once every rank is done (the others print nothing but their errors).
int run_sweep(const SweepRequest& request, std::ostream& out, std::ostream& err,
              const ProcessGroup& group = {});

}  // namespace signdyn::cli
