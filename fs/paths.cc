#include "fs/paths.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "fs/options.h"

namespace mirrorfs {
namespace {

bool inside(const std::string& path, const std::string& dir) {
  return path == dir || dir == "/" ||
         (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/');
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

std::string mounted_device(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line, found;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, mnt;
    fields >> id >> parent >> devno >> root >> mnt;
    if (unescape(mnt) == path) found = devno;  // the last one is on top
  }
  return found;
}

bool is_mount_point(const std::string& path) { return !mounted_device(path).empty(); }

void check_paths(const std::string& backing, const std::string& mountpoint) {
  struct stat st;
  if (stat(backing.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw UsageError("backing directory " + backing + ": not a directory");
  }
  if (access(backing.c_str(), R_OK | X_OK) != 0) {
    throw UsageError("backing directory " + backing + ": cannot be read: " + strerror(errno));
  }
  if (stat(mountpoint.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw UsageError("mount point " + mountpoint + ": not a directory");
  }
  if (inside(backing, mountpoint)) {
    throw UsageError("backing directory " + backing + " is inside mount point " + mountpoint +
                     ": the daemon would go through its own mount");
  }
  if (inside(mountpoint, backing)) {
    throw UsageError("mount point " + mountpoint + " is inside backing directory " + backing +
                     ": the daemon would go through its own mount");
  }
  if (is_mount_point(mountpoint)) {
    throw UsageError("mount point " + mountpoint + " is in use: something is mounted there");
  }
}

}  // namespace mirrorfs
