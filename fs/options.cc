#include "fs/options.h"

#include <fuse_opt.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>

namespace mirrorfs {
namespace {

// fuse_opt fills a C struct; strings are malloc'ed by it.
struct RawOptions {
  char* backing = nullptr;
  char* log_level = nullptr;
  char* log_file = nullptr;
  char* cache_timeout = nullptr;
  int no_writeback = 0;
  int show_help = 0;
  int show_version = 0;
  ~RawOptions() {
    for (char* s : {backing, log_level, log_file, cache_timeout}) free(s);
  }
};

enum Key { kHelp, kVersion };

#define MIRRORFS_OPT(templ, field, value) {templ, offsetof(RawOptions, field), value}
const fuse_opt kSpec[] = {
    MIRRORFS_OPT("log_level=%s", log_level, 0),
    MIRRORFS_OPT("log_file=%s", log_file, 0),
    MIRRORFS_OPT("cache_timeout=%s", cache_timeout, 0),
    MIRRORFS_OPT("no_writeback", no_writeback, 1),
    FUSE_OPT_KEY("-h", kHelp),
    FUSE_OPT_KEY("--help", kHelp),
    FUSE_OPT_KEY("-V", kVersion),
    FUSE_OPT_KEY("--version", kVersion),
    FUSE_OPT_END,
};
#undef MIRRORFS_OPT

// Takes the first non-option argument as BACKING; the second (MOUNTPOINT) is
// left for fuse_parse_cmdline.
int take_arg(void* data, const char* arg, int key, fuse_args*) {
  auto* raw = static_cast<RawOptions*>(data);
  switch (key) {
    case FUSE_OPT_KEY_NONOPT:
      if (raw->backing == nullptr) {
        raw->backing = strdup(arg);
        return 0;
      }
      return 1;
    case kHelp:
      raw->show_help = 1;
      return 0;
    case kVersion:
      raw->show_version = 1;
      return 0;
    default:
      return 1;
  }
}

const char* const kLogLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};

std::string canonical_dir(const char* path, const char* what) {
  std::unique_ptr<char, decltype(&free)> real(realpath(path, nullptr), &free);
  if (!real) {
    throw UsageError(std::string(what) + " " + path + ": " + strerror(errno));
  }
  return real.get();
}

}  // namespace

std::string options_help() {
  return "mirrorfs options:\n"
         "    -o log_level=LEVEL     trace, debug, info, warn, error, critical or off (default: info)\n"
         "    -o log_file=PATH       append logs to PATH (default: stderr in the foreground, syslog\n"
         "                           when daemonized)\n"
         "    -o cache_timeout=SECS  how long the kernel may cache names and attributes\n"
         "                           (default: 86400)\n"
         "    -o no_writeback        turn off the kernel's writeback cache (default: on)\n";
}

ParseResult parse_options(int argc, char** argv, MountOptions& options, fuse_args& args) {
  args = FUSE_ARGS_INIT(argc, argv);
  RawOptions raw;
  if (fuse_opt_parse(&args, &raw, kSpec, take_arg) == -1) {
    throw UsageError("cannot parse the command line");
  }
  if (raw.show_version) {
    std::printf("mirrorfs %s (libfuse %s)\n", MIRRORFS_VERSION, fuse_pkgversion());
    fuse_lowlevel_version();
    return ParseResult::version_shown;
  }
  if (raw.show_help) {
    std::printf(
        "usage: %s BACKING MOUNTPOINT [-f] [-d] [-o opt[,opt...]]\n\n"
        "Mounts the directory BACKING at MOUNTPOINT. Every change made through the\n"
        "mount is applied to BACKING.\n\n",
        argv[0]);
    std::printf("%s\nFUSE options:\n", options_help().c_str());
    std::fflush(stdout);
    fuse_cmdline_help();
    fuse_lowlevel_help();
    return ParseResult::help_shown;
  }

  fuse_cmdline_opts cmdline{};
  if (fuse_parse_cmdline(&args, &cmdline) != 0) {
    throw UsageError("bad command line (see --help)");
  }
  std::unique_ptr<char, decltype(&free)> mountpoint(cmdline.mountpoint, &free);
  if (raw.backing == nullptr || !mountpoint) {
    throw UsageError("usage: mirrorfs BACKING MOUNTPOINT [-f] [-d] [-o opt,...] (see --help)");
  }
  options.backing = canonical_dir(raw.backing, "backing directory");
  options.mountpoint = canonical_dir(mountpoint.get(), "mount point");
  options.foreground = cmdline.foreground != 0;
  options.debug = cmdline.debug != 0;
  options.single_thread = cmdline.singlethread != 0;
  options.clone_fd = cmdline.clone_fd != 0;
  options.max_idle_threads = cmdline.max_idle_threads;
  options.max_threads = cmdline.max_threads;
  options.writeback_cache = raw.no_writeback == 0;

  if (options.debug) options.log_level = "debug";
  if (raw.log_level != nullptr) {
    bool known = false;
    for (const char* level : kLogLevels) known = known || std::strcmp(level, raw.log_level) == 0;
    if (!known) {
      throw UsageError(std::string("-o log_level=") + raw.log_level +
                       ": expected trace, debug, info, warn, error, critical or off");
    }
    options.log_level = raw.log_level;
  }
  if (raw.log_file != nullptr) options.log_file = raw.log_file;
  if (raw.cache_timeout != nullptr) {
    char* end = nullptr;
    errno = 0;
    double t = std::strtod(raw.cache_timeout, &end);
    if (errno != 0 || end == raw.cache_timeout || *end != '\0' || t < 0 || t > 1e9) {
      throw UsageError(std::string("-o cache_timeout=") + raw.cache_timeout +
                       ": expected a number of seconds between 0 and 1e9");
    }
    options.cache_timeout = t;
  }
  return ParseResult::run;
}

}  // namespace mirrorfs
