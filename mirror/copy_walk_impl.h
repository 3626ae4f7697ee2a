// Internal to copy_walk*.cc: the state of one walk and its steps.
#pragma once

#include <unordered_map>
#include <unordered_set>

#include "mirror/copy_walk.h"
#include "mirror/inspection_client.h"
#include "mirror/tree_inspection.h"

namespace mirror {

struct CopyWalk::Impl {
  WalkOptions o;
  InspectionClient& copy;
  SyncPort* port;
  SyncProgress& progress;
  std::vector<WalkDifference>& differences;
  int backing_fd = -1;

  struct Linked {
    std::string first_path;
    uint64_t copy_inode = 0;
    uint64_t names_left = 0;
  };
  std::unordered_map<uint64_t, Linked> links;  // local inode -> its first name

  // Per directory being processed.
  std::vector<WalkDifference> dir_differences;
  bool dir_repaired = false;
  bool raced = false;
  // Directories whose mtime differs on the copy: set once their entries are done.
  std::unordered_set<std::string> dir_mtime_differs;
  // Directories this walk made on the copy, empty there: not listed.
  std::unordered_set<std::string> fresh_dirs;
  // Directories a live change kept busy: looked at again at the end.
  std::vector<std::string> unsettled;

  Impl(WalkOptions options, InspectionClient& c, SyncPort* p, SyncProgress& pr,
       std::vector<WalkDifference>& d);
  ~Impl();

  bool repairing() const { return o.mode == WalkMode::repair; }
  std::string full(const std::string& rel) const;

  // Opens a path beneath the backing directory without following symlinks.
  int open_local(const std::string& rel, uint64_t flags);

  void differ(const std::string& path, std::string what);

  bool submit(const MirrorRequest& r, LocalGuard guard = LocalGuard::none);

  // ---- creating and removing on the copy ----

  bool create_on_copy(const std::string& path, const EntryDescription& l);

  bool link_on_copy(const std::string& path, const EntryDescription& l, Linked& first);

  bool remove_on_copy(const std::string& path, const EntryDescription& c, LocalGuard guard);

  // ---- contents, attributes, xattrs ----

  // Makes the copy's contents equal (repair), or reports where they differ
  // (verify). `fresh`: the copy's file was just created empty.
  bool repair_contents(const std::string& path, const EntryDescription& l,
                       const EntryDescription& c, bool fresh);

  std::vector<std::string> local_xattr_names(const std::string& path);

  // Copies every xattr of the local file to the copy and removes those the
  // local file does not have (`copy_names`).
  bool copy_xattrs(const std::string& path, const std::vector<std::string>& copy_names);

  bool fix_attributes(const std::string& path, const EntryDescription& l,
                      const EntryDescription& c);

  // ---- one entry ----

  // Compares local `l` with copy `c` (either may be missing) at `path`;
  // repairs or reports. Directories to visit go to `subdirs`. A live request
  // on the file during the repair sets `raced`: the directory is looked at
  // again.
  bool entry(const std::string& path, const EntryDescription* l, const EntryDescription* c,
             std::vector<std::string>& subdirs);

  bool entry_once(const std::string& path, const EntryDescription& l, const EntryDescription* c,
                  std::vector<std::string>& subdirs);

  bool fix_existing(const std::string& path, const EntryDescription& l, const EntryDescription& c);

  // ---- the traversal (copy_walk.cc) ----
  // Processes one directory: false when the walk must stop.
  bool directory(const std::string& path, std::vector<std::string>& subdirs);
  bool directory_once(const std::string& path, std::vector<std::string>& subdirs, bool copy_empty);
  void count_tree(const std::string& root);
};

[[noreturn]] void fail_local(const std::string& what, const std::string& path, int err);
std::string join(const std::string& dir, const std::string& name);

}  // namespace mirror
