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

// A daemon under test: started with its output appended to a log file, sent
// `death_signal` should the test process die, and reaped (killed if need be)
// when the object goes away.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, std::string log_path, int death_signal);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // The exit status once it exited (128 + signal when killed), else -1.
  int poll_exit();
  void signal(int sig);
  // Waits until it exits; SIGKILL at the deadline. Returns the status.
  int wait(std::chrono::milliseconds deadline);
  std::string log() const;

 private:
  std::string log_path_;
  pid_t pid_ = -1;
  int status_ = -1;
};

}  // namespace testing_support
