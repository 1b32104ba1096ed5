// Python module `signdyn`: configurations, theory, Monte Carlo, comparisons and sweeps as dicts
// of numpy arrays. Every computation goes through the library calls the CLI makes
// (plan_experiment/run_methods of src/cli/commands.hpp, run_sweep of src/cli/sweep.hpp), so a
// result here equals the datasets `build/signdyn` writes for the same configuration, bit for bit.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "explore_common.hpp"
#include "signdyn/compare.hpp"
#include "signdyn/config.hpp"
#include "signdyn/error.hpp"
#include "signdyn/explore_io.hpp"
#include "signdyn/io.hpp"
#include "sweep.hpp"

namespace py = pybind11;

namespace signdyn::python {
namespace {

// A configuration handle: the file it came from, the overrides applied to it, and the result.
struct Config {
  std::string path;                    // empty: the built-in default
  std::vector<std::string> overrides;  // "key=value", in order (the CLI's --set arguments)
  Experiment experiment;               // validated
};

// The --set text of a Python value: numbers, booleans, strings, lists and (lr) tables.
std::string value_text(const py::handle& value, const std::string& key, bool in_table = false) {
  if (py::isinstance<py::bool_>(value)) return value.cast<bool>() ? "true" : "false";
  if (py::isinstance<py::int_>(value)) return py::str(value).cast<std::string>();
  if (py::isinstance<py::float_>(value)) return py::repr(value).cast<std::string>();
  if (py::hasattr(value, "__index__"))  // numpy integers
    return py::str(py::reinterpret_steal<py::object>(PyNumber_Index(value.ptr())))
        .cast<std::string>();
  if (py::hasattr(value, "__float__") && !py::isinstance<py::str>(value))  // numpy floats
    return py::repr(py::float_(py::reinterpret_borrow<py::object>(value))).cast<std::string>();
  if (py::isinstance<py::str>(value)) {
    const std::string s = value.cast<std::string>();
    return in_table ? "\"" + s + "\"" : s;
  }
  if (py::isinstance<py::list>(value) || py::isinstance<py::tuple>(value)) {
    std::string s = "[";
    bool first = true;
    for (const py::handle item : value) {
      if (!first) s += ',';
      s += value_text(item, key, in_table);
      first = false;
    }
    return s + "]";
  }
  if (py::isinstance<py::dict>(value)) {
    std::string s = "{";
    bool first = true;
    for (const auto& [k, v] : value.cast<py::dict>()) {
      s += (first ? " " : ", ") + py::str(k).cast<std::string>() + " = " + value_text(v, key, true);
      first = false;
    }
    return s + " }";
  }
  throw py::type_error("override " + key + ": cannot use a value of type " +
                       py::str(py::type::of(value).attr("__name__")).cast<std::string>() +
                       " (use a number, bool, str, list or dict)");
}

// Overrides from a dict {"problem.d": 64} or a list of "key=value" strings (None: none).
std::vector<std::string> override_list(const py::object& overrides) {
  std::vector<std::string> list;
  if (overrides.is_none()) return list;
  if (py::isinstance<py::dict>(overrides)) {
    for (const auto& [k, v] : overrides.cast<py::dict>()) {
      const std::string key = py::str(k).cast<std::string>();
      list.push_back(key + "=" + value_text(v, key));
    }
    return list;
  }
  if (py::isinstance<py::str>(overrides))
    throw py::type_error(
        "overrides: expected a dict {\"problem.d\": 64} or a list of "
        "\"key=value\" strings, got a str");
  for (const py::handle item : overrides) list.push_back(py::str(item).cast<std::string>());
  return list;
}

// Loads and validates a configuration (errors: ValueError naming the field).
Config make_config(std::string path, std::vector<std::string> overrides) {
  Experiment experiment = load_config(path, overrides);
  return Config{std::move(path), std::move(overrides), std::move(experiment)};
}

// The configuration with one more override list applied after the existing ones.
Config with_overrides(const Config& config, const std::vector<std::string>& more) {
  std::vector<std::string> overrides = config.overrides;
  overrides.insert(overrides.end(), more.begin(), more.end());
  return make_config(config.path, std::move(overrides));
}

// The configuration restricted to `optimizer` (or the config's own, which must be one).
Config single_optimizer(const Config& config, const std::optional<std::string>& optimizer) {
  Config c = optimizer ? with_overrides(config, {"optimizer.name=" + *optimizer}) : config;
  if (c.experiment.optimizers.size() != 1) {
    std::string names;
    for (const OptimizerSpec& o : c.experiment.optimizers)
      names.append(names.empty() ? "" : ", ").append(to_string(o.kind));
    throw ConfigError("optimizer.name",
                      "optimizer.name = [" + names +
                          "] names several optimizers; pick one with optimizer=\"" +
                          std::string(to_string(c.experiment.optimizers.front().kind)) + "\"");
  }
  return c;
}

py::array_t<double> vector_array(const Eigen::VectorXd& v) {
  py::array_t<double> a(v.size());
  auto w = a.mutable_unchecked<1>();
  for (Eigen::Index i = 0; i < v.size(); ++i) w(i) = v(i);
  return a;
}

// n_rec × n_modes, row-major like the HDF5 dataset (rho[i, k]: time t[i], mode modes[k]).
py::array_t<double> matrix_array(const Eigen::MatrixXd& m) {
  py::array_t<double> a({m.rows(), m.cols()});
  auto w = a.mutable_unchecked<2>();
  for (Eigen::Index i = 0; i < m.rows(); ++i)
    for (Eigen::Index k = 0; k < m.cols(); ++k) w(i, k) = m(i, k);
  return a;
}

// The root attributes of a result file, under their HDF5 names.
void put_meta(py::dict& d, const ResultMeta& meta) {
  d["format_version"] = kFormatVersion;
  d["signdyn_version"] = meta.version;
  d["git_commit"] = meta.git_commit;
  d["command"] = meta.command;
  d["created"] = meta.created;
  d["config"] = meta.config_toml;
  if (!meta.family.empty()) d["family"] = meta.family;
}

// One run as the HDF5 group /runs/<optimizer>_<method> holds it, plus the file's root attributes.
py::dict run_dict(const Trajectory& tr, const ResultMeta& meta) {
  py::dict d;
  d["t"] = vector_array(tr.t);
  d["risk"] = vector_array(tr.risk);
  d["risk_se"] = vector_array(tr.risk_se);
  py::array_t<std::int32_t> modes(tr.modes.size());
  for (Eigen::Index k = 0; k < tr.modes.size(); ++k) modes.mutable_at(k) = tr.modes(k);
  d["modes"] = modes;
  d["rho"] = matrix_array(tr.rho);
  d["rho_se"] = matrix_array(tr.rho_se);
  if (tr.mode_pairs.cols() == 2) {  // bilinear family: (k, l) of each rho column
    py::array_t<std::int32_t> pairs({tr.mode_pairs.rows(), Eigen::Index{2}});
    for (Eigen::Index c = 0; c < tr.mode_pairs.rows(); ++c)
      for (Eigen::Index j = 0; j < 2; ++j) pairs.mutable_at(c, j) = tr.mode_pairs(c, j);
    d["mode_pairs"] = pairs;
  }
  d["method"] = tr.method;
  d["optimizer"] = tr.optimizer;
  d["solver"] = tr.solver;
  d["batch"] = tr.batch;
  d["lr"] = tr.lr;
  d["seed"] = tr.seed;
  d["replicas"] = tr.replicas;
  d["wall_seconds"] = tr.wall_seconds;
  d["status"] = to_string(tr.status);
  d["message"] = tr.message;
  d["group"] = run_group_name(tr);
  put_meta(d, meta);
  return d;
}

// Runs `command` ("ode", "simulate", "compare") on a one-optimizer config without the GIL.
cli::ExperimentRuns compute(const Config& config, const std::string& command, int threads) {
  if (threads < 0)
    throw ConfigError("threads",
                      "threads = " + std::to_string(threads) + ": must be >= 0 (0 = all cores)");
  py::gil_scoped_release release;
  const cli::ExperimentJob job = cli::plan_experiment(config.experiment, command);
  cli::NullStream discard;
  return cli::run_methods(job, threads, false, false, discard);
}

// One run of `command` on one optimizer, as a dict.
py::dict single_run(const Config& config, const std::optional<std::string>& optimizer,
                    const std::string& command, int threads) {
  const Config c = single_optimizer(config, optimizer);
  const cli::ExperimentRuns runs = compute(c, command, threads);
  const ResultMeta meta = cli::experiment_meta(command, c.experiment);
  const auto& pair = runs.pairs.front();
  const std::ptrdiff_t index = command == "ode" ? pair.theory : pair.mc;
  if (index < 0)
    throw Error("no deterministic dynamics for " +
                std::string(to_string(c.experiment.optimizers[0].kind)) +
                " yet; use signdyn.simulate");
  return run_dict(runs.runs[static_cast<std::size_t>(index)], meta);
}

py::dict compare_runs(const Config& config, const std::optional<std::string>& optimizer,
                      int threads) {
  const Config c = single_optimizer(config, optimizer);
  const cli::ExperimentRuns runs = compute(c, "compare", threads);
  const auto& pair = runs.pairs.front();
  if (pair.mc < 0 || pair.theory < 0)
    throw Error("no deterministic dynamics for " +
                std::string(to_string(c.experiment.optimizers[0].kind)) +
                " yet; nothing to compare (use signdyn.simulate)");
  const ResultMeta meta = cli::experiment_meta("compare", c.experiment);
  const Trajectory& mc = runs.runs[static_cast<std::size_t>(pair.mc)];
  const Trajectory& theory = runs.runs[static_cast<std::size_t>(pair.theory)];
  const Comparison cmp = compare_risk(mc, theory);
  py::dict d;
  d["mc"] = run_dict(mc, meta);
  d["theory"] = run_dict(theory, meta);
  d["t"] = vector_array(cmp.t);
  d["rel_error"] = vector_array(cmp.rel_error);
  d["z"] = vector_array(cmp.z);
  d["max_abs_rel_error"] = cmp.max_abs_rel_error;
  d["max_abs_z"] = cmp.max_abs_z;
  return d;
}

// Removes a temporary directory when the sweep is done with it.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "signdyn-sweep-XXXXXX");
    if (!mkdtemp(pattern.data()))
      throw IoError("cannot create a temporary directory for the sweep; pass out=PATH");
    path = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

py::dict sweep_points(const Config& config, const py::dict& grid, const py::object& methods,
                      const std::optional<std::string>& out, int threads) {
  cli::SweepRequest request;
  request.config_path = config.path;
  request.overrides = config.overrides;
  for (const auto& [k, values] : grid) {
    const std::string key = py::str(k).cast<std::string>();
    std::string text;
    if (py::isinstance<py::str>(values)) {
      text = values.cast<std::string>();  // "v1,v2,...", as on the command line
    } else {
      for (const py::handle v : values)
        text.append(text.empty() ? "" : ",").append(value_text(v, key));
    }
    request.grid.push_back(key + "=" + text);
  }
  if (py::isinstance<py::str>(methods)) {
    request.methods = methods.cast<std::string>();
  } else if (!methods.is_none()) {
    for (const py::handle m : methods)
      request.methods.append(request.methods.empty() ? "" : ",")
          .append(py::str(m).cast<std::string>());
  }
  if (threads < 0)
    throw ConfigError("threads",
                      "threads = " + std::to_string(threads) + ": must be >= 0 (0 = all cores)");
  request.threads = threads;
  request.quiet = true;
  std::optional<TempDir> temp;
  if (out) {
    request.out_path = *out;
  } else {
    temp.emplace();
    request.out_path = (temp->path / "sweep.h5").string();
  }
  SweepFile file;
  {
    py::gil_scoped_release release;
    cli::NullStream discard;
    std::ostringstream err;
    if (cli::run_sweep(request, discard, err) != 0) throw Error("sweep failed: " + err.str());
    file = read_sweep_file(request.out_path);
  }
  py::dict d;
  put_meta(d, file.meta);
  d["grid_keys"] = file.grid_keys;
  d["path"] = out ? py::cast(*out) : py::none();
  py::list points;
  for (const SweepFile::Point& p : file.points) {
    py::dict point;
    point["index"] = p.index;
    point["grid_values"] = p.grid_values;
    point["overrides"] = p.overrides;
    point["config"] = p.meta.config_toml;
    py::dict runs;
    for (const Trajectory& tr : p.runs) runs[py::str(run_group_name(tr))] = run_dict(tr, p.meta);
    point["runs"] = runs;
    points.append(point);
  }
  d["points"] = points;
  return d;
}

}  // namespace
}  // namespace signdyn::python

