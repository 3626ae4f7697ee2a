// Numbers for people: byte sizes in binary units, durations in the two
// largest units that matter, wall-clock times in local time.
#pragma once

#include <cstdint>
#include <string>

namespace mirrorctl {

std::string human_bytes(double bytes);      // "512 B", "4.0 KiB", "1.5 GiB"
std::string human_duration(int64_t ms);     // "850ms", "12.3s", "2m14s", "3h02m", "2d04h"
std::string local_time(int64_t wall_ms);    // "2026-01-01 03:12:05"
std::string human_rate(double per_second);  // "0", "12.5", "1.2k", "3.4M"

}  // namespace mirrorctl
