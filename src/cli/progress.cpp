// Private: a progress bar on stderr for long runs.
#include "progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <utility>

namespace signdyn::cli {

bool is_terminal(const std::ostream& err) {
  return &err == &std::cerr && isatty(STDERR_FILENO);
}

ProgressBar::ProgressBar(std::ostream& err, std::string label, bool enabled)
    : err_(err),
      label_(std::move(label)),
      enabled_(enabled),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_ - std::chrono::seconds(1)) {}

ProgressBar::~ProgressBar() {
  finish();
}

void ProgressBar::update(double fraction) {
  if (!enabled_ || finished_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(100) && fraction < 1.0) return;
  last_draw_ = now;
  fraction = std::clamp(fraction, 0.0, 1.0);
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(std::lround(fraction * kWidth));
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  char eta[32] = "";
  if (fraction > 0.01 && fraction < 1.0)
    std::snprintf(eta, sizeof eta, "  eta %.0fs", elapsed * (1.0 - fraction) / fraction);
  err_ << '\r' << label_ << " [" << std::string(filled, '#') << std::string(kWidth - filled, '.')
       << "] " << static_cast<int>(std::lround(100.0 * fraction)) << '%' << eta << "   "
       << std::flush;
}

void ProgressBar::finish() {
  if (!enabled_ || finished_) return;
  update(1.0);
  finished_ = true;
  err_ << '\n' << std::flush;
}

}  // namespace signdyn::cli
