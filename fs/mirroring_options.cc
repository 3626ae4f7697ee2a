#include "fs/mirroring_options.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#include "fs/options.h"

namespace mirrorfs {
namespace {

long long number(const char* text, const char* option, long long min, long long max,
                 const char* unit) {
  char* end = nullptr;
  errno = 0;
  long long n = std::strtoll(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || n < min || n > max) {
    throw UsageError(std::string("-o ") + option + "=" + text + ": expected " +
                     std::to_string(min) + " to " + std::to_string(max) + unit);
  }
  return n;
}

// "512M", "1G", "65536": bytes, with an optional K, M or G (powers of 1024).
uint64_t size(const char* text, const char* option) {
  char* end = nullptr;
  errno = 0;
  unsigned long long n = std::strtoull(text, &end, 10);
  uint64_t scale = 1;
  if (end != text && *end != '\0' && end[1] == '\0') {
    switch (*end) {
      case 'K':
      case 'k':
        scale = 1ull << 10;
        ++end;
        break;
      case 'M':
      case 'm':
        scale = 1ull << 20;
        ++end;
        break;
      case 'G':
      case 'g':
        scale = 1ull << 30;
        ++end;
        break;
      default:
        break;
    }
  }
  if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || n > (1ull << 50) / scale ||
      n * scale < (1ull << 20)) {
    throw UsageError(std::string("-o ") + option + "=" + text +
                     ": expected a size of at least 1M, in bytes or with K, M or G");
  }
  return n * scale;
}

}  // namespace

MirroringArgs::~MirroringArgs() {
  for (char* s : {peer, volume, mode, connections, secret_file, exclude, heartbeat_interval,
                  heartbeat_timeout, probation, heartbeat_port, queue_dir, queue_max, on_disconnect,
                  control, identity, on_queue_full}) {
    free(s);
  }
}

void parse_mirroring(const MirroringArgs& raw, mirror::PeerOptions& out) {
  if (raw.peer != nullptr) out.peer = raw.peer;
  if (raw.volume != nullptr) out.volume = raw.volume;
  if (raw.secret_file != nullptr) out.secret_file = raw.secret_file;
  if (raw.exclude != nullptr) out.exclude = raw.exclude;
  if (raw.queue_dir != nullptr) out.queue_dir = raw.queue_dir;
  if (raw.control != nullptr) out.control = raw.control;
  if (raw.identity != nullptr) out.identity = raw.identity;
  if (raw.mode != nullptr) {
    if (std::strcmp(raw.mode, "sync") != 0 && std::strcmp(raw.mode, "async") != 0) {
      throw UsageError(std::string("-o mode=") + raw.mode + ": expected sync or async");
    }
    out.mode = std::strcmp(raw.mode, "async") == 0 ? mirror::Mode::async : mirror::Mode::sync;
  }
  if (raw.on_disconnect != nullptr) {
    std::string v = raw.on_disconnect;
    if (v == "queue")
      out.on_disconnect = mirror::OnDisconnect::queue;
    else if (v == "block")
      out.on_disconnect = mirror::OnDisconnect::block;
    else if (v == "fail")
      out.on_disconnect = mirror::OnDisconnect::fail;
    else
      throw UsageError("-o on_disconnect=" + v + ": expected queue, block or fail");
  }
  if (raw.on_queue_full != nullptr) {
    std::string v = raw.on_queue_full;
    if (v == "block")
      out.on_queue_full = mirror::OnQueueFull::block;
    else if (v == "resync")
      out.on_queue_full = mirror::OnQueueFull::resync;
    else
      throw UsageError("-o on_queue_full=" + v + ": expected block or resync");
  }
  if (raw.connections != nullptr) {
    out.connections = static_cast<unsigned>(number(raw.connections, "connections", 1, 64, ""));
  }
  if (raw.heartbeat_interval != nullptr) {
    out.heartbeat_interval_ms =
        number(raw.heartbeat_interval, "heartbeat_interval", 10, 60000, " ms");
  }
  if (raw.heartbeat_timeout != nullptr) {
    out.heartbeat_timeout_ms =
        number(raw.heartbeat_timeout, "heartbeat_timeout", 20, 600000, " ms");
  }
  if (raw.probation != nullptr) {
    out.probation_ms = number(raw.probation, "probation", 0, 3600000, " ms");
  }
  if (raw.heartbeat_port != nullptr) {
    out.heartbeat_port = std::to_string(number(raw.heartbeat_port, "heartbeat_port", 1, 65535, ""));
  }
  if (raw.queue_max != nullptr) out.queue_max = size(raw.queue_max, "queue_max");
  if (out.heartbeat_timeout_ms <= out.heartbeat_interval_ms) {
    throw UsageError("-o heartbeat_timeout=" + std::to_string(out.heartbeat_timeout_ms) +
                     ": must be longer than heartbeat_interval (" +
                     std::to_string(out.heartbeat_interval_ms) + " ms)");
  }
  if (out.peer.empty()) {
    for (const char* given :
         {raw.volume, raw.mode, raw.connections, raw.secret_file, raw.exclude,
          raw.heartbeat_interval, raw.heartbeat_timeout, raw.probation, raw.heartbeat_port,
          raw.queue_dir, raw.queue_max, raw.on_disconnect, raw.control,
          raw.identity, raw.on_queue_full}) {
      if (given != nullptr) {
        throw UsageError("the mirroring options (volume, mode, ...) need -o peer=HOST:PORT");
      }
    }
    return;
  }
  if (out.volume.empty()) throw UsageError("-o peer= needs -o volume=NAME");
  if (out.secret_file.empty()) throw UsageError("-o peer= needs -o secret_file=PATH");
}

