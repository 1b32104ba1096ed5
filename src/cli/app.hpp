// Private: the signdyn command-line application, callable from main() and from tests.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace signdyn::cli {

/// Exit codes of the signdyn executable.
enum ExitCode : int {
  kOk = 0,
  kInternalError = 1,  // a bug or an unexpected system failure
  kBadInput = 2,       // invalid config, CLI flags or input files: nothing was written
  kDisagreement = 3,   // `compare --max-z Z`: some record's |z| exceeds Z
};

/// Runs the CLI on `args` (args[0] is the program name); tables go to `out`, messages and
/// progress to `err`. Returns the process exit code.
int run_app(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace signdyn::cli
