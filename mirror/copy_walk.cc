// The walk's traversal (copy_walk.h): directories depth first in name order,
// each compared page by page with the copy's, then its subdirectories.
#include "mirror/copy_walk.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "mirror/copy_walk_impl.h"
#include "mirror/unique_fd.h"

namespace mirror {
namespace {

constexpr size_t kPageEntries = 1024;
constexpr int kAttempts = 3;            // of a directory a live change touched
constexpr size_t kMaxUnsettled = 1024;  // directories looked at again at the end

std::vector<std::string_view> components(std::string_view p) {
  std::vector<std::string_view> out;
  while (!p.empty()) {
    size_t slash = p.find('/');
    out.push_back(p.substr(0, slash));
    if (slash == std::string_view::npos) break;
    p.remove_prefix(slash + 1);
  }
  return out;
}

}  // namespace

[[noreturn]] void fail_local(const std::string& what, const std::string& path, int err) {
  throw std::runtime_error(what + " " + path + ": " + std::strerror(err));
}

std::string join(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

bool walk_order_at_or_before(const std::string& a, const std::string& b) {
  auto ca = components(a), cb = components(b);
  return !std::lexicographical_compare(cb.begin(), cb.end(), ca.begin(), ca.end());
}

CopyWalk::Impl::Impl(WalkOptions options, InspectionClient& c, SyncPort* p, SyncProgress& pr,
                     std::vector<WalkDifference>& d)
    : o(std::move(options)), copy(c), port(p), progress(pr), differences(d) {
  backing_fd = ::open(o.backing.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (backing_fd < 0) fail_local("cannot open backing directory", o.backing, errno);
}

CopyWalk::Impl::~Impl() {
  ::close(backing_fd);
}

bool CopyWalk::Impl::directory_once(const std::string& path, std::vector<std::string>& subdirs,
                                    bool copy_empty) {
  UniqueFd dir(open_local(path, O_RDONLY | O_DIRECTORY));
  if (dir.get() < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return true;  // gone meanwhile
    fail_local("cannot open directory", full(path), errno);
  }
  std::vector<EntryDescription> local;
  size_t li = 0;
  bool local_more = true;
  std::string local_after;
  auto next_local = [&]() -> const EntryDescription* {
    for (;;) {
      if (li < local.size()) {
        if (o.designation.excluded(join(path, local[li].name))) {
          ++li;
          continue;
        }
        return &local[li];
      }
      if (!local_more) return nullptr;
      local.clear();
      li = 0;
      if (int err = list_directory(dir.get(), local_after, kPageEntries, local, local_more)) {
        fail_local("cannot list directory", full(path), err);
      }
      if (local.empty()) return nullptr;
      local_after = local.back().name;
    }
  };
  InspectionClient::Listing remote;
  size_t ri = 0;
  bool remote_more = !copy_empty;
  std::string remote_after;
  auto next_remote = [&]() -> const EntryDescription* {
    for (;;) {
      if (ri < remote.entries.size()) {
        if (o.designation.excluded(join(path, remote.entries[ri].name))) {
          ++ri;
          continue;
        }
        return &remote.entries[ri];
      }
      if (!remote_more) return nullptr;
      remote = copy.list(path, remote_after);
      ri = 0;
      if (remote.error == ENOENT || remote.error == ENOTDIR) {
        remote.entries.clear();
        remote_more = false;
        return nullptr;
      }
      if (remote.error != 0) {
        throw std::runtime_error("the copy cannot list directory '" + path +
                                 "': " + std::strerror(remote.error));
      }
      remote_more = remote.more && !remote.entries.empty();
      if (remote.entries.empty()) return nullptr;
      remote_after = remote.entries.back().name;
    }
  };
  const EntryDescription* l = next_local();
  const EntryDescription* c = next_remote();
  while (l || c) {
    bool ok;
    if (l && (!c || l->name < c->name)) {
      ok = entry(join(path, l->name), l, nullptr, subdirs);
      ++li;
    } else if (c && (!l || c->name < l->name)) {
      ok = entry(join(path, c->name), nullptr, c, subdirs);
      ++ri;
    } else {
      ok = entry(join(path, l->name), l, c, subdirs);
      ++li;
      ++ri;
    }
    if (!ok || (port && port->cancelled())) return false;
    l = next_local();
    c = next_remote();
  }
  return true;
}

bool CopyWalk::Impl::directory(const std::string& path, std::vector<std::string>& subdirs) {
  bool repaired = false;
  // Made by this walk: known empty on the copy, no need to wait and ask.
  const bool fresh = fresh_dirs.erase(path) > 0;
  for (int attempt = 1;; ++attempt) {
    subdirs.clear();
    dir_differences.clear();
    dir_repaired = false;
    raced = false;
    const uint64_t changes = port ? port->live_namespace_changes() : 0;
    const bool copy_empty = fresh && attempt == 1;
    if (port && !copy_empty && !port->settle()) return false;
    if (!directory_once(path, subdirs, copy_empty)) return false;
    repaired = repaired || dir_repaired;
    const bool moved = port && (raced || port->live_namespace_changes() != changes);
    if (!moved) break;
    if (attempt == kAttempts) {
      spdlog::debug("sync: directory '{}' keeps changing; looking at it again at the end", path);
      if (unsettled.size() < kMaxUnsettled) unsettled.push_back(path);
      break;
    }
  }
  for (auto& d : dir_differences) {
    if (differences.size() < o.max_listed_differences) differences.push_back(std::move(d));
  }
  const bool fix_mtime = dir_mtime_differs.erase(path) > 0;
  if (!repairing() || !(repaired || fix_mtime || path.empty())) return true;
  // The entries repaired moved the copy's directory mtime: set the primary's.
  struct stat st;
  UniqueFd dir(open_local(path, O_PATH | O_DIRECTORY));
  if (dir.get() < 0 || fstat(dir.get(), &st) != 0) return true;  // gone: a live rmdir follows
  MirrorRequest r;
  r.op = Op::setattr;
  r.path = path;
  r.inode = st.st_ino;
  r.attr.valid = kAttrMtime;
  r.attr.mtime = st.st_mtim;
  return submit(r);
}

void CopyWalk::Impl::count_tree(const std::string& root) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path base(o.backing);
  for (auto it = fs::recursive_directory_iterator(full(root), ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string rel = it->path().lexically_relative(base).string();
    if (o.designation.excluded(rel)) {
      it.disable_recursion_pending();
      continue;
    }
    progress.files_total.fetch_add(1, std::memory_order_relaxed);
    std::error_code e2;
    auto status = it->symlink_status(e2);
    if (!e2 && fs::is_regular_file(status)) {
      progress.bytes_total.fetch_add(it->file_size(e2), std::memory_order_relaxed);
    }
  }
}

CopyWalk::CopyWalk(WalkOptions options, InspectionClient& copy, SyncPort* port,
                   SyncProgress& progress)
    : impl_(new Impl(std::move(options), copy, port, progress, differences_)) {}

CopyWalk::~CopyWalk() {
  delete impl_;
}

void CopyWalk::count() {
  if (impl_->o.roots.empty()) {
    impl_->count_tree("");
  } else {
    for (const auto& r : impl_->o.roots) impl_->count_tree(r);
  }
}

bool CopyWalk::run() {
  Impl& w = *impl_;
  std::vector<std::string> roots = w.o.roots.empty() ? std::vector<std::string>{""} : w.o.roots;
  std::vector<std::string> stack, subdirs;
  for (const auto& root : roots) {
    stack.assign(1, root);
    while (!stack.empty()) {
      const std::string path = std::move(stack.back());
      stack.pop_back();
      if (w.o.resume_after && walk_order_at_or_before(path, *w.o.resume_after)) {
        // Done before a restart: only its subdirectories are wanted.
        subdirs.clear();
        UniqueFd dir(w.open_local(path, O_RDONLY | O_DIRECTORY));
        std::vector<EntryDescription> page;
        std::string after;
        for (bool more = dir.get() >= 0; more;) {
          page.clear();
          if (list_directory(dir.get(), after, kPageEntries, page, more) != 0 || page.empty())
            break;
          after = page.back().name;
          for (const auto& e : page) {
            if (S_ISDIR(e.mode) && !w.o.designation.excluded(join(path, e.name))) {
              subdirs.push_back(join(path, e.name));
            }
          }
        }
      } else {
        if (!w.directory(path, subdirs)) return false;
        if (w.o.on_directory_done) w.o.on_directory_done(path);
      }
      stack.insert(stack.end(), subdirs.rbegin(), subdirs.rend());
    }
  }
  // Directories live changes kept busy: once more, now that it may be calmer.
  std::vector<std::string> again;
  again.swap(w.unsettled);
  for (const auto& path : again) {
    if (!w.directory(path, subdirs)) return false;
  }
  return true;
}

}  // namespace mirror