std::string mirroring_options_help() {
  return "    -o peer=HOST:PORT      mirror every change to the mirrord there (default: none,\n"
         "                           local only)\n"
         "    -o volume=NAME         the volume's name on the peer (default: none; required\n"
         "                           with peer)\n"
         "    -o mode=MODE           sync: reply once the mirror stored the change; async:\n"
         "                           once it is in the queue (default: sync)\n"
         "    -o connections=N       TCP connections to the peer, 1 to 64 (default: 4)\n"
         "    -o secret_file=PATH    file with the secret shared with the peer, mode 0600\n"
         "                           (default: none; required with peer)\n"
         "    -o exclude=GLOBS       colon-separated globs of paths kept local only\n"
         "                           (default: none)\n"
         "    -o heartbeat_interval=MS  how often heartbeats are sent (default: 250)\n"
         "    -o heartbeat_timeout=MS   silence longer than this interrupts the link\n"
         "                           (default: 1500)\n"
         "    -o probation=MS        heartbeats must come without a gap this long before an\n"
         "                           interrupted link is used again (default: 3000)\n"
         "    -o heartbeat_port=PORT the peer's UDP heartbeat port (default: the port of peer)\n"
         "    -o queue_dir=DIR       the durable queue of requests not yet acknowledged\n"
         "                           (default: /var/lib/mirrorfs/VOLUME)\n"
         "    -o queue_max=SIZE      the most the queue holds, e.g. 512M (default: 1G)\n"
         "    -o on_queue_full=WHAT  when the queue holds queue_max: resync (changes go to\n"
         "                           a small dirty set of directories, resynced once the\n"
         "                           queue has room; writers never wait) or block (writers\n"
         "                           wait for room) (default: resync)\n"
         "    -o on_disconnect=WHAT  sync mode while the peer is away: queue (reply once\n"
         "                           queued), block (wait for the peer) or fail (EIO)\n"
         "                           (default: queue)\n"
         "    -o control=PATH        the control socket mirrorctl talks to\n"
         "                           (default: /run/mirrorfs/mirrorfs-VOLUME.sock for root)\n"
         "    -o identity=PATH       the volume's identity record (generation, role)\n"
         "                           (default: .BACKING.mirror-identity beside BACKING)\n";
}

}  // namespace mirrorfs