PYBIND11_MODULE(signdyn, m) {
  using namespace signdyn;
  using namespace signdyn::python;
  m.doc() =
      "signdyn: Monte Carlo simulation and deterministic dynamics of SGD, SignSGD, SignSVD and "
      "Muon on matrix least squares. Results are dicts of numpy arrays (t, risk, risk_se, modes, "
      "rho, rho_se) with the attributes of the HDF5 files (docs/output-format.md).";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const IoError& e) {
      PyErr_SetString(PyExc_OSError, e.what());
    } catch (const Error& e) {  // ConfigError included: the message names the field
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });

  py::class_<Config>(m, "Config", "A validated configuration (file or default, plus overrides).")
      .def_property_readonly(
          "path", [](const Config& c) { return c.path; }, "config file; empty for the default")
      .def_property_readonly(
          "overrides", [](const Config& c) { return c.overrides; },
          "the \"key=value\" overrides applied, in order")
      .def_property_readonly(
          "toml", [](const Config& c) { return c.experiment.resolved_toml; },
          "the resolved configuration as TOML (what `signdyn config` prints)")
      .def_property_readonly(
          "optimizers",
          [](const Config& c) {
            std::vector<std::string> names;
            for (const OptimizerSpec& o : c.experiment.optimizers)
              names.push_back(std::string(to_string(o.kind)));
            return names;
          },
          "the optimizer names of optimizer.name")
      .def(
          "set",
          [](const Config& c, const py::object& o) { return with_overrides(c, override_list(o)); },
          py::arg("overrides"), "a copy with more overrides applied (dict or list of key=value)")
      .def("__repr__", [](const Config& c) {
        std::string s = "signdyn.Config(" + (c.path.empty() ? std::string("<default>") : c.path);
        for (const std::string& o : c.overrides) s += ", " + o;
        return s + ")";
      });

  m.def(
      "default_config",
      [](const py::object& overrides) { return make_config("", override_list(overrides)); },
      py::arg("overrides") = py::none(),
      "The built-in default configuration with overrides ({\"problem.d\": 64} or "
      "[\"problem.d=64\"]).");
  m.def(
      "load_config",
      [](const std::string& path, const py::object& overrides) {
        return make_config(path, override_list(overrides));
      },
      py::arg("path"), py::arg("overrides") = py::none(),
      "Reads a TOML config file and applies overrides; ValueError names any bad field.");
  m.def(
      "ode",
      [](const Config& c, std::optional<std::string> optimizer) {
        return single_run(c, optimizer, "ode", 1);
      },
      py::arg("config"), py::arg("optimizer") = py::none(),
      "Deterministic dynamics (what `signdyn ode` writes) of one optimizer, as a dict.");
  m.def(
      "simulate",
      [](const Config& c, std::optional<std::string> optimizer, int threads) {
        return single_run(c, optimizer, "simulate", threads);
      },
      py::arg("config"), py::arg("optimizer") = py::none(), py::arg("threads") = 0,
      "Monte Carlo (what `signdyn simulate` writes) of one optimizer, as a dict; results do not "
      "depend on threads (0 = all cores).");
  m.def("compare", &compare_runs, py::arg("config"), py::arg("optimizer") = py::none(),
        py::arg("threads") = 0,
        "Monte Carlo and theory of one optimizer: {'mc': run, 'theory': run, 't', 'rel_error', "
        "'z', 'max_abs_rel_error', 'max_abs_z'}.");
  m.def("sweep", &sweep_points, py::arg("config"), py::arg("grid"), py::arg("methods") = py::none(),
        py::arg("out") = py::none(), py::arg("threads") = 0,
        "`signdyn sweep` over grid = {key: [values]}: {'grid_keys', 'points': [{'index', "
        "'grid_values', 'overrides', 'config', 'runs': {group: run}}], root attributes}; the "
        "sweep file is kept at out when given.");
  m.attr("__version__") = cli::make_meta("", "").version;
}
