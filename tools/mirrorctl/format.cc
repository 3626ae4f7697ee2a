// Human formats for the status view.
#include "tools/mirrorctl/format.h"

#include <time.h>

#include <cstdio>

namespace mirrorctl {

std::string human_bytes(double bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  while (bytes >= 1024 && u < 5) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) {
    snprintf(buf, sizeof(buf), "%.0f B", bytes);
  } else {
    snprintf(buf, sizeof(buf), "%.1f %s", bytes, units[u]);
  }
  return buf;
}

std::string human_duration(int64_t ms) {
  if (ms < 0) ms = 0;
  char buf[32];
  if (ms < 1000) {
    snprintf(buf, sizeof(buf), "%lldms", static_cast<long long>(ms));
  } else if (ms < 60'000) {
    snprintf(buf, sizeof(buf), "%.1fs", ms / 1000.0);
  } else if (ms < 3'600'000) {
    snprintf(buf, sizeof(buf), "%lldm%02llds", static_cast<long long>(ms / 60'000),
             static_cast<long long>(ms / 1000 % 60));
  } else if (ms < 86'400'000) {
    snprintf(buf, sizeof(buf), "%lldh%02lldm", static_cast<long long>(ms / 3'600'000),
             static_cast<long long>(ms / 60'000 % 60));
  } else {
    snprintf(buf, sizeof(buf), "%lldd%02lldh", static_cast<long long>(ms / 86'400'000),
             static_cast<long long>(ms / 3'600'000 % 24));
  }
  return buf;
}

std::string local_time(int64_t wall_ms) {
  time_t t = static_cast<time_t>(wall_ms / 1000);
  struct tm tm;
  if (!localtime_r(&t, &tm)) return "?";
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string human_rate(double v) {
  char buf[32];
  if (v < 1000) {
    snprintf(buf, sizeof(buf), v == static_cast<int64_t>(v) ? "%.0f" : "%.1f", v);
  } else if (v < 1e6) {
    snprintf(buf, sizeof(buf), "%.1fk", v / 1e3);
  } else {
    snprintf(buf, sizeof(buf), "%.1fM", v / 1e6);
  }
  return buf;
}

}  // namespace mirrorctl
