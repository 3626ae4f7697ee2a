// JSON form of the status model (schema drawn in mirror/status.h). Readers are
// lenient the way a stable schema needs: unknown fields are ignored, missing
// ones keep their defaults, null means "none" for the optional ones.
#include "mirror/status.h"

#include <chrono>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace mirror {

namespace {

using nlohmann::json;

template <typename T>
void read(const json& j, const char* key, T& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  try {
    out = it->get<T>();
  } catch (const json::exception& e) {
    throw std::invalid_argument(std::string("status field '") + key + "': " + e.what());
  }
}

template <typename T>
void read(const json& j, const char* key, std::optional<T>& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    out.reset();
    return;
  }
  T value{};
  read(j, key, value);
  out = std::move(value);
}

template <typename T>
json or_null(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

void require_object(const json& j, const char* what) {
  if (!j.is_object()) {
    throw std::invalid_argument(std::string(what) + ": expected a JSON object, got " +
                                j.type_name());
  }
}

}  // namespace

const char* to_string(Role r) {
  return r == Role::local ? "local" : "mirror";
}
const char* to_string(Mode m) {
  return m == Mode::sync ? "sync" : "async";
}

const char* to_string(LinkState s) {
  switch (s) {
    case LinkState::connected:
      return "connected";
    case LinkState::interrupted:
      return "interrupted";
    case LinkState::probation:
      return "probation";
    case LinkState::connecting:
      return "connecting";
    case LinkState::unknown:
      break;
  }
  return "unknown";
}

const char* to_string(ConnectionState s) {
  switch (s) {
    case ConnectionState::open:
      return "open";
    case ConnectionState::closed:
      return "closed";
    case ConnectionState::connecting:
      return "connecting";
    case ConnectionState::unknown:
      break;
  }
  return "unknown";
}

Role role_from_string(const std::string& s) {
  if (s == "local") return Role::local;
  if (s == "mirror") return Role::mirror;
  throw std::invalid_argument("role '" + s + "': expected local or mirror");
}

Mode mode_from_string(const std::string& s) {
  if (s == "sync") return Mode::sync;
  if (s == "async") return Mode::async;
  throw std::invalid_argument("mode '" + s + "': expected sync or async");
}

LinkState link_state_from_string(const std::string& s) {
  for (auto v : {LinkState::connected, LinkState::interrupted, LinkState::probation,
                 LinkState::connecting}) {
    if (s == to_string(v)) return v;
  }
  return LinkState::unknown;
}

ConnectionState connection_state_from_string(const std::string& s) {
  for (auto v : {ConnectionState::open, ConnectionState::closed, ConnectionState::connecting}) {
    if (s == to_string(v)) return v;
  }
  return ConnectionState::unknown;
}

void to_json(json& j, const HeartbeatStatus& s) {
  j = json{{"interval_ms", s.interval_ms},
           {"timeout_ms", s.timeout_ms},
           {"probation_ms", s.probation_ms},
           {"last_heard_age_ms", or_null(s.last_heard_age_ms)},
           {"sent", s.sent},
           {"received", s.received},
           {"forged", s.forged},
           {"replayed", s.replayed},
           {"stale", s.stale}};
}

void from_json(const json& j, HeartbeatStatus& s) {
  require_object(j, "heartbeat");
  read(j, "interval_ms", s.interval_ms);
  read(j, "timeout_ms", s.timeout_ms);
  read(j, "probation_ms", s.probation_ms);
  read(j, "last_heard_age_ms", s.last_heard_age_ms);
  read(j, "sent", s.sent);
  read(j, "received", s.received);
  read(j, "forged", s.forged);
  read(j, "replayed", s.replayed);
  read(j, "stale", s.stale);
}

void to_json(json& j, const ConnectionStatus& s) {
  j = json{{"index", s.index},
           {"state", to_string(s.state)},
           {"timestamp_age_ms", s.timestamp_age_ms},
           {"in_flight", s.in_flight},
           {"bytes_sent", s.bytes_sent},
           {"bytes_acked", s.bytes_acked}};
}

void from_json(const json& j, ConnectionStatus& s) {
  require_object(j, "connections[]");
  read(j, "index", s.index);
  std::string state = to_string(s.state);
  read(j, "state", state);
  s.state = connection_state_from_string(state);
  read(j, "timestamp_age_ms", s.timestamp_age_ms);
  read(j, "in_flight", s.in_flight);
  read(j, "bytes_sent", s.bytes_sent);
  read(j, "bytes_acked", s.bytes_acked);
}

void to_json(json& j, const QueueStatus& s) {
  j = json{{"records", s.records},
           {"bytes", s.bytes},
           {"oldest_age_ms", or_null(s.oldest_age_ms)},
           {"max_bytes", s.max_bytes},
           {"warning_bytes", s.warning_bytes},
           {"waiting_for_space", s.waiting_for_space}};
}

void from_json(const json& j, QueueStatus& s) {
  require_object(j, "queue");
  read(j, "records", s.records);
  read(j, "bytes", s.bytes);
  read(j, "oldest_age_ms", s.oldest_age_ms);
  read(j, "max_bytes", s.max_bytes);
  read(j, "warning_bytes", s.warning_bytes);
  read(j, "waiting_for_space", s.waiting_for_space);
}

void to_json(json& j, const ThroughputStatus& s) {
  j = json{{"requests_per_s", s.requests_per_s}, {"bytes_per_s", s.bytes_per_s}};
}

