// The /etc/fstab route: a line of type fuse.mirrorfs makes mount(8) run
// mount.fuse3, which starts `mirrorfs BACKING MOUNTPOINT -o OPTIONS` through
// /bin/sh. These tests walk that route for real without touching /etc/fstab
// or the system's directories:
//
//  - mount.fuse3 is run with the very arguments mount(8) gives it, and finds
//    `mirrorfs` through PATH (a private bin dir holding a symlink to the
//    built binary);
//  - mount(8) itself, with a private fstab file (`mount --fstab FILE MNT`) or
//    with `-t fuse.mirrorfs`. mount(8) removes PATH from the helper's
//    environment, so /bin/sh looks only in its default path (/usr/local/sbin,
//    /usr/local/bin, ...): these tests run in a private mount namespace in
//    which that private bin dir is bind-mounted over /usr/local/sbin.
//
// Each test checks the mount is of type fuse.mirrorfs with the options
// asked for, that files pass through it to the backing directory, and that
// unmounting ends the daemon. Whatever the outcome, nothing stays mounted and
// no daemon stays behind.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/mount_fixture.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace {

using namespace std::chrono_literals;
using testing_support::CommandResult;
using testing_support::run_command;
using testing_support::wait_until;

// The options of the fstab line documented in man/mirrorfs.8 and README.md.
const char kFstabOptions[] = "defaults,allow_other,default_permissions,_netdev";

