#include "fs/options.h"

#include "fs/mirroring_options.h"

#include <fuse_opt.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstdarg>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <utility>

#include <spdlog/spdlog.h>

namespace mirrorfs {
namespace {

// fuse_opt fills a C struct; strings are malloc'ed by it.
struct RawOptions {
  char* backing = nullptr;
  char* log_level = nullptr;
  char* log_file = nullptr;
  char* cache_timeout = nullptr;
  MirroringArgs mirroring;
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
    MIRRORFS_OPT("peer=%s", mirroring.peer, 0),
    MIRRORFS_OPT("volume=%s", mirroring.volume, 0),
    MIRRORFS_OPT("mode=%s", mirroring.mode, 0),
    MIRRORFS_OPT("connections=%s", mirroring.connections, 0),
    MIRRORFS_OPT("secret_file=%s", mirroring.secret_file, 0),
    MIRRORFS_OPT("exclude=%s", mirroring.exclude, 0),
    MIRRORFS_OPT("heartbeat_interval=%s", mirroring.heartbeat_interval, 0),
    MIRRORFS_OPT("heartbeat_timeout=%s", mirroring.heartbeat_timeout, 0),
    MIRRORFS_OPT("probation=%s", mirroring.probation, 0),
    MIRRORFS_OPT("heartbeat_port=%s", mirroring.heartbeat_port, 0),
    MIRRORFS_OPT("queue_dir=%s", mirroring.queue_dir, 0),
    MIRRORFS_OPT("queue_max=%s", mirroring.queue_max, 0),
    MIRRORFS_OPT("on_disconnect=%s", mirroring.on_disconnect, 0),
    MIRRORFS_OPT("control=%s", mirroring.control, 0),
    MIRRORFS_OPT("identity=%s", mirroring.identity, 0),
    MIRRORFS_OPT("on_queue_full=%s", mirroring.on_queue_full, 0),
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

std::mutex libfuse_mutex;  // guards libfuse_said, libfuse_to_log
std::string libfuse_said;
bool libfuse_to_log = false;

void on_libfuse_message(enum fuse_log_level level, const char* fmt, va_list ap) {
  char buf[1024];
  vsnprintf(buf, sizeof buf, fmt, ap);
  std::string line(buf);
  while (!line.empty() && line.back() == '\n') line.pop_back();
  if (line.rfind("fuse: ", 0) == 0) line.erase(0, 6);
  std::lock_guard lock(libfuse_mutex);
  if (libfuse_to_log) {
    spdlog::log(level <= FUSE_LOG_ERR ? spdlog::level::err
                : level <= FUSE_LOG_NOTICE ? spdlog::level::info
                                           : spdlog::level::debug,
                "libfuse: {}", line);
    return;
  }
  if (!libfuse_said.empty()) libfuse_said += "; ";
  libfuse_said += line;
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

void capture_libfuse_messages() { fuse_set_log_func(on_libfuse_message); }

void forward_libfuse_messages_to_log() {
  std::lock_guard lock(libfuse_mutex);
  libfuse_to_log = true;
}

std::string take_libfuse_messages() {
  std::lock_guard lock(libfuse_mutex);
  return std::exchange(libfuse_said, std::string());
}

std::string options_help() {
  return "mirrorfs options:\n"
         "    -o log_level=LEVEL     trace, debug, info, warn, error, critical or off (default: info)\n"
         "    -o log_file=PATH       append logs to PATH (default: stderr in the foreground, syslog\n"
         "                           when daemonized)\n"
         "    -o cache_timeout=SECS  how long the kernel may cache names and attributes\n"
         "                           (default: 86400)\n"
         "    -o no_writeback        turn off the kernel's writeback cache (default: on)\n" +
         mirroring_options_help();
}

ParseResult parse_options(int argc, char** argv, MountOptions& options, fuse_args& args) {
  args = FUSE_ARGS_INIT(argc, argv);
  RawOptions raw;
  if (fuse_opt_parse(&args, &raw, kSpec, take_arg) == -1) {
    throw UsageError("cannot parse the command line");
  }
  if (raw.show_version) {
    std::printf("mirrorfs %s (libfuse %s)\n", MIRRORFS_VERSION, fuse_pkgversion());
    std::fflush(stdout);  // before fusermount3 prints its own line
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
    std::string said = take_libfuse_messages();
    throw UsageError(said.empty() ? "bad command line (see --help)" : said);
  }
  std::unique_ptr<char, decltype(&free)> mountpoint(cmdline.mountpoint, &free);
  if (raw.backing == nullptr) {
    throw UsageError("missing BACKING and MOUNTPOINT (usage: mirrorfs BACKING MOUNTPOINT [-o opt,...])");
  }
  if (!mountpoint) {
    throw UsageError("missing MOUNTPOINT (usage: mirrorfs BACKING MOUNTPOINT [-o opt,...])");
  }
  options.backing = canonical_dir(raw.backing, "backing directory");
  options.mountpoint = canonical_dir(mountpoint.get(), "mount point");
  options.foreground = cmdline.foreground != 0;
  options.debug = cmdline.debug != 0;
  options.single_thread = cmdline.singlethread != 0;
  options.clone_fd = cmdline.clone_fd != 0;
  options.max_idle_threads = cmdline.max_idle_threads;  // UINT_MAX: libfuse's default
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
  parse_mirroring(raw.mirroring, options.mirroring);
  options.mirroring.backing = options.backing;
  options.mirroring.mountpoint = options.mountpoint;
  // After fuse_parse_cmdline, which names the type fuse.mirrorfs only when
  // no fsname was given: mount and df then show the backing directory.
  bool named = false;
  for (int i = 0; i < args.argc; ++i) named = named || std::strstr(args.argv[i], "fsname=");
  if (!named) {
    std::string escaped;
    for (char c : options.backing) {
      if (c == ',' || c == '\\') escaped += '\\';
      escaped += c;
    }
    fuse_opt_add_arg(&args, ("-ofsname=" + escaped).c_str());
  }
  return ParseResult::run;
}

}  // namespace mirrorfs
