// Issue 4, restarts without loss: kill -9 of mirrord in the middle of a large
// untar through the mount, restarted on the same port and copy, converges and
// applies nothing twice (a file appended to throughout and files created and
// deleted throughout would differ if it did); kill -9 of mirrorfs with
// requests waiting in its queue, the mount cleaned up and mirrorfs started
// again on the same backing directory and queue, replays them and converges.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <thread>

#include "tests/support/fault_fixture.h"

namespace {

using namespace std::chrono_literals;
using testing_support::CommandResult;
using testing_support::count_entries;
using testing_support::directory_bytes;
using testing_support::kNoLine;
using testing_support::read_file;
using testing_support::run_command;
using testing_support::wait_until;
using testing_support::write_file;

// A tarball of real header files: about 2200 in async mode, about 1200 in
// sync mode, where each one waits for the mirror (and the test's deadline
// must hold on a loaded machine).
std::string make_tarball(const std::string& path, bool smaller) {
  std::vector<std::string> argv = {"tar", "-C", "/usr/include", "-cf", path};
  std::vector<std::string> dirs = {"linux", "x86_64-linux-gnu", "asm-generic"};
  if (!smaller) dirs.insert(dirs.end(), {"c++", "unicode", "rdma"});
  for (const auto& d : dirs) {
    if (access(("/usr/include/" + d).c_str(), F_OK) == 0) argv.push_back(d);
  }
  auto r = run_command(argv, 60s);
  return r.exit_code == 0 ? "" : r.output;
}

// Appends numbered lines to one file (O_APPEND), creates and deletes files,
// and moves a freshly written "rot-a" to a new name "rot-b-I", through the
// mount, until stopped. A request applied twice on the mirror shows up as a
// doubled line, a file that should not exist, or - the probe that does not
// depend on how writes are described - a "rot-b-I" holding a later
// generation: "rename rot-a rot-b-I" applied again once the next rot-a
// exists moves that one.
class Churn {
 public:
  explicit Churn(const std::string& dir) : dir_(dir) {
    mkdir(dir_.c_str(), 0755);
    thread_ = std::thread([this] { run(); });
  }
  ~Churn() { stop(); }
  void stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int lines() const { return lines_.load(); }
  const std::string& error() const { return error_; }

 private:
  void run() {
    int fd = open((dir_ + "/appended").c_str(), O_CREAT | O_WRONLY | O_APPEND, 0644);
    if (fd < 0) {
      error_ = "cannot open the appended file";
      return;
    }
    for (int i = 0; !stopping_; ++i) {
      std::string line = "line " + std::to_string(i) + "\n";
      if (write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
        error_ = "append " + std::to_string(i) + " failed";
        break;
      }
      ++lines_;
      if (i % 5 == 0) {
        std::string f = dir_ + "/tmp-" + std::to_string(i);
        write_file(f, "short-lived " + std::to_string(i) + "\n");
        if (unlink(f.c_str()) != 0) error_ = "unlink " + f + " failed";
      }
      if (i % 25 == 0) write_file(dir_ + "/kept-" + std::to_string(i), "kept\n");
      if (i % 10 == 0) {
        write_file(dir_ + "/rot-a", "generation " + std::to_string(i) + "\n");
        std::string to = dir_ + "/rot-b-" + std::to_string(i);
        if (rename((dir_ + "/rot-a").c_str(), to.c_str()) != 0)
          error_ = "rename to " + to + " failed";
      }
      // Pacing, not synchronisation: a steady stream across the kill.
      std::this_thread::sleep_for(2ms);
    }
    close(fd);
  }

