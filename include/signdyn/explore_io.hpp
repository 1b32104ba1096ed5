// signdyn/explore_io.hpp: HDF5 files of the exploration commands (sweep, lr-search, phase
// diagram, batch transition). Layouts are described in README.md, "Exploring regimes".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "signdyn/io.hpp"
#include "signdyn/trajectory.hpp"

namespace signdyn {

/// One point of a sweep, to be merged: its grid values, the overrides that define it, and the
/// complete result file (written by write_result) that holds its runs.
struct SweepPointFile {
  std::int64_t index = 0;                // position in the grid, row-major (first key slowest)
  std::vector<std::string> grid_values;  // one per grid key, as given on the command line
  std::vector<std::string> overrides;    // every "key=value" applied to the base config, in order
  std::string part_path;                 // result file of this point (write_result layout)
};

/// Merges per-point result files into one sweep file, atomically (written to `path.tmp` and
/// renamed when complete). Root: the result-file attributes of `meta` (command "sweep") plus
/// `grid_keys` (newline-separated) and `n_points`; /points/<index> (creation order) holds a copy
/// of the point's file (its root attributes, `config` included, and /runs) plus attributes
/// `index`, `overrides` and `grid_values` (newline-separated). Throws IoError naming the file.
void write_sweep_file(const std::string& path, const ResultMeta& meta,
                      const std::vector<std::string>& grid_keys,
                      const std::vector<SweepPointFile>& points);

/// A sweep file read back.
struct SweepFile {
  struct Point {
    std::int64_t index = 0;
    std::vector<std::string> grid_values;
    std::vector<std::string> overrides;
    ResultMeta meta;  // root attributes of the point's result file (config: its resolved TOML)
    std::vector<Trajectory> runs;
  };
  ResultMeta meta;
  std::vector<std::string> grid_keys;
  std::vector<Point> points;  // in creation (grid) order
};

/// Reads a file written by write_sweep_file; throws IoError naming the path and what is missing.
SweepFile read_sweep_file(const std::string& path);

/// A named numeric array of an exploration file, stored row-major with its shape.
struct NamedArray {
  std::string name;                // path inside the file; '/' separates groups ("signsvd/lr")
  std::vector<std::size_t> shape;  // rank ≥ 1; the product is values.size()
  std::vector<double> values;      // row-major
  std::string description;         // stored as the dataset's `description` attribute
  bool integer = false;            // store as int32 (labels, counts); values must be integral
};

/// An exploration result: root metadata, extra string attributes and arrays.
struct ArrayFile {
  ResultMeta meta;
  std::vector<std::pair<std::string, std::string>> attributes;  // extra root string attributes
  std::vector<NamedArray> arrays;
};

/// Writes an array file atomically (`path.tmp`, renamed when complete): the result-file root
/// attributes of `meta` (format_version, versions, command, created, config), the extra
/// attributes, and one dataset per array with its `description`. Throws Error for an
/// inconsistent array (before touching the disk) and IoError naming the file on failure.
void write_array_file(const std::string& path, const ArrayFile& file);

/// Reads an array file written by write_array_file: metadata, the extra root attributes named
/// in `attribute_names`, and the arrays named in `array_names` (in that order).
ArrayFile read_array_file(const std::string& path, const std::vector<std::string>& attribute_names,
                          const std::vector<std::string>& array_names);

}  // namespace signdyn
