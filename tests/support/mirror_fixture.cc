#include "tests/support/mirror_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

namespace testing_support {

namespace {
bool gives_control(const MirrordConfig& config) {
  for (const auto& a : config.extra_args) {
    if (a == "--control" || a.rfind("--control=", 0) == 0) return true;
  }
  return false;
}

std::string control_path_of(const MirrordConfig& config) {
  if (gives_control(config)) return "";
  return config.control_path.empty() ? config.log_path + ".sock" : config.control_path;
}

std::vector<std::string> mirrord_argv(const MirrordConfig& config) {
  std::vector<std::string> argv = config.exec_prefix;
  std::vector<std::string> own = {MIRRORD_BIN,
                                  "--listen",
                                  config.listen,
                                  "--secret-file",
                                  config.secret_file,
                                  "--request-timeout",
                                  std::to_string(config.request_timeout_ms)};
  argv.insert(argv.end(), own.begin(), own.end());
  for (const auto& [name, dir] : config.volumes) {
    argv.push_back("--volume");
    argv.push_back(name + "=" + dir);
  }
  if (std::string control = control_path_of(config); !control.empty()) {
    argv.push_back("--control");
    argv.push_back(control);
  }
  argv.insert(argv.end(), config.extra_args.begin(), config.extra_args.end());
  return argv;
}

MirrordConfig legacy_config(const std::vector<std::pair<std::string, std::string>>& volumes,
                            const std::string& secret_file, const std::string& log_path,
                            const std::vector<std::string>& extra_args) {
  MirrordConfig config;
  config.volumes = volumes;
  config.secret_file = secret_file;
  config.log_path = log_path;
  config.extra_args = extra_args;
  return config;
}
}  // namespace

MirrordProcess::MirrordProcess(const std::vector<std::pair<std::string, std::string>>& volumes,
                               const std::string& secret_file, const std::string& log_path,
                               const std::vector<std::string>& extra_args)
    : MirrordProcess(legacy_config(volumes, secret_file, log_path, extra_args)) {}

MirrordProcess::MirrordProcess(const MirrordConfig& config)
    : control_path_(control_path_of(config)),
      child_(mirrord_argv(config), config.log_path, SIGKILL) {
  std::regex listening(R"(\(port (\d+)\))");
  bool up = wait_until(
      [&] {
        std::smatch m;
        std::string text = log();
        if (std::regex_search(text, m, listening)) port_ = static_cast<uint16_t>(std::stoi(m[1]));
        return port_ != 0 || poll_exit() != -1;
      },
      config.start_deadline);
  if (!up || port_ == 0) {
    stop();
    throw std::runtime_error("mirrord did not start; its output:\n" + log());
  }
}

MirrordProcess::~MirrordProcess() { stop(); }

int MirrordProcess::stop() {
  child_.signal(SIGCONT);
  child_.signal(SIGTERM);
  return child_.wait(std::chrono::seconds(10));
}

void write_secret(const std::string& path, const std::string& secret) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || write(fd, secret.data(), secret.size()) != static_cast<ssize_t>(secret.size())) {
    throw std::runtime_error("cannot write secret file " + path);
  }
  fchmod(fd, 0600);
  close(fd);
}

std::string wait_for_convergence(const std::string& primary, const std::string& copy,
                                 std::chrono::milliseconds deadline,
                                 const mirror::TreeCompareOptions& options) {
  std::vector<mirror::TreeDifference> diffs;
  wait_until(
      [&] {
        diffs = mirror::compare_trees(primary, copy, options);
        return diffs.empty();
      },
      deadline);
  return mirror::format_differences(diffs);
}

std::vector<std::string> MirroredTest::peer_options(const std::string& mode) const {
  return {"peer=127.0.0.1:" + std::to_string(mirrord->port()), "volume=vol",
          "secret_file=" + secret, "mode=" + mode, "connections=4",
          "queue_dir=" + tmp->sub("queue"),
          "control=" + tmp->sub("mirrorfs.sock")};
}

void MirroredTest::SetUp() {
  std::string why;
  if (!fuse_available(&why)) GTEST_SKIP() << why;
  tmp = std::make_unique<TempDir>();
  backing = tmp->sub("backing");
  mnt = tmp->sub("mnt");
  copy = tmp->sub("copy");
  secret = tmp->sub("secret");
  for (const auto& d : {backing, mnt, copy}) ASSERT_EQ(mkdir(d.c_str(), 0755), 0) << d;
  write_secret(secret, "a shared secret for tests\n");
  mirrord = std::make_unique<MirrordProcess>(std::vector<std::pair<std::string, std::string>>{{"vol", copy}},
                                             secret, tmp->sub("mirrord.log"));
  auto options = peer_options(mode());
  auto extra = extra_mount_options();
  options.insert(options.end(), extra.begin(), extra.end());
  mirrorfs = std::make_unique<MirrorfsProcess>(backing, mnt, options, tmp->sub("mirrorfs.log"));
  // The tests start from a connected pair: the first heartbeat was heard.
  ASSERT_TRUE(wait_until([&] { return mirrorfs->log().find("heard; connecting") != std::string::npos; },
                         std::chrono::seconds(10)))
      << "mirrorfs never heard mirrord's heartbeat:\n"
      << mirrorfs->log() << "\nmirrord:\n"
      << mirrord->log();
  // ... and the copy's identity was settled: the (empty) initial sync is over.
  ASSERT_TRUE(wait_until(
      [&] { return mirrorfs->log().find("the copy is consistent") != std::string::npos; },
      std::chrono::seconds(10)))
      << "the copy never became consistent:\n"
      << mirrorfs->log() << "\nmirrord:\n"
      << mirrord->log();
}

void MirroredTest::TearDown() {
  if (mirrorfs) {
    mirrorfs->stop();
    EXPECT_FALSE(is_mounted(mnt)) << "mount left behind at " << mnt;
  }
  if (mirrord) {
    EXPECT_EQ(mirrord->stop(), 0) << "mirrord did not exit cleanly";
  }
  if (HasFailure()) {
    if (mirrorfs) std::cerr << "mirrorfs output:\n" << mirrorfs->log();
    if (mirrord) std::cerr << "mirrord output:\n" << mirrord->log();
  }
  mirrorfs.reset();
  mirrord.reset();
  tmp.reset();
}

void MirroredTest::expect_converged() {
  std::string left = wait_for_convergence(backing, copy);
  EXPECT_EQ(left, "") << "the copy did not converge";
}

}  // namespace testing_support