void from_json(const json& j, ThroughputStatus& s) {
  require_object(j, "throughput");
  read(j, "requests_per_s", s.requests_per_s);
  read(j, "bytes_per_s", s.bytes_per_s);
}

void to_json(json& j, const ErrorStatus& s) {
  j = json{{"message", s.message}, {"at", s.at}};
}

void from_json(const json& j, ErrorStatus& s) {
  require_object(j, "last_error");
  read(j, "message", s.message);
  read(j, "at", s.at);
}

void to_json(json& j, const CounterStatus& s) {
  j = json{{"requests_sent", s.requests_sent},     {"requests_acked", s.requests_acked},
           {"requests_failed", s.requests_failed}, {"requests_queued", s.requests_queued},
           {"interruptions", s.interruptions},     {"reconnects", s.reconnects}};
}

void from_json(const json& j, CounterStatus& s) {
  require_object(j, "counters");
  read(j, "requests_sent", s.requests_sent);
  read(j, "requests_acked", s.requests_acked);
  read(j, "requests_failed", s.requests_failed);
  read(j, "requests_queued", s.requests_queued);
  read(j, "interruptions", s.interruptions);
  read(j, "reconnects", s.reconnects);
}

void to_json(json& j, const SyncDifferenceStatus& s) {
  j = json{{"path", s.path}, {"what", s.what}};
}

void from_json(const json& j, SyncDifferenceStatus& s) {
  require_object(j, "sync.listed[]");
  read(j, "path", s.path);
  read(j, "what", s.what);
}

void to_json(json& j, const SyncStatus& s) {
  j = json{{"copy", s.copy},
           {"state", s.state},
           {"reason", s.reason},
           {"generation", s.generation},
           {"files_done", s.files_done},
           {"files_total", s.files_total},
           {"bytes_done", s.bytes_done},
           {"bytes_total", s.bytes_total},
           {"bytes_repaired", s.bytes_repaired},
           {"repairs", s.repairs},
           {"differences", s.differences},
           {"dirty", s.dirty},
           {"bytes_per_s", s.bytes_per_s},
           {"eta_s", or_null(s.eta_s)},
           {"started", s.started},
           {"finished", s.finished},
           {"result", s.result},
           {"listed", s.listed}};
}

void from_json(const json& j, SyncStatus& s) {
  require_object(j, "sync");
  read(j, "copy", s.copy);
  read(j, "state", s.state);
  read(j, "reason", s.reason);
  read(j, "generation", s.generation);
  read(j, "files_done", s.files_done);
  read(j, "files_total", s.files_total);
  read(j, "bytes_done", s.bytes_done);
  read(j, "bytes_total", s.bytes_total);
  read(j, "bytes_repaired", s.bytes_repaired);
  read(j, "repairs", s.repairs);
  read(j, "differences", s.differences);
  read(j, "dirty", s.dirty);
  read(j, "bytes_per_s", s.bytes_per_s);
  read(j, "eta_s", s.eta_s);
  read(j, "started", s.started);
  read(j, "finished", s.finished);
  read(j, "result", s.result);
  read(j, "listed", s.listed);
}

void to_json(json& j, const VolumeStatus& s) {
  j = json{{"volume", s.volume},
           {"role", to_string(s.role)},
           {"mode", s.mode ? json(to_string(*s.mode)) : json(nullptr)},
           {"peer", s.peer},
           {"mountpoint", or_null(s.mountpoint)},
           {"directory", s.directory},
           {"link", to_string(s.link)},
           {"link_since", s.link_since},
           {"paused", s.paused},
           {"heartbeat", s.heartbeat},
           {"connections", s.connections},
           {"queue", or_null(s.queue)},
           {"throughput", s.throughput},
           {"last_error", or_null(s.last_error)},
           {"counters", s.counters},
           {"sync", or_null(s.sync)}};
}

void from_json(const json& j, VolumeStatus& s) {
  require_object(j, "volumes[]");
  read(j, "volume", s.volume);
  std::string role = to_string(s.role);
  read(j, "role", role);
  s.role = role_from_string(role);
  std::optional<std::string> mode;
  read(j, "mode", mode);
  s.mode = mode ? std::optional<Mode>(mode_from_string(*mode)) : std::nullopt;
  read(j, "peer", s.peer);
  read(j, "mountpoint", s.mountpoint);
  read(j, "directory", s.directory);
  std::string link = to_string(s.link);
  read(j, "link", link);
  s.link = link_state_from_string(link);
  read(j, "link_since", s.link_since);
  read(j, "paused", s.paused);
  read(j, "heartbeat", s.heartbeat);
  read(j, "connections", s.connections);
  read(j, "queue", s.queue);
  read(j, "throughput", s.throughput);
  read(j, "last_error", s.last_error);
  read(j, "counters", s.counters);
  read(j, "sync", s.sync);
}

void to_json(json& j, const DaemonStatus& s) {
  j = json{{"schema", s.schema},   {"program", s.program}, {"pid", s.pid},
           {"version", s.version}, {"time", s.time},       {"volumes", s.volumes}};
}

void from_json(const json& j, DaemonStatus& s) {
  require_object(j, "status");
  read(j, "schema", s.schema);
  read(j, "program", s.program);
  read(j, "pid", s.pid);
  read(j, "version", s.version);
  read(j, "time", s.time);
  read(j, "volumes", s.volumes);
}

int64_t wall_clock_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace mirror
