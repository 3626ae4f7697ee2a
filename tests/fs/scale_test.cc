// Many entries and many writers through the mount.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <thread>
#include <vector>

#include "tests/support/mount_fixture.h"

namespace {

using namespace std::chrono_literals;
using testing_support::read_file;
using testing_support::run_in_child;

TEST_F(MountedTest, DirectoryOfTenThousandEntriesIsListedCompletely) {
  const int count = 10000;
  ASSERT_EQ(mkdir(at("many").c_str(), 0755), 0);
  for (int i = 0; i < count; ++i) {
    std::string name = at("many/entry-" + std::to_string(i));
    int fd = open(name.c_str(), O_CREAT | O_WRONLY, 0644);
    ASSERT_GE(fd, 0) << name << ": " << strerror(errno);
    close(fd);
  }
  // List twice: once cold, once from whatever the kernel cached.
  for (int pass = 0; pass < 2; ++pass) {
    DIR* d = opendir(at("many").c_str());
    ASSERT_NE(d, nullptr);
    std::set<std::string> names;
    size_t listed = 0;
    while (dirent* e = readdir(d)) {
      ++listed;
      names.insert(e->d_name);
    }
    closedir(d);
    EXPECT_EQ(listed, static_cast<size_t>(count + 2)) << "pass " << pass;
    EXPECT_EQ(names.size(), static_cast<size_t>(count + 2)) << "pass " << pass;
    EXPECT_TRUE(names.count("entry-0") && names.count("entry-9999") && names.count(".."));
  }
}

TEST_F(MountedTest, ParallelWritersOnDifferentFilesAndOnOneFile) {
  const int writers = 8;
  const size_t block = 64 * 1024, blocks = 32;
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      int fd = open(at("file-" + std::to_string(w)).c_str(), O_CREAT | O_WRONLY, 0644);
      std::string data(block, static_cast<char>('a' + w));
      for (size_t i = 0; i < blocks; ++i) pwrite(fd, data.data(), block, i * block);
      close(fd);
    });
  }
  // Two writers on one file, each on its own interleaved blocks.
  int shared = open(at("shared").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(shared, 0);
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      std::string data(block, static_cast<char>('A' + w));
      for (size_t i = w; i < blocks; i += 2) pwrite(shared, data.data(), block, i * block);
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(fsync(shared), 0);
  close(shared);
  for (int w = 0; w < writers; ++w) {
    EXPECT_EQ(read_file(in_backing("file-" + std::to_string(w))),
              std::string(block * blocks, static_cast<char>('a' + w)));
  }
  std::string all = read_file(in_backing("shared"));
  ASSERT_EQ(all.size(), block * blocks);
  for (size_t i = 0; i < blocks; ++i) {
    EXPECT_EQ(all.substr(i * block, block), std::string(block, static_cast<char>('A' + i % 2)))
        << "block " << i;
  }
}

TEST_F(MountedTest, AppendsFromTwoProcessesLandAtTheEnd) {
  const int records = 500;
  const std::string path = at("log");
  auto appender = [&](char tag) {
    return [=] {
      int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_APPEND, 0644);
      if (fd < 0) return 1;
      std::string rec(63, tag);
      rec += '\n';
      for (int i = 0; i < records; ++i) {
        if (write(fd, rec.data(), rec.size()) != 64) return 2;
      }
      return close(fd) == 0 ? 0 : 3;
    };
  };
  pid_t first = fork();
  ASSERT_GE(first, 0);
  if (first == 0) _exit(appender('x')());
  EXPECT_EQ(run_in_child(appender('y')), 0);
  EXPECT_EQ(testing_support::wait_for_exit(first, 30s), 0);
  std::string log = read_file(in_backing("log"));
  ASSERT_EQ(log.size(), 2u * records * 64) << "appends overwrote each other";
  int xs = 0, ys = 0;
  for (size_t off = 0; off < log.size(); off += 64) {
    std::string rec = log.substr(off, 64);
    if (rec == std::string(63, 'x') + "\n") ++xs;
    else if (rec == std::string(63, 'y') + "\n") ++ys;
    else ADD_FAILURE() << "torn record at " << off;
  }
  EXPECT_EQ(xs, records);
  EXPECT_EQ(ys, records);
}

}  // namespace
