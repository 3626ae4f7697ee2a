// Compares two directory trees the way the convergence invariant reads: the
// same names, file types, contents, sizes, modes, owners, symlink targets,
// hard-link structure, extended attributes and modification times. Used by
// the tests as the judge of mirroring and by `mirrorctl verify`.
#pragma once

#include <string>
#include <vector>

namespace mirror {

struct TreeCompareOptions {
  bool compare_mtimes = true;   // regular files, directories and symlinks
  bool compare_owners = true;
  bool compare_xattrs = true;   // all namespaces readable by the caller
  bool compare_contents = true;
  // Relative paths (no leading '/') to leave out, with everything beneath.
  std::vector<std::string> ignore;
};

struct TreeDifference {
  std::string path;    // relative to both roots; "" is the root
  std::string what;    // e.g. "only in a", "mode 0644 vs 0600", "contents differ at byte 4096"
};

// Walks both trees without following symlinks and returns every difference,
// sorted by path. An empty result means the trees are equal. Throws
// std::system_error naming the path when a tree cannot be read.
std::vector<TreeDifference> compare_trees(const std::string& a, const std::string& b,
                                          const TreeCompareOptions& options = {});

// One line per difference, for test failure messages and verify's output.
std::string format_differences(const std::vector<TreeDifference>& differences,
                               size_t limit = 50);

}  // namespace mirror
