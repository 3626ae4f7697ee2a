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
std::vector<std::string> mirrord_argv(const std::vector<std::pair<std::string, std::string>>& volumes,
                                      const std::string& secret_file,
                                      const std::vector<std::string>& extra_args) {
  std::vector<std::string> argv = {MIRRORD_BIN, "--listen", "127.0.0.1:0", "--secret-file",
                                   secret_file, "--request-timeout", "200"};
  for (const auto& [name, dir] : volumes) {
    argv.push_back("--volume");
    argv.push_back(name + "=" + dir);
  }
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  return argv;
}
}  // namespace

MirrordProcess::MirrordProcess(const std::vector<std::pair<std::string, std::string>>& volumes,
                               const std::string& secret_file, const std::string& log_path,
                               const std::vector<std::string>& extra_args)
    : child_(mirrord_argv(volumes, secret_file, extra_args), log_path, SIGKILL) {
  std::regex listening(R"(\(port (\d+)\))");
  bool up = wait_until([&] {
    std::smatch m;
    std::string text = log();
    if (std::regex_search(text, m, listening)) port_ = static_cast<uint16_t>(std::stoi(m[1]));
    return port_ != 0 || poll_exit() != -1;
  });
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
          "secret_file=" + secret, "mode=" + mode, "connections=4"};
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
  auto options = peer_options(GetParam());
  auto extra = extra_mount_options();
  options.insert(options.end(), extra.begin(), extra.end());
  mirrorfs = std::make_unique<MirrorfsProcess>(backing, mnt, options, tmp->sub("mirrorfs.log"));
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
