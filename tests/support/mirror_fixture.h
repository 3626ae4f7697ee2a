// Real mirroring for integration tests: a mirrord child process serving
// volumes on a loopback port it picks itself, and a test fixture that starts
// a mirrord and a mirrorfs mounted with it as its peer, in a fresh temporary
// directory, tearing both down whatever the outcome.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "mirror/tree_compare.h"
#include "tests/support/mount_fixture.h"

namespace testing_support {

// Everything a mirrord under test can be started with; the defaults are what
// the volumes/secret constructor below uses.
struct MirrordConfig {
  std::vector<std::pair<std::string, std::string>> volumes;  // NAME, DIR
  std::string secret_file;
  std::string log_path;
  // ADDR:PORT; a fixed port restarts a mirrord where its peers expect it.
  std::string listen = "127.0.0.1:0";
  int request_timeout_ms = 200;
  std::vector<std::string> extra_args;  // e.g. --heartbeat-interval 50
  // --control PATH; empty: LOG_PATH.sock beside the log, unless extra_args
  // give --control themselves. Never the shared default, which parallel
  // tests would fight over.
  std::string control_path;
  // Put before the program, e.g. NetNs::exec_prefix() to run it in a namespace.
  std::vector<std::string> exec_prefix;
  // How long to wait for "listening on ... (port N)".
  std::chrono::milliseconds start_deadline = std::chrono::seconds(10);
};

class MirrordProcess {
 public:
  // Starts `mirrord --listen 127.0.0.1:0 --volume NAME=DIR... --secret-file`
  // and waits until it says which port it listens on; throws with its output.
  MirrordProcess(const std::vector<std::pair<std::string, std::string>>& volumes,
                 const std::string& secret_file, const std::string& log_path,
                 const std::vector<std::string>& extra_args = {});
  // Starts mirrord as `config` says and waits for its port; throws with its output.
  explicit MirrordProcess(const MirrordConfig& config);
  ~MirrordProcess();
  MirrordProcess(const MirrordProcess&) = delete;
  MirrordProcess& operator=(const MirrordProcess&) = delete;

  uint16_t port() const { return port_; }
  // Its control socket (--control); "" when extra_args gave it.
  const std::string& control_path() const { return control_path_; }
  pid_t pid() const { return child_.pid(); }
  void signal(int sig) { child_.signal(sig); }
  // SIGCONT and SIGTERM, then SIGKILL after a deadline; returns the exit status.
  int stop();
  int poll_exit() { return child_.poll_exit(); }
  std::string log() const { return child_.log(); }

 private:
  std::string control_path_;
  ChildProcess child_;
  uint16_t port_ = 0;
};

// Writes a secret file with mode 0600.
void write_secret(const std::string& path, const std::string& secret);

// Waits until `copy` equals `primary` by the tree comparison; on the deadline
// returns the differences left.
std::string wait_for_convergence(const std::string& primary, const std::string& copy,
                                 std::chrono::milliseconds deadline = std::chrono::seconds(30),
                                 const mirror::TreeCompareOptions& options = {});

// A mirrord and a mirrorfs mounted with it as peer: `backing` is mirrored to
// `copy`. The mode is the test's parameter ("sync" or "async").
class MirroredTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override;
  void TearDown() override;
  // Extra -o options for the mount.
  virtual std::vector<std::string> extra_mount_options() const { return {}; }
  // The mount's mode= (default: the test's parameter).
  virtual std::string mode() const { return GetParam(); }
  std::vector<std::string> peer_options(const std::string& mode) const;
  void expect_converged();

  std::string at(const std::string& rel) const { return mnt + "/" + rel; }
  std::string in_backing(const std::string& rel) const { return backing + "/" + rel; }
  std::string in_copy(const std::string& rel) const { return copy + "/" + rel; }

  std::unique_ptr<TempDir> tmp;
  std::string backing, mnt, copy, secret;
  std::unique_ptr<MirrordProcess> mirrord;
  std::unique_ptr<MirrorfsProcess> mirrorfs;
};

}  // namespace testing_support

using testing_support::MirroredTest;
