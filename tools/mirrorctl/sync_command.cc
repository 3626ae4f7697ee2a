// Following a walk through the daemon's status. The control protocol answers
// "verify"/"resync" at once and reports the walk only in status.sync, which
// always describes the latest walk: right after the command it may still show
// the previous one, finished, whose result must not be taken for ours. A walk
// is ours when it started no earlier than the moment just before the command
// was sent (both clocks are this host's), or at another time than the walk
// the status showed before the command (which also holds should the clock
// step back in between). One exception: a resync asked for while a sync of
// the copy runs joins it (the daemon starts no second one), so that running
// walk is ours too.
#include "tools/mirrorctl/sync_command.h"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <iostream>
#include <optional>

#include "mirror/control_client.h"
#include "mirror/control_server.h"
#include "tools/mirrorctl/sync_view.h"

namespace mirrorctl {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr auto kPollInterval = std::chrono::milliseconds(200);
// Consecutive status requests that may fail (no reply in time, a garbled
// reply) before the daemon counts as gone: a busy daemon is not a dead one.
constexpr int kFailuresAllowed = 3;

volatile std::sig_atomic_t interrupted_by = 0;

void on_signal(int sig) {
  interrupted_by = sig;
}

// Ctrl-C stops the waiting, not the walk: the handler only notes it, so that
// the progress line is cleared and the operator told where the walk went on.
// No SA_RESTART, so that the wait between polls ends at once.
void catch_interrupts() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

// The one line redrawn in place on a terminal; elsewhere (cron, a log) it
// stays silent, as `mirrorctl status` shows the progress to whoever asks.
class ProgressLine {
 public:
  ProgressLine() : tty_(isatty(STDERR_FILENO) == 1) {}

  void draw(std::string text) {
    if (!tty_) return;
    // A line that wraps could not be redrawn with \r: cut it to the width.
    struct winsize ws {};
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 && text.size() >= ws.ws_col) {
      text.resize(ws.ws_col - 1);
    }
    std::cerr << "\r" << text << "\033[K" << std::flush;
    drawn_ = true;
  }

  void clear() {
    if (drawn_) std::cerr << "\r\033[K" << std::flush;
    drawn_ = false;
  }

 private:
  bool tty_;
  bool drawn_ = false;
};

std::string bar(int percent) {
  constexpr int kWidth = 24;
  int full = percent * kWidth / 100;
  return "[" + std::string(full, '#') + std::string(kWidth - full, '.') + "]";
}

// The volume the command goes to: one local volume of one mirrorfs.
struct Chosen {
  std::string socket;
  std::string volume;
  bool named = false;  // the target named the volume (not the daemon's socket)
  std::optional<mirror::SyncStatus> before;
};

// Picks the volume from what the target reaches, or says on stderr why
// there is none. mirrord holds copies only: a walk is the primary's to run.
std::optional<Chosen> choose(const Query& query, const std::vector<DaemonReport>& reports,
                             const std::string& name) {
  std::vector<Chosen> local;
  std::vector<std::string> mirror_sockets, errors;
  for (const auto& r : reports) {
    if (!r.status) {
      errors.push_back(r.error);
      continue;
    }
    for (const auto& v : r.status->volumes) {
      if (v.role != mirror::Role::local) {
        mirror_sockets.push_back(r.socket);
        continue;
      }
      local.push_back({r.socket, v.volume, !r.volumes.empty(), v.sync});
    }
  }
  if (local.size() == 1) return local[0];
  if (local.size() > 1) {
    std::string which;
    for (const auto& c : local) which += "\n  " + c.volume + " (" + c.socket + ")";
    std::cerr << "mirrorctl: " << name << ": several mirrorfs volumes answer to " << query.target
              << "; name one by its mount point or control socket:" << which << "\n";
    return std::nullopt;
  }
  for (const auto& e : errors) std::cerr << "mirrorctl: " << e << "\n";
  if (!mirror_sockets.empty()) {
    std::cerr << "mirrorctl: " << name << ": " << query.target
              << " is served here only by mirrord (" << mirror_sockets[0]
              << "), which keeps the copy; " << name
              << " runs in mirrorfs, on the primary's host: name its mount point or volume there\n";
  } else if (errors.empty()) {
    std::cerr << "mirrorctl: " << name << ": no mirrorfs volume answers to " << query.target
              << "\n";
  }
  return std::nullopt;
}

// The chosen volume's sync state now. Throws ControlUnreachable when the
// daemon is gone, ControlFailed (or another std::exception) when it answered
// badly.
std::optional<mirror::SyncStatus> sync_of(const Query& query, const Chosen& chosen) {
  auto reply =
      mirror::control_call(chosen.socket, {{"command", mirror::kCommandStatus}}, query.timeout);
  if (!reply.value("ok", false) || !reply.contains("status")) {
    throw mirror::ControlFailed("status refused: " +
                                reply.value("error", std::string("no status in the reply")));
  }
  auto status = reply["status"].get<mirror::DaemonStatus>();
  for (const auto& v : status.volumes) {
    if (v.role == mirror::Role::local && v.volume == chosen.volume) return v.sync;
  }
  throw mirror::ControlUnreachable("the daemon at " + chosen.socket + " no longer serves " +
                                   chosen.volume);
}

