// Private: argument parsing and dispatch for the signdyn executable.
#include "app.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <exception>
#include <ostream>

#include "commands.hpp"
#include "explore_cli.hpp"
#include "ranks.hpp"
#include "signdyn/config.hpp"
#include "signdyn/error.hpp"

namespace signdyn::cli {
namespace {

constexpr const char* kVersionLine = "signdyn " SIGNDYN_VERSION " (commit " SIGNDYN_GIT_COMMIT ")";

// Adds the options every experiment subcommand shares.
CLI::App* add_experiment_command(CLI::App& app, const std::string& name, const std::string& help,
                                 RunRequest& request) {
  CLI::App* sub = app.add_subcommand(name, help);
  sub->add_option("config", request.config_path,
                  "TOML config file (default: the built-in configs/default.toml)");
  sub->add_option("-s,--set", request.overrides,
                  "override a config key, e.g. --set problem.d=512 (repeatable; see `signdyn "
                  "config --keys`)")
      ->expected(1)
      ->take_all();
  sub->add_option("-o,--out", request.out_path,
                  "HDF5 result file (default: results/<config>-" + name + ".h5)");
  sub->callback([&request, name] { request.command = name; });
  return sub;
}

}  // namespace

int run_app(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  CLI::App app{
      "signdyn: Monte Carlo simulation and deterministic dynamics of SGD, SignSGD, SignSVD and "
      "Muon on high-dimensional matrix least squares.\n"
      "Exit codes: 0 success, 1 internal error, 2 invalid input (nothing written), 3 compare "
      "--max-z exceeded.",
      "signdyn"};
  app.require_subcommand(1);
  app.footer(
      "Every config key, with its type, default and accepted range: signdyn config --keys\n"
      "Examples:\n"
      "  signdyn run                                  the built-in default job\n"
      "  signdyn run my.toml --set optimizer.batch=32 --set problem.d=512\n"
      "  signdyn compare my.toml --max-z 4            Monte Carlo vs theory, exit 3 if |z| > 4\n"
      "  signdyn info results/default-run.h5\n");
  RunRequest request;
  bool version = false;
  app.add_flag("--version", version, "print the version and git commit, then exit");
  app.add_option("-j,--threads", request.threads,
                 "threads for Monte Carlo replicas (0 = all cores)")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("-q,--quiet", request.quiet, "print only errors and the paths written");
  app.fallthrough();

  bool no_plot = false;
  CLI::App* run = add_experiment_command(
      app, "run",
      "the main job: Monte Carlo and theory (as set by run.methods), a risk table, an HDF5 file "
      "and a log-log PNG plot",
      request);
  run->add_flag("--no-plot", no_plot, "do not draw the PNG plot");
  add_experiment_command(app, "simulate", "Monte Carlo simulation only (replicas of the optimizer)",
                         request);
  add_experiment_command(app, "ode", "deterministic dynamics only (the theory curves)", request);
  CLI::App* cmp = add_experiment_command(
      app, "compare",
      "run both methods and report, per record, the relative error and z = (MC − theory) / SE",
      request);
  cmp->add_option("--max-z", request.max_z,
                  "exit with status 3 if any record's |z| exceeds this (default: report only)")
      ->check(CLI::PositiveNumber);

  std::string info_path;
  CLI::App* info = app.add_subcommand("info", "summarise a result file");
  info->add_option("file", info_path, "HDF5 result file written by signdyn")->required();

  bool show_keys = false;
  CLI::App* cfg = app.add_subcommand(
      "config", "print the resolved configuration (defaults and --set applied) as TOML");
  cfg->add_option("config", request.config_path, "TOML config file (default: built-in)");
  cfg->add_option("-s,--set", request.overrides, "override a config key (repeatable)")
      ->expected(1)
      ->take_all();
  cfg->add_flag("--keys", show_keys, "list every config key with its type, default and range");

  ExploreCommands explore(app);  // sweep, lr-search, phase-diagram, batch-transition

  // `--version` works without a subcommand.
  if (std::find(args.begin(), args.end(), "--version") != args.end()) {
    out << kVersionLine << '\n';
    return kOk;
  }
  std::vector<std::string> argv_tail(args.size() > 1 ? args.begin() + 1 : args.end(), args.end());
  std::reverse(argv_tail.begin(), argv_tail.end());  // CLI11 parses a reversed vector
  try {
    app.parse(argv_tail);
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return kOk;
  } catch (const CLI::CallForAllHelp&) {
    out << app.help("", CLI::AppFormatMode::All);
    return kOk;
  } catch (const CLI::ParseError& e) {
    // Help of a subcommand is reported as CallForHelp from that subcommand.
    err << "signdyn: " << e.what() << "\nRun `signdyn --help` for usage.\n";
    return kBadInput;
  }
  if (const ProcessGroup group = world(); group.size > 1 && !app.got_subcommand("sweep")) {
    if (group.rank == 0)
      err << "signdyn: under mpirun only `signdyn sweep` splits its work across ranks; run this "
             "command as one process (got "
          << group.size << " ranks)\n";
    return kBadInput;
  }
  try {
    if (info->parsed()) return show_info(info_path, out);
    if (cfg->parsed()) {
      if (show_keys) {
        out << describe_config_keys();
        return kOk;
      }
      out << load_config(request.config_path, request.overrides).resolved_toml;
      return kOk;
    }
    if (const auto code = explore.dispatch(request.threads, request.quiet, out, err)) return *code;
    request.plot = run->parsed() && !no_plot;
    return run_experiment(request, out, err);
  } catch (const ConfigError& e) {
    err << "signdyn: " << e.what() << "\n";
    return kBadInput;
  } catch (const Error& e) {
    err << "signdyn: " << e.what() << '\n';
    return kBadInput;
  } catch (const std::exception& e) {
    err << "signdyn: internal error: " << e.what()
        << "\nThis is a bug in signdyn; please report it with the command line.\n";
    return kInternalError;
  }
}

}  // namespace signdyn::cli
