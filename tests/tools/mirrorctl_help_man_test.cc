// mirrorctl's --help and man/mirrorctl.8 in step: the global options in
// OPTIONS, each command's options in its subsection of COMMANDS, the same
// defaults; the page renders without groff warnings and carries the version.
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>

#include "tests/support/help_man.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace {

using testing_support::OptionDoc;
using testing_support::options_in_help;
using testing_support::options_in_man;
using testing_support::run_command;

std::string man_page_path() {
  return std::string(MIRRORFS_SOURCE_DIR) + "/man/mirrorctl.8";
}
std::string man_page() {
  return testing_support::read_file(man_page_path());
}

std::string help_of(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {MIRRORCTL_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_command(argv);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r.output;
}

std::vector<OptionDoc> without_help(std::vector<OptionDoc> docs) {
  std::erase_if(docs, [](const OptionDoc& d) {
    return std::find(d.names.begin(), d.names.end(), "--help") != d.names.end();
  });
  return docs;
}

const char* const kCommands[] = {"status", "metrics", "pause", "resume",
                                 "mode",   "verify",  "resync"};

TEST(MirrorctlHelpAndManPage, GlobalOptionsAreTheSame) {
  std::string help = help_of({"--help"});
  auto from_help = options_in_help(help);
  ASSERT_GE(from_help.size(), 4u) << help;
  EXPECT_EQ(options_in_man(man_page(), "OPTIONS"), from_help)
      << "man/mirrorctl.8's OPTIONS must list the options of `mirrorctl --help` in order, with "
         "the same (default: ...)";
  for (const auto& o : from_help) {
    bool flag = o.names.back() == "--help" || o.names.back() == "--version";
    EXPECT_TRUE(flag || !o.default_text.empty()) << o << ": --help shows no default";
  }
}

TEST(MirrorctlHelpAndManPage, EachCommandHasItsSubsectionWithItsOptions) {
  std::string help = help_of({"--help"});
  for (const char* command : kCommands) {
    EXPECT_TRUE(std::regex_search(help, std::regex(std::string("\n  ") + command + " ")))
        << command << " missing from --help:\n"
        << help;
    std::string sub = help_of({command, "--help"});
    auto from_help = without_help(options_in_help(sub));
    EXPECT_EQ(options_in_man(man_page(), "COMMANDS", command), from_help)
        << "the COMMANDS subsection of " << command << " must list the options of `mirrorctl "
        << command << " --help`:\n"
        << sub;
    bool has_subsection = man_page().find(std::string(".SS \"") + command) != std::string::npos;
    EXPECT_TRUE(has_subsection) << "no .SS for " << command;
  }
  auto status = without_help(options_in_help(help_of({"status", "--help"})));
  EXPECT_EQ(status.size(), 2u) << "--json and --watch";
}

TEST(MirrorctlHelpAndManPage, ManPageRendersWithoutGroffWarnings) {
  if (run_command({"sh", "-c", "command -v groff"}).exit_code != 0) {
    GTEST_SKIP() << "groff is not installed (tools/install-deps installs groff-base)";
  }
  auto r = run_command({"groff", "-man", "-ww", "-z", man_page_path()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "") << "groff warnings for " << man_page_path();
}

TEST(MirrorctlHelpAndManPage, VersionAndSectionsAreThere) {
  auto r = run_command({MIRRORCTL_BIN, "--version"});
  EXPECT_EQ(r.exit_code, 0);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.output, m, std::regex(R"(^mirrorctl ([0-9.]+)\n)"))) << r.output;
  std::string page = man_page();
  EXPECT_NE(page.find("\"mirrorfs " + std::string(m[1]) + "\""), std::string::npos)
      << ".TH must carry the version mirrorctl prints";
  for (const char* s : {"NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "TARGETS", "COMMANDS",
                        "EXIT STATUS", "FILES", "EXAMPLES", "SEE ALSO"}) {
    EXPECT_NE(page.find(std::string(".SH ") + s), std::string::npos) << s;
  }
  // The status fields the issues name are documented.
  for (const char* field : {"link", "mode", "records", "oldest_age_ms", "timestamp_age_ms", "sync",
                            "files_done", "bytes_total", "eta_s", "bytes_repaired", "listed"}) {
    EXPECT_NE(page.find(field), std::string::npos) << field;
  }
}

}  // namespace