void print_json(const mirror::SyncStatus& s) {
  std::cout << json(s).dump(2, ' ', false, json::error_handler_t::replace) << std::endl;
}

// What the finished walk found, and the exit status it makes.
int report(const SyncCommand& c, const mirror::SyncStatus& s) {
  if (c.json) {
    print_json(s);
  } else {
    if (!c.resync) {
      for (const auto& d : s.listed) std::cout << d.path << ": " << d.what << "\n";
    }
    std::cout << walk_summary(s) << std::endl;
  }
  if (c.resync) return s.result == "repaired" || s.result == "equal" ? 0 : 2;
  if (s.result == "equal") return 0;
  return s.result == "differ" ? 1 : 2;
}

}  // namespace

int run_sync_command(const Query& query, const SyncCommand& c) {
  const std::string name = c.resync ? mirror::kCommandResync : mirror::kCommandVerify;
  auto chosen_or = choose(query, collect_status(query), name);
  if (!chosen_or) return 2;
  const Chosen chosen = *chosen_or;
  const std::string what = name + " " + chosen.volume;
  const int64_t previous_start = chosen.before ? chosen.before->started : 0;
  const bool joins = c.resync && chosen.before && chosen.before->started > 0 &&
                     chosen.before->finished == 0 &&
                     (chosen.before->state == "initial-sync" || chosen.before->state == "resync");

  json request = {{"command", name}};
  if (c.resync) request["discard_copy"] = c.discard_copy;
  request["checksum"] = c.checksum;
  if (chosen.named) request["volume"] = chosen.volume;
  catch_interrupts();
  const int64_t sent_at = mirror::wall_clock_ms();
  try {
    auto reply = mirror::control_call(chosen.socket, request, query.timeout);
    if (!reply.value("ok", false)) {
      std::cerr << "mirrorctl: " << what << " (" << chosen.socket
                << "): " << reply.value("error", std::string("refused")) << "\n";
      return 2;
    }
  } catch (const std::exception& e) {
    std::cerr << "mirrorctl: " << what << " (" << chosen.socket << "): " << e.what() << "\n";
    return 2;
  }

  // time_point::max() when there is no --max-time: never reached. A limit
  // beyond 30 years is none, and must not overflow the nanoseconds.
  const auto deadline = c.max_seconds > 0 && c.max_seconds < 1e9
                            ? Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                 std::chrono::duration<double>(c.max_seconds))
                            : Clock::time_point::max();
  const std::string goes_on = "; it goes on in the daemon: mirrorctl status " + query.target;
  ProgressLine progress;
  std::optional<mirror::SyncStatus> latest;
  int failures = 0;
  // Leaves the loop with an error: the line cleared, the reason said, and
  // the latest state for --json (a script can still see how far it got).
  auto give_up = [&](const std::string& why) {
    progress.clear();
    std::cerr << "mirrorctl: " << what << ": " << why << "\n";
    if (c.json && latest) print_json(*latest);
    return 2;
  };

  while (true) {
    if (interrupted_by) {
      int sig = interrupted_by;
      give_up("interrupted" + goes_on);
      // Die of the signal, as the shell expects of an interrupted program.
      signal(sig, SIG_DFL);
      raise(sig);
      return 2;
    }
    std::optional<mirror::SyncStatus> sync;
    bool answered = false;
    try {
      sync = sync_of(query, chosen);
      answered = true;
      failures = 0;
    } catch (const mirror::ControlUnreachable& e) {
      return give_up(std::string("the daemon went away: ") + e.what());
    } catch (const std::exception& e) {
      if (!interrupted_by && ++failures >= kFailuresAllowed) {
        return give_up(std::string("the daemon does not answer: ") + e.what());
      }
    }
    if (answered && !sync) {
      return give_up("the daemon reports no sync state for " + chosen.volume +
                     " (not a mirrored volume, or a mirrorfs older than verify and resync)");
    }
    if (sync) {
      latest = sync;
      const auto& s = *sync;
      bool ours = s.started > 0 && (s.started >= sent_at || s.started != previous_start || joins);
      if (ours && s.finished != 0) {
        progress.clear();
        return report(c, s);
      }
      bool ours_running = ours && walk_running(s);
      if (s.state == "split-brain" && !c.discard_copy && !ours_running) {
        // Nothing will run until someone decides which side wins.
        return give_up("split brain" + (s.reason.empty() ? "" : ": " + s.reason) +
                       "; the copy was left as it is. To overwrite the copy's own changes with "
                       "the primary's data: mirrorctl resync --discard-copy " +
                       query.target);
      }
      if (!ours) {
        progress.draw(what + ": waiting for it to start (" + s.state + ")");
      } else {
        int percent = walk_percent(s);
        progress.draw(what + " " + (percent >= 0 ? bar(percent) + " " : "") + walk_progress(s));
      }
    }
    if (Clock::now() >= deadline) {
      char secs[32];
      snprintf(secs, sizeof(secs), "%g", c.max_seconds);
      return give_up(std::string("still running after --max-time ") + secs + " s" + goes_on);
    }
    // poll() sleeps, and a signal cuts the sleep short.
    poll(nullptr, 0, static_cast<int>(kPollInterval.count()));
  }
}

}  // namespace mirrorctl
