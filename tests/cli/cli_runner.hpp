// Test helpers shared by the CLI tests: run the app in-process, and a fresh directory per test.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "app.hpp"

namespace signdyn::cli {

/// Exit code and the two output streams of one in-process `signdyn` invocation.
struct Result {
  int code;
  std::string out, err;
};

/// Runs `signdyn args...` through run_app, capturing stdout and stderr.
inline Result run(std::vector<std::string> args) {
  args.insert(args.begin(), "signdyn");
  std::ostringstream out, err;
  const int code = run_app(args, out, err);
  return {code, out.str(), err.str()};
}

/// An empty directory temp/<suite>/<current test name>, so that tests running in parallel never
/// share files.
inline std::string fresh_test_dir(const std::string& suite) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / suite / info->name();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

}  // namespace signdyn::cli
