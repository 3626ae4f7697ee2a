// mirrord: the mirror daemon. Keeps the copies of the volumes that local
// servers mirror to it. Runs in the foreground (for systemd or a supervisor);
// SIGTERM or SIGINT ends it cleanly.
#include <pthread.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <thread>

#include "mirror/auth.h"
#include "mirror/mirror_server.h"

int main(int argc, char** argv) {
  mirror::MirrordOptions options;
  std::vector<std::string> volumes;
  std::string log_level = "info";
  CLI::App app{"mirrord: keeps the mirror copies of mirrorfs volumes", "mirrord"};
  app.set_version_flag("--version", std::string("mirrord ") + MIRRORFS_VERSION);
  app.add_option("--listen", options.listen, "ADDR:PORT to accept local servers on")
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
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical or off")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  CLI11_PARSE(app, argc, argv);

  auto logger = spdlog::stderr_color_mt("mirrord");
  logger->set_pattern("mirrord: %^%l%$: %v");
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
    server = std::make_unique<mirror::MirrorServer>(
        options, mirror::Secret::from_file(options.secret_file));
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
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
  spdlog::info("stopped");
  return 0;
}
