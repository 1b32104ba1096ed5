// Private: a progress bar on stderr for long runs (only when stderr is a terminal).
#pragma once

#include <chrono>
#include <iosfwd>
#include <string>

namespace signdyn::cli {

/// Draws "label [#####.....]  45%  eta 3s" in place; silent when disabled.
class ProgressBar {
 public:
  ProgressBar(std::ostream& err, std::string label, bool enabled);
  ~ProgressBar();
  /// Updates the bar to `fraction` of the work (throttled to ~10 redraws per second).
  void update(double fraction);
  /// Completes the bar and moves to a new line.
  void finish();

 private:
  std::ostream& err_;
  std::string label_;
  bool enabled_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

/// True when the stream is std::cerr and file descriptor 2 is a terminal.
bool is_terminal(const std::ostream& err);

}  // namespace signdyn::cli
