// Private: `signdyn sweep` (see sweep.hpp). Each point is one `signdyn run` job written
// atomically to <out>.parts/point-<index>.h5; the merge into <out> is atomic too, so a killed
// sweep never leaves a file that looks complete, and a rerun skips the finished points.
#include "sweep.hpp"

#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <ostream>
#include <set>

#include "app.hpp"
#include "commands.hpp"
#include "explore_common.hpp"
#include "signdyn/error.hpp"
#include "signdyn/explore_io.hpp"
#include "signdyn/io.hpp"

namespace signdyn::cli {
namespace {

namespace fs = std::filesystem;

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t");
  return std::string(s.substr(first, last - first + 1));
}

std::string part_path(const std::string& dir, std::int64_t index) {
  return (fs::path(dir) / ("point-" + std::to_string(index) + ".h5")).string();
}

// True when `path` is a finished point file for exactly this configuration.
bool point_is_complete(const std::string& path, const Experiment& experiment) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return false;
  try {
    return read_result(path).meta.config_toml == experiment.resolved_toml;
  } catch (const Error&) {
    return false;  // unreadable: recompute it
  }
}

std::string describe_point(const std::vector<GridAxis>& axes, const SweepPoint& p) {
  std::string s;
  for (std::size_t k = 0; k < axes.size(); ++k)
    s += (k ? " " : "") + axes[k].key + "=" + p.grid_values[k];
  return s;
}

}  // namespace

std::vector<std::string> split_grid_values(std::string_view text) {
  std::vector<std::string> values;
  int depth = 0;
  char quote = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    const char c = i < text.size() ? text[i] : ',';
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if (c == ']' || c == '}') {
      --depth;
    } else if (c == ',' && (depth == 0 || i == text.size())) {
      values.push_back(trim(text.substr(start, i - start)));
      start = i + 1;
    }
  }
  return values;
}

GridAxis parse_grid_axis(const std::string& argument) {
  const auto eq = argument.find('=');
  GridAxis axis;
  axis.key = trim(std::string_view(argument).substr(0, eq));
  if (eq == std::string::npos || axis.key.empty())
    throw ConfigError(axis.key, "--grid " + argument +
                                    ": expected key=v1,v2,..., e.g. --grid optimizer.batch=1,4,16");
  axis.values = split_grid_values(std::string_view(argument).substr(eq + 1));
  for (const std::string& v : axis.values)
    if (v.empty())
      throw ConfigError(axis.key, "--grid " + argument + ": empty value for " + axis.key +
                                      " (values are separated by single commas)");
  return axis;
}

std::vector<SweepPoint> plan_sweep(const SweepRequest& request) {
  if (request.grid.empty())
    throw ConfigError("", "signdyn sweep needs at least one --grid key=v1,v2,...");
  std::vector<GridAxis> axes;
  std::set<std::string> keys;
  for (const std::string& arg : request.grid) {
    axes.push_back(parse_grid_axis(arg));
    if (!keys.insert(axes.back().key).second)
      throw ConfigError(axes.back().key,
                        "--grid " + axes.back().key + " is given twice; list all its values once");
  }
  std::vector<std::string> base = request.overrides;
  if (!request.methods.empty()) base.push_back("run.methods=[" + request.methods + "]");
  // The base alone first, so that an error there is not blamed on a grid key.
  load_config(request.config_path, base);

  // Every value of every axis on its own: the error names the key and the value.
  for (const GridAxis& axis : axes)
    for (const std::string& value : axis.values) {
      std::vector<std::string> overrides = base;
      overrides.push_back(axis.key + "=" + value);
      try {
        load_config(request.config_path, overrides);
      } catch (const ConfigError& e) {
        throw ConfigError(axis.key, "--grid " + axis.key + "=" + value + ": " + e.what());
      }
    }

  std::size_t total = 1;
  for (const GridAxis& axis : axes) total *= axis.values.size();
  std::vector<SweepPoint> points(total);
  for (std::size_t index = 0; index < total; ++index) {
    SweepPoint& p = points[index];
    p.index = static_cast<std::int64_t>(index);
    p.overrides = base;
    std::size_t rest = index, stride = total;
    for (const GridAxis& axis : axes) {
      stride /= axis.values.size();
      const std::string& value = axis.values[rest / stride];
      rest %= stride;
      p.grid_values.push_back(value);
      p.overrides.push_back(axis.key + "=" + value);
    }
    try {
      p.experiment = load_config(request.config_path, p.overrides);
    } catch (const ConfigError& e) {  // a combination of values fails a cross-field check
      throw ConfigError(e.field(), "--grid point " + std::to_string(index) + " (" +
                                       describe_point(axes, p) + "): " + e.what());
    }
  }
  return points;
}

std::string sweep_parts_dir(const std::string& out_path) {
  return out_path + ".parts";
}

