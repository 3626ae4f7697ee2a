#include "tests/support/fault_fixture.h"

#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <regex>
#include <sstream>
#include <thread>

namespace testing_support {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::vector<LogLine> parse_log(const std::string& text) {
  std::vector<LogLine> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    LogLine l;
    l.text = line;
    int h, m, s, ms;
    char tail;
    if (line.size() >= 13 &&
        std::sscanf(line.c_str(), "%2d:%2d:%2d.%3d%c", &h, &m, &s, &ms, &tail) == 5 &&
        line[2] == ':' && line[5] == ':' && line[8] == '.' && tail == ' ') {
      l.ms_of_day = ((h * 60 + m) * 60 + s) * 1000LL + ms;
    }
    lines.push_back(std::move(l));
  }
  return lines;
}

int64_t wall_ms_of_day() {
  auto now = std::chrono::system_clock::now();
  time_t secs = std::chrono::system_clock::to_time_t(now);
  int64_t ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  tm local{};
  localtime_r(&secs, &local);  // spdlog stamps local time too
  return ((local.tm_hour * 60 + local.tm_min) * 60 + local.tm_sec) * 1000LL + ms;
}

int64_t ms_between(int64_t earlier, int64_t later) {
  constexpr int64_t day = 24LL * 3600 * 1000;
  int64_t d = (later - earlier) % day;
  if (d < 0) d += day;
  if (d > day / 2) d -= day;  // `later` was in fact earlier
  return d;
}

size_t find_line(const std::vector<LogLine>& lines, const std::string& needle, size_t from) {
  for (size_t i = from; i < lines.size(); ++i) {
    if (lines[i].text.find(needle) != std::string::npos) return i;
  }
  return kNoLine;
}

size_t count_lines(const std::vector<LogLine>& lines, const std::string& needle, size_t from) {
  size_t n = 0;
  for (size_t i = from; i < lines.size(); ++i) {
    if (lines[i].text.find(needle) != std::string::npos) ++n;
  }
  return n;
}

uint64_t directory_bytes(const std::string& dir) {
  std::error_code ec;
  uint64_t total = 0;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) {
      auto size = it->file_size(size_ec);
      if (!size_ec) total += size;
    }
  }
  return total;
}

size_t count_entries(const std::string& dir) {
  std::error_code ec;
  size_t n = 0;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

bool auto_unmount_helper_running(const std::string& mountpoint) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string pid = e.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline;
    try {
      cmdline = read_file(e.path().string() + "/cmdline");
    } catch (const std::exception&) {
      continue;  // gone meanwhile
    }
    std::vector<std::string> argv;
    for (size_t start = 0; start < cmdline.size();) {
      size_t end = cmdline.find('\0', start);
      if (end == std::string::npos) end = cmdline.size();
      argv.push_back(cmdline.substr(start, end - start));
      start = end + 1;
    }
    if (argv.size() >= 2 && argv[0].find("fusermount") != std::string::npos &&
        argv.back() == mountpoint) {
      return true;
    }
  }
  return false;
}

void FaultTest::SetUp() {
  std::string why;
  if (!fuse_available(&why)) GTEST_SKIP() << why;
  tmp = std::make_unique<TempDir>();
  backing = tmp->sub("backing");
  mnt = tmp->sub("mnt");
  copy = tmp->sub("copy");
  secret = tmp->sub("secret");
  queue_dir = tmp->sub("queue");
  for (const auto& d : {backing, mnt, copy}) ASSERT_EQ(mkdir(d.c_str(), 0755), 0) << d;
  write_secret(secret, "a shared secret for fault tests\n");
}

void FaultTest::TearDown() {
  // A stopped daemon would hold up everything below.
  if (mirrorfs) mirrorfs->signal(SIGCONT);
  if (mirrord) mirrord->signal(SIGCONT);
  if (mirrorfs) {
    mirrorfs->stop();
    EXPECT_FALSE(is_mounted(mnt)) << "mount left behind at " << mnt;
  }
  if (mirrord) mirrord->stop();
  if (HasFailure() && tmp) {
    std::vector<fs::path> logs;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(tmp->path(), ec)) {
      if (e.path().extension() == ".log") logs.push_back(e.path());
    }
    std::sort(logs.begin(), logs.end());
    for (const auto& p : logs) {
      std::cerr << "---- " << p.filename().string() << " ----\n" << read_file(p.string());
    }
  }
  mirrorfs.reset();
  mirrord.reset();
  netns.reset();
  tmp.reset();
}

void FaultTest::start_mirrord(const std::string& listen) {
  MirrordConfig config;
  config.volumes = {{"vol", copy}};
  config.secret_file = secret;
  config.log_path = tmp->sub("mirrord." + std::to_string(++mirrord_starts) + ".log");
  config.listen = listen;
  config.request_timeout_ms = static_cast<int>(FaultTimings::request_timeout);
  config.extra_args = {"--heartbeat-interval", std::to_string(FaultTimings::interval),
                       "--heartbeat-timeout", std::to_string(FaultTimings::timeout)};
  if (netns) config.exec_prefix = netns->exec_prefix();
  mirrord = std::make_unique<MirrordProcess>(config);
  auto colon = listen.rfind(':');
  mirrord_listen = listen.substr(0, colon) + ":" + std::to_string(mirrord->port());
}

