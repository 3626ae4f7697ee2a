// What the applier's tests share: request builders, and a fixture with a
// volume, a twin directory to do the same changes natively, and an outside
// directory that hostile requests aim at, with an identical one to judge it by.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <system_error>

#include "gtest/gtest.h"
#include "mirror/applier.h"
#include "mirror/tree_compare.h"
#include "tests/support/temp_dir.h"

namespace mirror::applier_testing {

using testing_support::read_file;
using testing_support::write_file;

inline void check(bool ok, const std::string& what) {
  if (!ok) throw std::system_error(errno, std::generic_category(), what);
}

inline struct stat lstat_of(const std::string& path) {
  struct stat st;
  check(::lstat(path.c_str(), &st) == 0, "lstat " + path);
  return st;
}

inline bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

inline std::set<std::string> names_in(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.insert(entry.path().filename());
  }
  return names;
}

inline MirrorRequest request(Op op, std::string path, std::string target = "") {
  MirrorRequest r;
  r.op = op;
  r.path = std::move(path);
  r.target = std::move(target);
  return r;
}

// `data` must outlive the request: it is borrowed, as on the real path.
inline MirrorRequest write_request(std::string path, uint64_t offset, const std::string& data) {
  MirrorRequest r = request(Op::write, std::move(path));
  r.offset = offset;
  r.length = data.size();
  r.data = std::as_bytes(std::span(data));
  return r;
}

inline MirrorRequest new_entry(Op op, std::string path, mode_t mode, uid_t uid = 0, gid_t gid = 0) {
  MirrorRequest r = request(op, std::move(path));
  r.attr.valid = kAttrMode | kAttrUid | kAttrGid;
  r.attr.mode = mode;
  r.attr.uid = uid;
  r.attr.gid = gid;
  return r;
}

inline MirrorRequest truncate_request(std::string path, uint64_t size) {
  MirrorRequest r = request(Op::truncate, std::move(path));
  r.attr.valid = kAttrSize;
  r.attr.size = size;
  return r;
}

inline MirrorRequest xattr_request(Op op, std::string path, std::string name,
                                   const std::string& value) {
  MirrorRequest r = request(op, std::move(path));
  r.xattr_name = std::move(name);
  r.data = std::as_bytes(std::span(value));
  r.length = value.size();
  return r;
}

class ApplierTest : public ::testing::Test {
 protected:
  ApplierTest()
      : volume_(tmp_.sub("volume")),
        twin_(tmp_.sub("twin")),
        outside_(tmp_.sub("outside")),
        pristine_(tmp_.sub("pristine")) {
    for (const auto& dir : {volume_, twin_}) check(::mkdir(dir.c_str(), 0755) == 0, dir);
    // The directory a hostile request aims at, and an identical one to judge
    // it by after the attack.
    for (const auto& dir : {outside_, pristine_}) {
      check(::mkdir(dir.c_str(), 0755) == 0, dir);
      write_file(dir + "/secret", "untouched");
      struct timespec times[2] = {{1000, 0}, {1000, 0}};
      check(::utimensat(AT_FDCWD, (dir + "/secret").c_str(), times, 0) == 0, dir);
      check(::utimensat(AT_FDCWD, dir.c_str(), times, 0) == 0, dir);
    }
    applier_ = std::make_unique<Applier>(volume_);
  }

  std::string vol(const std::string& rel) const { return volume_ + "/" + rel; }
  std::string twin(const std::string& rel) const { return twin_ + "/" + rel; }
  int apply(const MirrorRequest& r) { return applier_->apply(r); }

  void expect_same_as_twin(bool compare_mtimes = false) {
    TreeCompareOptions options;
    options.compare_mtimes = compare_mtimes;
    auto differences = compare_trees(volume_, twin_, options);
    EXPECT_TRUE(differences.empty()) << format_differences(differences);
  }

  // Nothing was written next to the volume nor in the outside directory.
  void expect_outside_untouched() {
    EXPECT_EQ(names_in(tmp_.path()),
              (std::set<std::string>{"volume", "twin", "outside", "pristine"}));
    auto differences = compare_trees(outside_, pristine_);
    EXPECT_TRUE(differences.empty()) << format_differences(differences);
  }

  // A symlink in the copy that leads out of the volume.
  void plant_link(const std::string& rel, const std::string& to) {
    check(::symlink(to.c_str(), vol(rel).c_str()) == 0, "symlink " + rel);
  }

  TempDir tmp_;
  std::string volume_, twin_, outside_, pristine_;
  std::unique_ptr<Applier> applier_;
};

}  // namespace mirror::applier_testing
