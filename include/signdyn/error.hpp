// signdyn/error.hpp: the exception types every layer throws, and how the CLI maps them.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace signdyn {

/// Base of every error signdyn reports to a user; the message says what to change.
/// The CLI maps Error (and subclasses) to exit code 2, anything else to exit code 1.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Invalid configuration or CLI input; `field` is the dotted config key (e.g. "problem.d").
class ConfigError : public Error {
 public:
  ConfigError(std::string field, const std::string& message)
      : Error(message), field_(std::move(field)) {}
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

/// Failure reading or writing a file (HDF5, spectrum files); the message names the path.
class IoError : public Error {
 public:
  using Error::Error;
};

/// A numerical method that did not converge (a fixed point, a continuation) on valid input.
/// predict() turns it into a run with status `stalled`, so it is reported, not a bad input.
class NumericalError : public Error {
 public:
  using Error::Error;
};

/// A number as error messages print it: the shortest default stream form ("0.5", "1e+07", "nan").
inline std::string format_value(double x) {
  std::ostringstream s;
  s << x;
  return s.str();
}

}  // namespace signdyn