  std::string dir_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> lines_{0};
  std::string error_;
  std::thread thread_;
};

class RestartTest : public FaultTest {};

TEST_P(RestartTest, MirrordKilledDuringALargeUntarRestartsAndNothingIsAppliedTwice) {
  std::string tarball = tmp->sub("src.tar");
  std::string made = make_tarball(tarball, mode() == "sync");
  ASSERT_EQ(made, "") << "cannot make the tarball";
  start_mirrord();
  start_mirrorfs();
  wait_link_steady();

  auto untar = std::async(std::launch::async, [&] {
    return run_command({"tar", "-C", mnt, "-xf", tarball}, 240s);
  });
  Churn churn(at("churn"));
  // Kill it mid-way: once part of the tree has reached the copy.
  ASSERT_TRUE(wait_until([&] { return count_entries(copy) > 300; }, 60s))
      << "the untar did not get going";
  EXPECT_EQ(untar.wait_for(0s), std::future_status::timeout) << "the untar was over too soon";
  size_t from = mirrorfs_lines().size();
  kill_mirrord();
  EXPECT_NE(wait_mirrorfs_line("link vol interrupted", from, 10s), kNoLine);
  restart_mirrord();
  EXPECT_NE(wait_mirrorfs_line(" recovered after ", from, 20s), kNoLine);

  ASSERT_EQ(untar.wait_for(240s), std::future_status::ready);
  CommandResult r = untar.get();
  churn.stop();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_EQ(churn.error(), "");
  ASSERT_GT(churn.lines(), 0);
  // The backing file is the reference: every line once, in order.
  std::string expected;
  for (int i = 0; i < churn.lines(); ++i) expected += "line " + std::to_string(i) + "\n";
  ASSERT_EQ(read_file(in_backing("churn/appended")), expected);

  expect_converged(120s);
  // Spelled out, for a clearer message than the tree comparison's.
  EXPECT_EQ(read_file(in_copy("churn/appended")).size(), expected.size())
      << "the mirror's appended file differs in size: an append applied twice or lost";
  // Not asserted (the contract does not fix the wording), but worth seeing:
  // whether the restarted mirror recognised requests sent again.
  for (const auto& line : mirrord_lines()) {
    if (line.text.find("not applied twice") != std::string::npos) std::cerr << line.text << "\n";
  }
}

TEST_P(RestartTest, MirrorfsKilledWithAQueueReplaysItWhenStartedAgain) {
  start_mirrord();
  start_mirrorfs();
  wait_link_steady();

  size_t from = mirrorfs_lines().size();
  mirrord->signal(SIGSTOP);
  ASSERT_NE(wait_mirrorfs_line("link vol interrupted", from, 10s), kNoLine);
  // Requests pile up in the queue; fsync makes each durable there (async)
  // and lets no write linger in the kernel's cache of the mount.
  ASSERT_EQ(mkdir(at("queued").c_str(), 0755), 0);
  for (int f = 0; f < 50; ++f) {
    std::string path = at("queued/f" + std::to_string(f));
    int fd = open(path.c_str(), O_CREAT | O_WRONLY, 0644);
    ASSERT_GE(fd, 0) << path;
    std::string data(4096 + f * 100, static_cast<char>('a' + f % 26));
    ASSERT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
    ASSERT_EQ(fsync(fd), 0) << path;
    close(fd);
  }
  ASSERT_EQ(rename(at("queued/f0").c_str(), at("queued/renamed").c_str()), 0);
  ASSERT_EQ(unlink(at("queued/f1").c_str()), 0);
  ASSERT_EQ(symlink("renamed", at("queued/link").c_str()), 0);
  uint64_t queued = directory_bytes(queue_dir);
  EXPECT_GT(queued, 50u * 4096) << "the queue directory " << queue_dir
                                << " does not hold the requests made while the peer was away";

  kill_mirrorfs();
  ASSERT_GT(directory_bytes(queue_dir), 0u) << "the queue went with the killed mirrorfs";
  EXPECT_NE(access(in_copy("queued").c_str(), F_OK), 0) << "a stopped mirror applied a request";
  mirrord->signal(SIGCONT);

  start_mirrorfs();  // same backing directory, same queue_dir
  expect_converged();
  EXPECT_NE(wait_mirrorfs_line("link vol: queue drained", 0, 20s), kNoLine);
}

INSTANTIATE_TEST_SUITE_P(Modes, RestartTest, ::testing::Values("sync", "async"),
                         [](const auto& info) { return info.param; });

}  // namespace
