// The status model: what a daemon (mirrorfs or mirrord) reports about itself
// and each of its volumes over its control socket, and what
// `mirrorctl status --json` prints. Plain structs that the daemons fill;
// to_json/from_json give them the JSON form below, which is a stable,
// versioned schema: fields are only ever added (kStatusSchema goes up), never
// renamed or removed, and a reader ignores fields it does not know and takes
// the default for fields it misses.
//
// Times: `*_age_ms` are milliseconds before DaemonStatus.time (the moment the
// status was taken), measured on the daemon's monotonic clock; `*_since` and
// `at` and `time` are wall-clock milliseconds since the Unix epoch.
// Counters (`*_total` in metrics) count from the daemon's start.
//
//   DaemonStatus
//   {
//     "schema":  1,                 // kStatusSchema of the writer
//     "program": "mirrorfs",        // "mirrorfs" (local server) or "mirrord" (mirror server)
//     "pid":     1234,
//     "version": "0.1.0",           // the project's version
//     "time":    1767225600000,     // wall-clock ms when this status was taken
//     "volumes": [ VolumeStatus, ... ]   // mirrorfs: one; mirrord: one per --volume
//   }
//
//   VolumeStatus
//   {
//     "volume":     "data",             // the volume's name
//     "role":       "local",            // "local" (mirrorfs side) or "mirror" (mirrord side)
//     "mode":       "async",            // "sync" | "async"; null on the mirror side
//     "peer":       "10.0.0.2:7400",    // the other side's address ("" while unknown)
//     "mountpoint": "/srv/data",        // local: the mount point; mirror: null
//     "directory":  "/var/lib/data",    // local: the backing directory; mirror: the copy
//     "link":       "connected",        // "connected" | "interrupted" | "probation" |
//                                       // "connecting" (see below)
//     "link_since": 1767225590000,      // wall-clock ms the link entered that state
//     "paused":     false,              // an operator paused sending (mirrorctl pause)
//     "heartbeat": {
//       "interval_ms":  200,            // configured heartbeat interval
//       "timeout_ms":   1500,           // silence longer than this is an interruption
//       "probation_ms": 3000,           // gap-free heartbeats needed before reconnecting
//       "last_heard_age_ms": 120,       // since the peer's last good heartbeat; null: never
//       "sent":      1200,              // datagrams sent
//       "received":  1195,              // datagrams accepted (signature and sequence good)
//       "forged":    0,                 // dropped: bad signature or wrong secret
//       "replayed":  0,                 // dropped: sequence already seen
//       "stale":     2                  // dropped: too old / out of order
//     },
//     "connections": [                  // the connection array, element i = connection i
//       {
//         "index": 0,
//         "state": "open",              // "open" | "closed" | "connecting"
//         "timestamp_age_ms": 120,      // age of the element's heartbeat timestamp
//         "in_flight": 3,               // requests sent (local) / being applied (mirror)
//                                       // and not yet answered
//         "bytes_sent":  1048576,       // local: request bytes written to the connection;
//                                       // mirror: request bytes read from it
//         "bytes_acked": 1040000        // bytes of those requests answered with a response
//       }
//     ],
//     "queue": {                        // local side only; null on the mirror side
//       "records": 512,                 // requests not yet acknowledged by the mirror
//       "bytes":   4194304,             // bytes the queue's files hold
//       "oldest_age_ms": 130000,        // age of the oldest record: the replication lag;
//                                       // null when the queue is empty
//       "max_bytes": 1073741824,        // back-pressure limit (queue_max)
//       "warning_bytes": 536870912,     // above this mirrorctl reports "lagging";
//                                       // 0: half of max_bytes
//       "waiting_for_space": 0          // writers blocked by back-pressure right now
//     },
//     "throughput": {                   // over the last few seconds
//       "requests_per_s": 250.0,
//       "bytes_per_s": 1048576.0
//     },
//     "last_error": {                   // the latest error worth an operator's eye; null: none
//       "message": "connect 10.0.0.2:7400: Connection refused",
//       "at": 1767225591000             // wall-clock ms
//     },
//     "sync": {                         // schema 2; the copy's state and the latest walk
//       "copy": "consistent",           // "consistent" | "inconsistent" (a sync must end
//                                       // before the copy equals the primary) | "unknown"
//       "state": "idle",                // "idle" | "checking" | "initial-sync" | "resync" |
//                                       // "verify" | "split-brain" (waiting for the operator)
//       "reason": "...",                // why: the identity rule's verdict, or the split brain
//       "generation": "9f2c...",        // the primary's generation (16 hex digits)
//       "files_done": 120, "files_total": 5000,
//       "bytes_done": 1048576, "bytes_total": 73400320,
//       "bytes_repaired": 4096,         // file data sent to repair the copy
//       "repairs": 12,                  // repair requests sent
//       "differences": 3,               // entries found different
//       "dirty": 0,                     // directories in the dirty set (on_queue_full=resync)
//       "bytes_per_s": 52428800.0,      // of bytes_done, since the walk started
//       "eta_s": 12,                    // null when unknown
//       "started": 1767225590000,       // wall-clock ms; 0: no walk yet
//       "finished": 0,                  // wall-clock ms; 0: running (or none)
//       "result": "",                   // of the latest finished walk: "equal" | "differ" |
//                                       // "repaired" | "interrupted" | "failed: ..."
//       "listed": [ {"path": "a/b", "what": "contents differ at byte 4096"} ]  // verify, first 100
//     },
//     "counters": {
//       "requests_sent":    1000,       // local: requests written to a connection
//                                       // mirror: requests received
//       "requests_acked":    990,       // answered with success
//       "requests_failed":     0,       // answered with an errno
//       "requests_queued":  1500,       // local: appended to the queue; mirror: 0
//       "interruptions":      1,        // times the link went connected -> interrupted
//       "reconnects":         1         // times the connections were re-established
//     }
//   }
//
// The link state machine (heartbeat/ drives it):
//
//   connecting --first connections up--> connected --heartbeat silent > timeout--> interrupted
//        ^                                                                              |
//        +---------------- probation passed without a gap <-- probation <--heard again--+
//                                        (a gap sends probation back to interrupted)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace mirror {

