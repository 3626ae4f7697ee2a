#include "mirror/designation.h"

#include <fnmatch.h>

namespace mirror {

Designation Designation::parse(const std::string& colon_separated) {
  std::vector<std::string> globs;
  size_t start = 0;
  while (start <= colon_separated.size()) {
    size_t end = colon_separated.find(':', start);
    if (end == std::string::npos) end = colon_separated.size();
    std::string glob = colon_separated.substr(start, end - start);
    while (!glob.empty() && glob.back() == '/') glob.pop_back();
    while (!glob.empty() && glob.front() == '/') glob.erase(0, 1);
    if (!glob.empty()) globs.push_back(glob);
    start = end + 1;
  }
  return Designation(std::move(globs));
}

bool Designation::excluded(const std::string& path) const {
  if (exclude_.empty() || path.empty()) return false;
  for (const auto& glob : exclude_) {
    bool anchored = glob.find('/') != std::string::npos;
    size_t start = 0;
    while (start < path.size()) {
      size_t end = path.find('/', start);
      if (end == std::string::npos) end = path.size();
      std::string candidate =
          anchored ? path.substr(0, end) : path.substr(start, end - start);
      if (fnmatch(glob.c_str(), candidate.c_str(), FNM_PATHNAME) == 0) return true;
      start = end + 1;
    }
  }
  return false;
}

}  // namespace mirror
