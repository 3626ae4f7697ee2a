// mirrord: the mirror daemon. Keeps the copies of the volumes that local
// servers mirror to it. Runs in the foreground (for systemd or a supervisor);
// SIGTERM or SIGINT ends it cleanly. Its control socket (--control) answers
// mirrorctl with its status.
#include <pthread.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <thread>

#include "mirror/auth.h"
#include "mirror/control_server.h"
#include "mirror/mirror_server.h"

int main(int argc, char** argv) {
  mirror::MirrordOptions options;
  std::vector<std::string> volumes;
  std::string log_level = "info";
  std::string control_path = mirror::default_control_path("mirrord");
  CLI::App app{"mirrord: keeps the mirror copies of mirrorfs volumes", "mirrord"};
  app.set_version_flag("--version", std::string("mirrord ") + MIRRORFS_VERSION);
  app.add_option("--listen", options.listen,
                 "ADDR:PORT to accept local servers on (TCP) and their heartbeats (UDP)")
      ->capture_default_str();
  app.add_option("--volume", volumes, "NAME=DIR: a volume served and the directory of its copy")
      ->required()
      ->type_name("NAME=DIR");
  app.add_option("--secret-file", options.secret_file,
                 "file holding the secret shared with the local servers (mode 0600)")
      ->required()
      ->type_name("PATH");
  app.add_option("--request-timeout", options.request_timeout_ms,
                 "milliseconds an idle connection thread waits before checking its element")
      ->capture_default_str()
      ->check(CLI::Range(10, 3600000));
  app.add_option("--heartbeat-interval", options.heartbeat_interval_ms,
                 "milliseconds between the heartbeats sent to each local server")
      ->capture_default_str()
      ->check(CLI::Range(10, 600000));
  app.add_option("--heartbeat-timeout", options.heartbeat_timeout_ms,
                 "milliseconds of silence from a local server after which its connections are "
                 "marked closed; longer than --heartbeat-interval")
      ->capture_default_str()
      ->check(CLI::Range(20, 3600000));
  app.add_option("--state-dir", options.state_dir,
                 "directory for the volumes' applied state and identity (NAME.state, "
                 "NAME.identity); default: beside each copy, as .BASENAME.mirrord-state and "
                 ".BASENAME.mirror-identity")
      ->type_name("DIR")
      ->default_str("beside each copy");
  app.add_option("--control", control_path,
                 "Unix socket (mode 0600) on which mirrorctl reads the status; for other "
                 "users $XDG_RUNTIME_DIR/mirrorfs/mirrord.sock, else "
                 "/tmp/mirrorfs-UID/mirrord.sock")
      ->type_name("PATH")
      ->default_str("/run/mirrorfs/mirrord.sock for root");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical or off")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);  // prints --help, status 0
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line naming the option; status 1 like every other start-up error.
    std::string what = e.what();
    std::replace(what.begin(), what.end(), '\n', ' ');
    std::fprintf(stderr, "mirrord: error: %s (see mirrord --help)\n", what.c_str());
    return 1;
  }

  auto logger = spdlog::stderr_color_mt("mirrord");
  // The journal stamps each line itself (systemd sets JOURNAL_STREAM when
  // stderr goes there); anywhere else a line carries its time.
  logger->set_pattern(std::getenv("JOURNAL_STREAM") != nullptr ? "mirrord: %^%l%$: %v"
                                                               : "%H:%M:%S.%e mirrord: %^%l%$: %v");
  logger->set_level(spdlog::level::from_str(log_level));
  spdlog::set_default_logger(logger);

  for (const auto& v : volumes) {
    auto eq = v.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == v.size()) {
      spdlog::error("--volume {}: expected NAME=DIR", v);
      return 1;
    }
    options.volumes.emplace_back(v.substr(0, eq), v.substr(eq + 1));
  }

  // Signals are taken by one thread with sigwait; every other thread blocks them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::unique_ptr<mirror::MirrorServer> server;
  try {
    server = std::make_unique<mirror::MirrorServer>(options,
                                                    mirror::Secret::from_file(options.secret_file));
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  // The control socket answers only once the server is set up; a live
  // socket at the path (another mirrord) makes this one refuse to start.
  std::unique_ptr<mirror::ControlServer> control;
  try {
    mirror::ControlServerOptions control_options;
    control_options.path = control_path;
    control = std::make_unique<mirror::ControlServer>(
        control_options, [&server](const nlohmann::json& request) -> nlohmann::json {
          const std::string command = request.at("command").get<std::string>();
          if (command == mirror::kCommandStatus) {
            return mirror::control_ok({{"status", server->status()}});
          }
          if (command == mirror::kCommandPause || command == mirror::kCommandResume ||
              command == mirror::kCommandMode) {
            return mirror::control_error(
                "mirrord keeps copies: pause, resume and mode are commands for mirrorfs");
          }
          return mirror::control_error("unknown command '" + command +
                                       "'; mirrord answers \"status\"");
        });
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  spdlog::info("control socket {}", control->path());
  std::thread waiter([&] {
    pthread_setname_np(pthread_self(), "signals");
    int sig = 0;
    sigwait(&signals, &sig);
    spdlog::info("signal {} received: stopping", sig);
    server->stop();
  });
  server->run();
  // run() also returns if stopped some other way; release the signal thread.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  control->stop();
  spdlog::info("stopped");
  return 0;
}
