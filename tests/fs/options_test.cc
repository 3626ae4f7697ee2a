// mirrorfs's command line: FUSE-style arguments parsed into MountOptions,
// with errors that name the option at fault.
#include "fs/options.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <vector>

#include "tests/support/temp_dir.h"

namespace {

using mirrorfs::MountOptions;
using mirrorfs::parse_options;
using mirrorfs::ParseResult;
using mirrorfs::UsageError;

class OptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mkdir(tmp.sub("b").c_str(), 0755);
    mkdir(tmp.sub("m").c_str(), 0755);
  }
  ParseResult parse(std::vector<std::string> words) {
    storage = std::move(words);
    storage.insert(storage.begin(), "mirrorfs");
    argv.clear();
    for (auto& w : storage) argv.push_back(w.data());
    args = fuse_args{};
    return parse_options(static_cast<int>(argv.size()), argv.data(), options, args);
  }
  void TearDown() override { fuse_opt_free_args(&args); }
  TempDir tmp;
  MountOptions options;
  fuse_args args{};
  std::vector<std::string> storage;
  std::vector<char*> argv;
};

TEST_F(OptionsTest, DefaultsWithTwoDirectories) {
  ASSERT_EQ(parse({tmp.sub("b"), tmp.sub("m")}), ParseResult::run);
  EXPECT_EQ(options.backing, tmp.sub("b"));
  EXPECT_EQ(options.mountpoint, tmp.sub("m"));
  EXPECT_FALSE(options.foreground);
  EXPECT_EQ(options.log_level, "info");
  EXPECT_EQ(options.cache_timeout, 86400);
  EXPECT_TRUE(options.writeback_cache);
}

TEST_F(OptionsTest, OurOptionsAreTakenAndFuseOptionsPassedOn) {
  ASSERT_EQ(parse({tmp.sub("b"), tmp.sub("m"), "-f", "-o",
                   "log_level=warn,cache_timeout=2.5,no_writeback,allow_other"}),
            ParseResult::run);
  EXPECT_TRUE(options.foreground);
  EXPECT_EQ(options.log_level, "warn");
  EXPECT_EQ(options.cache_timeout, 2.5);
  EXPECT_FALSE(options.writeback_cache);
  std::string rest;
  for (int i = 0; i < args.argc; ++i) rest += std::string(args.argv[i]) + " ";
  EXPECT_NE(rest.find("allow_other"), std::string::npos) << rest;
  EXPECT_EQ(rest.find("log_level"), std::string::npos) << rest;
}

TEST_F(OptionsTest, DebugMeansForegroundAndDebugLogs) {
  ASSERT_EQ(parse({tmp.sub("b"), tmp.sub("m"), "-d"}), ParseResult::run);
  EXPECT_TRUE(options.foreground);
  EXPECT_EQ(options.log_level, "debug");
}

TEST_F(OptionsTest, RelativePathsBecomeCanonical) {
  ASSERT_EQ(parse({tmp.sub("b") + "/../b/.", tmp.sub("m") + "/"}), ParseResult::run);
  EXPECT_EQ(options.backing, tmp.sub("b"));
  EXPECT_EQ(options.mountpoint, tmp.sub("m"));
}

TEST_F(OptionsTest, ErrorsNameWhatWasWrong) {
  auto message_of = [&](std::vector<std::string> words) -> std::string {
    try {
      parse(std::move(words));
    } catch (const UsageError& e) {
      return e.what();
    }
    return "(accepted)";
  };
  EXPECT_NE(message_of({tmp.sub("b"), tmp.sub("m"), "-o", "log_level=loud"}).find("log_level=loud"),
            std::string::npos);
  EXPECT_NE(message_of({tmp.sub("b"), tmp.sub("m"), "-o", "cache_timeout=-1"}).find("cache_timeout=-1"),
            std::string::npos);
  EXPECT_NE(message_of({tmp.sub("missing"), tmp.sub("m")}).find(tmp.sub("missing")),
            std::string::npos);
  EXPECT_NE(message_of({tmp.sub("b")}).find("usage"), std::string::npos);
}

TEST_F(OptionsTest, HelpAndVersionDoNotRun) {
  EXPECT_EQ(parse({"--version"}), ParseResult::version_shown);
  EXPECT_EQ(parse({"-h"}), ParseResult::help_shown);
}

}  // namespace