int run_sweep(const SweepRequest& request, std::ostream& out, std::ostream& err,
              const ProcessGroup& group) {
  const std::vector<SweepPoint> points = plan_sweep(request);
  std::vector<GridAxis> axes;
  for (const std::string& arg : request.grid) axes.push_back(parse_grid_axis(arg));

  const std::string out_path = request.out_path.empty()
                                   ? default_result_path(request.config_path, "sweep")
                                   : request.out_path;
  prepare_output_path(out_path);
  const std::string parts = sweep_parts_dir(out_path);
  std::error_code ec;
  fs::create_directories(parts, ec);
  if (ec)
    throw IoError("cannot create the directory " + parts +
                  " for the finished points: " + ec.message() + "; choose another --out");

  const bool verbose = !request.quiet && group.rank == 0;
  if (verbose) {
    err << "signdyn sweep: " << points.size() << " points over";
    for (const GridAxis& a : axes) err << " " << a.key << " (" << a.values.size() << ")";
    if (group.size > 1) err << ", split across " << group.size << " MPI ranks";
    err << "; finished points are kept in " << parts << " until the merge\n";
  }

  NullStream discard;
  const auto start = std::chrono::steady_clock::now();
  std::size_t skipped = 0;
  // This rank's points (all of them in a single process); each is its own atomic file.
  const auto compute_points = [&] {
    for (const SweepPoint& p : points) {
      if (p.index % group.size != group.rank) continue;
      const std::string path = part_path(parts, p.index);
      const std::string label = "  [" + std::to_string(p.index + 1) + "/" +
                                std::to_string(points.size()) + "] " + describe_point(axes, p);
      if (point_is_complete(path, p.experiment)) {
        ++skipped;
        if (verbose) err << label << ": complete, skipped\n";
        continue;
      }
      const auto t0 = std::chrono::steady_clock::now();
      RunRequest run;
      run.command = "sweep";
      run.config_path = request.config_path;
      run.overrides = p.overrides;
      run.out_path = path;
      run.threads = request.threads;
      run.quiet = true;
      run_experiment(run, discard, err);
      if (verbose) {
        const double s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double total =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        char line[96];
        std::snprintf(line, sizeof line, ": %.2f s (elapsed %.1f s)\n", s, total);
        err << label << line;
      }
    }
  };
  if (group.size == 1) {
    compute_points();
  } else {
    // Every rank reaches the exchange, also after a failure, so that none waits forever; a
    // failing rank rethrows its own error (printed by run_app), the others report the code.
    int code = kOk;
    std::exception_ptr failure;
    try {
      compute_points();
    } catch (const Error&) {
      failure = std::current_exception();
      code = kBadInput;
    } catch (...) {
      failure = std::current_exception();
      code = kInternalError;
    }
    const int worst = max_over_ranks(group, code);
    if (failure) std::rethrow_exception(failure);
    if (worst != kOk) {
      if (group.rank == 0)
        err << "signdyn sweep: another MPI rank failed (its message is above); the finished "
               "points are kept in "
            << parts << " and a rerun computes only the rest\n";
      return worst;
    }
    if (group.rank != 0) return kOk;  // rank 0 merges
  }

  std::vector<SweepPointFile> files;
  for (const SweepPoint& p : points)
    files.push_back({p.index, p.grid_values, p.overrides, part_path(parts, p.index)});
  std::vector<std::string> keys;
  for (const GridAxis& a : axes) keys.push_back(a.key);
  std::vector<std::string> base = request.overrides;
  if (!request.methods.empty()) base.push_back("run.methods=[" + request.methods + "]");
  const ResultMeta meta = make_meta("sweep", load_config(request.config_path, base).resolved_toml);
  write_sweep_file(out_path, meta, keys, files);
  for (const SweepPointFile& f : files) {
    fs::remove(f.part_path, ec);
    fs::remove(f.part_path + ".tmp", ec);  // left by a point interrupted while writing
  }
  fs::remove(parts, ec);  // only if empty: anything else there is not ours

  // Summary: the final risk of every run at every point.
  const SweepFile sweep = read_sweep_file(out_path);
  if (verbose) {
    out << "point  ";
    for (const std::string& k : keys) out << k << "  ";
    out << "final risk per run\n";
    for (const SweepFile::Point& p : sweep.points) {
      out << p.index;
      for (const std::string& v : p.grid_values) out << "  " << v;
      for (const Trajectory& tr : p.runs) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "  %s %.5e", run_group_name(tr).c_str(),
                      tr.risk.size() ? tr.risk(tr.risk.size() - 1) : 0.0);
        out << buf;
        if (tr.status != RunStatus::completed) out << " (" << to_string(tr.status) << ")";
      }
      out << "\n";
    }
    if (skipped && group.size == 1)
      out << skipped << " of " << points.size() << " points were already complete\n";
  }
  out << "wrote " << out_path << "\n";
  return kOk;
}

}  // namespace signdyn::cli
