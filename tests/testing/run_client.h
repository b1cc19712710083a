// Runs the built edlae-client binary through the shell and collects its exit
// status and output.
#ifndef EDLAE_TESTS_TESTING_RUN_CLIENT_H_
#define EDLAE_TESTS_TESTING_RUN_CLIENT_H_

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace edlae::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `args` (shell words) with EDLAE_BINARY_DIR/client/edlae-client.
inline CommandResult RunClient(const std::string& args) {
  const std::string binary =
      std::string(EDLAE_BINARY_DIR) + "/client/edlae-client";
  CommandResult result;
  if (!std::filesystem::exists(binary)) {
    result.output = "missing binary " + binary + " (build target edlae-client)";
    return result;
  }
  const std::string command = binary + " " + args + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    result.output.append(buffer, n);
  }
  const int status = ::pclose(pipe);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

}  // namespace edlae::testing

#endif  // EDLAE_TESTS_TESTING_RUN_CLIENT_H_
