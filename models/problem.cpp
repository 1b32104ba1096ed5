// The matrix least-squares problem of theory.md §1: construction, Haar basis, exact risks,
// and sampling in K's eigenbasis (see signdyn/problem.hpp).
#include "signdyn/problem.hpp"

#include <Eigen/QR>
#include <cassert>
#include <cmath>
#include <sstream>
#include <string>

#include "signdyn/error.hpp"
#include "signdyn/spectrum.hpp"

namespace signdyn {

namespace {

// Throws ConfigError for `field` unless every entry of v is finite and > 0.
void require_positive_finite(const Eigen::VectorXd& v, const std::string& field,
                             const std::string& what, const std::string& fix) {
  for (Eigen::Index j = 0; j < v.size(); ++j) {
    if (!std::isfinite(v(j)) || v(j) <= 0.0) {
      throw ConfigError(field, what + " " + std::to_string(j + 1) + " = " + format_value(v(j)) +
                                   " is not finite and > 0; " + fix);
    }
  }
}

}  // namespace

Problem make_problem(const ProblemSpec& spec) {
  if (spec.d < 1) {
    throw ConfigError("problem.d", "problem.d = " + std::to_string(spec.d) +
                                       ": must be an integer >= 1 (the input dimension)");
  }
  if (spec.m < 1) {
    throw ConfigError("problem.m", "problem.m = " + std::to_string(spec.m) +
                                       ": must be an integer >= 1 (the output dimension)");
  }
  if (!std::isfinite(spec.sigma) || spec.sigma < 0.0) {
    throw ConfigError("problem.sigma", "problem.sigma = " + format_value(spec.sigma) +
                                           ": the label-noise standard deviation must be "
                                           "finite and >= 0");
  }

  Problem p;
  p.d = spec.d;
  p.m = spec.m;
  p.sigma = spec.sigma;
  p.basis = spec.basis;

  switch (spec.covariance) {
    case CovarianceKind::power_law:
      if (!std::isfinite(spec.alpha) || spec.alpha < 0.0) {
        throw ConfigError("problem.covariance.alpha",
                          "problem.covariance.alpha = " + format_value(spec.alpha) +
                              ": must be finite and >= 0 (λ_j = j^(-2α) must be descending)");
      }
      p.lambda = power_law_eigenvalues(spec.d, spec.alpha);
      require_positive_finite(p.lambda, "problem.covariance.alpha", "eigenvalue λ_j, j =",
                              "α = " + format_value(spec.alpha) +
                                  " underflows at this d; use a smaller problem.covariance.alpha");
      break;
    case CovarianceKind::isotropic:
      p.lambda = isotropic_eigenvalues(spec.d);
      break;
    case CovarianceKind::from_file:
      if (spec.covariance_file.empty()) {
        throw ConfigError("problem.covariance.path",
                          "problem.covariance.path is empty: the from_file covariance needs the "
                          "path of a text file with d eigenvalues");
      }
      p.lambda = eigenvalues_from_file(spec.covariance_file, spec.d);
      break;
  }
  if (spec.normalise_trace) p.lambda = normalise_trace(p.lambda);
  require_positive_finite(p.lambda, "problem.covariance.normalise", "eigenvalue λ_j, j =",
                          "the trace normalisation over- or underflowed; rescale the spectrum");

  switch (spec.target) {
    case TargetKind::power_law:
      if (!std::isfinite(spec.beta)) {
        throw ConfigError("problem.target.beta",
                          "problem.target.beta = " + format_value(spec.beta) + ": must be finite");
      }
      p.b = power_law_target(spec.d, spec.beta);
      if (!p.b.allFinite()) {
        throw ConfigError("problem.target.beta",
                          "problem.target.beta = " + format_value(spec.beta) +
                              ": b_j = j^(-β) overflows at this d; use a larger β");
      }
      break;
    case TargetKind::isotropic:
      p.b = isotropic_target(spec.d);
      break;
  }
  if (spec.normalise_target) {
    const double energy = p.lambda.dot(p.b.cwiseAbs2());
    if (!std::isfinite(energy) || energy <= 0.0) {
      throw ConfigError("problem.target.normalise",
                        "Σ λ_j b_j² = " + format_value(energy) +
                            " cannot be normalised to 1; change problem.target.beta or "
                            "problem.covariance.alpha");
    }
    p.b = normalise_target(p.b, p.lambda);
  }

  // The realised rotation is a dense d×d matrix built by a QR of the same size: beyond
  // kMaxRealisedBasis it needs more than 2 GiB and minutes to hours, and nothing but SignSGD's
  // Monte Carlo needs it (the other optimizers are rotation-equivariant, and SignSGD's
  // concentration-form dynamics average over O), so it is not formed there.
  if (spec.basis == BasisKind::generic && spec.d <= kMaxRealisedBasis)
    p.O = haar_orthogonal(spec.d, spec.basis_seed);
  return p;
}

Eigen::MatrixXd haar_orthogonal(Eigen::Index d, std::uint64_t seed, StreamTag tag) {
  if (d < 1) throw Error("haar_orthogonal: d = " + std::to_string(d) + " must be >= 1");
  Rng rng(seed, static_cast<std::uint64_t>(tag));
  Eigen::MatrixXd gaussian(d, d);
  rng.fill_normal(gaussian);
  const Eigen::HouseholderQR<Eigen::MatrixXd> qr(gaussian);
  Eigen::MatrixXd O = qr.householderQ();
  // Q R = G is unique once diag(R) > 0; with that choice Q is Haar distributed (Mezzadri 2007).
  for (Eigen::Index j = 0; j < d; ++j) {
    if (qr.matrixQR()(j, j) < 0.0) O.col(j) = -O.col(j);
  }
  return O;
}

double risk_from_rho(const Problem& p, const Eigen::Ref<const Eigen::VectorXd>& rho) {
  return 0.5 * p.lambda.dot(rho) + 0.5 * p.sigma * p.sigma;
}

double risk_eigenbasis(const Problem& p, const Eigen::Ref<const Eigen::MatrixXd>& delta_eig) {
  assert(delta_eig.rows() == p.d && delta_eig.cols() == p.m);
  double energy = 0.0;  // Σ_j λ_j ‖Δ_j‖², column by column (contiguous), no temporary
  for (Eigen::Index c = 0; c < delta_eig.cols(); ++c) {
    for (Eigen::Index j = 0; j < delta_eig.rows(); ++j) {
      energy += p.lambda(j) * delta_eig(j, c) * delta_eig(j, c);
    }
  }
  return energy / (2.0 * static_cast<double>(p.m)) + 0.5 * p.sigma * p.sigma;
}

double risk_true_basis(const Problem& p, const Eigen::Ref<const Eigen::MatrixXd>& delta) {
  if (p.is_diagonal()) return risk_eigenbasis(p, delta);
  if (!p.has_rotation())
    throw Error("risk_true_basis: the generic basis's rotation O is not formed for d = " +
                std::to_string(p.d) + " > " + std::to_string(kMaxRealisedBasis));
  const Eigen::MatrixXd delta_eig = p.O.transpose() * delta;  // tr(ΔᵀKΔ) = Σ_j λ_j ‖(OᵀΔ)_j‖²
  return risk_eigenbasis(p, delta_eig);
}

Eigen::VectorXd rho_eigenbasis(const Eigen::Ref<const Eigen::MatrixXd>& delta_eig) {
  Eigen::VectorXd rho = Eigen::VectorXd::Zero(delta_eig.rows());
  for (Eigen::Index c = 0; c < delta_eig.cols(); ++c) rho += delta_eig.col(c).cwiseAbs2();
  return rho / static_cast<double>(delta_eig.cols());
}

void sample_initial_residual(const Problem& p, Rng& rng, Eigen::Ref<Eigen::MatrixXd> delta_eig) {
  assert(delta_eig.rows() == p.d && delta_eig.cols() == p.m);
  rng.fill_normal(delta_eig);
  for (Eigen::Index c = 0; c < delta_eig.cols(); ++c) {
    delta_eig.col(c).array() *= -p.b.array();
  }
}

void sample_batch_eigenbasis(const Problem& p, Rng& rng, Eigen::Ref<Eigen::MatrixXd> X,
                             Eigen::Ref<Eigen::MatrixXd> E) {
  assert(X.cols() == p.d && E.cols() == p.m && X.rows() == E.rows());
  rng.fill_normal(X);
  for (Eigen::Index j = 0; j < X.cols(); ++j) X.col(j) *= std::sqrt(p.lambda(j));
  rng.fill_normal(E);
  E *= p.sigma;
}

}  // namespace signdyn
