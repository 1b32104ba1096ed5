// HDF5 files of the exploration commands: merged sweeps and array files (signdyn/explore_io.hpp).
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <numeric>
#include <sstream>

#include "h5.hpp"
#include "signdyn/error.hpp"
#include "signdyn/explore_io.hpp"

namespace signdyn {
namespace {

namespace h5 = detail::h5;
using RowMajorMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

std::string join_lines(const std::vector<std::string>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? "\n" : "") + items[i];
  return out;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

void write_meta(hid_t root, const ResultMeta& meta) {
  h5::write_attribute<int>(root, "format_version", kFormatVersion);
  h5::write_string_attribute(root, "signdyn_version", meta.version);
  h5::write_string_attribute(root, "git_commit", meta.git_commit);
  h5::write_string_attribute(root, "command", meta.command);
  h5::write_string_attribute(root, "created", meta.created);
  h5::write_string_attribute(root, "config", meta.config_toml);
}

ResultMeta read_meta(hid_t root, const std::string& path) {
  for (const char* name :
       {"format_version", "signdyn_version", "git_commit", "command", "created", "config"})
    if (!h5::attribute_exists(root, name))
      throw IoError("cannot read " + path + ": root attribute '" + name +
                    "' is missing (not a signdyn exploration file)");
  const int version = h5::read_attribute<int>(root, "format_version");
  if (version < 1 || version > kFormatVersion)
    throw IoError("cannot read " + path + ": layout version " + std::to_string(version) +
                  ", this signdyn reads versions 1 to " + std::to_string(kFormatVersion));
  ResultMeta meta;
  meta.version = h5::read_string_attribute(root, "signdyn_version");
  meta.git_commit = h5::read_string_attribute(root, "git_commit");
  meta.command = h5::read_string_attribute(root, "command");
  meta.created = h5::read_string_attribute(root, "created");
  meta.config_toml = h5::read_string_attribute(root, "config");
  if (h5::attribute_exists(root, "family"))  // point files of run/compare (the problem family)
    meta.family = h5::read_string_attribute(root, "family");
  return meta;
}

// Writes `fill(tmp)` to path.tmp and renames it to `path`; removes the temporary on failure.
void write_atomically(const std::string& path,
                      const std::function<void(const std::string&)>& fill) {
  const std::string tmp_path = path + ".tmp";
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty() && !std::filesystem::is_directory(dir, ec))
    throw IoError("cannot write " + path + ": " + dir.string() + " is not an existing directory");
  try {
    fill(tmp_path);
  } catch (...) {
    if (std::filesystem::is_regular_file(tmp_path, ec)) std::remove(tmp_path.c_str());
    throw;
  }
  if (std::rename(tmp_path.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(tmp_path.c_str());
    throw IoError("cannot rename " + tmp_path + " to " + path + ": " + reason);
  }
}

// Reads the run group `name` under `runs` (layout of docs/output-format.md).
Trajectory read_run(hid_t runs, const std::string& name, const std::string& where) {
  h5::H5Id group = h5::open_group(runs, name);
  const hid_t g = group.get();
  Trajectory run;
  run.method = h5::read_string_attribute(g, "method");
  run.optimizer = h5::read_string_attribute(g, "optimizer");
  run.solver = h5::read_string_attribute(g, "solver");
  run.batch = h5::read_attribute<std::int64_t>(g, "batch");
  run.lr = h5::read_attribute<double>(g, "lr");
  run.seed = h5::read_attribute<std::uint64_t>(g, "seed");
  run.replicas = h5::read_attribute<std::int64_t>(g, "replicas");
  run.wall_seconds = h5::read_attribute<double>(g, "wall_seconds");
  const std::string status = h5::read_string_attribute(g, "status");
  run.status = status == "completed"  ? RunStatus::completed
               : status == "diverged" ? RunStatus::diverged
                                      : RunStatus::stalled;
  run.message = h5::read_string_attribute(g, "message");
  const auto n_rec = static_cast<Eigen::Index>(h5::dataset_dims(g, "t").at(0));
  const auto n_modes = static_cast<Eigen::Index>(h5::dataset_dims(g, "modes").at(0));
  for (const char* vec : {"risk", "risk_se"})
    if (h5::dataset_dims(g, vec) != std::vector<hsize_t>{static_cast<hsize_t>(n_rec)})
      throw IoError(where + "/" + name + "/" + vec + " does not have the length of t");
  for (const char* mat : {"rho", "rho_se"})
    if (h5::dataset_dims(g, mat) !=
        std::vector<hsize_t>{static_cast<hsize_t>(n_rec), static_cast<hsize_t>(n_modes)})
      throw IoError(where + "/" + name + "/" + mat + " is not n_rec x n_modes");
  run.t.resize(n_rec);
  run.risk.resize(n_rec);
  run.risk_se.resize(n_rec);
  run.modes.resize(n_modes);
  h5::read_dataset(g, "t", run.t.data());
  h5::read_dataset(g, "risk", run.risk.data());
  h5::read_dataset(g, "risk_se", run.risk_se.data());
  h5::read_dataset(g, "modes", run.modes.data());
  RowMajorMatrix rho(n_rec, n_modes), rho_se(n_rec, n_modes);
  h5::read_dataset(g, "rho", rho.data());
  h5::read_dataset(g, "rho_se", rho_se.data());
  run.rho = rho;
  run.rho_se = rho_se;
  if (h5::link_exists(g, "mode_pairs")) {  // bilinear family (docs/output-format.md)
    if (h5::dataset_dims(g, "mode_pairs") != std::vector<hsize_t>{static_cast<hsize_t>(n_modes), 2})
      throw IoError(where + "/" + name + "/mode_pairs is not n_modes x 2");
    Eigen::Matrix<int, Eigen::Dynamic, 2, Eigen::RowMajor> pairs(n_modes, 2);
    h5::read_dataset(g, "mode_pairs", pairs.data());
    run.mode_pairs = pairs;
  }
  return run;
}

// Creates the groups of "a/b/c" below `root` up to the last component; returns the parent.
h5::H5Id parent_group(hid_t root, const std::string& name, std::string& leaf) {
  h5::H5Id current = h5::open_group(root, ".");
  std::size_t start = 0;
  for (std::size_t slash; (slash = name.find('/', start)) != std::string::npos; start = slash + 1) {
    const std::string part = name.substr(start, slash - start);
    current = h5::link_exists(current.get(), part) ? h5::open_group(current.get(), part)
                                                   : h5::create_group(current.get(), part);
  }
  leaf = name.substr(start);
  return current;
}

void check_array(const std::string& path, const NamedArray& a) {
  const std::string label = "cannot write " + path + ": array '" + a.name + "'";
  if (a.name.empty() || a.name.front() == '/' || a.name.back() == '/')
    throw Error(label + ": the name must be a relative path such as \"risk\" or \"sgd/lr\"");
  if (a.shape.empty()) throw Error(label + ": the shape must have rank 1 or more");
  const std::size_t count =
      std::accumulate(a.shape.begin(), a.shape.end(), std::size_t{1}, std::multiplies<>());
  if (count != a.values.size())
    throw Error(label + ": " + std::to_string(a.values.size()) + " values do not fill the shape (" +
                std::to_string(count) + " expected)");
  if (a.integer)
    for (double v : a.values)
      if (!(std::isfinite(v) && v == std::round(v) && std::abs(v) < 2147483648.0))
        throw Error(label + ": an integer array holds the non-integral value " + std::to_string(v));
}

}  // namespace

void write_sweep_file(const std::string& path, const ResultMeta& meta,
                      const std::vector<std::string>& grid_keys,
                      const std::vector<SweepPointFile>& points) {
  h5::silence_errors();
  for (const SweepPointFile& p : points)
    if (p.grid_values.size() != grid_keys.size())
      throw Error("cannot write " + path + ": point " + std::to_string(p.index) + " has " +
                  std::to_string(p.grid_values.size()) + " grid values for " +
                  std::to_string(grid_keys.size()) + " grid keys");
  write_atomically(path, [&](const std::string& tmp) {
    h5::H5Id file = h5::create_file(tmp);
    write_meta(file.get(), meta);
    h5::write_string_attribute(file.get(), "grid_keys", join_lines(grid_keys));
    h5::write_attribute<std::int64_t>(file.get(), "n_points",
                                      static_cast<std::int64_t>(points.size()));
    {
      h5::H5Id group = h5::create_group(file.get(), "points", /*track_order=*/true);
      for (const SweepPointFile& p : points) {
        h5::H5Id part = h5::open_file(p.part_path);
        const std::string name = std::to_string(p.index);
        // H5Ocopy of the part's root group: its attributes and /runs come along unchanged.
        if (H5Ocopy(part.get(), ".", group.get(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT) < 0)
          throw IoError("cannot copy " + p.part_path + " into " + tmp + " as /points/" + name +
                        ": " + h5::error_stack());
        h5::H5Id point = h5::open_group(group.get(), name);
        h5::write_attribute<std::int64_t>(point.get(), "index", p.index);
        h5::write_string_attribute(point.get(), "overrides", join_lines(p.overrides));
        h5::write_string_attribute(point.get(), "grid_values", join_lines(p.grid_values));
      }
      group.close("group /points in " + tmp);
    }
    file.close("HDF5 file " + tmp);
  });
}

SweepFile read_sweep_file(const std::string& path) {
  h5::silence_errors();
  if (!std::filesystem::is_regular_file(path))
    throw IoError("cannot read sweep file " + path + ": no such file");
  if (!h5::is_hdf5(path)) throw IoError("cannot read sweep file " + path + ": not an HDF5 file");
  h5::H5Id file = h5::open_file(path);
  SweepFile sweep;
  sweep.meta = read_meta(file.get(), path);
  if (!h5::attribute_exists(file.get(), "grid_keys") || !h5::link_exists(file.get(), "points"))
    throw IoError("cannot read sweep file " + path +
                  ": no grid_keys attribute or /points group (written by `signdyn sweep`?)");
  sweep.grid_keys = split_lines(h5::read_string_attribute(file.get(), "grid_keys"));
  h5::H5Id points = h5::open_group(file.get(), "points");
  for (const std::string& name : h5::link_names(points.get())) {
    h5::H5Id g = h5::open_group(points.get(), name);
    SweepFile::Point p;
    p.index = h5::read_attribute<std::int64_t>(g.get(), "index");
    p.grid_values = split_lines(h5::read_string_attribute(g.get(), "grid_values"));
    p.overrides = split_lines(h5::read_string_attribute(g.get(), "overrides"));
    p.meta = read_meta(g.get(), path + ": /points/" + name);
    h5::H5Id runs = h5::open_group(g.get(), "runs");
    const std::string where = path + ": /points/" + name + "/runs";
    for (const std::string& run : h5::link_names(runs.get()))
      p.runs.push_back(read_run(runs.get(), run, where));
    sweep.points.push_back(std::move(p));
  }
  return sweep;
}

void write_array_file(const std::string& path, const ArrayFile& file) {
  h5::silence_errors();
  for (const NamedArray& a : file.arrays) check_array(path, a);
  write_atomically(path, [&](const std::string& tmp) {
    h5::H5Id out = h5::create_file(tmp);
    write_meta(out.get(), file.meta);
    for (const auto& [name, value] : file.attributes)
      h5::write_string_attribute(out.get(), name, value);
    for (const NamedArray& a : file.arrays) {
      std::string leaf;
      h5::H5Id parent = parent_group(out.get(), a.name, leaf);
      const std::vector<hsize_t> dims(a.shape.begin(), a.shape.end());
      h5::H5Id ds;
      if (a.integer) {
        const std::vector<int> ints(a.values.begin(), a.values.end());
        ds = h5::write_dataset(parent.get(), leaf, dims, ints.data());
      } else {
        ds = h5::write_dataset(parent.get(), leaf, dims, a.values.data());
      }
      h5::write_string_attribute(ds.get(), "description", a.description);
    }
    out.close("HDF5 file " + tmp);
  });
}

ArrayFile read_array_file(const std::string& path, const std::vector<std::string>& attribute_names,
                          const std::vector<std::string>& array_names) {
  h5::silence_errors();
  if (!std::filesystem::is_regular_file(path))
    throw IoError("cannot read " + path + ": no such file");
  if (!h5::is_hdf5(path)) throw IoError("cannot read " + path + ": not an HDF5 file");
  h5::H5Id file = h5::open_file(path);
  ArrayFile out;
  out.meta = read_meta(file.get(), path);
  for (const std::string& name : attribute_names)
    out.attributes.emplace_back(name, h5::read_string_attribute(file.get(), name));
  for (const std::string& name : array_names) {
    NamedArray a;
    a.name = name;
    const std::vector<hsize_t> dims = h5::dataset_dims(file.get(), name);
    a.shape.assign(dims.begin(), dims.end());
    a.values.resize(
        std::accumulate(a.shape.begin(), a.shape.end(), std::size_t{1}, std::multiplies<>()));
    try {
      h5::read_dataset(file.get(), name, a.values.data());
    } catch (const IoError&) {  // an integer array (write_array_file's `integer`)
      std::vector<int> ints(a.values.size());
      h5::read_dataset(file.get(), name, ints.data());
      a.values.assign(ints.begin(), ints.end());
      a.integer = true;
    }
    out.arrays.push_back(std::move(a));
  }
  return out;
}

}  // namespace signdyn
