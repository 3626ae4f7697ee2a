// `mirrorctl verify` and `mirrorctl resync` against the real daemons
// (tests/support/mirror_fixture.h): a copy damaged behind mirrord's back is
// found by verify (by metadata, and with --checksum a changed byte that
// leaves size and times alone), repaired by resync, and found equal after;
// the tree comparison judges the copy.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "tests/support/mirror_fixture.h"
#include "tests/support/process.h"

namespace {

using namespace std::chrono_literals;

struct CtlRun {
  int exit_code = -1;
  std::string out, err;
};

class MirrorctlSyncLive : public MirroredTest {
 protected:
  CtlRun mirrorctl(std::vector<std::string> args) {
    std::string err_path = tmp->sub("mirrorctl.err");
    std::vector<std::string> argv = {"sh", "-c",     "err=$1; shift; exec \"$@\" 2>\"$err\"",
                                     "sh", err_path, MIRRORCTL_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--max-time");
    argv.push_back("60");
    argv.push_back(tmp->sub("mirrorfs.sock"));
    auto r = testing_support::run_command(argv, 90s);
    return {r.exit_code, r.output, testing_support::read_file(err_path)};
  }

  void write(const std::string& rel, const std::string& data) {
    std::ofstream(at(rel), std::ios::binary) << data;
  }
};

bool has_line(const std::string& text, const std::string& pattern) {
  return std::regex_search(text, std::regex(pattern, std::regex::multiline));
}

TEST_P(MirrorctlSyncLive, VerifyFindsWhatDiffersAndResyncRepairsIt) {
  ASSERT_EQ(mkdir(at("dir").c_str(), 0755), 0);
  write("dir/a", std::string(100'000, 'a'));
  write("dir/b", "bbb");
  write("c", std::string(200'000, 'c'));
  ASSERT_EQ(testing_support::wait_for_convergence(backing, copy), "");

  auto r = mirrorctl({"verify", "--checksum"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(has_line(r.out, R"(^equal: \d+ entries, .* compared in )")) << r.out;

  // One byte in the middle of c, its size and times kept: only --checksum
  // sees it.
  auto put_byte = [&](const char* byte) {
    struct stat st;
    ASSERT_EQ(stat(in_copy("c").c_str(), &st), 0);
    int fd = open(in_copy("c").c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(pwrite(fd, byte, 1, 150'000), 1);
    close(fd);
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    ASSERT_EQ(utimensat(AT_FDCWD, in_copy("c").c_str(), times, 0), 0);
  };
  put_byte("X");
  r = mirrorctl({"verify"});
  EXPECT_EQ(r.exit_code, 0) << "without --checksum, contents are not read\n" << r.out << r.err;
  r = mirrorctl({"verify", "--checksum"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  // The file, and the offset of the block holding the byte.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"((^|\n)c: contents differ at byte (\d+))")))
      << r.out;
  EXPECT_LE(std::stoll(m[2]), 150'000) << r.out;
  EXPECT_TRUE(has_line(r.out, R"(^1 difference\(s\) in )")) << r.out;
  // A resync compares as verify does: without --checksum it does not see the
  // byte; with it, it sends the one block back.
  r = mirrorctl({"resync"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  r = mirrorctl({"verify", "--checksum"});
  EXPECT_EQ(r.exit_code, 1) << "a plain resync read contents it had no reason to\n" << r.out;
  r = mirrorctl({"resync", "--checksum"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  r = mirrorctl({"verify", "--checksum"});
  EXPECT_EQ(r.exit_code, 0) << "resync --checksum left the byte\n" << r.out << r.err;

  // Differences of metadata: a file gone from the copy, a mode changed.
  ASSERT_EQ(unlink(in_copy("dir/b").c_str()), 0);
  ASSERT_EQ(chmod(in_copy("dir/a").c_str(), 0600), 0);
  r = mirrorctl({"verify"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(has_line(r.out, R"(^dir/b: )")) << r.out;
  EXPECT_TRUE(has_line(r.out, R"(^dir/a: )")) << r.out;

  r = mirrorctl({"resync"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(has_line(r.out, R"(^repaired: \d+ difference\(s\) in )")) << r.out;
  r = mirrorctl({"verify", "--checksum", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto s = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_EQ(s.is_object() ? s.value("result", "") : "", "equal") << r.out;
  EXPECT_EQ(testing_support::wait_for_convergence(backing, copy, 10s), "")
      << "resync left differences";
}

INSTANTIATE_TEST_SUITE_P(Modes, MirrorctlSyncLive, ::testing::Values("async"));

}  // namespace
