// HDF5 result files: layout version 1 (docs/output-format.md), written atomically.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <string_view>

#include "h5.hpp"
#include "signdyn/error.hpp"
#include "signdyn/io.hpp"

namespace signdyn {
namespace {

namespace h5 = detail::h5;
using RowMajorMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Root attributes every signdyn result carries; read_result names the missing ones.
constexpr std::string_view kRootAttributes[] = {"format_version", "signdyn_version", "git_commit",
                                                "command",        "created",         "config"};

// Short self-descriptions stored as the `description` attribute of each dataset.
constexpr const char* kDescribeT = "record times, in optimizer steps k (continuous time t = k)";
constexpr const char* kDescribeRisk =
    "population risk R(t) = (1/(2m)) E|W^T x - y|^2, noise floor sigma^2/2 included, in squared "
    "label units; Monte Carlo: mean over replicas";
constexpr const char* kDescribeRiskSe =
    "standard error of the Monte Carlo mean of risk, in squared label units (0 for theory)";
constexpr const char* kDescribeModes =
    "recorded mode indices j, 1-based, of K's eigenbasis ordered by descending lambda_j";
constexpr const char* kDescribeRho =
    "per-mode energies rho_j(t) = |u_j^T (W - W*)|^2 / m, in squared weight units; "
    "rho[i, k] is record t[i], mode modes[k]";
constexpr const char* kDescribeModesBilinear =
    "bilinear family: row index k (1-based) of each recorded mode pair, = mode_pairs[:, 0]";
constexpr const char* kDescribeRhoBilinear =
    "bilinear family: per-mode energies rho_kl(t) = (u_k^T (W - W*) v_l)^2 in the eigenbases of "
    "K_out and K_in, in squared weight units; rho[i, c] is record t[i], pair mode_pairs[c]";
constexpr const char* kDescribeModePairs =
    "bilinear family: recorded mode pairs (k, l), 1-based, k of K_out (descending mu_k) and l "
    "of K_in (descending lambda_l); mode_pairs[c] = (k, l) labels column c of rho";
constexpr const char* kDescribeRhoSe =
    "standard error of the Monte Carlo mean of rho (0 for theory); rho_se[i, k] pairs with "
    "rho[i, k]";

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

// Checks every run before anything touches the disk: names usable as HDF5 link names, distinct
// group names, and consistent sizes (n_rec from t, n_modes from modes).
void validate_runs(const std::string& path, const std::vector<Trajectory>& runs) {
  std::map<std::string, std::size_t> seen;
  for (std::size_t r = 0; r < runs.size(); ++r) {
    const Trajectory& run = runs[r];
    const std::string label = "cannot write " + path + ": run " + std::to_string(r) +
                              " (optimizer '" + run.optimizer + "', method '" + run.method + "')";
    for (const std::string* field : {&run.optimizer, &run.method}) {
      if (field->empty() || !std::all_of(field->begin(), field->end(), is_name_char)) {
        throw Error(label +
                    ": optimizer and method must be non-empty and use only letters, digits and "
                    "'-' (they form the group name <optimizer>_<method>)");
      }
    }
    const Eigen::Index n_rec = run.t.size();
    const Eigen::Index n_modes = run.modes.size();
    auto require = [&](bool ok, const std::string& what) {
      if (!ok) {
        throw Error(label + ": " + what + " (n_rec = " + std::to_string(n_rec) +
                    " from t, n_modes = " + std::to_string(n_modes) + " from modes)");
      }
    };
    require(run.risk.size() == n_rec,
            "risk has " + std::to_string(run.risk.size()) + " entries, expected n_rec");
    require(run.risk_se.size() == n_rec,
            "risk_se has " + std::to_string(run.risk_se.size()) + " entries, expected n_rec");
    require(run.rho.rows() == n_rec && run.rho.cols() == n_modes,
            "rho is " + std::to_string(run.rho.rows()) + "x" + std::to_string(run.rho.cols()) +
                ", expected n_rec x n_modes");
    require(run.rho_se.rows() == n_rec && run.rho_se.cols() == n_modes,
            "rho_se is " + std::to_string(run.rho_se.rows()) + "x" +
                std::to_string(run.rho_se.cols()) + ", expected n_rec x n_modes");
    require(n_modes == 0 || run.modes.minCoeff() >= 1, "modes must be 1-based indices j >= 1");
    require(run.mode_pairs.size() == 0 ||
                (run.mode_pairs.rows() == n_modes && run.mode_pairs.cols() == 2 &&
                 run.mode_pairs.minCoeff() >= 1),
            "mode_pairs is " + std::to_string(run.mode_pairs.rows()) + "x" +
                std::to_string(run.mode_pairs.cols()) + ", expected n_modes x 2 with entries >= 1");
    const std::string name = run_group_name(run);
    const auto [it, inserted] = seen.emplace(name, r);
    if (!inserted) {
      throw IoError("cannot write " + path + ": runs " + std::to_string(it->second) + " and " +
                    std::to_string(r) + " would both be stored as /runs/" + name +
                    "; give them distinct optimizer or method names");
    }
  }
}

template <class T>
void write_described(hid_t group, const std::string& name, const std::vector<hsize_t>& dims,
                     const T* data, const char* description) {
  const h5::H5Id ds = h5::write_dataset(group, name, dims, data);
  h5::write_string_attribute(ds.get(), "description", description);
}

void write_run(hid_t runs_group, const Trajectory& run) {
  h5::H5Id group = h5::create_group(runs_group, run_group_name(run));
  const hid_t g = group.get();
  h5::write_string_attribute(g, "method", run.method);
  h5::write_string_attribute(g, "optimizer", run.optimizer);
  h5::write_string_attribute(g, "solver", run.solver);
  h5::write_attribute<std::int64_t>(g, "batch", run.batch);
  h5::write_attribute<double>(g, "lr", run.lr);
  h5::write_attribute<std::uint64_t>(g, "seed", run.seed);
  h5::write_attribute<std::int64_t>(g, "replicas", run.replicas);
  h5::write_attribute<double>(g, "wall_seconds", run.wall_seconds);
  h5::write_string_attribute(g, "status", to_string(run.status));
  h5::write_string_attribute(g, "message", run.message);

  const auto n_rec = static_cast<hsize_t>(run.t.size());
  const auto n_modes = static_cast<hsize_t>(run.modes.size());
  write_described(g, "t", {n_rec}, run.t.data(), kDescribeT);
  write_described(g, "risk", {n_rec}, run.risk.data(), kDescribeRisk);
  write_described(g, "risk_se", {n_rec}, run.risk_se.data(), kDescribeRiskSe);
  const bool bilinear = run.mode_pairs.cols() == 2;  // bilinear family (possibly 0 pairs)
  write_described(g, "modes", {n_modes}, run.modes.data(),
                  bilinear ? kDescribeModesBilinear : kDescribeModes);
  if (bilinear) {
    using RowMajorPairs = Eigen::Matrix<int, Eigen::Dynamic, 2, Eigen::RowMajor>;
    const RowMajorPairs pairs = run.mode_pairs;
    write_described(g, "mode_pairs", {n_modes, 2}, pairs.data(), kDescribeModePairs);
  }
  // Eigen stores rho column-major; HDF5 (and h5py) index row-major, so write a row-major copy:
  // then rho[i, k] in h5py is run.rho(i, k), record i and mode modes[k].
  const RowMajorMatrix rho = run.rho;
  const RowMajorMatrix rho_se = run.rho_se;
  write_described(g, "rho", {n_rec, n_modes}, rho.data(),
                  bilinear ? kDescribeRhoBilinear : kDescribeRho);
  write_described(g, "rho_se", {n_rec, n_modes}, rho_se.data(), kDescribeRhoSe);
}

// The group /bilinear: the bilinear problem as attributes (docs/output-format.md).
void write_bilinear_spec(hid_t root, const BilinearSpec& b) {
  h5::H5Id group = h5::create_group(root, "bilinear");
  const hid_t g = group.get();
  h5::write_string_attribute(
      g, "description",
      "bilinear problem y = x_out^T W* x_in + eps (docs/theory/bilinear.md): "
      "K_out = O_out diag(mu) O_out^T, K_in = O_in diag(lambda) O_in^T with mu, lambda from "
      "covariance_out/in (power_law: mu_k = k^(-2 alpha_out), lambda_l = l^(-2 alpha_in); or "
      "isotropic, or from_file path_out/in), O diagonal or Haar (basis_out/in, basis_seed), "
      "W* = O_out W~ O_in^T with W~_kl = k^(-beta_out) l^(-beta_in) z_kl, eps ~ N(0, sigma^2)");
  h5::write_attribute<std::int64_t>(g, "n_out", b.n_out);
  h5::write_attribute<std::int64_t>(g, "n_in", b.n_in);
  h5::write_attribute<double>(g, "sigma", b.sigma);
  h5::write_string_attribute(g, "covariance_out", std::string(to_string(b.covariance_out)));
  h5::write_string_attribute(g, "covariance_in", std::string(to_string(b.covariance_in)));
  h5::write_attribute<double>(g, "alpha_out", b.alpha_out);
  h5::write_attribute<double>(g, "alpha_in", b.alpha_in);
  h5::write_string_attribute(g, "path_out", b.file_out);
  h5::write_string_attribute(g, "path_in", b.file_in);
  h5::write_attribute<double>(g, "beta_out", b.beta_out);
  h5::write_attribute<double>(g, "beta_in", b.beta_in);
  h5::write_string_attribute(g, "basis_out", std::string(to_string(b.basis_out)));
  h5::write_string_attribute(g, "basis_in", std::string(to_string(b.basis_in)));
  h5::write_attribute<std::uint64_t>(g, "basis_seed", b.basis_seed);
  group.close("group /bilinear");
}

// Reads /bilinear; files written before the spectra and bases were configurable have power
// laws in the diagonal basis, which are the defaults of BilinearSpec.
BilinearSpec read_bilinear_spec(hid_t root) {
  h5::H5Id group = h5::open_group(root, "bilinear");
  const hid_t g = group.get();
  BilinearSpec b;
  b.n_out = h5::read_attribute<std::int64_t>(g, "n_out");
  b.n_in = h5::read_attribute<std::int64_t>(g, "n_in");
  b.sigma = h5::read_attribute<double>(g, "sigma");
  b.alpha_out = h5::read_attribute<double>(g, "alpha_out");
  b.alpha_in = h5::read_attribute<double>(g, "alpha_in");
  b.beta_out = h5::read_attribute<double>(g, "beta_out");
  b.beta_in = h5::read_attribute<double>(g, "beta_in");
  if (h5::attribute_exists(g, "covariance_out")) {
    b.covariance_out = covariance_kind_of(h5::read_string_attribute(g, "covariance_out"));
    b.covariance_in = covariance_kind_of(h5::read_string_attribute(g, "covariance_in"));
    b.file_out = h5::read_string_attribute(g, "path_out");
    b.file_in = h5::read_string_attribute(g, "path_in");
    b.basis_out = basis_kind_of(h5::read_string_attribute(g, "basis_out"));
    b.basis_in = basis_kind_of(h5::read_string_attribute(g, "basis_in"));
    b.basis_seed = h5::read_attribute<std::uint64_t>(g, "basis_seed");
  }
  return b;
}

// Writes the complete file at `tmp_path` and closes it (the close is checked: it flushes).
void write_file(const std::string& tmp_path, const ResultMeta& meta,
                const std::vector<Trajectory>& runs) {
  h5::H5Id file = h5::create_file(tmp_path);
  const hid_t root = file.get();
  h5::write_attribute<int>(root, "format_version", kFormatVersion);
  h5::write_string_attribute(root, "signdyn_version", meta.version);
  h5::write_string_attribute(root, "git_commit", meta.git_commit);
  h5::write_string_attribute(root, "command", meta.command);
  h5::write_string_attribute(root, "created", meta.created);
  h5::write_string_attribute(root, "config", meta.config_toml);
  if (!meta.family.empty()) h5::write_string_attribute(root, "family", meta.family);
  if (meta.bilinear) write_bilinear_spec(root, *meta.bilinear);
  {
    h5::H5Id runs_group = h5::create_group(root, "runs", /*track_order=*/true);
    for (const Trajectory& run : runs) write_run(runs_group.get(), run);
    runs_group.close("group /runs in " + tmp_path);
  }
  file.close("HDF5 file " + tmp_path);
}

RunStatus parse_status(const std::string& text, const std::string& where) {
  for (RunStatus s : {RunStatus::completed, RunStatus::diverged, RunStatus::stalled}) {
    if (text == to_string(s)) return s;
  }
  throw IoError(where + " has status '" + text + "', expected one of completed, diverged, stalled");
}

// Reads a rank-1 dataset of length n (n < 0: any length).
template <class Vector>
Vector read_vector(hid_t group, const std::string& name, Eigen::Index n, const std::string& where) {
  const std::vector<hsize_t> dims = h5::dataset_dims(group, name);
  if (dims.size() != 1 || (n >= 0 && static_cast<Eigen::Index>(dims[0]) != n)) {
    throw IoError(where + "/" + name + " has rank " + std::to_string(dims.size()) +
                  (dims.size() == 1 ? " and length " + std::to_string(dims[0]) : std::string()) +
                  ", expected a vector of length " + std::to_string(n) + " (n_rec from t)");
  }
  Vector v(static_cast<Eigen::Index>(dims[0]));
  h5::read_dataset(group, name, v.data());
  return v;
}

Eigen::MatrixXd read_matrix(hid_t group, const std::string& name, Eigen::Index rows,
                            Eigen::Index cols, const std::string& where) {
  const std::vector<hsize_t> dims = h5::dataset_dims(group, name);
  if (dims.size() != 2 || static_cast<Eigen::Index>(dims[0]) != rows ||
      static_cast<Eigen::Index>(dims[1]) != cols) {
    std::string shape;
    for (std::size_t i = 0; i < dims.size(); ++i) {
      if (i > 0) shape += 'x';
      shape += std::to_string(dims[i]);
    }
    throw IoError(where + "/" + name + " has shape (" + shape + "), expected n_rec x n_modes = " +
                  std::to_string(rows) + "x" + std::to_string(cols));
  }
  RowMajorMatrix m(rows, cols);
  h5::read_dataset(group, name, m.data());
  return m;
}

Trajectory read_run(hid_t runs_group, const std::string& name, const std::string& path) {
  const std::string where = path + ": /runs/" + name;
  h5::H5Id group = h5::open_group(runs_group, name);
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
  run.status = parse_status(h5::read_string_attribute(g, "status"), where);
  run.message = h5::read_string_attribute(g, "message");
  run.t = read_vector<Eigen::VectorXd>(g, "t", -1, where);
  const Eigen::Index n_rec = run.t.size();
  run.risk = read_vector<Eigen::VectorXd>(g, "risk", n_rec, where);
  run.risk_se = read_vector<Eigen::VectorXd>(g, "risk_se", n_rec, where);
  run.modes = read_vector<Eigen::VectorXi>(g, "modes", -1, where);
  run.rho = read_matrix(g, "rho", n_rec, run.modes.size(), where);
  run.rho_se = read_matrix(g, "rho_se", n_rec, run.modes.size(), where);
  if (h5::link_exists(g, "mode_pairs")) {
    const std::vector<hsize_t> dims = h5::dataset_dims(g, "mode_pairs");
    if (dims.size() != 2 || static_cast<Eigen::Index>(dims[0]) != run.modes.size() || dims[1] != 2)
      throw IoError(where + "/mode_pairs has not the shape (n_modes, 2) = (" +
                    std::to_string(run.modes.size()) + ", 2)");
    Eigen::Matrix<int, Eigen::Dynamic, 2, Eigen::RowMajor> pairs(run.modes.size(), 2);
    h5::read_dataset(g, "mode_pairs", pairs.data());
    run.mode_pairs = pairs;
  }
  return run;
}

}  // namespace

std::string run_group_name(const Trajectory& run) {
  return run.optimizer + "_" + run.method;
}

void write_result(const std::string& path, const ResultMeta& meta,
                  const std::vector<Trajectory>& runs) {
  validate_runs(path, runs);
  const std::string tmp_path = path + ".tmp";
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty() && !std::filesystem::is_directory(dir, ec)) {
    throw IoError("cannot write " + path + ": " + dir.string() +
                  (std::filesystem::exists(dir, ec) ? " is not a directory"
                                                    : " does not exist (create it first)"));
  }
  try {
    write_file(tmp_path, meta, runs);  // every HDF5 id is closed when this returns or throws
  } catch (...) {
    // Only a regular file can be ours (H5Fcreate truncates a stale one); never remove anything
    // else that happens to sit under the temporary name.
    if (std::filesystem::is_regular_file(tmp_path, ec)) std::remove(tmp_path.c_str());
    throw;
  }
  if (std::rename(tmp_path.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(tmp_path.c_str());
    throw IoError("cannot rename " + tmp_path + " to " + path + ": " + reason);
  }
}

ResultFile read_result(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (!fs::exists(st)) throw IoError("cannot read result file " + path + ": no such file");
  if (!fs::is_regular_file(st)) {
    throw IoError("cannot read result file " + path + ": not a regular file");
  }
  if (!h5::is_hdf5(path)) {
    throw IoError("cannot read result file " + path +
                  ": not an HDF5 file (signdyn results are HDF5, see docs/output-format.md)");
  }
  h5::H5Id file = h5::open_file(path);
  const hid_t root = file.get();
  std::string missing;
  for (std::string_view name : kRootAttributes) {
    if (!h5::attribute_exists(root, std::string(name))) {
      missing += (missing.empty() ? "" : ", ") + std::string(name);
    }
  }
  if (!missing.empty()) {
    throw IoError("cannot read result file " + path +
                  ": an HDF5 file but not a signdyn result (root attributes missing: " + missing +
                  "; see docs/output-format.md)");
  }
  ResultFile result;
  result.format_version = h5::read_attribute<int>(root, "format_version");
  if (result.format_version < 1 || result.format_version > kFormatVersion) {
    throw IoError("cannot read result file " + path + ": layout version " +
                  std::to_string(result.format_version) + ", this signdyn reads versions 1 to " +
                  std::to_string(kFormatVersion) + " (a newer file needs a newer signdyn)");
  }
  result.meta.version = h5::read_string_attribute(root, "signdyn_version");
  result.meta.git_commit = h5::read_string_attribute(root, "git_commit");
  result.meta.command = h5::read_string_attribute(root, "command");
  result.meta.created = h5::read_string_attribute(root, "created");
  result.meta.config_toml = h5::read_string_attribute(root, "config");
  // Files written before the bilinear family have no `family`: they are all regression.
  result.meta.family = h5::attribute_exists(root, "family")
                           ? h5::read_string_attribute(root, "family")
                           : std::string("regression");
  if (h5::link_exists(root, "bilinear")) result.meta.bilinear = read_bilinear_spec(root);
  if (!h5::link_exists(root, "runs")) {
    throw IoError("cannot read result file " + path + ": the group /runs is missing");
  }
  h5::H5Id runs_group = h5::open_group(root, "runs");
  for (const std::string& name : h5::link_names(runs_group.get())) {
    result.runs.push_back(read_run(runs_group.get(), name, path));
  }
  return result;
}

}  // namespace signdyn
