// Private: the work behind each subcommand, independent of argument parsing.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "signdyn/bilinear.hpp"
#include "signdyn/config.hpp"
#include "signdyn/io.hpp"
#include "signdyn/problem.hpp"
#include "signdyn/trajectory.hpp"

namespace signdyn::cli {

/// Options shared by the subcommands that run an experiment.
struct RunRequest {
  std::string command;                 // "run", "simulate", "ode", "compare"
  std::string config_path;             // empty: the built-in default
  std::vector<std::string> overrides;  // --set key=value, in order
  std::string out_path;                // empty: results/<stem>-<command>.h5
  int threads = 0;
  bool quiet = false;
  bool plot = false;
  double max_z = -1.0;  // compare: exit kDisagreement when exceeded (< 0: report only)
};

/// An experiment ready to run: its config, the realised problem and the methods `command` asks for.
/// `problem` is realised for the regression family, `bilinear` for the bilinear family.
struct ExperimentJob {
  std::string command;  // "run", "simulate", "ode", "compare", "sweep"
  Experiment experiment;
  Problem problem;
  BilinearProblem bilinear;
  bool mc = true;
  bool theory = true;
};

/// True when the job's problem family has deterministic dynamics for the optimizer.
bool job_has_theory(const ExperimentJob& job, const OptimizerSpec& optimizer);

/// One line describing the experiment's problem (family, sizes, spectra, target).
std::string describe_problem(const Experiment& experiment);

/// Root metadata of a result file of `experiment` written by `command` (family and, for the
/// bilinear family, its problem included).
ResultMeta experiment_meta(const std::string& command, const Experiment& experiment);

/// Resolves which methods `command` runs; throws Error when "ode" or "compare" is asked of
/// optimizers none of which has deterministic dynamics.
ExperimentJob plan_experiment(const Experiment& experiment, const std::string& command);

/// The runs of one experiment in file order, and where each optimizer's runs are in `runs`.
struct ExperimentRuns {
  struct Pair {
    std::ptrdiff_t mc = -1, theory = -1;  // index into runs; -1: not run
  };
  std::vector<Trajectory> runs;
  std::vector<Pair> pairs;  // one per experiment.optimizers entry
};

/// Runs the job's methods for every optimizer (Monte Carlo on `threads` threads, 0 = all);
/// notes go to `err` when `verbose`, a progress bar too when `bar`.
ExperimentRuns run_methods(const ExperimentJob& job, int threads, bool verbose, bool bar,
                           std::ostream& err);

/// Loads the config, runs the requested methods for every optimizer, writes the HDF5 file,
/// prints the table and (optionally) the plot. Returns the exit code.
int run_experiment(const RunRequest& request, std::ostream& out, std::ostream& err);

/// Prints a summary of a result file. Returns the exit code.
int show_info(const std::string& path, std::ostream& out);

/// Prints the risk table of one optimizer: MC, theory, or both side by side with rel. error and z.
void print_risk_table(std::ostream& out, const Trajectory* mc, const Trajectory* theory);

/// Draws the log-log risk plot of a result file with the embedded plotting script; returns
/// the PNG path, or an empty string (with a warning on `err`) when Python or matplotlib is missing.
std::string plot_result(const std::string& h5_path, std::ostream& err);

}  // namespace signdyn::cli
