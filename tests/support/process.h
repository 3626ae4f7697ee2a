// Running real programs and forked children from tests, always with a
// deadline, so that a hung program fails the test instead of hanging it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace testing_support {

using namespace std::chrono_literals;

// Polls `condition` until it holds or `deadline` passes; returns the last result.
bool wait_until(const std::function<bool()>& condition,
                std::chrono::milliseconds deadline = std::chrono::milliseconds(10000));

struct CommandResult {
  int exit_code = -1;  // 128 + signal when killed, -1 when the deadline passed
  std::string output;  // stdout and stderr together
};

// Runs argv[0] (looked up in PATH) with its output captured; kills it at the
// deadline.
CommandResult run_command(const std::vector<std::string>& argv,
                          std::chrono::milliseconds deadline = std::chrono::milliseconds(30000));

// Forks, runs `body` in the child (after dropping to uid/gid when given, with
// no supplementary groups) and returns its exit status (-1: deadline passed,
// 128 + signal: killed).
int run_in_child(const std::function<int()>& body, uid_t uid = static_cast<uid_t>(-1),
                 gid_t gid = static_cast<gid_t>(-1),
                 std::chrono::milliseconds deadline = std::chrono::milliseconds(30000));

// Waits for a child started elsewhere; kills it with SIGKILL at the deadline.
int wait_for_exit(pid_t pid, std::chrono::milliseconds deadline);

}  // namespace testing_support
