// Tests of predict_bilinear (signdyn/bilinear_dynamics.hpp): the SGD exact map as a Trajectory,
// with learning-rate schedules, recorded mode pairs, divergence, and the optimizers it refuses.
#include <gtest/gtest.h>

#include <cmath>
#include <utility>
#include <vector>

#include "../../../solvers/ode/bilinear_sgd.hpp"
#include "signdyn/bilinear_dynamics.hpp"
#include "signdyn/error.hpp"

namespace signdyn {
namespace {

BilinearSpec small_spec() {
  BilinearSpec spec;
  spec.n_out = 7;
  spec.n_in = 5;
  spec.sigma = 0.3;
  spec.alpha_out = 0.5;
  spec.alpha_in = 0.75;
  spec.beta_out = 0.4;
  spec.beta_in = 0.6;
  return spec;
}

BilinearProblem small_problem() {
  return make_bilinear_problem(small_spec());
}

TheoryOptions options_for(const BilinearProblem& p) {
  TheoryOptions o;
  o.record_steps = {0, 1, 2, 5, 17, 60};
  o.mode_pairs = record_mode_pairs(p.n_out, p.n_in, 0);  // every pair
  return o;
}

// Entry-by-entry step of bilinear.md §2 (written out independently of bilinear_sgd_step).
Eigen::MatrixXd reference_step(const BilinearProblem& p, double lr, double batch,
                               const Eigen::MatrixXd& rho) {
  double two_r = p.sigma * p.sigma;
  for (Eigen::Index i = 0; i < p.n_out; ++i)
    for (Eigen::Index j = 0; j < p.n_in; ++j) two_r += p.mu(i) * p.lambda(j) * rho(i, j);
  Eigen::MatrixXd next(p.n_out, p.n_in);
  for (Eigen::Index k = 0; k < p.n_out; ++k)
    for (Eigen::Index l = 0; l < p.n_in; ++l) {
      double col = 0.0, row = 0.0;
      for (Eigen::Index i = 0; i < p.n_out; ++i) col += p.mu(i) * rho(i, l);
      for (Eigen::Index j = 0; j < p.n_in; ++j) row += p.lambda(j) * rho(k, j);
      const double mu = p.mu(k), lam = p.lambda(l), a = 1.0 - lr * mu * lam;
      next(k, l) = a * a * rho(k, l) +
                   lr * lr / batch *
                       (mu * lam * two_r + 2.0 * mu * lam * lam * col + 2.0 * mu * mu * lam * row +
                        3.0 * mu * mu * lam * lam * rho(k, l));
    }
  return next;
}

// Constant rate: the trajectory is the exact map's curve, at every record and every pair.
TEST(PredictBilinear, ConstantRateIsTheExactMap) {
  const BilinearProblem p = small_problem();
  const TheoryOptions o = options_for(p);
  OptimizerSpec sgd;
  sgd.lr = 0.15;
  sgd.batch = 2;
  const Trajectory tr = predict_bilinear(p, sgd, o);
  EXPECT_EQ(tr.method, "theory");
  EXPECT_EQ(tr.optimizer, "sgd");
  EXPECT_EQ(tr.solver, "exact_map");
  EXPECT_EQ(tr.status, RunStatus::completed);
  const std::vector<long> steps(o.record_steps.begin(), o.record_steps.end());
  const detail::BilinearSgdCurve curve =
      detail::bilinear_sgd_exact_map(p, 0.15, 2, bilinear_initial_rho(p), steps, true);
  ASSERT_EQ(tr.t.size(), 6);
  ASSERT_EQ(tr.rho.cols(), p.n_out * p.n_in);
  EXPECT_EQ(tr.mode_pairs, o.mode_pairs);
  for (Eigen::Index i = 0; i < 6; ++i) {
    EXPECT_EQ(tr.t(i), static_cast<double>(steps[static_cast<std::size_t>(i)]));
    EXPECT_EQ(tr.risk(i), curve.risk[static_cast<std::size_t>(i)]);
    for (Eigen::Index c = 0; c < tr.rho.cols(); ++c)
      EXPECT_EQ(tr.rho(i, c), curve.rho[static_cast<std::size_t>(i)](o.mode_pairs(c, 0) - 1,
                                                                     o.mode_pairs(c, 1) - 1));
  }
  EXPECT_EQ(tr.risk_se.norm(), 0.0);
  EXPECT_EQ(tr.rho_se.norm(), 0.0);
}

// Power schedule: step k uses η_k = η (1 + k/k0)^(−γ) (0-based k), like the Monte Carlo.
TEST(PredictBilinear, PowerScheduleStepsWithTheScheduledRate) {
  const BilinearProblem p = small_problem();
  TheoryOptions o = options_for(p);
  o.mode_pairs = record_mode_pairs(p.n_out, p.n_in, 3);
  OptimizerSpec sgd;
  sgd.lr = 0.3;
  sgd.batch = 3;
  sgd.schedule = Schedule{ScheduleKind::power, 4.0, 0.8};
  const Trajectory tr = predict_bilinear(p, sgd, o);
  Eigen::MatrixXd rho = bilinear_initial_rho(p);
  std::size_t next = 0;
  for (std::int64_t k = 0; k <= 60; ++k) {
    if (k == o.record_steps[next]) {
      SCOPED_TRACE("step " + std::to_string(k));
      const auto i = static_cast<Eigen::Index>(next);
      EXPECT_NEAR(tr.risk(i), bilinear_risk_from_rho(p, rho), 1e-14);
      for (Eigen::Index c = 0; c < o.mode_pairs.rows(); ++c)
        EXPECT_NEAR(tr.rho(i, c), rho(o.mode_pairs(c, 0) - 1, o.mode_pairs(c, 1) - 1), 1e-14);
      ++next;
    }
    rho = reference_step(p, sgd.schedule.lr_at(sgd.lr, static_cast<double>(k)), 3.0, rho);
  }
  // The schedule matters: the constant-rate curve is elsewhere.
  OptimizerSpec constant = sgd;
  constant.schedule = Schedule{};
  EXPECT_GT(std::abs(predict_bilinear(p, constant, o).risk(5) - tr.risk(5)), 1e-3);
}

// A blow-up keeps the records reached and ends `diverged` with a reason.
TEST(PredictBilinear, BlowUpIsDiverged) {
  const BilinearProblem p = small_problem();
  TheoryOptions o;
  o.record_steps = {0, 1, 10, 100, 1000, 10000};
  o.mode_pairs = record_mode_pairs(p.n_out, p.n_in, 2);
  OptimizerSpec sgd;
  sgd.lr = 8.0;
  sgd.batch = 1;
  const Trajectory tr = predict_bilinear(p, sgd, o);
  EXPECT_EQ(tr.status, RunStatus::diverged);
  EXPECT_NE(tr.message.find("lower optimizer.lr"), std::string::npos) << tr.message;
  EXPECT_GE(tr.t.size(), 1);
  EXPECT_LT(tr.t.size(), 6);
  EXPECT_EQ(tr.rho.rows(), tr.t.size());
}

// Only SGD has bilinear dynamics so far; the others are refused with an Error naming them.
TEST(PredictBilinear, OptimizersWithoutTheoryAreRefused) {
  const BilinearProblem p = small_problem();
  OptimizerSpec o;
  for (OptimizerKind kind : {OptimizerKind::sgd, OptimizerKind::signsgd, OptimizerKind::signsvd}) {
    o.kind = kind;
    EXPECT_TRUE(has_bilinear_theory(p, o)) << to_string(kind);
  }
  // Muon has no bilinear dynamics; SignSGD's and SignSVD's maps take a constant rate only.
  std::vector<OptimizerSpec> refused(3, o);
  refused[0].kind = OptimizerKind::muon;
  refused[1].kind = OptimizerKind::signsgd;
  refused[1].schedule.kind = ScheduleKind::power;
  refused[2].kind = OptimizerKind::signsvd;
  refused[2].schedule.kind = ScheduleKind::power;
  for (const OptimizerSpec& r : refused) {
    EXPECT_FALSE(has_bilinear_theory(p, r)) << to_string(r.kind);
    try {
      predict_bilinear(p, r, options_for(p));
      ADD_FAILURE() << "no Error for " << to_string(r.kind);
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(std::string(to_string(r.kind))), std::string::npos);
    }
  }
}

// A generic basis changes nothing for the rotation-equivariant SGD and SignSVD (their curves are
// those of the diagonal basis, bit for bit); SignSGD's closure is the diagonal basis's, so it is
// refused with the reason and the keys that would give it dynamics.
TEST(PredictBilinear, GenericBasisKeepsEquivariantDynamicsAndRefusesSignSgd) {
  BilinearSpec spec = small_spec();
  const BilinearProblem diagonal = make_bilinear_problem(spec);
  spec.basis_in = BasisKind::generic;
  const BilinearProblem generic = make_bilinear_problem(spec);
  OptimizerSpec o;
  o.batch = 2;
  for (const auto& [kind, lr] :
       {std::pair{OptimizerKind::sgd, 0.2}, std::pair{OptimizerKind::signsvd, 0.05}}) {
    o.kind = kind;
    o.lr = lr;
    const Trajectory a = predict_bilinear(diagonal, o, options_for(diagonal));
    const Trajectory b = predict_bilinear(generic, o, options_for(generic));
    EXPECT_EQ(a.risk, b.risk) << to_string(kind);
    EXPECT_EQ(a.rho, b.rho) << to_string(kind);
  }
  o.kind = OptimizerKind::signsgd;
  o.lr = 0.003;
  EXPECT_TRUE(has_bilinear_theory(diagonal, o));
  EXPECT_FALSE(has_bilinear_theory(generic, o));
  EXPECT_NE(missing_bilinear_theory(generic, o).find("basis_out = basis_in = \"diagonal\""),
            std::string::npos)
      << missing_bilinear_theory(generic, o);
  try {
    predict_bilinear(generic, o, options_for(generic));
    ADD_FAILURE() << "SignSGD in a generic basis was not refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not rotation-equivariant"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace signdyn
