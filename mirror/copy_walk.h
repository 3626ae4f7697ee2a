// The walk that makes a copy equal its primary (initial sync, resync) or
// tells how they differ (verify). It goes through the backing directory
// depth first, in name order, one directory at a time; compares each entry
// with the copy's description of it (mirror/inspection_client.h) cheaply by
// type, size, mtime, mode, owner, xattr digest and link structure; compares
// the contents of files that differ by block checksums computed on each side;
// and repairs through ordinary mirror requests, so that the order the mirror
// applies them in holds for repairs and live requests alike.
//
// Live changes during the walk: the walk settles the copy (every request
// sent so far acknowledged) before it reads a directory, and does a
// directory, or a file, over again when a live change touched it meanwhile
// (a repair read before a live write but sent after it would undo it).
//
// Memory is bounded by the largest directory, not the tree: one page of
// entries per side at a time, the stack of directories still to visit, and
// the files with several links whose other names are still to come.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "mirror/designation.h"
#include "mirror/request.h"

namespace mirror {

class InspectionClient;

// What a repair that makes or removes a name expects of the local entry at
// that name (the target of a link), as the walk saw it.
enum class LocalGuard { none, exists, absent };

// What the walk needs from the replicator that carries its repairs.
class SyncPort {
 public:
  virtual ~SyncPort() = default;
  // Sends a repair like any mirror request (sequence, queue, connection)
  // without waiting for its answer; false when the walk must stop (the link
  // went down, the replicator stops). `guard` is checked as the request is
  // ordered: when the local entry is no longer as expected, a live change
  // decided the name meanwhile and comes after in order, and the repair is
  // dropped (so a busy directory cannot lose a name it gained).
  virtual bool submit_repair(const MirrorRequest& r, LocalGuard guard) = 0;
  // Waits until every request sent so far is acknowledged; false as above.
  virtual bool settle() = 0;
  // Live (not repair) namespace changes sent so far.
  virtual uint64_t live_namespace_changes() const = 0;
  // Live requests on `inode` since watch(inode) was last called.
  virtual void watch(uint64_t inode) = 0;
  virtual uint64_t watched_changes() const = 0;
  virtual bool cancelled() const = 0;
};

struct SyncProgress {
  std::atomic<uint64_t> files_total{0};  // entries the walk will look at (counted first)
  std::atomic<uint64_t> bytes_total{0};  // bytes of their regular files
  std::atomic<uint64_t> files_done{0};
  std::atomic<uint64_t> bytes_done{0};      // of files compared or copied
  std::atomic<uint64_t> bytes_repaired{0};  // file data sent to the copy
  std::atomic<uint64_t> repairs{0};         // requests sent to the copy
  std::atomic<uint64_t> differences{0};     // entries found different
};

struct WalkDifference {
  std::string path;  // relative to the volume root; "" is the root
  std::string what;  // e.g. "only on the copy", "contents differ at byte 4096"
};

enum class WalkMode {
  repair,           // make the copy equal
  verify,           // report differences of metadata (and of contents when size or mtime differ)
  verify_checksum,  // report differences, comparing the contents of every file by blocks
};

struct WalkOptions {
  std::string backing;  // the backing directory (the primary's data)
  WalkMode mode = WalkMode::repair;
  Designation designation;  // excluded paths are left alone on both sides
  // Subtrees to walk (relative paths of directories); empty: the whole volume.
  std::vector<std::string> roots;
  // Directories up to this one in walk order are done (a walk resumed after
  // a restart). Their subdirectories are still visited.
  std::optional<std::string> resume_after;
  // Called after each directory is done, with its path (to persist progress).
  std::function<void(const std::string&)> on_directory_done;
  size_t max_listed_differences = 1000;  // verify: beyond this they are only counted
  // repair: compare the contents of every file by blocks, not only of those
  // whose size or mtime differ (damage that kept both, e.g. bit rot).
  bool compare_all_contents = false;
};

class CopyWalk {
 public:
  // `port` may be null for a verify that does not wait for the copy to settle.
  CopyWalk(WalkOptions options, InspectionClient& copy, SyncPort* port, SyncProgress& progress);
  ~CopyWalk();
  CopyWalk(const CopyWalk&) = delete;
  CopyWalk& operator=(const CopyWalk&) = delete;

  // Counts what the walk will look at (progress totals): a quick pass over
  // the backing directory's metadata.
  void count();
  // True when the walk went through; false when the port said stop. Throws
  // std::runtime_error naming the path (local) or the peer (copy) on a fault.
  bool run();
  // Verify: what differs, sorted in walk order (at most max_listed_differences).
  const std::vector<WalkDifference>& differences() const { return differences_; }

 private:
  struct Impl;
  Impl* impl_;
  std::vector<WalkDifference> differences_;
};

// Whether directory `a` comes at or before directory `b` in walk order
// (depth first, names in byte order).
bool walk_order_at_or_before(const std::string& a, const std::string& b);

}  // namespace mirror
