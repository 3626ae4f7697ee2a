// Families are declared once, in the order printed; samples are collected per
// family across all daemons and volumes, so each family's samples stay
// together under its HELP and TYPE lines as the format requires.
#include "tools/mirrorctl/prometheus.h"

#include <charconv>
#include <functional>
#include <map>
#include <sstream>

namespace mirrorctl {

namespace {

using mirror::VolumeStatus;
using Labels = std::vector<std::pair<std::string, std::string>>;

struct Sample {
  Labels labels;
  double value;
};

struct Family {
  const char* name;
  const char* type;  // "gauge" or "counter"
  const char* help;
  std::vector<Sample> samples;
};

std::string number(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return ec == std::errc() ? std::string(buf, end) : "NaN";
}

double seconds(int64_t ms) {
  return static_cast<double>(ms) / 1000.0;
}

class Families {
 public:
  void add(const char* name, const char* type, const char* help) {
    index_[name] = families_.size();
    families_.push_back({name, type, help, {}});
  }
  void sample(const char* name, Labels labels, double value) {
    families_.at(index_.at(name)).samples.push_back({std::move(labels), value});
  }
  std::string text() const {
    std::ostringstream out;
    for (const auto& f : families_) {
      if (f.samples.empty()) continue;
      out << "# HELP " << f.name << " " << f.help << "\n";
      out << "# TYPE " << f.name << " " << f.type << "\n";
      for (const auto& s : f.samples) {
        out << f.name;
        if (!s.labels.empty()) {
          out << "{";
          for (size_t i = 0; i < s.labels.size(); ++i) {
            out << (i ? "," : "") << s.labels[i].first << "=\""
                << escape_label_value(s.labels[i].second) << "\"";
          }
          out << "}";
        }
        out << " " << number(s.value) << "\n";
      }
    }
    return out.str();
  }

