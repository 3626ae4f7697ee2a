// mirrorctl: the operator's tool. Asks mirrorfs and mirrord over their control
// sockets (protocol in mirror/control_server.h) for their status, prints it
// for people (status), scripts (status --json) and Prometheus (metrics), and
// sends them commands (pause, resume, mode), and runs and follows the walks
// over a copy (verify, resync: tools/mirrorctl/sync_command.h).
//
// Exit status: 0 all well, 1 degraded (status) or the command was refused,
// 2 a daemon could not be reached or a split brain (status); verify and
// resync have their own (sync_command.h); CLI11's codes (above 100) for a
// wrong command line.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <iostream>
#include <thread>

#include "mirror/control_client.h"
#include "mirror/control_server.h"
#include "tools/mirrorctl/health.h"
#include "tools/mirrorctl/prometheus.h"
#include "tools/mirrorctl/status_view.h"
#include "tools/mirrorctl/sync_command.h"
#include "tools/mirrorctl/targets.h"

namespace {

using mirrorctl::DaemonReport;
using mirrorctl::Query;

struct Options {
  std::string control_dir = mirror::default_control_dir();
  int timeout_ms = 5000;
  std::string target;
  bool json = false;
  double watch_seconds = 0;  // 0: print once
  std::string mode;
  mirrorctl::SyncCommand sync;  // verify, resync
};

Query query_of(const Options& o) {
  return Query{o.target, o.control_dir, std::chrono::milliseconds(o.timeout_ms)};
}

int status_once(const Options& o, bool watching) {
  auto reports = mirrorctl::collect_status(query_of(o));
  if (o.json) {
    auto doc = mirrorctl::status_document(reports);
    // Watching, one compact document per line (NDJSON); else pretty.
    std::cout << doc.dump(watching ? -1 : 2, ' ', false, nlohmann::json::error_handler_t::replace)
              << std::endl;
  } else {
    std::cout << mirrorctl::render_status(reports) << std::flush;
  }
  return mirrorctl::exit_status_of(reports);
}

int run_status(const Options& o) {
  if (o.watch_seconds <= 0) return status_once(o, false);
  bool tty = isatty(STDOUT_FILENO);
  while (true) {
    if (tty && !o.json) std::cout << "\033[H\033[2J";
    status_once(o, true);
    if (!o.json) std::cout << "\n" << std::flush;
    std::this_thread::sleep_for(std::chrono::duration<double>(o.watch_seconds));
  }
}

int run_metrics(const Options& o) {
  auto reports = mirrorctl::collect_status(query_of(o));
  std::cout << mirrorctl::render_metrics(reports) << std::flush;
  // Only reaching the daemons counts: what they report is in the metrics.
  int status = 0;
  for (const auto& r : reports) {
    if (r.status) continue;
    std::cerr << "mirrorctl: " << r.error << "\n";
    status = 2;
  }
  return status;
}

// Sends `request` to every daemon serving the target (once per volume the
// target names in it; once for the whole daemon when it names a socket).
int run_command(const Options& o, const nlohmann::json& request) {
  auto reports = mirrorctl::collect_status(query_of(o));
  int status = 0;
  for (const auto& r : reports) {
    if (!r.status) {
      std::cerr << "mirrorctl: " << r.error << "\n";
      status = 2;
      continue;
    }
    std::vector<nlohmann::json> requests;
    if (r.volumes.empty()) requests.push_back(request);
    for (const auto& v : r.volumes) {
      auto one = request;
      one["volume"] = v;
      requests.push_back(one);
    }
    for (const auto& req : requests) {
      std::string what = req.value("command", std::string()) +
                         (req.contains("volume") ? " " + req["volume"].get<std::string>() : "") +
                         " (" + r.socket + ")";
      try {
        auto reply = mirror::control_call(r.socket, req, std::chrono::milliseconds(o.timeout_ms));
        if (reply.value("ok", false)) {
          std::cout << what << ": ok\n";
        } else {
          std::cerr << "mirrorctl: " << what << ": " << reply.value("error", std::string("refused"))
                    << "\n";
          status = std::max(status, 1);
        }
      } catch (const mirror::ControlUnreachable& e) {
        std::cerr << "mirrorctl: " << e.what() << "\n";
        status = 2;
      } catch (const std::exception& e) {
        std::cerr << "mirrorctl: " << what << ": " << e.what() << "\n";
        status = std::max(status, 1);
      }
    }
  }
  return status;
}

// Rewrites "--watch=SECONDS" to "--watch" and returns SECONDS (0 when not
// given). Throws std::invalid_argument when SECONDS is not a positive number.
double take_watch_interval(std::vector<std::string>& args) {
  double seconds = 0;
  for (auto& a : args) {
    if (a == "--") break;
    if (!a.starts_with("--watch=")) continue;
    std::string value = a.substr(8);
    size_t used = 0;
    try {
      seconds = std::stod(value, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != value.size() || !(seconds > 0) || seconds > 86400) {
      throw std::invalid_argument("--watch=" + value +
                                  ": SECONDS must be a number above 0 and at most 86400");
    }
    a = "--watch";
  }
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"mirrorctl: status and control of mirrorfs and mirrord", "mirrorctl"};
  app.set_version_flag("--version", std::string("mirrorctl ") + MIRRORFS_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  // The real default depends on who runs mirrorctl (default_control_dir());
  // --help shows root's, as the man page does.
  std::string control_dir;
  app.add_option("--control-dir", control_dir,
                 "directory of the daemons' control sockets (not root: "
                 "$XDG_RUNTIME_DIR/mirrorfs)")
      ->default_str("/run/mirrorfs")
      ->type_name("DIR");
  app.add_option("--timeout", o.timeout_ms, "milliseconds to wait for each daemon's reply")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600000))
      ->type_name("MS");
  const char* target_help = "a control socket, a mount point or a volume name";

