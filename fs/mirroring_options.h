// The mirroring options of mirrorfs (-o peer=..., volume=, mode=, ...), as
// fuse_opt leaves them and as the replicator takes them.
#pragma once

#include <string>

#include "mirror/local_replicator.h"

namespace mirrorfs {

// Filled by fuse_opt: malloc'ed strings, or null when not given.
struct MirroringArgs {
  char* peer = nullptr;
  char* volume = nullptr;
  char* mode = nullptr;
  char* connections = nullptr;
  char* secret_file = nullptr;
  char* exclude = nullptr;
  char* heartbeat_interval = nullptr;
  char* heartbeat_timeout = nullptr;
  char* probation = nullptr;
  char* heartbeat_port = nullptr;
  char* queue_dir = nullptr;
  char* queue_max = nullptr;
  char* on_disconnect = nullptr;
  char* control = nullptr;
  char* identity = nullptr;
  char* on_queue_full = nullptr;
  MirroringArgs() = default;
  MirroringArgs(const MirroringArgs&) = delete;
  MirroringArgs& operator=(const MirroringArgs&) = delete;
  ~MirroringArgs();
};

// Checks and converts; throws UsageError naming the option.
void parse_mirroring(const MirroringArgs& raw, mirror::PeerOptions& out);

// The mirroring part of --help.
std::string mirroring_options_help();

}  // namespace mirrorfs
