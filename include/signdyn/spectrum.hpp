// signdyn/spectrum.hpp: eigenvalues λ_j of the data covariance K and target amplitudes b_j.
#pragma once

#include <Eigen/Core>
#include <string>

namespace signdyn {

/// λ_j = j^(−2α), j = 1..d (theory.md §1); descending, not normalised.
Eigen::VectorXd power_law_eigenvalues(Eigen::Index d, double alpha);

/// λ_j = 1 for all j (K = I before normalisation).
Eigen::VectorXd isotropic_eigenvalues(Eigen::Index d);

/// Reads d eigenvalues from a text file (whitespace- or newline-separated, '#' comments);
/// throws IoError naming the path if it cannot be read, or ConfigError for `field` if the count
/// is not d (the dimension set by `dim_key`) or a value is not finite and > 0. Sorted descending.
Eigen::VectorXd eigenvalues_from_file(const std::string& path, Eigen::Index d,
                                      const std::string& field = "problem.covariance.path",
                                      const std::string& dim_key = "problem.d");

/// Scales λ so that tr K = Σ_j λ_j = 1.
Eigen::VectorXd normalise_trace(const Eigen::VectorXd& lambda);

/// b_j = j^(−β), j = 1..d: W* = O diag(b) Z (theory.md §1), so E ρ_j(0) = b_j².
Eigen::VectorXd power_law_target(Eigen::Index d, double beta);

/// b_j = 1 for all j.
Eigen::VectorXd isotropic_target(Eigen::Index d);

/// Scales b so that Σ_j λ_j b_j² = 1 (initial risk 1/2 + σ²/2 in expectation).
Eigen::VectorXd normalise_target(const Eigen::VectorXd& b, const Eigen::VectorXd& lambda);

}  // namespace signdyn
