// Designation (design, method element 7): which paths of a volume are
// mirrored. `-o exclude=GLOB[:GLOB...]` names paths applied locally only.
// A glob without '/' matches any single path component (as in rsync: "*.tmp"
// excludes every .tmp file, "cache" every directory named cache with all
// beneath it); a glob with '/' matches the path from the volume root, or any
// of its ancestors.
#pragma once

#include <string>
#include <vector>

namespace mirror {

class Designation {
 public:
  Designation() = default;
  explicit Designation(std::vector<std::string> exclude) : exclude_(std::move(exclude)) {}
  // Parses "GLOB:GLOB..."; empty globs are ignored.
  static Designation parse(const std::string& colon_separated);

  bool excluded(const std::string& path) const;
  bool empty() const { return exclude_.empty(); }
  const std::vector<std::string>& globs() const { return exclude_; }

 private:
  std::vector<std::string> exclude_;
};

}  // namespace mirror