// The schema version written into DaemonStatus; raised when fields are added.
inline constexpr int kStatusSchema = 2;

enum class Role { local, mirror };
enum class Mode { sync, async };
enum class LinkState { connected, interrupted, probation, connecting, unknown };
enum class ConnectionState { open, closed, connecting, unknown };

// The JSON spellings ("local", "sync", "interrupted", "open", ...). Parsing an
// unknown LinkState/ConnectionState gives `unknown` (a newer daemon may know
// more states); an unknown Role or Mode throws std::invalid_argument.
const char* to_string(Role r);
const char* to_string(Mode m);
const char* to_string(LinkState s);
const char* to_string(ConnectionState s);
Role role_from_string(const std::string& s);
Mode mode_from_string(const std::string& s);
LinkState link_state_from_string(const std::string& s);
ConnectionState connection_state_from_string(const std::string& s);

struct HeartbeatStatus {
  int64_t interval_ms = 0;
  int64_t timeout_ms = 0;
  int64_t probation_ms = 0;
  std::optional<int64_t> last_heard_age_ms;  // nullopt: never heard
  uint64_t sent = 0;
  uint64_t received = 0;
  uint64_t forged = 0;
  uint64_t replayed = 0;
  uint64_t stale = 0;
  bool operator==(const HeartbeatStatus&) const = default;
};

struct ConnectionStatus {
  int index = 0;
  ConnectionState state = ConnectionState::closed;
  int64_t timestamp_age_ms = 0;
  uint64_t in_flight = 0;
  uint64_t bytes_sent = 0;
  uint64_t bytes_acked = 0;
  bool operator==(const ConnectionStatus&) const = default;
};

struct QueueStatus {
  uint64_t records = 0;
  uint64_t bytes = 0;
  std::optional<int64_t> oldest_age_ms;  // nullopt: empty
  uint64_t max_bytes = 0;
  uint64_t warning_bytes = 0;  // 0: half of max_bytes
  uint64_t waiting_for_space = 0;
  bool operator==(const QueueStatus&) const = default;
};

