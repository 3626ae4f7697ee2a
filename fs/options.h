// mirrorfs's command line: `mirrorfs BACKING MOUNTPOINT [-f] [-d] [-o opt,...]`,
// parsed once, FUSE-style, into MountOptions. Options libfuse knows (e.g.
// allow_other, default_permissions, auto_unmount) stay in `fuse_args` for the
// session; the mirroring options are ours.
#pragma once

#include <fuse_lowlevel.h>

#include <stdexcept>
#include <string>

#include "mirror/local_replicator.h"

namespace mirrorfs {

struct MountOptions {
  std::string backing;     // canonical absolute path
  std::string mountpoint;  // canonical absolute path
  bool foreground = false;
  bool debug = false;          // -d: foreground, debug logs
  bool single_thread = false;  // -s
  bool clone_fd = false;
  unsigned max_idle_threads = 10;
  unsigned max_threads = 10;
  double cache_timeout = 86400;  // seconds the kernel may cache names and attributes
  bool writeback_cache = true;
  std::string log_level = "info";
  std::string log_file;  // empty: stderr in the foreground, syslog when daemonized
  // Mirroring; no peer means local only.
  mirror::PeerOptions mirroring;
};

// A usage error: the message says which option or argument was wrong.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class ParseResult { run, help_shown, version_shown };

// Parses argv into `options` and leaves in `args` what the FUSE session must
// see. Throws UsageError. Checks the backing directory and mount point exist
// (see validate_paths for the rest).
ParseResult parse_options(int argc, char** argv, MountOptions& options, fuse_args& args);

// The mirrorfs section of --help; the man page's OPTIONS section matches it.
std::string options_help();

// Routes libfuse's messages: kept (see take_libfuse_messages) until logging
// is set up, then through spdlog.
void capture_libfuse_messages();
void forward_libfuse_messages_to_log();
// What libfuse said since the last call, in one line ("" if nothing).
std::string take_libfuse_messages();

}  // namespace mirrorfs
