// The dirty set: directories whose changes were not queued because the queue
// was full (-o on_queue_full=resync). Small and bounded: past its limit it
// collapses to the volume root (the whole tree). Persistent (a JSON array in
// the queue directory, replaced durably on every insertion), so a restart of
// mirrorfs still knows what the copy misses. Thread-safe.
#pragma once

#include <cstddef>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace mirror {

class DirtySet {
 public:
  // Loads `path` if it exists; a damaged file counts as the whole tree
  // (logged). Throws std::runtime_error naming the file when it cannot be read.
  DirtySet(std::string path, size_t max_entries);

  // Adds a directory ("" is the root). Persists when the set changed.
  void add(const std::string& dir);
  // The directories, "" alone when the whole tree is dirty.
  std::vector<std::string> roots() const;
  // Removes `dirs` (those a finished resync covered).
  void remove(const std::vector<std::string>& dirs);
  size_t size() const;
  bool empty() const { return size() == 0; }
  const std::string& path() const { return path_; }

 private:
  void persist_locked() const;

  const std::string path_;
  const size_t max_entries_;
  mutable std::mutex mutex_;
  std::set<std::string> dirs_;
};

// The directory holding `path` ("" for a name in the root).
std::string parent_directory(const std::string& path);

}  // namespace mirror
