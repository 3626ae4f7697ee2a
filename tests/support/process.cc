#include "tests/support/process.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/prctl.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "tests/support/temp_dir.h"

namespace testing_support {

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds deadline) {
  auto end = std::chrono::steady_clock::now() + deadline;
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= end) return condition();
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
}

int wait_for_exit(pid_t pid, std::chrono::milliseconds deadline) {
  int status = 0;
  bool done = wait_until([&] { return waitpid(pid, &status, WNOHANG) == pid; }, deadline);
  if (!done) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds deadline) {
  char out_path[] = "/tmp/mirrorfs-test.out.XXXXXX";
  int out = mkstemp(out_path);
  if (out < 0) throw std::runtime_error("mkstemp for command output failed");
  unlink(out_path);
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    dup2(out, 1);
    dup2(out, 2);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    std::fprintf(stderr, "cannot run %s\n", args[0]);
    _exit(127);
  }
  CommandResult result;
  result.exit_code = wait_for_exit(pid, deadline);
  lseek(out, 0, SEEK_SET);
  char buf[4096];
  ssize_t n;
  while ((n = read(out, buf, sizeof buf)) > 0) result.output.append(buf, static_cast<size_t>(n));
  close(out);
  return result;
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, std::string log_path,
                           int death_signal)
    : log_path_(std::move(log_path)) {
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, death_signal);
    int log = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    dup2(log, 1);
    dup2(log, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (poll_exit() == -1) {
    kill(pid_, SIGKILL);
    wait(std::chrono::seconds(10));
  }
}

int ChildProcess::poll_exit() {
  if (status_ != -1 || pid_ <= 0) return status_;
  int st;
  if (waitpid(pid_, &st, WNOHANG) == pid_) {
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  return status_;
}

void ChildProcess::signal(int sig) {
  if (poll_exit() == -1) kill(pid_, sig);
}

int ChildProcess::wait(std::chrono::milliseconds deadline) {
  if (!wait_until([&] { return poll_exit() != -1; }, deadline)) {
    kill(pid_, SIGKILL);
    wait_until([&] { return poll_exit() != -1; }, std::chrono::seconds(10));
  }
  return status_;
}

std::string ChildProcess::log() const {
  std::ifstream in(log_path_);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

int run_in_child(const std::function<int()>& body, uid_t uid, gid_t gid,
                 std::chrono::milliseconds deadline) {
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    if (gid != static_cast<gid_t>(-1) && (setgroups(0, nullptr) != 0 || setgid(gid) != 0)) _exit(125);
    if (uid != static_cast<uid_t>(-1) && setuid(uid) != 0) _exit(126);
    _exit(body());
  }
  return wait_for_exit(pid, deadline);
}

}  // namespace testing_support
