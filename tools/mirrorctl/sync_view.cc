// Words for SyncStatus. Totals may still be growing while a walk counts what
// it has to do, so every part that is not known yet (0 or null) is left out
// rather than shown as a misleading 0.
#include "tools/mirrorctl/sync_view.h"

#include <algorithm>
#include <vector>

#include "tools/mirrorctl/format.h"

namespace mirrorctl {

namespace {

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

std::string bytes(uint64_t n) {
  return human_bytes(static_cast<double>(n));
}

// "5000 entries, 3.0 GiB": what the walk went through.
std::string walked(const mirror::SyncStatus& s) {
  return std::to_string(s.files_done) + " entries, " + bytes(s.bytes_done);
}

// How long the finished walk took, "" when its times do not say.
std::string took(const mirror::SyncStatus& s) {
  if (s.started <= 0 || s.finished < s.started) return "";
  return human_duration(s.finished - s.started);
}

std::string in_took(const mirror::SyncStatus& s) {
  std::string t = took(s);
  return t.empty() ? "" : " in " + t;
}

}  // namespace

bool walk_running(const mirror::SyncStatus& s) {
  return s.state == "initial-sync" || s.state == "resync" || s.state == "verify" ||
         s.state == "checking";
}

int walk_percent(const mirror::SyncStatus& s) {
  double done, total;
  if (s.bytes_total > 0) {
    done = static_cast<double>(s.bytes_done), total = static_cast<double>(s.bytes_total);
  } else if (s.files_total > 0) {
    done = static_cast<double>(s.files_done), total = static_cast<double>(s.files_total);
  } else {
    return -1;
  }
  return std::clamp(static_cast<int>(done * 100 / total), 0, 100);
}

std::string walk_progress(const mirror::SyncStatus& s) {
  std::vector<std::string> parts;
  parts.push_back(std::to_string(s.files_done) +
                  (s.files_total ? "/" + std::to_string(s.files_total) : "") + " entries");
  parts.push_back(bytes(s.bytes_done) + (s.bytes_total ? "/" + bytes(s.bytes_total) : ""));
  if (s.bytes_per_s > 0) parts.push_back(human_bytes(s.bytes_per_s) + "/s");
  // eta_s is whole seconds: 0 means under one, not done.
  if (s.eta_s) parts.push_back(*s.eta_s > 0 ? "ETA " + human_duration(*s.eta_s * 1000) : "ETA <1s");
  int percent = walk_percent(s);
  return (percent >= 0 ? std::to_string(percent) + "% " : "") + "(" + join(parts, ", ") + ")";
}

std::string copy_state(const mirror::SyncStatus& s, const std::string& target) {
  if (s.state == "split-brain") {
    // The one state that waits for a person: say what to run.
    return "SPLIT BRAIN" + (s.reason.empty() ? "" : ": " + s.reason) +
           "; run: mirrorctl resync --discard-copy " + target;
  }
  if (s.state == "checking") {
    return s.copy + ": checking" + (s.reason.empty() ? "" : " (" + s.reason + ")");
  }
  if (walk_running(s)) return s.copy + ": " + s.state + " " + walk_progress(s);
  std::string text = s.copy;
  if (!s.reason.empty() && s.copy != "consistent") text += ": " + s.reason;
  if (!s.generation.empty()) text += " (generation " + s.generation + ")";
  return text;
}

std::string walk_summary(const mirror::SyncStatus& s) {
  if (s.result == "equal") return "equal: " + walked(s) + " compared" + in_took(s);
  if (s.result == "differ") {
    std::string text =
        std::to_string(s.differences) + " difference(s) in " + walked(s) + " compared" + in_took(s);
    // The daemon keeps only the first ones (mirror/status.h): say so.
    if (!s.listed.empty() && s.differences > s.listed.size()) {
      text += " (the first " + std::to_string(s.listed.size()) + " listed)";
    }
    return text;
  }
  if (s.result == "repaired") {
    return "repaired: " + std::to_string(s.differences) + " difference(s) in " + walked(s) +
           " compared" + in_took(s) + "; " + bytes(s.bytes_repaired) + " sent in " +
           std::to_string(s.repairs) + " request(s)";
  }
  std::string after = "after " + walked(s) + in_took(s);
  if (s.result.empty()) return "finished without a result, " + after;
  return s.result + " (" + after + ")";
}

std::string last_walk(const mirror::SyncStatus& s, int64_t now) {
  if (s.finished <= 0 || s.result.empty() || walk_running(s)) return "";
  std::string when = "; at " + local_time(s.finished);
  if (now > 0 && now >= s.finished) when += " (" + human_duration(now - s.finished) + " ago)";
  return walk_summary(s) + when;
}

}  // namespace mirrorctl
