// How a side describes its own tree for a comparison with the other: one
// directory entry's metadata, a digest of a file's extended attributes, and
// block checksums of a file's contents. Both sides use these same functions
// (mirrorfs on the backing directory, mirrord on the copy), so equal trees
// give equal descriptions.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

namespace mirror {

// Block size of content comparison: one checksum per block.
inline constexpr uint32_t kSyncBlockSize = 128 * 1024;

struct EntryDescription {
  std::string name;          // within its directory
  uint32_t mode = 0;         // type and permission bits (st_mode)
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;
  uint64_t nlink = 0;
  uint64_t inode = 0;        // st_ino on that side: only compared within one side
  uint64_t rdev = 0;
  timespec mtime{};
  uint64_t xattr_digest = 0;  // digest of every (name, value); 0 when none
  std::string link_target;    // symlinks
  bool operator==(const EntryDescription& o) const;
};

// Describes `name` in the directory open as `dir_fd` (no symlink followed).
// Returns 0 or an errno.
int describe_entry(int dir_fd, const std::string& name, EntryDescription& out);

// The entries of the directory open as `dir_fd` (O_RDONLY|O_DIRECTORY), sorted
// by name, without "." and "..", those whose name sorts after `after` ("": from
// the first), at most `max_entries`. `more` tells whether entries remain.
// Returns 0 or an errno.
int list_directory(int dir_fd, const std::string& after, size_t max_entries,
                   std::vector<EntryDescription>& out, bool& more);

// Digest of the extended attributes of the file open as `fd` (O_PATH is
// enough: it goes through /proc/self/fd), sorted by name; 0 when it has none.
uint64_t xattr_digest(int fd);
// The same, telling a failure to read them (0 or an errno) from having none;
// describe_entry fails with that errno rather than describe them as absent.
int xattr_digest(int fd, uint64_t& out);
// The names of those attributes, sorted.
int xattr_names(int fd, std::vector<std::string>& out);

// XXH3-64 of each kSyncBlockSize block of the file open as `fd` for reading,
// from block `first` on, at most `count` blocks (the last may be short).
// Returns 0 or an errno.
int block_checksums(int fd, uint64_t first, uint32_t count, std::vector<uint64_t>& out);

}  // namespace mirror
