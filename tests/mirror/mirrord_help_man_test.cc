// The operator's view of mirrord's command line: `mirrord --help` and
// man/mirrord.8 list the same options with the same defaults, --version
// prints the project's version, a wrong command line ends with a non-zero
// status and a line on stderr naming what was wrong, and the stop signals
// the man page names end the daemon with status 0.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/help_man.h"
#include "tests/support/mirror_fixture.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace {

using testing_support::run_command;

using testing_support::lines_of;
using testing_support::macro_args;
using testing_support::OptionDoc;
using testing_support::options_in_help;

// The entries of the man page's OPTIONS section.
std::vector<OptionDoc> options_in_man(const std::string& man) {
  return testing_support::options_in_man(man, "OPTIONS");
}

std::string man_page_path() { return std::string(MIRRORFS_SOURCE_DIR) + "/man/mirrord.8"; }

std::string read_man_page() { return testing_support::read_file(man_page_path()); }

// The version in the top CMakeLists.txt's project() call.
std::string project_version() {
  std::string cmake =
      testing_support::read_file(std::string(MIRRORFS_SOURCE_DIR) + "/CMakeLists.txt");
  std::smatch m;
  static const std::regex re(R"(project\s*\(\s*mirrorfs\s+VERSION\s+([0-9][0-9.]*))");
  return std::regex_search(cmake, m, re) ? std::string(m[1]) : "";
}

struct SplitResult {
  int exit_code = -1;  // 128 + signal when killed, -1 when the deadline passed
  std::string out, err;
};