void FaultTest::restart_mirrord() {
  ASSERT_FALSE(mirrord_listen.empty()) << "restart_mirrord before start_mirrord";
  std::string listen = mirrord_listen;
  if (mirrord) {
    mirrord->stop();
    mirrord.reset();
  }
  // The port is free once the old process is gone, but give a slow kernel a
  // few tries rather than fail on the first EADDRINUSE.
  std::string last_error;
  bool started = wait_until(
      [&] {
        try {
          start_mirrord(listen);
          return true;
        } catch (const std::exception& e) {
          last_error = e.what();
          return false;
        }
      },
      20s);
  ASSERT_TRUE(started) << "mirrord did not start again on " << listen << ": " << last_error;
  ASSERT_EQ(mirrord_listen, listen);
}

void FaultTest::kill_mirrord() {
  ASSERT_TRUE(mirrord);
  mirrord->signal(SIGKILL);
  mirrord->signal(SIGCONT);
  EXPECT_EQ(mirrord->stop(), 128 + SIGKILL);
}

std::vector<std::string> FaultTest::mirrorfs_options(const std::vector<std::string>& extra) const {
  std::vector<std::string> o = {
      "peer=" + peer_host + ":" + std::to_string(mirrord->port()),
      "volume=vol",
      "secret_file=" + secret,
      "mode=" + mode(),
      "connections=4",
      "heartbeat_interval=" + std::to_string(FaultTimings::interval),
      "heartbeat_timeout=" + std::to_string(FaultTimings::timeout),
      "probation=" + std::to_string(FaultTimings::probation),
      "queue_dir=" + queue_dir,
      // Its own control socket: the default is per volume name, host-wide.
      "control=" + tmp->sub("mirrorfs." + std::to_string(mirrorfs_starts + 1) + ".sock"),
  };
  if (heartbeat_port != 0) o.push_back("heartbeat_port=" + std::to_string(heartbeat_port));
  o.insert(o.end(), extra.begin(), extra.end());
  return o;
}

void FaultTest::start_mirrorfs(const std::vector<std::string>& extra) {
  // The old process object goes first: MirrorfsProcess::stop() ends with a
  // lazy unmount of its mount point, which would take the new mount.
  if (mirrorfs) {
    mirrorfs->signal(SIGCONT);
    mirrorfs->stop();
    mirrorfs.reset();
  }
  // The auto_unmount helper of a mirrorfs that died unmounts the mount point
  // when it notices; it must not find the new mount there.
  ASSERT_TRUE(wait_until([&] { return !auto_unmount_helper_running(mnt); }, 10s))
      << "the auto_unmount helper of the previous mirrorfs is still running";
  auto options = mirrorfs_options(extra);  // names the control socket after this start
  std::string log = tmp->sub("mirrorfs." + std::to_string(++mirrorfs_starts) + ".log");
  mirrorfs = std::make_unique<MirrorfsProcess>(backing, mnt, options, log);
}

void FaultTest::kill_mirrorfs() {
  ASSERT_TRUE(mirrorfs);
  mirrorfs->signal(SIGKILL);
  mirrorfs->signal(SIGCONT);
  EXPECT_EQ(mirrorfs->stop(), 128 + SIGKILL);
  EXPECT_FALSE(is_mounted(mnt)) << "the mount of the killed mirrorfs is still there";
  EXPECT_TRUE(wait_until([&] { return !auto_unmount_helper_running(mnt); }, 10s))
      << "the killed mirrorfs's auto_unmount helper did not exit";
}

std::vector<LogLine> FaultTest::mirrorfs_lines() const {
  return mirrorfs ? parse_log(mirrorfs->log()) : std::vector<LogLine>{};
}

std::vector<LogLine> FaultTest::mirrord_lines() const {
  return mirrord ? parse_log(mirrord->log()) : std::vector<LogLine>{};
}

namespace {
size_t wait_line(const std::function<std::vector<LogLine>()>& lines, const std::string& needle,
                 size_t from, std::chrono::milliseconds deadline, LogLine* found) {
  size_t index = kNoLine;
  wait_until(
      [&] {
        auto all = lines();
        index = find_line(all, needle, from);
        if (index != kNoLine && found != nullptr) *found = all[index];
        return index != kNoLine;
      },
      deadline);
  return index;
}
}  // namespace

size_t FaultTest::wait_mirrorfs_line(const std::string& needle, size_t from,
                                     std::chrono::milliseconds deadline, LogLine* found) const {
  return wait_line([&] { return mirrorfs_lines(); }, needle, from, deadline, found);
}

size_t FaultTest::wait_mirrord_line(const std::string& needle, size_t from,
                                    std::chrono::milliseconds deadline, LogLine* found) const {
  return wait_line([&] { return mirrord_lines(); }, needle, from, deadline, found);
}

void FaultTest::wait_link_steady() {
  write_file(at("marker-" + std::to_string(++markers)), "the link is up\n");
  std::string left = wait_for_convergence(backing, copy, 30s);
  ASSERT_EQ(left, "") << "the copy did not converge with the link up";
  // A link starts in probation when the first heartbeat is heard; wait for
  // it to end, should this mirrorfs log it.
  bool steady = wait_until(
      [&] {
        auto lines = mirrorfs_lines();
        size_t started = kNoLine;
        for (size_t i = lines.size(); i-- > 0;) {
          if (lines[i].text.find("probation of") != std::string::npos ||
              lines[i].text.find("probation restarted") != std::string::npos) {
            started = i;
            break;
          }
        }
        return started == kNoLine || find_line(lines, " recovered after ", started) != kNoLine;
      },
      10s);
  ASSERT_TRUE(steady) << "the link is still in probation";
}

void FaultTest::expect_converged(std::chrono::milliseconds deadline) {
  std::string left = wait_for_convergence(backing, copy, deadline);
  EXPECT_EQ(left, "") << "the copy did not converge";
}

}  // namespace testing_support
