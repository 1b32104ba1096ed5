// Optimizer names and learning-rate schedules (see signdyn/optimizer.hpp).
#include "signdyn/optimizer.hpp"

#include <cmath>

namespace signdyn {

std::string_view to_string(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::sgd:
      return "sgd";
    case OptimizerKind::signsgd:
      return "signsgd";
    case OptimizerKind::signsvd:
      return "signsvd";
    case OptimizerKind::muon:
      return "muon";
  }
  return "unknown";
}

double Schedule::lr_at(double lr, double k) const {
  switch (kind) {
    case ScheduleKind::constant:
      return lr;
    case ScheduleKind::power:
      return lr * std::pow(1.0 + k / k0, -gamma);
  }
  return lr;
}

}  // namespace signdyn
