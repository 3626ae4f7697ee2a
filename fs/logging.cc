#include "fs/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>
#include <syslog.h>

namespace mirrorfs {
namespace {

void install(std::shared_ptr<spdlog::logger> logger, const MountOptions& options) {
  logger->set_level(spdlog::level::from_str(options.log_level));
  // Operators tail the log: every line is written when it happens.
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
}

std::shared_ptr<spdlog::logger> file_logger(const MountOptions& options) {
  auto logger = spdlog::basic_logger_mt("mirrorfs", options.log_file);
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e [%l] [%t] %v");
  return logger;
}

}  // namespace

void start_logging(const MountOptions& options) {
  if (!options.log_file.empty()) return install(file_logger(options), options);
  auto logger = spdlog::stderr_color_mt("mirrorfs");
  // In the foreground the stderr log is the log: each line says when.
  logger->set_pattern(options.foreground || options.debug ? "%H:%M:%S.%e mirrorfs: %^%l%$: %v"
                                                          : "mirrorfs: %^%l%$: %v");
  install(std::move(logger), options);
}

void switch_to_background_logging(const MountOptions& options) {
  if (!options.log_file.empty()) return;
  spdlog::drop("mirrorfs");
  auto logger = spdlog::syslog_logger_mt("mirrorfs", "mirrorfs", LOG_PID, LOG_DAEMON);
  logger->set_pattern("%v");
  install(std::move(logger), options);
}

}  // namespace mirrorfs
