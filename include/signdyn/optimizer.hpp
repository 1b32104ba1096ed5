// signdyn/optimizer.hpp: optimizer settings and learning-rate schedules (theory.md §1).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace signdyn {

enum class OptimizerKind { sgd, signsgd, signsvd, muon };

/// Canonical lower-case name of an optimizer ("sgd", "signsgd", "signsvd", "muon").
std::string_view to_string(OptimizerKind kind);

/// True when the update commutes with rotations, U(O G) = O U(G) (theory.md §1): all but
/// SignSGD, so those can be simulated in K's eigenbasis for any basis.
inline bool rotation_equivariant(OptimizerKind kind) {
  return kind != OptimizerKind::signsgd;
}

enum class ScheduleKind { constant, power };

/// Learning-rate schedule: constant, or η_k = η_0 (1 + k/k0)^(−γ) ("power").
struct Schedule {
  ScheduleKind kind = ScheduleKind::constant;
  double k0 = 1000.0;  // power: time scale in steps
  double gamma = 0.5;  // power: decay exponent

  /// Learning rate at step k (0-based) for base rate lr; raw units, no hidden rescaling.
  double lr_at(double lr, double k) const;
};

/// One optimizer as read from `[optimizer]`: the update rule and its hyper-parameters.
struct OptimizerSpec {
  OptimizerKind kind = OptimizerKind::sgd;
  double lr = 0.1;         // η in raw units (W ← W − η·update)
  std::int64_t batch = 8;  // B fresh samples per step
  Schedule schedule;
  double momentum = 0.0;  // μ (Muon): V ← μV + G
  bool nesterov = false;  // Muon: use G + μV
  int ns_steps = 5;       // Muon: quintic Newton–Schulz steps
};

}  // namespace signdyn
