// Private: the exploration subcommands (sweep, lr-search, phase-diagram, batch-transition):
// their options and their dispatch, registered on the main CLI11 app by app.cpp.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "sweep.hpp"

namespace CLI {
class App;
}

namespace signdyn::cli {

/// Options of `signdyn lr-search`.
struct LrSearchRequest {
  std::string config_path;
  std::vector<std::string> overrides;
  std::string out_path;
  std::vector<std::int64_t> horizons;  // steps T; default: run.steps
  double lr_start = 0.0;               // ≤ 0: each optimizer's configured lr
  double log_tol = 0.01;               // bracket width in ln lr at which the search stops
  int mc_scan = 0;                     // K > 0: Monte Carlo at lr*·2^(k/2), k = −K..K
  int threads = 0;
  bool quiet = false;
};

/// Options of `signdyn phase-diagram`.
struct PhaseRequest {
  std::string config_path;
  std::vector<std::string> overrides;
  std::string out_path;
  std::string alphas = "0.25:1.5:6";  // list or a:b:n (n values from a to b)
  std::string betas = "0.25:1.5:6";
  std::string horizons = "log:100:10000:3";  // log:a:b:n spaces n values geometrically
  std::string optimizers = "signsgd,signsvd";
  double tie_tol = 1e-3;
  double log_tol = 0.05;
  bool plot = true;
  bool quiet = false;
};

/// Options of `signdyn batch-transition`.
struct BatchRequest {
  std::string config_path;
  std::vector<std::string> overrides;
  std::string out_path;
  std::string batches;  // empty: 1, 2, 4, ... up to 4d (4d included)
  std::string optimizers = "signsgd,signsvd";
  bool tune = true;
  double log_tol = 0.05;
  bool plot = true;
  bool quiet = false;
};

/// Parses a numeric list: "a,b,c", "a:b:n" (n evenly spaced values from a to b) or
/// "log:a:b:n" (n geometrically spaced values); items may be mixed with commas. Throws
/// ConfigError naming `option` on malformed input.
std::vector<double> parse_number_list(const std::string& text, const std::string& option);

/// `signdyn lr-search`: the ODE-optimal lr of every optimizer at each horizon; table and HDF5.
int run_lr_search(const LrSearchRequest& request, std::ostream& out, std::ostream& err);

/// `signdyn phase-diagram`: the (α, β) map of two optimizers; table, HDF5 and PNG.
int run_phase_diagram(const PhaseRequest& request, std::ostream& out, std::ostream& err);

/// `signdyn batch-transition`: risk curves and drift exponents against B; table, HDF5 and PNG.
int run_batch_transition(const BatchRequest& request, std::ostream& out, std::ostream& err);

/// Registers the four subcommands on `app` and runs whichever was parsed.
class ExploreCommands {
 public:
  /// Adds sweep, lr-search, phase-diagram and batch-transition to `app`.
  explicit ExploreCommands(CLI::App& app);
  ExploreCommands(const ExploreCommands&) = delete;  // CLI11 holds pointers to the members
  ExploreCommands& operator=(const ExploreCommands&) = delete;
  /// Runs the parsed exploration subcommand and returns its exit code; nullopt if none was
  /// parsed. `threads` and `quiet` are the global options.
  std::optional<int> dispatch(int threads, bool quiet, std::ostream& out, std::ostream& err);

 private:
  CLI::App* sweep_ = nullptr;
  CLI::App* lr_search_ = nullptr;
  CLI::App* phase_ = nullptr;
  CLI::App* batch_ = nullptr;
  SweepRequest sweep_request_;
  LrSearchRequest lr_request_;
  PhaseRequest phase_request_;
  BatchRequest batch_request_;
  bool phase_no_plot_ = false, batch_no_plot_ = false, batch_no_tune_ = false;
};

}  // namespace signdyn::cli
