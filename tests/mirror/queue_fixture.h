// What the durable queue's tests share: a fixture with a queue directory that
// collects recovery reports, deterministic payloads that can be checked on
// the way back, and helpers that damage segment files on purpose.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "mirror/queue.h"
#include "mirror/queue_format.h"
#include "tests/support/temp_dir.h"

namespace mirror::queue_testing {

using testing_support::read_file;
using testing_support::write_file;
using Bytes = std::vector<std::byte>;
namespace qf = queue_format;

// One recovery report.
struct Cut {
  std::string file;
  uint64_t bytes = 0;
  uint64_t records = 0;
  std::string reason;
};

// The payload of record `sequence`: `size` bytes that name the sequence.
inline Bytes payload_for(uint64_t sequence, size_t size) {
  Bytes out(size);
  for (size_t i = 0; i < size; ++i) {
    out[i] = static_cast<std::byte>((sequence * 131 + i * 7) & 0xff);
  }
  return out;
}

// Bytes on disk that one record of `size` payload bytes takes.
constexpr uint64_t record_bytes(size_t size) {
  return qf::kRecordHeaderSize + size;
}

class QueueFixture : public ::testing::Test {
 protected:
  QueueFixture() {
    options.dir = tmp.sub("queue");
    options.segment_bytes = 1u << 20;
  }

  std::unique_ptr<DurableQueue> open() {
    cuts.clear();
    return DurableQueue::open(options, [this](const std::string& file, uint64_t bytes,
                                              uint64_t records, const std::string& reason) {
      cuts.push_back(Cut{file, bytes, records, reason});
    });
  }

  // Appends record `sequence` of `size` payload bytes, given as head and data
  // halves, and remembers its size so that replay can check it.
  bool append(DurableQueue& q, uint64_t sequence, size_t size) {
    const Bytes p = payload_for(sequence, size);
    sizes[sequence] = size;
    const auto all = std::span<const std::byte>(p);
    return q.append(sequence, all.first(size / 2), all.subspan(size / 2));
  }

  // Opens the queue, appends records first..first+n-1 of `size` bytes, closes.
  void fill(uint64_t first, uint64_t n, size_t size) {
    auto q = open();
    for (uint64_t s = first; s < first + n; ++s) ASSERT_TRUE(append(*q, s, size));
  }

  // The sequences `q` replays, each payload checked against what was appended.
  std::vector<uint64_t> replayed(const DurableQueue& q) {
    std::vector<uint64_t> out;
    for (const QueueRecord& r : q.unacknowledged()) {
      out.push_back(r.sequence);
      EXPECT_EQ(r.payload, payload_for(r.sequence, sizes[r.sequence])) << "record " << r.sequence;
    }
    return out;
  }

  // Opens the queue again and returns what it replays (cuts hold the reports).
  std::vector<uint64_t> reopen_and_replay() { return replayed(*open()); }

  std::string segment(uint64_t number) const {
    char name[32];
    std::snprintf(name, sizeof name, "%012llu.log", static_cast<unsigned long long>(number));
    return options.dir + "/" + name;
  }

  std::vector<std::string> segment_files() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(options.dir)) {
      if (e.path().extension() == ".log") out.push_back(e.path().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  static uint64_t size_of(const std::string& path) { return std::filesystem::file_size(path); }

  // --- Damage, on purpose ------------------------------------------------

  static void truncate_to(const std::string& path, uint64_t size) {
    std::filesystem::resize_file(path, size);
  }
  static void flip_byte(const std::string& path, uint64_t offset) {
    std::string s = read_file(path);
    ASSERT_LT(offset, s.size());
    s[offset] = static_cast<char>(s[offset] ^ 0x20);
    write_file(path, s);
  }
  static void append_zeros(const std::string& path, size_t n) {
    write_file(path, read_file(path) + std::string(n, '\0'));
  }
  static void overwrite(const std::string& path, uint64_t offset, const std::string& bytes) {
    std::string s = read_file(path);
    s.replace(offset, bytes.size(), bytes);
    write_file(path, s);
  }

  TempDir tmp;
  QueueOptions options;
  std::vector<Cut> cuts;
  std::map<uint64_t, size_t> sizes;
};

inline std::vector<uint64_t> range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> out;
  for (uint64_t s = first; s <= last; ++s) out.push_back(s);
  return out;
}

}  // namespace mirror::queue_testing