struct ThroughputStatus {
  double requests_per_s = 0;
  double bytes_per_s = 0;
  bool operator==(const ThroughputStatus&) const = default;
};

struct ErrorStatus {
  std::string message;
  int64_t at = 0;  // wall-clock ms
  bool operator==(const ErrorStatus&) const = default;
};

struct CounterStatus {
  uint64_t requests_sent = 0;
  uint64_t requests_acked = 0;
  uint64_t requests_failed = 0;
  uint64_t requests_queued = 0;
  uint64_t interruptions = 0;
  uint64_t reconnects = 0;
  bool operator==(const CounterStatus&) const = default;
};

struct SyncDifferenceStatus {
  std::string path;
  std::string what;
  bool operator==(const SyncDifferenceStatus&) const = default;
};

struct SyncStatus {
  std::string copy = "unknown";
  std::string state = "idle";
  std::string reason;
  std::string generation;
  uint64_t files_done = 0, files_total = 0;
  uint64_t bytes_done = 0, bytes_total = 0;
  uint64_t bytes_repaired = 0, repairs = 0, differences = 0;
  uint64_t dirty = 0;
  double bytes_per_s = 0;
  std::optional<int64_t> eta_s;
  int64_t started = 0, finished = 0;
  std::string result;
  std::vector<SyncDifferenceStatus> listed;
  bool operator==(const SyncStatus&) const = default;
};

struct VolumeStatus {
  std::string volume;
  Role role = Role::local;
  std::optional<Mode> mode;  // nullopt on the mirror side
  std::string peer;
  std::optional<std::string> mountpoint;  // local side only
  std::string directory;
  LinkState link = LinkState::connecting;
  int64_t link_since = 0;
  bool paused = false;
  HeartbeatStatus heartbeat;
  std::vector<ConnectionStatus> connections;
  std::optional<QueueStatus> queue;  // local side only
  ThroughputStatus throughput;
  std::optional<ErrorStatus> last_error;
  CounterStatus counters;
  std::optional<SyncStatus> sync;  // local side of a mirrored volume
  bool operator==(const VolumeStatus&) const = default;
};

struct DaemonStatus {
  int schema = kStatusSchema;
  std::string program;
  int64_t pid = 0;
  std::string version;
  int64_t time = 0;
  std::vector<VolumeStatus> volumes;
  bool operator==(const DaemonStatus&) const = default;
};

// nlohmann-json conversions (found by ADL: `nlohmann::json j = status;`,
// `j.get<DaemonStatus>()`). from_json throws nlohmann::json::exception or
// std::invalid_argument, naming the field, on a document of the wrong shape.
void to_json(nlohmann::json& j, const HeartbeatStatus& s);
void from_json(const nlohmann::json& j, HeartbeatStatus& s);
void to_json(nlohmann::json& j, const ConnectionStatus& s);
void from_json(const nlohmann::json& j, ConnectionStatus& s);
void to_json(nlohmann::json& j, const QueueStatus& s);
void from_json(const nlohmann::json& j, QueueStatus& s);
void to_json(nlohmann::json& j, const ThroughputStatus& s);
void from_json(const nlohmann::json& j, ThroughputStatus& s);
void to_json(nlohmann::json& j, const ErrorStatus& s);
void from_json(const nlohmann::json& j, ErrorStatus& s);
void to_json(nlohmann::json& j, const CounterStatus& s);
void from_json(const nlohmann::json& j, CounterStatus& s);
void to_json(nlohmann::json& j, const SyncDifferenceStatus& s);
void from_json(const nlohmann::json& j, SyncDifferenceStatus& s);
void to_json(nlohmann::json& j, const SyncStatus& s);
void from_json(const nlohmann::json& j, SyncStatus& s);
void to_json(nlohmann::json& j, const VolumeStatus& s);
void from_json(const nlohmann::json& j, VolumeStatus& s);
void to_json(nlohmann::json& j, const DaemonStatus& s);
void from_json(const nlohmann::json& j, DaemonStatus& s);

// Wall-clock milliseconds since the epoch, for `time`, `link_since` and `at`.
int64_t wall_clock_ms();

}  // namespace mirror
