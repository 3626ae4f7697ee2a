// Runs one operation on a plain directory and through the mount and expects
// the same outcome: the same result and, on failure, the same errno.
#pragma once

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string>

#include "mirror/tree_compare.h"
#include "tests/support/mount_fixture.h"

namespace testing_support {

struct Outcome {
  long result;
  int error;  // errno when result < 0
};

inline Outcome outcome_of(const std::function<long(const std::string&)>& op, const std::string& base) {
  errno = 0;
  long r = op(base);
  return {r, r < 0 ? errno : 0};
}

// A mounted test with a twin: every operation made through expect_same() is
// made on `native` too, and at the end the backing directory must equal it.
class TwinTest : public MountedTest {
 protected:
  void expect_same(const char* what, const std::function<long(const std::string&)>& op) {
    Outcome n = outcome_of(op, native);
    Outcome m = outcome_of(op, mnt);
    EXPECT_EQ(n.result, m.result) << what << ": native and mount return different results ("
                                  << strerror(n.error) << " vs " << strerror(m.error) << ")";
    EXPECT_EQ(n.error, m.error) << what << ": native fails with " << strerror(n.error)
                                << ", the mount with " << strerror(m.error);
  }

  // The backing directory holds exactly what the native twin holds (times
  // differ: the two were changed at different moments).
  void expect_backing_equals_native() {
    mirror::TreeCompareOptions o;
    o.compare_mtimes = false;
    auto diffs = mirror::compare_trees(native, backing, o);
    EXPECT_TRUE(diffs.empty()) << mirror::format_differences(diffs);
  }
};

}  // namespace testing_support

using testing_support::TwinTest;
