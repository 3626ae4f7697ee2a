// The inodes the kernel knows, keyed by the backing file's (st_dev, st_ino),
// each holding an O_PATH descriptor of the backing file and the kernel's
// lookup count. The kernel's node id is the address of the Inode, as in
// libfuse's passthrough_hp; an Inode lives until the kernel forgets it.
#pragma once

#include <fuse_lowlevel.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace mirrorfs {

struct InodeKey {
  dev_t dev;
  ino_t ino;
  bool operator==(const InodeKey&) const = default;
};

struct InodeKeyHash {
  size_t operator()(const InodeKey& k) const noexcept {
    return std::hash<uint64_t>{}(k.ino * 0x9E3779B97F4A7C15ull ^ k.dev);
  }
};

// What the kernel asks about security.capability before every write, cached so
// that the answer costs no syscall (the mount is the only writer).
enum class CapabilityXattr : int8_t { unknown, absent, present };

struct Inode {
  Inode(int fd, const struct stat& st) : fd(fd), key{st.st_dev, st.st_ino}, type(st.st_mode & S_IFMT) {}
  ~Inode();
  Inode(const Inode&) = delete;
  Inode& operator=(const Inode&) = delete;

  // O_PATH|O_NOFOLLOW descriptor of the backing file. Replaced (under the
  // table's mutex) only when its name was unlinked while another name lives.
  std::atomic<int> fd;
  const InodeKey key;
  const mode_t type;
  std::atomic<CapabilityXattr> capability{CapabilityXattr::unknown};
  // The first failed fsync's errno: sticky, so later syncs never look clean.
  std::atomic<int> sync_error{0};
  // When the kernel last reached this inode (a tick of InodeTable's clock).
  std::atomic<uint64_t> last_used{0};

 private:
  friend class InodeTable;
  uint64_t nlookup = 0;   // guarded by InodeTable::mutex_
  bool detached = false;  // no longer in the map: its number was reused
  // The name the kernel last found it by, as (parent key, name): how to ask
  // the kernel to forget it. Guarded by InodeTable::mutex_.
  InodeKey parent{0, 0};
  std::string name;
  // Names other than the one `fd` was opened by (hard links), as (parent key,
  // name); guarded by InodeTable::mutex_. Bounded, verified before use.
  std::vector<std::pair<InodeKey, std::string>> aliases;
  // Descriptors replaced by reattach(): a concurrent operation may still be
  // using one, so they are closed only when the inode is freed.
  std::vector<int> retired_fds;
};

class InodeTable {
 public:
  // Takes ownership of root_fd, an O_PATH descriptor of the backing root.
  InodeTable(int root_fd, const struct stat& root_st);
  ~InodeTable();
  InodeTable(const InodeTable&) = delete;
  InodeTable& operator=(const InodeTable&) = delete;

  Inode& root() { return *root_; }
  Inode& get(fuse_ino_t ino) {
    Inode& inode = ino == FUSE_ROOT_ID ? *root_ : *reinterpret_cast<Inode*>(ino);
    inode.last_used.store(clock_.fetch_add(1, std::memory_order_relaxed),
                          std::memory_order_relaxed);
    return inode;
  }
  fuse_ino_t id_of(Inode& inode) const {
    return &inode == root_ ? FUSE_ROOT_ID : reinterpret_cast<fuse_ino_t>(&inode);
  }

  // Registers one more kernel reference to the file that `fd` (an O_PATH
  // descriptor, owned from now on) and `st` describe, and returns its node id.
  // `parent`/`name` say by which name it was found (recorded as an alias
  // when the inode was already known by another name).
  fuse_ino_t remember(int fd, const struct stat& st, const Inode* parent, const char* name);

  // Drops n kernel references; frees the inode when none remain.
  void forget(fuse_ino_t ino, uint64_t n);

  // The inode with this key, if the kernel knows it (no reference taken).
  Inode* find(const InodeKey& key);

  // After the name fd was opened by is gone while the file lives on under
  // another name: opens one of its known other names instead. False if none.
  bool reattach(Inode& inode);

  // Inodes the kernel holds, the root included; each costs a descriptor.
  size_t size() const { return count_.load(std::memory_order_relaxed); }

  // The (parent node id, name) of up to `count` least recently used inodes:
  // what to ask the kernel to forget when descriptors run short.
  std::vector<std::pair<fuse_ino_t, std::string>> least_recently_used(size_t count);

 private:
  std::mutex mutex_;  // guards map_ and every Inode's nlookup, detached, aliases
  std::unordered_map<InodeKey, Inode*, InodeKeyHash> map_;
  Inode* root_;
  std::atomic<size_t> count_{1};
  std::atomic<uint64_t> clock_{1};
};

}  // namespace mirrorfs