// Runs mirrord with stdout and stderr kept apart (run_command merges them).
// `exec` keeps the status mirrord's own, a crash included.
SplitResult run_mirrord(const std::vector<std::string>& args,
                        std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
  TempDir tmp;
  std::string err_path = tmp.sub("stderr");
  std::vector<std::string> argv = {"sh", "-c",     "err=$1; shift; exec \"$@\" 2>\"$err\"",
                                   "sh", err_path, MIRRORD_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_command(argv, deadline);
  return {r.exit_code, r.output, testing_support::read_file(err_path)};
}

std::vector<std::string> names_of(const std::vector<OptionDoc>& docs) {
  std::vector<std::string> names;
  for (const auto& d : docs) names.insert(names.end(), d.names.begin(), d.names.end());
  return names;
}

TEST(HelpAndManPage, HelpListsEveryOptionWithItsDefaultOrRequired) {
  auto r = run_mirrord({"--help"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto help = options_in_help(r.out);
  auto names = names_of(help);
  for (const char* name :
       {"-h", "--help", "--version", "--listen", "--volume", "--secret-file", "--request-timeout",
        "--heartbeat-interval", "--heartbeat-timeout", "--state-dir", "--control", "--log-level"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end())
        << name << " not found in --help:\n"
        << r.out;
  }
  for (const auto& o : help) {
    bool flag = o.names.back() == "--help" || o.names.back() == "--version";
    if (!flag) {
      EXPECT_TRUE(!o.default_text.empty() || o.required)
          << o << ": --help shows neither a default nor REQUIRED";
    }
  }
}

TEST(HelpAndManPage, ManPageListsExactlyTheOptionsOfHelpWithTheSameDefaults) {
  auto r = run_mirrord({"--help"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto help = options_in_help(r.out);
  auto man = options_in_man(read_man_page());
  ASSERT_GE(help.size(), 7u) << r.out;
  ASSERT_GE(man.size(), 7u) << "no options found in man/mirrord.8's OPTIONS section";
  EXPECT_EQ(man, help) << "man/mirrord.8's OPTIONS must list the options of `mirrord --help` in "
                          "the same order, each with the same (default: ...) text, and "
                          "(required) where --help says REQUIRED";
}

// The parsers themselves, on CLI11's layouts and on roff.
TEST(HelpAndManPage, ParsersHandleCli11LayoutAndRoff) {
  std::string help =
      "x: y\nUsage: x [OPTIONS]\n\nOptions:\n"
      "  -h,--help                   Print this help message and exit\n"
      "  --listen TEXT=0.0.0.0:7400  where\n"
      "  --volume NAME=DIR ... REQUIRED\n"
      "                              NAME=DIR: a volume\n"
      "  --secret-file PATH REQUIRED file (mode 0600)\n"
      "  --timeout INT:INT in [10 - 3600000]=2000\n"
      "                              milliseconds\n"
      "  --level TEXT:{a,b=c}=a      level\n"
      "\nFooter\n";
  std::vector<OptionDoc> want = {{{"-h", "--help"}, "", false},
                                 {{"--listen"}, "0.0.0.0:7400", false},
                                 {{"--volume"}, "", true},
                                 {{"--secret-file"}, "", true},
                                 {{"--timeout"}, "2000", false},
                                 {{"--level"}, "a", false}};
  EXPECT_EQ(options_in_help(help), want);
  std::string man =
      ".SH DESCRIPTION\n.TP\n.B \\-\\-not\\-an\\-option\n(default: 1)\n"
      ".SH OPTIONS\n"
      ".TP\n.BR \\-h \", \" \\-\\-help\nPrint.\n"
      ".TP\n.BI \\-\\-listen \" ADDR\" : PORT\nWhere, as in\n.BR [::]:7400 .\n(default:\n"
      "0.0.0.0:7400)\n"
      ".TP\n.BI \\-\\-volume \" NAME\" = DIR\nA \\fIvolume\\fR.\n(required)\n"
      ".TP\n.BI \\-\\-secret\\-file \" PATH\"\n(required)\n"
      ".TP\n.BI \\-\\-timeout \" MS\"\n(default: 2000)\n"
      ".TP\n.BI \\-\\-level \" LEVEL\"\n(default: a)\n"
      ".SH SIGNALS\n.TP\n.B SIGTERM\n(default: 0)\n";
  EXPECT_EQ(options_in_man(man), want);
}

TEST(HelpAndManPage, ManPageRendersWithoutGroffWarnings) {
  if (run_command({"sh", "-c", "command -v groff"}).exit_code != 0) {
    GTEST_SKIP() << "groff is not installed (tools/install-deps installs groff-base)";
  }
  auto r = run_command({"groff", "-man", "-ww", "-z", man_page_path()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "") << "groff warnings for " << man_page_path();
}

TEST(HelpAndManPage, ManPageTitleCarriesTheProjectVersion) {
  std::string version = project_version();
  ASSERT_FALSE(version.empty()) << "no version in CMakeLists.txt's project()";
  std::string th;
  for (const auto& l : lines_of(read_man_page())) {
    if (l.rfind(".TH ", 0) == 0) th = l;
  }
  EXPECT_NE(th.find("mirrorfs " + version), std::string::npos) << th;
}

TEST(HelpAndManPage, ManPageHasTheSectionsOperatorsLookFor) {
  std::vector<std::string> sections;
  for (const auto& l : lines_of(read_man_page())) {
    if (l.rfind(".SH ", 0) != 0) continue;
    std::string title;
    for (const auto& a : macro_args(l.substr(4))) title += (title.empty() ? "" : " ") + a;
    sections.push_back(title);
  }
  for (const char* s : {"NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "SIGNALS", "EXIT STATUS",
                        "LOGGING", "FILES", "EXAMPLES", "SEE ALSO"}) {
    EXPECT_NE(std::find(sections.begin(), sections.end(), s), sections.end()) << s;
  }
  EXPECT_NE(read_man_page().find(".BR mirrorfs (8)"), std::string::npos);
}

TEST(Version, PrintsMirrordAndTheProjectVersion) {
  std::string version = project_version();
  ASSERT_FALSE(version.empty()) << "no version in CMakeLists.txt's project()";
  auto r = run_mirrord({"--version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto lines = lines_of(r.out);
  ASSERT_FALSE(lines.empty()) << "nothing on stdout; stderr:\n" << r.err;
  EXPECT_EQ(lines[0], "mirrord " + version);
}

// A valid volume directory and secret file, so that each command line below
// has exactly one thing wrong.
class BadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    volume_dir = tmp.sub("copy");
    secret = tmp.sub("secret");
    ASSERT_EQ(mkdir(volume_dir.c_str(), 0700), 0);
    testing_support::write_secret(secret, "a shared secret of the demo\n");
  }
  std::vector<std::string> valid_except(const std::string& left_out) const {
    std::vector<std::string> args;
    if (left_out != "--listen") args.insert(args.end(), {"--listen", "127.0.0.1:0"});
    if (left_out != "--volume") args.insert(args.end(), {"--volume", "v=" + volume_dir});
    if (left_out != "--secret-file") args.insert(args.end(), {"--secret-file", secret});
    return args;
  }
  // A non-zero status of mirrord's own (not a crash, not the deadline),
  // nothing on stdout, and a line on stderr containing `needle`.
  static void expect_refused_naming(const SplitResult& r, const std::string& needle) {
    EXPECT_GT(r.exit_code, 0) << "should refuse; stderr:\n" << r.err;
    EXPECT_LT(r.exit_code, 128) << "killed by signal " << r.exit_code - 128 << "; stderr:\n"
                                << r.err;
    EXPECT_EQ(r.out, "") << "errors belong on stderr";
    auto lines = lines_of(r.err);
    bool named = std::any_of(lines.begin(), lines.end(), [&](const std::string& l) {
      return l.find(needle) != std::string::npos;
    });
    EXPECT_TRUE(named) << "no line on stderr names " << needle << "; stderr:\n" << r.err;
  }
  SplitResult run_with(std::vector<std::string> args, std::vector<std::string> more) const {
    args.insert(args.end(), more.begin(), more.end());
    return run_mirrord(args, std::chrono::seconds(10));
  }
  TempDir tmp;
  std::string volume_dir, secret;
};

TEST_F(BadInput, MissingVolumeIsNamed) {
  expect_refused_naming(run_with(valid_except("--volume"), {}), "--volume");
}

TEST_F(BadInput, VolumeWithoutDirectoryIsNamed) {
  auto r = run_with(valid_except("--volume"), {"--volume", "novalue"});
  expect_refused_naming(r, "novalue");
  expect_refused_naming(r, "NAME=DIR");
}

TEST_F(BadInput, MissingVolumeDirectoryIsNamed) {
  std::string missing = tmp.sub("no-such-copy");
  expect_refused_naming(run_with(valid_except("--volume"), {"--volume", "v=" + missing}), missing);
}

TEST_F(BadInput, MissingSecretFileOptionIsNamed) {
  expect_refused_naming(run_with(valid_except("--secret-file"), {}), "--secret-file");
}

TEST_F(BadInput, MissingSecretFileIsNamed) {
  std::string missing = tmp.sub("no-such-secret");
  expect_refused_naming(run_with(valid_except("--secret-file"), {"--secret-file", missing}),
                        missing);
}

TEST_F(BadInput, SecretFileOthersMayReadIsNamed) {
  ASSERT_EQ(chmod(secret.c_str(), 0644), 0);
  auto r = run_with(valid_except(""), {});
  expect_refused_naming(r, secret);
  expect_refused_naming(r, "chmod 600");
}

TEST_F(BadInput, ListenNonsenseIsNamed) {
  expect_refused_naming(run_with(valid_except("--listen"), {"--listen", "nonsense"}), "nonsense");
}

TEST_F(BadInput, ListenBadPortIsNamed) {
  expect_refused_naming(run_with(valid_except("--listen"), {"--listen", "127.0.0.1:99999"}),
                        "127.0.0.1:99999");
}

// mirror/mirror_server.cc reads the port with std::stoi, which stops at the
// first non-digit: "127.0.0.1:0x" listens on port 0 instead of being refused.
// Enable once mirrord checks that the whole port is digits.
TEST_F(BadInput, ListenPortWithTrailingJunkIsNamed) {
  expect_refused_naming(run_with(valid_except("--listen"), {"--listen", "127.0.0.1:0x"}),
                        "127.0.0.1:0x");
}

TEST_F(BadInput, ListenWithoutBracketsAroundIPv6IsNamed) {
  expect_refused_naming(run_with(valid_except("--listen"), {"--listen", "::1:0"}), "::1:0");
}

TEST_F(BadInput, ListenUnknownHostIsNamed) {
  expect_refused_naming(run_with(valid_except("--listen"), {"--listen", "no-such-host.invalid:0"}),
                        "no-such-host.invalid");
}

TEST_F(BadInput, HeartbeatTimeoutNotLongerThanIntervalIsNamed) {
  auto r =
      run_with(valid_except(""), {"--heartbeat-interval", "500", "--heartbeat-timeout", "500"});
  expect_refused_naming(r, "--heartbeat-timeout");
  expect_refused_naming(r, "--heartbeat-interval");
}

TEST_F(BadInput, HeartbeatIntervalOutOfRangeIsNamed) {
  expect_refused_naming(run_with(valid_except(""), {"--heartbeat-interval", "0"}),
                        "--heartbeat-interval");
}

TEST_F(BadInput, MissingStateDirIsNamed) {
  std::string missing = tmp.sub("no-such-state-dir");
  expect_refused_naming(run_with(valid_except(""), {"--state-dir", missing}), missing);
}

// Parse errors are start-up errors like the others: status 1, one line.
TEST_F(BadInput, ParseErrorsEndWithStatusOneAndOneLine) {
  for (const std::vector<std::string>& extra : {std::vector<std::string>{"--no-such-option"},
                                                {"--request-timeout", "5"},
                                                {"--request-timeout"},
                                                {"stray-argument"}}) {
    auto r = run_with(valid_except(""), extra);
    EXPECT_EQ(r.exit_code, 1) << extra[0] << "; stderr:\n" << r.err;
    EXPECT_EQ(lines_of(r.err).size(), 1u) << extra[0] << "; stderr:\n" << r.err;
  }
  auto r = run_with(valid_except("--volume"), {});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
}

TEST_F(BadInput, RequestTimeoutOutOfRangeIsNamed) {
  expect_refused_naming(run_with(valid_except(""), {"--request-timeout", "5"}),
                        "--request-timeout");
}

TEST_F(BadInput, UnknownLogLevelIsNamed) {
  expect_refused_naming(run_with(valid_except(""), {"--log-level", "loud"}), "loud");
}

TEST_F(BadInput, UnknownOptionIsNamed) {
  expect_refused_naming(run_with(valid_except(""), {"--no-such-option"}), "--no-such-option");
}

// --listen takes a host name too; TCP and the heartbeats' UDP share the port.
TEST(Listen, AcceptsAHostName) {
  TempDir tmp;
  std::string copy = tmp.sub("copy"), secret = tmp.sub("secret");
  ASSERT_EQ(mkdir(copy.c_str(), 0700), 0);
  testing_support::write_secret(secret, "s3cret");
  testing_support::ChildProcess mirrord(
      {MIRRORD_BIN, "--listen", "localhost:0", "--volume", "v=" + copy, "--secret-file", secret,
       "--control", tmp.sub("mirrord.sock")},
      tmp.sub("mirrord.log"), SIGKILL);
  std::smatch m;
  std::string log;
  static const std::regex port_re(R"(\(port (\d+)\))");
  ASSERT_TRUE(testing_support::wait_until([&] {
    log = mirrord.log();
    return std::regex_search(log, m, port_re) || mirrord.poll_exit() != -1;
  })) << log;
  ASSERT_EQ(mirrord.poll_exit(), -1) << log;
  ASSERT_TRUE(std::regex_search(log, m, port_re)) << log;
  const std::string port = m[1];
  EXPECT_NE(port, "0");
  EXPECT_TRUE(testing_support::wait_until([&] {
    return mirrord.log().find("heartbeats on UDP ") != std::string::npos;
  })) << mirrord.log();
  EXPECT_NE(mirrord.log().find(":" + port + " every"), std::string::npos) << mirrord.log();
  mirrord.signal(SIGTERM);
  EXPECT_EQ(mirrord.wait(std::chrono::seconds(10)), 0) << mirrord.log();
}

// SIGNALS and EXIT STATUS in the man page: each stop signal ends mirrord
// cleanly, with status 0 and its "stopped" line.
class StopSignal : public ::testing::TestWithParam<int> {};

TEST_P(StopSignal, EndsMirrordWithStatusZero) {
  TempDir tmp;
  std::string copy = tmp.sub("copy"), secret = tmp.sub("secret");
  ASSERT_EQ(mkdir(copy.c_str(), 0700), 0);
  testing_support::write_secret(secret, "s3cret");
  testing_support::MirrordProcess mirrord({{"v", copy}}, secret, tmp.sub("mirrord.log"));
  mirrord.signal(GetParam());
  ASSERT_TRUE(testing_support::wait_until([&] { return mirrord.poll_exit() != -1; }))
      << "mirrord still runs 10 s after signal " << GetParam() << "; its log:\n"
      << mirrord.log();
  EXPECT_EQ(mirrord.poll_exit(), 0) << mirrord.log();
  EXPECT_NE(mirrord.log().find("mirrord: info: stopped"), std::string::npos) << mirrord.log();
}

INSTANTIATE_TEST_SUITE_P(Signals, StopSignal, ::testing::Values(SIGTERM, SIGINT, SIGHUP),
                         [](const auto& info) { return std::string(sigabbrev_np(info.param)); });

}  // namespace
