// Start-up checks on the two directories a mount joins. Internal to fs/.
#pragma once

#include <string>

namespace mirrorfs {

// Throws UsageError when the daemon would have to go through its own mount
// (one directory inside the other), when the backing directory cannot be
// read, or when the mount point is already a mount point.
void check_paths(const std::string& backing, const std::string& mountpoint);

// True if `path` (canonical) is a mount point, per /proc/self/mountinfo.
bool is_mount_point(const std::string& path);

// "major:minor" of the file system mounted at `path`, from mountinfo (never
// touching the mount itself, which may not answer yet), or "".
std::string mounted_device(const std::string& path);

}  // namespace mirrorfs
