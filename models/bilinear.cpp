// The bilinear matrix regression of theory.md §1 ("Second family"): construction, exact risk,
// and sampling in the eigenbases of K_out and K_in (see signdyn/bilinear.hpp).
#include "signdyn/bilinear.hpp"

#include <cassert>
#include <cmath>
#include <sstream>
#include <string>

#include "signdyn/error.hpp"
#include "signdyn/spectrum.hpp"

namespace signdyn {

namespace {

// Throws ConfigError for `field` unless the exponent is finite and >= 0.
void require_exponent(double value, const std::string& field, const std::string& what) {
  if (!std::isfinite(value) || value < 0.0) {
    throw ConfigError(
        field, field + " = " + format_value(value) + ": " + what + " must be finite and >= 0");
  }
}

// Throws ConfigError for `field` unless the dimension is >= 1.
void require_dimension(Eigen::Index value, const std::string& field, const std::string& what) {
  if (value < 1) {
    throw ConfigError(
        field, field + " = " + std::to_string(value) + ": must be an integer >= 1 (" + what + ")");
  }
}

// The eigenvalues of one side: power law, isotropic or read from the file (keys named by side).
Eigen::VectorXd side_spectrum(CovarianceKind kind, Eigen::Index n, double alpha,
                              const std::string& file, const std::string& side) {
  const std::string alpha_key = "bilinear.alpha_" + side;
  switch (kind) {
    case CovarianceKind::power_law: {
      Eigen::VectorXd v = power_law_eigenvalues(n, alpha);
      if (!(v.array() > 0.0).all() || !v.allFinite()) {
        throw ConfigError(alpha_key, alpha_key + " = " + format_value(alpha) +
                                         ": the eigenvalues k^(-2α) underflow at this size; use "
                                         "a smaller " +
                                         alpha_key);
      }
      return v;
    }
    case CovarianceKind::isotropic:
      return isotropic_eigenvalues(n);
    case CovarianceKind::from_file: {
      const std::string path_key = "bilinear.path_" + side;
      if (file.empty()) {
        throw ConfigError(path_key, path_key + " is empty: covariance_" + side +
                                        " = \"from_file\" needs the path of a text file with n_" +
                                        side + " eigenvalues");
      }
      return eigenvalues_from_file(file, n, "problem." + path_key, "problem.bilinear.n_" + side);
    }
  }
  throw Error("make_bilinear_problem: unknown covariance kind");
}

// The Haar rotation of one side, or an empty matrix for the diagonal basis.
Eigen::MatrixXd side_basis(BasisKind kind, Eigen::Index n, std::uint64_t seed, StreamTag tag,
                           const std::string& side) {
  if (kind == BasisKind::diagonal) return {};
  if (n > kMaxBilinearGenericSide) {
    const std::string key = "bilinear.n_" + side;
    throw ConfigError(key,
                      key + " = " + std::to_string(n) + " is too large for basis_" + side +
                          " = \"generic\": the Haar rotation is a dense n×n matrix; use n <= " +
                          std::to_string(kMaxBilinearGenericSide) + ", or the diagonal basis");
  }
  return haar_orthogonal(n, seed, tag);
}

}  // namespace

BilinearProblem make_bilinear_problem(const BilinearSpec& spec) {
  require_dimension(spec.n_out, "bilinear.n_out", "the dimension of x_out, rows of W");
  require_dimension(spec.n_in, "bilinear.n_in", "the dimension of x_in, columns of W");
  if (!std::isfinite(spec.sigma) || spec.sigma < 0.0) {
    throw ConfigError("bilinear.sigma", "bilinear.sigma = " + format_value(spec.sigma) +
                                            ": the label-noise standard deviation must be "
                                            "finite and >= 0");
  }
  require_exponent(spec.alpha_out, "bilinear.alpha_out", "the exponent of μ_k = k^(−2α_out)");
  require_exponent(spec.alpha_in, "bilinear.alpha_in", "the exponent of λ_l = l^(−2α_in)");
  require_exponent(spec.beta_out, "bilinear.beta_out", "the exponent of b_k = k^(−β_out)");
  require_exponent(spec.beta_in, "bilinear.beta_in", "the exponent of c_l = l^(−β_in)");

  BilinearProblem p;
  p.n_out = spec.n_out;
  p.n_in = spec.n_in;
  p.sigma = spec.sigma;
  p.mu = side_spectrum(spec.covariance_out, spec.n_out, spec.alpha_out, spec.file_out, "out");
  p.lambda = side_spectrum(spec.covariance_in, spec.n_in, spec.alpha_in, spec.file_in, "in");
  p.b = power_law_target(spec.n_out, spec.beta_out);
  p.c = power_law_target(spec.n_in, spec.beta_in);
  p.O_out = side_basis(spec.basis_out, spec.n_out, spec.basis_seed, StreamTag::basis, "out");
  p.O_in = side_basis(spec.basis_in, spec.n_in, spec.basis_seed, StreamTag::basis_in, "in");
  return p;
}

double bilinear_risk_from_rho(const BilinearProblem& p,
                              const Eigen::Ref<const Eigen::MatrixXd>& rho) {
  assert(rho.rows() == p.n_out && rho.cols() == p.n_in);
  return 0.5 * p.mu.dot(rho * p.lambda) + 0.5 * p.sigma * p.sigma;
}

double bilinear_risk(const BilinearProblem& p, const Eigen::Ref<const Eigen::MatrixXd>& delta) {
  assert(delta.rows() == p.n_out && delta.cols() == p.n_in);
  return 0.5 * p.mu.dot(delta.cwiseAbs2() * p.lambda) + 0.5 * p.sigma * p.sigma;
}

Eigen::MatrixXd bilinear_initial_rho(const BilinearProblem& p) {
  return p.b.cwiseAbs2() * p.c.cwiseAbs2().transpose();
}

void sample_bilinear_initial_residual(const BilinearProblem& p, Rng& rng,
                                      Eigen::Ref<Eigen::MatrixXd> delta) {
  assert(delta.rows() == p.n_out && delta.cols() == p.n_in);
  rng.fill_normal(delta);
  delta.array().colwise() *= -p.b.array();
  delta.array().rowwise() *= p.c.array().transpose();
}

void sample_bilinear_batch(const BilinearProblem& p, Rng& rng, Eigen::Ref<Eigen::MatrixXd> a_out,
                           Eigen::Ref<Eigen::MatrixXd> a_in, Eigen::Ref<Eigen::VectorXd> eps) {
  assert(a_out.cols() == p.n_out && a_in.cols() == p.n_in);
  assert(a_out.rows() == a_in.rows() && eps.size() == a_out.rows());
  rng.fill_normal(a_out);
  a_out.array().rowwise() *= p.mu.array().sqrt().transpose();
  rng.fill_normal(a_in);
  a_in.array().rowwise() *= p.lambda.array().sqrt().transpose();
  Eigen::Map<Eigen::MatrixXd> eps_matrix(eps.data(), eps.size(), 1);
  rng.fill_normal(eps_matrix);
  eps *= p.sigma;
}

void bilinear_residuals(const Eigen::Ref<const Eigen::MatrixXd>& a_out,
                        const Eigen::Ref<const Eigen::MatrixXd>& a_in,
                        const Eigen::Ref<const Eigen::MatrixXd>& delta,
                        const Eigen::Ref<const Eigen::VectorXd>& eps,
                        Eigen::Ref<Eigen::VectorXd> r) {
  assert(a_out.cols() == delta.rows() && a_in.cols() == delta.cols());
  assert(r.size() == a_out.rows() && eps.size() == a_out.rows());
  for (Eigen::Index b = 0; b < a_out.rows(); ++b) {
    double s = 0.0;
    for (Eigen::Index k = 0; k < delta.rows(); ++k) {
      s += a_out(b, k) * delta.row(k).dot(a_in.row(b));
    }
    r(b) = s - eps(b);
  }
}

}  // namespace signdyn
