// Basic operations through a real mount behave as on the backing directory.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/support/mount_fixture.h"

namespace {

using testing_support::read_file;
using testing_support::write_file;

TEST_F(MountedTest, WrittenFileLandsInBackingDirectory) {
  write_file(at("hello.txt"), "hello, world\n");
  EXPECT_EQ(read_file(in_backing("hello.txt")), "hello, world\n");
  EXPECT_EQ(read_file(at("hello.txt")), "hello, world\n");
}

}  // namespace
