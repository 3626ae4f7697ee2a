// Resolving a TARGET. A mount point is matched by name against what the
// daemons report, never by stat()ing it first: the root of a FUSE mount
// whose daemon is stopped would hang the stat, and mirrorctl must answer
// exactly then.
#include "tools/mirrorctl/targets.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <future>

#include "mirror/control_client.h"
#include "mirror/control_server.h"

namespace mirrorctl {

namespace {

namespace fs = std::filesystem;

DaemonReport ask(const std::string& socket, std::chrono::milliseconds timeout) {
  DaemonReport report;
  report.socket = socket;
  try {
    auto reply = mirror::control_call(socket, {{"command", mirror::kCommandStatus}}, timeout);
    if (!reply.value("ok", false)) {
      report.error = "status refused: " + reply.value("error", std::string("no reason given"));
    } else if (!reply.contains("status")) {
      report.error = "the reply carries no status";
    } else {
      report.status = reply["status"].get<mirror::DaemonStatus>();
    }
  } catch (const std::exception& e) {
    report.error = e.what();
  }
  return report;
}

// Asks every socket at once: a stopped daemon costs one timeout, not one each.
std::vector<DaemonReport> ask_all(const std::vector<std::string>& sockets,
                                  std::chrono::milliseconds timeout) {
  std::vector<std::future<DaemonReport>> answers;
  for (const auto& s : sockets) answers.push_back(std::async(std::launch::async, ask, s, timeout));
  std::vector<DaemonReport> all;
  for (auto& a : answers) all.push_back(a.get());
  return all;
}

std::string normal(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::absolute(path, ec);
  if (ec) p = path;
  std::string s = p.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

bool is_socket(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

}  // namespace

bool looks_like_path(const std::string& target) {
  return target.find('/') != std::string::npos || target == "." || target == ".." ||
         target.ends_with(".sock");
}

std::vector<DaemonReport> collect_status(const Query& query) {
  const std::string& target = query.target;
  if (!target.empty() && target.ends_with(".sock")) return {ask(target, query.timeout)};

  std::vector<std::string> sockets = mirror::control_sockets_in(query.control_dir);
  bool as_path = looks_like_path(target);
  std::vector<DaemonReport> all;
  if (as_path) {
    // Only mirrorfs has mount points: its sockets (mirrorfs-*.sock by default)
    // first, so that a stopped mirrord does not delay the answer.
    std::vector<std::string> first, rest;
    for (const auto& s : sockets) {
      (fs::path(s).filename().string().starts_with("mirrorfs-") ? first : rest).push_back(s);
    }
    all = ask_all(first, query.timeout);
    bool found = std::any_of(all.begin(), all.end(), [&](const DaemonReport& r) {
      if (!r.status) return false;
      return std::any_of(r.status->volumes.begin(), r.status->volumes.end(), [&](const auto& v) {
        return v.mountpoint && normal(*v.mountpoint) == normal(target);
      });
    });
    if (!found) {
      auto more = ask_all(rest, query.timeout);
      all.insert(all.end(), std::make_move_iterator(more.begin()),
                 std::make_move_iterator(more.end()));
    }
  } else {
    all = ask_all(sockets, query.timeout);
  }
  if (target.empty()) {
    if (all.empty()) {
      DaemonReport none;
      none.socket = query.control_dir;
      none.error = "no control sockets in " + query.control_dir + " (no daemon running?)";
      all.push_back(none);
    }
    return all;
  }

  std::string want = as_path ? normal(target) : target;
  std::vector<DaemonReport> matched, unreachable;
  for (auto& r : all) {
    if (!r.status) {
      unreachable.push_back(r);
      continue;
    }
    auto& vols = r.status->volumes;
    std::erase_if(vols, [&](const mirror::VolumeStatus& v) {
      if (!as_path) return v.volume != want;
      return !v.mountpoint || normal(*v.mountpoint) != want;
    });
    if (vols.empty()) continue;
    for (const auto& v : vols) r.volumes.push_back(v.volume);
    matched.push_back(std::move(r));
  }
  if (!matched.empty()) return matched;
  // A socket outside the control directory, named without ".sock".
  if (as_path && is_socket(target)) return {ask(target, query.timeout)};
  if (!unreachable.empty()) {
    for (auto& r : unreachable) {
      r.error = "no reachable daemon serves " + target + "; " + r.error;
    }
    return unreachable;
  }
  DaemonReport none;
  none.socket = query.control_dir;
  none.error = "no daemon with a socket in " + query.control_dir + " serves " +
               (as_path ? "the mount point " : "a volume named ") + target;
  return {none};
}

}  // namespace mirrorctl
