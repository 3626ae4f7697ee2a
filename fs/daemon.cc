// The daemon's life: options, checks, mount, serve, unmount. Errors before the
// mount are one line on stderr and a non-zero exit.
#include <fuse_lowlevel.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <csignal>
#include <climits>
#include <cstdio>
#include <fstream>
#include <cstring>
#include <memory>
#include <system_error>

#include "fs/control.h"
#include "fs/filesystem.h"
#include "fs/logging.h"
#include "fs/mirrorfs.h"
#include "fs/options.h"
#include "fs/paths.h"
#include "mirror/local_replicator.h"
#include "mirror/replicator.h"
#include "mirror/volume_identity.h"

namespace mirrorfs {
namespace {

// Every inode the kernel knows holds a descriptor: allow as many as we may.
void raise_fd_limit() {
  struct rlimit lim;
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  rlim_t want = 1 << 20;
  struct rlimit raised{want, want};
  if (setrlimit(RLIMIT_NOFILE, &raised) == 0) return;
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);
}

// The kernel reads ahead 128 KiB on a FUSE mount unless told otherwise; reads
// of 1 MiB (max_write's size) halve the round trips of sequential reads.
void raise_readahead(const std::string& mountpoint) {
  std::string dev = mounted_device(mountpoint);
  std::ofstream knob("/sys/class/bdi/" + dev + "/read_ahead_kb");
  if (!dev.empty() && knob) knob << 1024 << std::endl;
  if (dev.empty() || !knob) spdlog::debug("cannot raise read-ahead of {} ({})", mountpoint, dev);
}

std::unique_ptr<mirror::Replicator> make_replicator(const MountOptions& options) {
  if (options.mirroring.peer.empty()) {
    mirror::note_unmirrored_use(options.backing);
    return mirror::make_local_only_replicator();
  }
  return mirror::make_local_replicator(options.mirroring);
}

struct ArgsGuard {
  fuse_args args{};
  ~ArgsGuard() { fuse_opt_free_args(&args); }
};

int serve(fuse_session* se, const MountOptions& options) {
  if (options.single_thread) return fuse_session_loop(se);
  std::unique_ptr<fuse_loop_config, decltype(&fuse_loop_cfg_destroy)> config(
      fuse_loop_cfg_create(), &fuse_loop_cfg_destroy);
  fuse_loop_cfg_set_clone_fd(config.get(), options.clone_fd ? 1 : 0);
  // libfuse 3.14 warns about its own "unset" value if handed back to it.
  if (options.max_idle_threads != UINT_MAX) {
    fuse_loop_cfg_set_idle_threads(config.get(), options.max_idle_threads);
  }
  fuse_loop_cfg_set_max_threads(config.get(), options.max_threads);
  return fuse_session_loop_mt(se, config.get());
}

}  // namespace

int run(int argc, char** argv) {
  MountOptions options;
  ArgsGuard guard;
  capture_libfuse_messages();
  try {
    ParseResult parsed = parse_options(argc, argv, options, guard.args);
    if (parsed != ParseResult::run) return 0;
    check_paths(options.backing, options.mountpoint);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "mirrorfs: %s\n", e.what());
    return 1;
  }
  // Modes arrive from the kernel with the caller's umask already applied.
  umask(0);
  raise_fd_limit();
  start_logging(options);

  std::unique_ptr<mirror::Replicator> replicator;
  std::string control_path;
  try {
    replicator = make_replicator(options);
    if (replicator->mirrors()) {
      control_path = options.mirroring.control.empty()
                         ? mirror::default_control_path("mirrorfs", options.mirroring.volume)
                         : options.mirroring.control;
      // Before daemonizing, so that a clash reaches the terminal.
      mirror::check_control_path(control_path);
    }
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  std::unique_ptr<Filesystem> fs;
  try {
    fs = std::make_unique<Filesystem>(options, *replicator);
  } catch (const std::system_error& e) {
    spdlog::error("{}", e.what());
    return 1;
  }

  fuse_session* se =
      fuse_session_new(&guard.args, &Filesystem::operations(), sizeof(fuse_lowlevel_ops), fs.get());
  if (se == nullptr) {
    std::string said = take_libfuse_messages();
    spdlog::error("{}", said.empty() ? "cannot start the FUSE session" : said);
    return 1;
  }
  std::unique_ptr<fuse_session, decltype(&fuse_session_destroy)> session(se, &fuse_session_destroy);
  if (fuse_set_signal_handlers(se) != 0) {
    spdlog::error("cannot install signal handlers");
    return 1;
  }
  if (fuse_session_mount(se, options.mountpoint.c_str()) != 0) {
    std::string said = take_libfuse_messages();
    spdlog::error("cannot mount at {}{}{}", options.mountpoint, said.empty() ? "" : ": ", said);
    fuse_remove_signal_handlers(se);
    return 1;
  }
  forward_libfuse_messages_to_log();
  raise_readahead(options.mountpoint);
  spdlog::info("mounted {} at {} ({})", options.backing, options.mountpoint,
               replicator->describe());
  fuse_daemonize(options.foreground ? 1 : 0);
  replicator->start();
  if (!options.foreground) switch_to_background_logging(options);
  std::unique_ptr<mirror::ControlServer> control;
  if (!control_path.empty()) {
    try {
      control = start_control(control_path, *replicator);
    } catch (const std::exception& e) {
      // Mounted already: mirroring goes on without mirrorctl.
      spdlog::error("{}; mirrorctl cannot reach this mount", e.what());
    }
  }

  fs->reclaimer().start(se);
  int status = serve(se, options);
  fs->reclaimer().stop();
  // libfuse reports the signal that ended the loop as a positive number.
  bool clean = status == 0 || status == SIGTERM || status == SIGINT || status == SIGHUP;
  if (status > 0) spdlog::info("signal {} received: unmounting {}", status, options.mountpoint);
  if (!clean) spdlog::error("session ended with error: {}", strerror(-status));
  fuse_session_unmount(se);
  fuse_remove_signal_handlers(se);
  if (control) control->stop();
  replicator->stop();
  spdlog::info("unmounted {} ({} inodes known at the end)", options.mountpoint, fs->inodes().size());
  spdlog::shutdown();
  return clean ? 0 : 1;
}

}  // namespace mirrorfs
