#include "fs/inode_table.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

namespace mirrorfs {
namespace {
constexpr size_t kMaxAliases = 8;

bool same_file(int fd, const InodeKey& key) {
  struct stat st;
  return fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0 && st.st_dev == key.dev &&
         st.st_ino == key.ino && st.st_nlink > 0;
}
}  // namespace

Inode::~Inode() {
  int f = fd.load();
  if (f >= 0) close(f);
  for (int r : retired_fds) close(r);
}

InodeTable::InodeTable(int root_fd, const struct stat& root_st)
    : root_(new Inode(root_fd, root_st)) {
  root_->nlookup = 1;  // the kernel never forgets the root
}

InodeTable::~InodeTable() {
  for (auto& [key, inode] : map_) delete inode;
  delete root_;
}

fuse_ino_t InodeTable::remember(int fd, const struct stat& st, const Inode* parent,
                                const char* name) {
  InodeKey key{st.st_dev, st.st_ino};
  if (key == root_->key) {
    close(fd);
    return FUSE_ROOT_ID;
  }
  std::lock_guard lock(mutex_);
  auto it = map_.find(key);
  if (it != map_.end()) {
    Inode* known = it->second;
    // The backing file system reuses inode numbers: if the known file is gone
    // and this is a new file, the old Inode stays valid for the kernel until
    // it forgets it, but no longer answers lookups.
    if ((known->type == (st.st_mode & S_IFMT)) && same_file(known->fd.load(), key)) {
      ++known->nlookup;
      if (parent != nullptr) {
        known->parent = parent->key;
        known->name = name;
      }
      if (parent != nullptr && st.st_nlink > 1) {
        std::pair<InodeKey, std::string> alias{parent->key, name};
        auto& al = known->aliases;
        if (std::find(al.begin(), al.end(), alias) == al.end()) {
          if (al.size() == kMaxAliases) al.erase(al.begin());
          al.push_back(std::move(alias));
        }
      }
      close(fd);
      return reinterpret_cast<fuse_ino_t>(known);
    }
    known->detached = true;
    map_.erase(it);
  }
  auto* inode = new Inode(fd, st);
  inode->nlookup = 1;
  inode->last_used = clock_.fetch_add(1, std::memory_order_relaxed);
  if (parent != nullptr) {
    inode->parent = parent->key;
    inode->name = name;
  }
  map_.emplace(key, inode);
  count_.fetch_add(1, std::memory_order_relaxed);
  return reinterpret_cast<fuse_ino_t>(inode);
}

void InodeTable::forget(fuse_ino_t ino, uint64_t n) {
  if (ino == FUSE_ROOT_ID) return;
  auto* inode = reinterpret_cast<Inode*>(ino);
  std::lock_guard lock(mutex_);
  inode->nlookup -= std::min(n, inode->nlookup);
  if (inode->nlookup > 0) return;
  if (!inode->detached) map_.erase(inode->key);
  delete inode;
  count_.fetch_sub(1, std::memory_order_relaxed);
}

Inode* InodeTable::find(const InodeKey& key) {
  if (key == root_->key) return root_;
  std::lock_guard lock(mutex_);
  auto it = map_.find(key);
  return it == map_.end() ? nullptr : it->second;
}

bool InodeTable::reattach(Inode& inode) {
  std::lock_guard lock(mutex_);
  for (auto& [parent_key, name] : inode.aliases) {
    Inode* parent = parent_key == root_->key ? root_ : nullptr;
    if (parent == nullptr) {
      auto it = map_.find(parent_key);
      if (it == map_.end()) continue;
      parent = it->second;
    }
    int fd = openat(parent->fd.load(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue;
    if (!same_file(fd, inode.key)) {
      close(fd);
      continue;
    }
    inode.retired_fds.push_back(inode.fd.exchange(fd));
    return true;
  }
  return false;
}

std::vector<std::pair<fuse_ino_t, std::string>> InodeTable::least_recently_used(size_t count) {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<uint64_t, Inode*>> by_age;
  by_age.reserve(map_.size());
  for (auto& [key, inode] : map_) {
    if (!inode->name.empty()) by_age.emplace_back(inode->last_used.load(), inode);
  }
  count = std::min(count, by_age.size());
  std::nth_element(by_age.begin(), by_age.begin() + static_cast<long>(count), by_age.end());
  std::vector<std::pair<fuse_ino_t, std::string>> victims;
  for (size_t i = 0; i < count; ++i) {
    Inode* inode = by_age[i].second;
    fuse_ino_t parent = 0;
    if (inode->parent == root_->key) {
      parent = FUSE_ROOT_ID;
    } else if (auto it = map_.find(inode->parent); it != map_.end()) {
      parent = reinterpret_cast<fuse_ino_t>(it->second);
    }
    if (parent != 0) victims.emplace_back(parent, inode->name);
  }
  return victims;
}

}  // namespace mirrorfs
