// Covariance spectra λ_j and target amplitudes b_j (theory.md §1; see signdyn/spectrum.hpp).
#include "signdyn/spectrum.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "signdyn/error.hpp"

namespace signdyn {

namespace {

// x_j = j^(−p), j = 1..d: the shape shared by power-law eigenvalues and targets.
Eigen::VectorXd inverse_powers(Eigen::Index d, double p) {
  Eigen::VectorXd x(d);
  for (Eigen::Index j = 0; j < d; ++j) x(j) = std::pow(static_cast<double>(j + 1), -p);
  return x;
}

}  // namespace

Eigen::VectorXd power_law_eigenvalues(Eigen::Index d, double alpha) {
  return inverse_powers(d, 2.0 * alpha);
}

Eigen::VectorXd isotropic_eigenvalues(Eigen::Index d) {
  return Eigen::VectorXd::Ones(d);
}

Eigen::VectorXd eigenvalues_from_file(const std::string& path, Eigen::Index d,
                                      const std::string& field, const std::string& dim_key) {
  std::ifstream in(path);
  if (!in) {
    throw IoError("cannot open eigenvalue file '" + path + "' (" + field +
                  "): check the path and its permissions");
  }
  std::vector<double> values;
  std::string line;
  long line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (const auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    std::istringstream tokens(line);
    std::string token;
    while (tokens >> token) {
      double value = 0.0;
      std::size_t used = 0;
      try {
        value = std::stod(token, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != token.size()) {
        throw ConfigError(field, "eigenvalue file '" + path + "', line " + std::to_string(line_no) +
                                     ": '" + token +
                                     "' is not a number; the file must hold d positive numbers");
      }
      if (!std::isfinite(value) || value <= 0.0) {
        throw ConfigError(field, "eigenvalue file '" + path + "', line " + std::to_string(line_no) +
                                     ": eigenvalue " + token +
                                     " must be finite and > 0 (K is positive definite)");
      }
      values.push_back(value);
    }
  }
  if (in.bad()) throw IoError("error while reading eigenvalue file '" + path + "'");
  if (static_cast<Eigen::Index>(values.size()) != d) {
    throw ConfigError(field, "eigenvalue file '" + path + "' holds " +
                                 std::to_string(values.size()) + " eigenvalues but " + dim_key +
                                 " = " + std::to_string(d) + ": give exactly " + std::to_string(d) +
                                 " values or change " + dim_key);
  }
  std::sort(values.begin(), values.end(), std::greater<double>());
  return Eigen::Map<const Eigen::VectorXd>(values.data(), d);
}

Eigen::VectorXd normalise_trace(const Eigen::VectorXd& lambda) {
  return lambda / lambda.sum();
}

Eigen::VectorXd power_law_target(Eigen::Index d, double beta) {
  return inverse_powers(d, beta);
}

Eigen::VectorXd isotropic_target(Eigen::Index d) {
  return Eigen::VectorXd::Ones(d);
}

Eigen::VectorXd normalise_target(const Eigen::VectorXd& b, const Eigen::VectorXd& lambda) {
  const double energy = lambda.dot(b.cwiseAbs2());  // Σ_j λ_j b_j²
  return b / std::sqrt(energy);
}

}  // namespace signdyn