 private:
  std::vector<Family> families_;
  std::map<std::string, size_t> index_;
};

void declare(Families& f) {
  f.add("mirrorfs_control_up", "gauge", "1 if the daemon's control socket answered, else 0.");
  f.add("mirrorfs_daemon_info", "gauge", "Program and version of each daemon reached; always 1.");
  f.add("mirrorfs_volume_info", "gauge", "Mode and peer of each volume; always 1.");
  f.add("mirrorfs_link_state", "gauge", "1 for the link state the volume is in, 0 for the others.");
  f.add("mirrorfs_link_state_since_seconds", "gauge",
        "Unix time the link entered its current state.");
  f.add("mirrorfs_paused", "gauge", "1 while an operator has paused sending.");
  f.add("mirrorfs_heartbeat_last_heard_age_seconds", "gauge",
        "Seconds since the peer's last good heartbeat.");
  f.add("mirrorfs_heartbeat_sent_total", "counter", "Heartbeat datagrams sent.");
  f.add("mirrorfs_heartbeat_received_total", "counter", "Heartbeat datagrams accepted.");
  f.add("mirrorfs_heartbeat_forged_total", "counter",
        "Heartbeat datagrams dropped for a bad signature.");
  f.add("mirrorfs_heartbeat_replayed_total", "counter", "Heartbeat datagrams dropped as replays.");
  f.add("mirrorfs_heartbeat_stale_total", "counter",
        "Heartbeat datagrams dropped as stale or out of order.");
  f.add("mirrorfs_connections_open", "gauge",
        "Connection-array elements whose connection is open.");
  f.add("mirrorfs_connection_timestamp_age_seconds", "gauge",
        "Age of a connection-array element's heartbeat timestamp.");
  f.add("mirrorfs_connection_in_flight_requests", "gauge",
        "Requests on a connection not yet answered.");
  f.add("mirrorfs_connection_sent_bytes_total", "counter",
        "Request bytes sent (local) or received (mirror) on a connection.");
  f.add("mirrorfs_connection_acked_bytes_total", "counter",
        "Bytes of the requests on a connection that were answered.");
  f.add("mirrorfs_queue_records", "gauge", "Requests in the queue not yet acknowledged.");
  f.add("mirrorfs_queue_bytes", "gauge", "Bytes held by the queue's files.");
  f.add("mirrorfs_queue_oldest_age_seconds", "gauge",
        "Age of the oldest queued request: the replication lag (0 when empty).");
  f.add("mirrorfs_queue_max_bytes", "gauge", "Queue size at which writers wait (back-pressure).");
  f.add("mirrorfs_queue_warning_bytes", "gauge", "Queue size above which the volume is lagging.");
  f.add("mirrorfs_queue_waiting_writers", "gauge", "Writers blocked waiting for queue space.");
  f.add("mirrorfs_throughput_requests_per_second", "gauge", "Recent mirror requests per second.");
  f.add("mirrorfs_throughput_bytes_per_second", "gauge", "Recent mirror request bytes per second.");
  f.add("mirrorfs_requests_sent_total", "counter",
        "Mirror requests sent (local) or received (mirror).");
  f.add("mirrorfs_requests_acked_total", "counter", "Mirror requests answered with success.");
  f.add("mirrorfs_requests_failed_total", "counter", "Mirror requests answered with an errno.");
  f.add("mirrorfs_requests_queued_total", "counter", "Mirror requests appended to the queue.");
  f.add("mirrorfs_link_interruptions_total", "counter", "Times the link was interrupted.");
  f.add("mirrorfs_reconnects_total", "counter", "Times the connections were re-established.");
  f.add("mirrorfs_last_error_timestamp_seconds", "gauge", "Unix time of the last error.");
  f.add("mirrorfs_copy_consistent", "gauge",
        "1 while the copy is known to equal the primary once the queue is sent, else 0.");
  f.add("mirrorfs_split_brain", "gauge",
        "1 while both sides changed independently and the copy waits for the operator.");
  f.add("mirrorfs_sync_state", "gauge",
        "1 for the sync state the volume is in (idle, a walk, split-brain), 0 for the others.");
  // Done and total of the running or latest walk. Not *_total: the format
  // keeps that suffix for counters, and these start again with each walk.
  f.add("mirrorfs_sync_done_files", "gauge", "Entries the running or latest walk went through.");
  f.add("mirrorfs_sync_expected_files", "gauge",
        "Entries the running or latest walk has to go through (0 while unknown).");
  f.add("mirrorfs_sync_done_bytes", "gauge", "File bytes the running or latest walk went through.");
  f.add("mirrorfs_sync_expected_bytes", "gauge",
        "File bytes the running or latest walk has to go through (0 while unknown).");
  f.add("mirrorfs_sync_repaired_bytes", "gauge", "File data the latest walk sent to the copy.");
  f.add("mirrorfs_sync_differences", "gauge", "Entries the latest walk found different.");
  f.add("mirrorfs_sync_finished_timestamp_seconds", "gauge", "Unix time the latest walk finished.");
}

// The states of SyncStatus.state, each a series of mirrorfs_sync_state.
const char* const kSyncStates[] = {"idle",   "checking", "initial-sync",
                                   "resync", "verify",   "split-brain"};

void add_volume(Families& f, const VolumeStatus& v) {
  Labels base = {{"volume", v.volume}, {"role", mirror::to_string(v.role)}};
  auto with = [&](Labels more) {
    Labels l = base;
    l.insert(l.end(), more.begin(), more.end());
    return l;
  };
  f.sample("mirrorfs_volume_info",
           with({{"mode", v.mode ? mirror::to_string(*v.mode) : ""}, {"peer", v.peer}}), 1);
  for (auto s : {mirror::LinkState::connected, mirror::LinkState::interrupted,
                 mirror::LinkState::probation, mirror::LinkState::connecting}) {
    f.sample("mirrorfs_link_state", with({{"state", mirror::to_string(s)}}), v.link == s);
  }
  if (v.link_since > 0) f.sample("mirrorfs_link_state_since_seconds", base, seconds(v.link_since));
  f.sample("mirrorfs_paused", base, v.paused);
  const auto& hb = v.heartbeat;
  if (hb.last_heard_age_ms) {
    f.sample("mirrorfs_heartbeat_last_heard_age_seconds", base, seconds(*hb.last_heard_age_ms));
  }
  f.sample("mirrorfs_heartbeat_sent_total", base, hb.sent);
  f.sample("mirrorfs_heartbeat_received_total", base, hb.received);
  f.sample("mirrorfs_heartbeat_forged_total", base, hb.forged);
  f.sample("mirrorfs_heartbeat_replayed_total", base, hb.replayed);
  f.sample("mirrorfs_heartbeat_stale_total", base, hb.stale);
  int open = 0;
  for (const auto& c : v.connections) {
    open += c.state == mirror::ConnectionState::open;
    Labels l = with({{"connection", std::to_string(c.index)}});
    f.sample("mirrorfs_connection_timestamp_age_seconds", l, seconds(c.timestamp_age_ms));
    f.sample("mirrorfs_connection_in_flight_requests", l, c.in_flight);
    f.sample("mirrorfs_connection_sent_bytes_total", l, c.bytes_sent);
    f.sample("mirrorfs_connection_acked_bytes_total", l, c.bytes_acked);
  }
  f.sample("mirrorfs_connections_open", base, open);
  if (v.queue) {
    const auto& q = *v.queue;
    f.sample("mirrorfs_queue_records", base, q.records);
    f.sample("mirrorfs_queue_bytes", base, q.bytes);
    f.sample("mirrorfs_queue_oldest_age_seconds", base, seconds(q.oldest_age_ms.value_or(0)));
    f.sample("mirrorfs_queue_max_bytes", base, q.max_bytes);
    f.sample("mirrorfs_queue_warning_bytes", base,
             q.warning_bytes ? q.warning_bytes : q.max_bytes / 2);
    f.sample("mirrorfs_queue_waiting_writers", base, q.waiting_for_space);
  }
  f.sample("mirrorfs_throughput_requests_per_second", base, v.throughput.requests_per_s);
  f.sample("mirrorfs_throughput_bytes_per_second", base, v.throughput.bytes_per_s);
  const auto& c = v.counters;
  f.sample("mirrorfs_requests_sent_total", base, c.requests_sent);
  f.sample("mirrorfs_requests_acked_total", base, c.requests_acked);
  f.sample("mirrorfs_requests_failed_total", base, c.requests_failed);
  if (v.role == mirror::Role::local)
    f.sample("mirrorfs_requests_queued_total", base, c.requests_queued);
  f.sample("mirrorfs_link_interruptions_total", base, c.interruptions);
  f.sample("mirrorfs_reconnects_total", base, c.reconnects);
  if (v.last_error && v.last_error->at > 0) {
    f.sample("mirrorfs_last_error_timestamp_seconds", base, seconds(v.last_error->at));
  }
  if (v.sync) {
    const auto& s = *v.sync;
    f.sample("mirrorfs_copy_consistent", base, s.copy == "consistent");
    f.sample("mirrorfs_split_brain", base, s.state == "split-brain");
    for (const char* state : kSyncStates) {
      f.sample("mirrorfs_sync_state", with({{"state", state}}), s.state == state);
    }
    f.sample("mirrorfs_sync_done_files", base, s.files_done);
    f.sample("mirrorfs_sync_expected_files", base, s.files_total);
    f.sample("mirrorfs_sync_done_bytes", base, s.bytes_done);
    f.sample("mirrorfs_sync_expected_bytes", base, s.bytes_total);
    f.sample("mirrorfs_sync_repaired_bytes", base, s.bytes_repaired);
    f.sample("mirrorfs_sync_differences", base, s.differences);
    if (s.finished > 0) {
      f.sample("mirrorfs_sync_finished_timestamp_seconds", base, seconds(s.finished));
    }
  }
}

}  // namespace

std::string escape_label_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string render_metrics(const std::vector<DaemonReport>& reports) {
  Families f;
  declare(f);
  for (const auto& r : reports) {
    f.sample("mirrorfs_control_up", {{"socket", r.socket}}, r.status ? 1 : 0);
    if (!r.status) continue;
    f.sample("mirrorfs_daemon_info",
             {{"program", r.status->program}, {"version", r.status->version}, {"socket", r.socket}},
             1);
    for (const auto& v : r.status->volumes) add_volume(f, v);
  }
  return f.text();
}

}  // namespace mirrorctl