std::string find_executable(const std::vector<std::string>& candidates) {
  for (const auto& p : candidates) {
    if (access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_mountinfo(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct MountEntry {
  std::string fstype;
  std::string source;
  std::string mount_options;  // per-mount, e.g. rw,relatime
  std::string super_options;  // per-superblock, e.g. rw,user_id=0,...,allow_other
};

// The entry for `mnt` in a /proc/PID/mountinfo text, if any.
std::optional<MountEntry> find_mount(const std::string& mountinfo, const std::string& mnt) {
  std::istringstream in(mountinfo);
  std::string line;
  std::optional<MountEntry> found;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, point, mount_options, field;
    fields >> id >> parent >> devno >> root >> point >> mount_options;
    if (unescape_mountinfo(point) != mnt) continue;
    while (fields >> field && field != "-") {
    }
    MountEntry e;
    e.mount_options = mount_options;
    fields >> e.fstype >> e.source >> e.super_options;
    found = e;  // the last one is on top
  }
  return found;
}

bool has_option(const std::string& list, const std::string& option) {
  return ("," + list + ",").find("," + option + ",") != std::string::npos;
}

std::vector<std::string> cmdline_of(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/cmdline", std::ios::binary);
  std::vector<std::string> args;
  std::string arg;
  while (std::getline(in, arg, '\0')) args.push_back(arg);
  return args;
}

// Live processes (zombies have no cmdline) with `mnt` among their arguments;
// with `daemon_only`, only those whose program is named mirrorfs.
std::vector<pid_t> processes_for(const std::string& mnt, bool daemon_only) {
  std::vector<pid_t> pids;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto args = cmdline_of(name);
    if (args.empty()) continue;
    if (daemon_only && std::filesystem::path(args[0]).filename() != "mirrorfs") continue;
    for (size_t i = 1; i < args.size(); ++i) {
      if (args[i] == mnt) {
        pids.push_back(std::stoi(name));
        break;
      }
    }
  }
  return pids;
}

class FstabTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!testing_support::fuse_available(&why)) GTEST_SKIP() << why;
    mount_fuse3 = find_executable({"/sbin/mount.fuse3", "/usr/sbin/mount.fuse3"});
    if (mount_fuse3.empty()) GTEST_SKIP() << "mount.fuse3 is missing (package fuse3)";
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root: mount(8) mounts fstab lines for root, and the namespace "
                      "tests bind-mount";
    }
    tmp = std::make_unique<TempDir>();
    // mount(8) and mountinfo use canonical paths.
    top = std::filesystem::canonical(tmp->path());
    backing = top + "/backing";
    mnt = top + "/mnt";
    bin = top + "/bin";
    for (const auto& d : {backing, mnt, bin}) ASSERT_EQ(mkdir(d.c_str(), 0755), 0) << d;
    ASSERT_EQ(symlink(MIRRORFS_BIN, (bin + "/mirrorfs").c_str()), 0) << strerror(errno);
    testing_support::write_file(backing + "/before.txt",
                                "in the backing directory before the mount\n");
  }

  void TearDown() override {
    if (!tmp) return;
    // Unmount wherever the mount may be; the daemon then ends by itself.
    if (namespace_holder > 0 && mounted()) run({"fusermount3", "-uz", mnt}, 10s);
    if (testing_support::is_mounted(mnt)) run_command({"fusermount3", "-uz", mnt}, 10s);
    if (!wait_until([&] { return processes_for(mnt, true).empty(); }, 10s)) {
      for (pid_t pid : processes_for(mnt, true)) kill(pid, SIGTERM);
      if (!wait_until([&] { return processes_for(mnt, true).empty(); }, 5s)) {
        for (pid_t pid : processes_for(mnt, true)) kill(pid, SIGKILL);
      }
      ADD_FAILURE() << "a mirrorfs daemon for " << mnt << " was still running at the end";
    }
    if (namespace_holder > 0) {
      kill(namespace_holder, SIGKILL);
      waitpid(namespace_holder, nullptr, 0);
      namespace_holder = -1;
    }
    EXPECT_FALSE(testing_support::is_mounted(mnt)) << "mount left behind at " << mnt;
    tmp.reset();
  }

  // Runs argv in the test's mount namespace: the private one once
  // enter_private_namespace() made it, else the test process's own.
  CommandResult run(std::vector<std::string> argv, std::chrono::milliseconds deadline = 30s) {
    if (namespace_holder > 0) {
      argv.insert(
          argv.begin(),
          {"nsenter", "--mount=/proc/" + std::to_string(namespace_holder) + "/ns/mnt", "--"});
    }
    return run_command(argv, deadline);
  }

  std::optional<MountEntry> mount_entry() {
    auto r = run({"cat", "/proc/self/mountinfo"}, 10s);
    if (r.exit_code != 0) return std::nullopt;
    return find_mount(r.output, mnt);
  }
  bool mounted() { return mount_entry().has_value(); }

  // Starts a process that holds a private mount namespace (nothing mounted
  // in it propagates out) and bind-mounts `bin` over /usr/local/sbin in it,
  // the first directory of /bin/sh's default PATH. Sets `skip_reason` if
  // this machine cannot do it.
  void enter_private_namespace() {
    for (const char* tool : {"unshare", "nsenter"}) {
      if (run_command({"sh", "-c", std::string("command -v ") + tool}).exit_code != 0) {
        skip_reason = std::string(tool) + " is missing (util-linux)";
        return;
      }
    }
    std::string target = find_dir({"/usr/local/sbin", "/usr/local/bin"});
    if (target.empty()) {
      skip_reason =
          "neither /usr/local/sbin nor /usr/local/bin exists to bind the test's bin dir over";
      return;
    }
    std::string log = top + "/unshare.log";
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      FILE* out = std::freopen(log.c_str(), "w", stderr);
      (void)out;
      execlp("unshare", "unshare", "--mount", "--propagation", "private", "sleep", "600",
             static_cast<char*>(nullptr));
      _exit(127);
    }
    namespace_holder = pid;
    auto ns_of = [](const std::string& p) {
      std::error_code ec;
      return std::filesystem::read_symlink("/proc/" + p + "/ns/mnt", ec).string();
    };
    std::string own = ns_of("self");
    int status = 0;
    bool exited = false;
    bool ready = wait_until(
        [&] {
          if (waitpid(pid, &status, WNOHANG) == pid) exited = true;
          return exited || ns_of(std::to_string(pid)) != own;
        },
        10s);
    if (exited || !ready) {
      if (!exited) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
      }
      namespace_holder = -1;
      skip_reason = "cannot create a private mount namespace: " + testing_support::read_file(log);
      return;
    }
    auto r = run({"mount", "--bind", bin, target});
    if (r.exit_code != 0) {
      skip_reason = "cannot bind-mount over " + target + " in a private namespace: " + r.output;
      return;
    }
    // Sanity: the helper's shell (no PATH) now finds our symlink.
    r = run({"env", "-u", "PATH", "/bin/sh", "-c", "command -v mirrorfs"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    ASSERT_EQ(r.output, target + "/mirrorfs\n");
  }

  static std::string find_dir(const std::vector<std::string>& candidates) {
    struct stat st;
    for (const auto& d : candidates) {
      if (stat(d.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return d;
    }
    return "";
  }

  // After a mount command succeeded: the mount is a mirrorfs one with
  // `options`, files pass through it both ways, and `unmount` ends the daemon.
  void check_mounted_then_unmount(const std::vector<std::string>& options,
                                  const std::vector<std::string>& unmount) {
    auto entry = mount_entry();
    ASSERT_TRUE(entry.has_value()) << "nothing mounted at " << mnt;
    EXPECT_EQ(entry->fstype, "fuse.mirrorfs");
    for (const auto& o : options) {
      EXPECT_TRUE(has_option(entry->super_options, o) || has_option(entry->mount_options, o))
          << o << " missing from " << entry->mount_options << " / " << entry->super_options;
    }
    EXPECT_EQ(processes_for(mnt, true).size(), 1u) << "one mirrorfs daemon should serve " << mnt;

    auto r = run({"cat", mnt + "/before.txt"});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output, "in the backing directory before the mount\n");
    r = run({"sh", "-c", "printf 'written through the mount\\n' > \"$1\" && sync \"$1\"", "sh",
             mnt + "/through.txt"});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(testing_support::read_file(backing + "/through.txt"), "written through the mount\n");

    r = run(unmount);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(wait_until([&] { return !mounted(); }, 10s)) << mnt << " still mounted";
    EXPECT_TRUE(wait_until([&] { return processes_for(mnt, false).empty(); }, 10s))
        << "the daemon (or its helpers) still run after unmounting " << mnt;
  }

  std::unique_ptr<TempDir> tmp;
  std::string top, backing, mnt, bin, mount_fuse3;
  pid_t namespace_holder = -1;
  std::string skip_reason;
};

// What mount(8) runs for an fstab line of type fuse.mirrorfs, as it runs it
// (argv seen with strace on Debian bookworm), with `mirrorfs` found in PATH.
TEST_F(FstabTest, MountFuse3StartsMirrorfsFoundInPath) {
  std::string path = bin + ":" + (getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
  auto r = run_command({"env", "PATH=" + path, mount_fuse3, backing, mnt, "-o",
                        "rw,allow_other,default_permissions,auto_unmount,_netdev", "-t",
                        "fuse.mirrorfs"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  check_mounted_then_unmount({"allow_other", "default_permissions"}, {"fusermount3", "-u", mnt});
}

// The closest to a real /etc/fstab line: a private fstab file, and
// `mount MOUNTPOINT` looking the line up in it.
TEST_F(FstabTest, MountFromPrivateFstabLine) {
  enter_private_namespace();
  if (HasFatalFailure()) return;
  if (!skip_reason.empty()) GTEST_SKIP() << skip_reason;
  std::string fstab = top + "/fstab";
  testing_support::write_file(
      fstab, backing + "  " + mnt + "  fuse.mirrorfs  " + kFstabOptions + "  0  0\n");
  auto r = run({"mount", "--fstab", fstab, mnt});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  check_mounted_then_unmount({"allow_other", "default_permissions"}, {"umount", mnt});
}

TEST_F(FstabTest, MountWithTypeFuseMirrorfs) {
  enter_private_namespace();
  if (HasFatalFailure()) return;
  if (!skip_reason.empty()) GTEST_SKIP() << skip_reason;
  auto r = run({"mount", "-t", "fuse.mirrorfs", "-o",
                "allow_other,default_permissions,auto_unmount", backing, mnt});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  check_mounted_then_unmount({"allow_other", "default_permissions"}, {"umount", mnt});
}

}  // namespace
