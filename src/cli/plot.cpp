// Private: the log-log risk plot, drawn by the embedded scripts/plot_risk.py.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <ostream>
#include <string>

#include "commands.hpp"
#include "plot_script.hpp"  // generated: kPlotScript, the text of scripts/plot_risk.py

namespace signdyn::cli {
namespace {

std::string python_interpreter() {
  if (const char* env = std::getenv("SIGNDYN_PYTHON"); env && *env) return env;
  // Debian's interpreter has python3-h5py/-matplotlib; a python3 earlier on PATH may not.
  if (std::filesystem::exists("/usr/bin/python3")) return "/usr/bin/python3";
  return "python3";
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace

std::string plot_result(const std::string& h5_path, std::ostream& err) {
  const std::string png = std::filesystem::path(h5_path).replace_extension(".png").string();
  const std::string cmd =
      quote(python_interpreter()) + " - " + quote(h5_path) + " -o " + quote(png) + " > /dev/null";
  std::FILE* pipe = popen(cmd.c_str(), "w");
  if (!pipe) {
    err << "  warning: plot skipped: cannot start " << python_interpreter() << "\n";
    return {};
  }
  std::fputs(kPlotScript, pipe);
  const int status = pclose(pipe);
  if (status != 0) {
    err << "  warning: plot skipped: " << python_interpreter()
        << " failed (needs python3-h5py and python3-matplotlib: scripts/install-deps.sh "
           "installs them; set SIGNDYN_PYTHON to use another interpreter)\n";
    return {};
  }
  return png;
}

}  // namespace signdyn::cli
