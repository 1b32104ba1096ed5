// Private: helpers shared by the exploration subcommands (see explore_common.hpp).
#include "explore_common.hpp"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>

#include "signdyn/error.hpp"

namespace signdyn::cli {
namespace {

std::string python_interpreter() {
  if (const char* env = std::getenv("SIGNDYN_PYTHON"); env && *env) return env;
  // Debian's interpreter has python3-h5py/-matplotlib; a python3 earlier on PATH may not.
  if (std::filesystem::exists("/usr/bin/python3")) return "/usr/bin/python3";
  return "python3";
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'')
      q.append("'\\''");
    else
      q.push_back(c);
  }
  q.push_back('\'');
  return q;
}

}  // namespace

std::string default_result_path(const std::string& config_path, const std::string& command) {
  const std::string stem = config_path.empty() ? std::string("default")
                                               : std::filesystem::path(config_path).stem().string();
  std::string path = "results/";
  path.append(stem).append("-").append(command).append(".h5");
  return path;
}

void prepare_output_path(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec)
    throw IoError("cannot create the output directory '" + parent.string() + "': " + ec.message() +
                  "; choose another path with --out");
  if (std::filesystem::is_directory(path))
    throw IoError("--out '" + path + "' is a directory; give a file name such as " + path +
                  "/result.h5");
}

void require_regression(const Experiment& experiment, const std::string& command) {
  if (experiment.family == ProblemFamily::regression) return;
  throw ConfigError("problem.family",
                    "problem.family = \"" + std::string(to_string(experiment.family)) +
                        "\": `signdyn " + command +
                        "` supports the regression family only so far; run the bilinear family "
                        "with `signdyn compare`, `simulate`, `ode` or `sweep`");
}

ResultMeta make_meta(const std::string& command, const std::string& config_toml) {
  ResultMeta meta;
  meta.config_toml = config_toml;
  meta.version = std::string(SIGNDYN_VERSION);
  meta.git_commit = std::string(SIGNDYN_GIT_COMMIT);
  meta.command = command;
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  meta.created = std::string(buf);
  return meta;
}

bool run_plot_script(const char* script, const std::vector<std::string>& args, std::ostream& err) {
  std::string cmd = shell_quote(python_interpreter());
  cmd.append(" -");
  for (const std::string& a : args) cmd.append(" ").append(shell_quote(a));
  cmd.append(" > /dev/null");
  std::FILE* pipe = popen(cmd.c_str(), "w");
  if (!pipe) {
    err << "  warning: plot skipped: cannot start " << python_interpreter() << "\n";
    return false;
  }
  std::fputs(script, pipe);
  if (pclose(pipe) != 0) {
    err << "  warning: plot skipped: " << python_interpreter()
        << " failed (needs python3-h5py and python3-matplotlib; set SIGNDYN_PYTHON to use "
           "another interpreter)\n";
    return false;
  }
  return true;
}

}  // namespace signdyn::cli