  auto* status = app.add_subcommand("status",
                                    "show the status of volumes (exit 0 ok, 1 "
                                    "degraded, 2 unreachable or split brain)");
  status->add_flag("--json", o.json, "print one JSON document instead of the table");
  // A flag, so that `--watch TARGET` leaves TARGET alone; `--watch=SECONDS`
  // is taken apart before CLI11 sees it (see watch_interval).
  bool watch = false;
  status->add_flag("--watch", watch,
                   "print again every 2 seconds, or every SECONDS with --watch=SECONDS, until "
                   "interrupted");
  status->add_option("TARGET", o.target, target_help);

  auto* metrics = app.add_subcommand("metrics", "print counters and gauges in Prometheus format");
  metrics->add_option("TARGET", o.target, target_help);

  auto* pause = app.add_subcommand("pause", "stop sending to the mirror; changes are queued");
  pause->add_option("TARGET", o.target, target_help)->required();
  auto* resume = app.add_subcommand("resume", "send again, the queued changes first");
  resume->add_option("TARGET", o.target, target_help)->required();
  auto* mode = app.add_subcommand("mode", "switch a running volume to sync or async mode");
  mode->add_option("MODE", o.mode, "sync or async")
      ->required()
      ->check(CLI::IsMember({"sync", "async"}));
  mode->add_option("TARGET", o.target, target_help)->required();

  // What verify and resync share, after their own flags (--help keeps this
  // order). --max-time, not --timeout: the global --timeout (milliseconds per
  // reply) is also accepted after the command, and one name with two units
  // would mean what its position says.
  auto add_walk_options = [&](CLI::App* command) {
    command
        ->add_option("--max-time", o.sync.max_seconds,
                     "give up waiting after SECONDS (exit 2); the walk goes on in the daemon")
        ->default_str("none")
        ->check(CLI::PositiveNumber)
        ->type_name("SECONDS");
    command->add_flag("--json", o.sync.json, "print the final sync status as JSON");
    command->add_option("TARGET", o.target, target_help)->required();
  };
  auto* verify = app.add_subcommand(
      "verify", "compare the copy with the primary (exit 0 equal, 1 differ, 2 failed)");
  verify->add_flag("--checksum", o.sync.checksum,
                   "compare contents too, by block checksums computed on each side");
  add_walk_options(verify);
  auto* resync =
      app.add_subcommand("resync", "repair the copy from the primary (exit 0 repaired, 2 failed)");
  resync->add_flag("--discard-copy", o.sync.discard_copy,
                   "settle a split brain: overwrite the copy's own changes");
  resync->add_flag("--checksum", o.sync.checksum,
                   "compare the contents of every file by block checksums, not only of files "
                   "whose size or mtime differ");
  add_walk_options(resync);

  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    o.watch_seconds = take_watch_interval(args);
  } catch (const std::invalid_argument& e) {
    std::cerr << e.what() << "\nRun with --help for more information.\n";
    return static_cast<int>(CLI::ExitCodes::ValidationError);
  }
  std::reverse(args.begin(), args.end());  // CLI11 takes a vector in reverse order
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (!control_dir.empty()) o.control_dir = control_dir;
  if (status->parsed()) {
    if (watch && o.watch_seconds <= 0) o.watch_seconds = 2;
    return run_status(o);
  }
  if (metrics->parsed()) return run_metrics(o);
  if (pause->parsed()) return run_command(o, {{"command", mirror::kCommandPause}});
  if (resume->parsed()) return run_command(o, {{"command", mirror::kCommandResume}});
  if (mode->parsed()) return run_command(o, {{"command", mirror::kCommandMode}, {"mode", o.mode}});
  if (verify->parsed() || resync->parsed()) {
    o.sync.resync = resync->parsed();
    return mirrorctl::run_sync_command(query_of(o), o.sync);
  }
  return 64;
}
