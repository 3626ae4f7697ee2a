// The durable queue (mirror/queue.h), as a specification: the format is the
// one drawn in queue_format.h; records come back in order across segments and
// restarts; acknowledgements free whole segments and survive restarts;
// concurrent syncs share fsyncs and a failed fsync stays failed; a full queue
// holds its appenders back until space is freed or it is stopped.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/mirror/queue_fixture.h"

namespace mirror::queue_testing {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr size_t kPayload = 100;
constexpr uint64_t kRecord = record_bytes(kPayload);

// Polls `done` until it holds or 10 s pass.
template <typename F>
bool eventually(F done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

uint64_t le(const std::string& s, size_t offset, size_t width) {
  uint64_t v = 0;
  for (size_t i = 0; i < width; ++i) {
    v |= static_cast<uint64_t>(static_cast<uint8_t>(s[offset + i])) << (8 * i);
  }
  return v;
}

class QueueTest : public QueueFixture {
 protected:
  void three_per_segment() { options.segment_bytes = qf::kSegmentHeaderSize + 3 * kRecord; }
  qf::State state_on_disk() {
    const std::string raw = read_file(options.dir + "/state");
    qf::State s;
    EXPECT_EQ(qf::decode_state(std::as_bytes(std::span(raw.data(), raw.size())), s), std::nullopt);
    return s;
  }
};

// --- Format ----------------------------------------------------------------

TEST_F(QueueTest, FilesFollowTheLayoutDrawnInQueueFormat) {
  {
    auto q = open();
    ASSERT_TRUE(append(*q, 7, 2));
  }
  const std::string f = read_file(segment(1));
  ASSERT_EQ(f.size(), qf::kSegmentHeaderSize + qf::kRecordHeaderSize + 2);
  EXPECT_EQ(f.substr(0, 4), "MQSG");
  EXPECT_EQ(le(f, 4, 1), 1u) << "version";
  EXPECT_EQ(le(f, 5, 3), 0u) << "reserved";
  EXPECT_EQ(le(f, 8, 8), 1u) << "segment number";
  EXPECT_EQ(le(f, 16, 8), XXH3_64bits(f.data(), 16));
  const std::string r = f.substr(qf::kSegmentHeaderSize);
  EXPECT_EQ(r.substr(0, 4), "MQRC");
  EXPECT_EQ(le(r, 4, 4), 2u) << "length";
  EXPECT_EQ(le(r, 8, 8), 7u) << "sequence";
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  EXPECT_NEAR(static_cast<double>(le(r, 16, 8)), static_cast<double>(now_ms.count()), 60000);
  std::string covered = r.substr(0, 24) + r.substr(32);
  EXPECT_EQ(le(r, 24, 8), XXH3_64bits(covered.data(), covered.size()));
  EXPECT_EQ(r.substr(32), std::string(reinterpret_cast<const char*>(payload_for(7, 2).data()), 2));
}

// --- Append and replay -------------------------------------------------------

TEST_F(QueueTest, AppendedRecordsComeBackInOrderAcrossSegmentsAndReopen) {
  options.segment_bytes = 1000;
  uint64_t total = 0;
  {
    auto q = open();
    for (uint64_t s = 1; s <= 50; ++s) {
      ASSERT_TRUE(append(*q, s, (s * 37) % 300));
      total += record_bytes((s * 37) % 300);
    }
    EXPECT_THAT(replayed(*q), ElementsAreArray(range(1, 50)));
  }
  ASSERT_GT(segment_files().size(), 3u);
  auto q = open();
  EXPECT_THAT(cuts, IsEmpty());
  EXPECT_THAT(replayed(*q), ElementsAreArray(range(1, 50)));
  EXPECT_EQ(q->records(), 50u);
  uint64_t on_disk = 0;
  for (const auto& f : segment_files()) on_disk += size_of(f);
  EXPECT_EQ(q->bytes(), on_disk);
  EXPECT_EQ(on_disk, total + segment_files().size() * qf::kSegmentHeaderSize);
}

TEST_F(QueueTest, SequencesMustRiseAcrossReopenToo) {
  {
    auto q = open();
    ASSERT_TRUE(append(*q, 5, 10));
    EXPECT_THROW(append(*q, 5, 10), std::invalid_argument);
    EXPECT_THROW(append(*q, 4, 10), std::invalid_argument);
  }
  auto q = open();
  EXPECT_THROW(append(*q, 5, 10), std::invalid_argument);
  EXPECT_TRUE(append(*q, 6, 10));
  q->acknowledge(20);
  EXPECT_THROW(append(*q, 15, 10), std::invalid_argument) << "it would count as acknowledged";
  EXPECT_TRUE(append(*q, 21, 10));
}

TEST_F(QueueTest, VisitorStopsWhenAskedAndHoldsNoCopy) {
  fill(1, 10, kPayload);
  auto q = open();
  std::vector<uint64_t> seen;
  EXPECT_EQ(q->visit_unacknowledged([&](uint64_t s, std::span<const std::byte> p) {
    seen.push_back(s);
    EXPECT_EQ(Bytes(p.begin(), p.end()), payload_for(s, kPayload));
    return seen.size() < 3;
  }),
            0);
  EXPECT_THAT(seen, ElementsAre(1, 2, 3));
}

// --- Acknowledgement -------------------------------------------------------

TEST_F(QueueTest, AcknowledgeDeletesWholeSegmentsOnly) {
  three_per_segment();
  fill(1, 9, kPayload);
  auto q = open();
  const uint64_t segment_size = size_of(segment(2));
  q->acknowledge(4);
  EXPECT_THAT(segment_files(), ElementsAre(segment(2), segment(3)));
  EXPECT_EQ(q->bytes(), 2 * segment_size);
  EXPECT_EQ(q->records(), 5u);
  EXPECT_THAT(replayed(*q), ElementsAreArray(range(5, 9)));
  q->acknowledge(5);
  EXPECT_THAT(segment_files(), ElementsAre(segment(2), segment(3))) << "6 is still in segment 2";
  EXPECT_EQ(q->records(), 4u);
}

TEST_F(QueueTest, AcknowledgedWatermarkAndSessionSurviveReopen) {
  three_per_segment();
  fill(1, 9, kPayload);
  {
    auto q = open();
    q->set_session(0xfeedface);
    q->acknowledge(5);
  }
  auto q = open();
  EXPECT_EQ(q->session(), 0xfeedfaceu);
  EXPECT_EQ(q->acknowledged(), 5u);
  EXPECT_THAT(replayed(*q), ElementsAreArray(range(6, 9)));
  EXPECT_EQ(q->records(), 4u);
}

// The watermark is persisted when a segment goes, and at close; a crash in
// between replays at most the records of one segment again.
TEST_F(QueueTest, WatermarkIsPersistedWhenASegmentGoesAndAtClose) {
  three_per_segment();
  fill(1, 9, kPayload);
  auto q = open();
  q->acknowledge(4);
  EXPECT_EQ(state_on_disk().acknowledged, 4u);
  q->acknowledge(5);
  EXPECT_EQ(state_on_disk().acknowledged, 4u) << "lazily";
  const std::string crashed = tmp.sub("crashed");
  std::filesystem::copy(options.dir, crashed);  // the files as a crash now would leave them
  q.reset();
  EXPECT_EQ(state_on_disk().acknowledged, 5u);
  options.dir = crashed;
  auto after_crash = open();
  EXPECT_EQ(after_crash->acknowledged(), 4u);
  EXPECT_THAT(replayed(*after_crash), ElementsAreArray(range(5, 9)));
}

TEST_F(QueueTest, AcknowledgingEverythingEmptiesTheQueueAndAppendingGoesOn) {
  three_per_segment();
  auto q = open();
  for (uint64_t s = 1; s <= 4; ++s) ASSERT_TRUE(append(*q, s, kPayload));
  q->acknowledge(4);
  // The full segment goes; the one being appended to stays (no appender
  // waits for its space), so a mirror that keeps up costs no file churn.
  EXPECT_THAT(segment_files(), ElementsAre(segment(2)));
  EXPECT_EQ(q->records(), 0u);
  EXPECT_EQ(q->oldest_unacknowledged_age_ms(), -1);
  ASSERT_TRUE(append(*q, 5, kPayload));
  EXPECT_THAT(segment_files(), ElementsAre(segment(2)));
  EXPECT_THAT(replayed(*q), ElementsAre(5));
  // Reopened, only what was not acknowledged comes back.
  q.reset();
  EXPECT_THAT(replayed(*open()), ElementsAre(5));
}

TEST_F(QueueTest, RecordsAndAgeFollowAppendsAndAcknowledgements) {
  auto q = open();
  EXPECT_EQ(q->records(), 0u);
  EXPECT_EQ(q->oldest_unacknowledged_age_ms(), -1);
  ASSERT_TRUE(append(*q, 1, kPayload));
  ASSERT_TRUE(append(*q, 2, kPayload));
  EXPECT_EQ(q->records(), 2u);
  EXPECT_GE(q->oldest_unacknowledged_age_ms(), 0);
  q->acknowledge(2);
  EXPECT_EQ(q->records(), 0u);
  EXPECT_EQ(q->oldest_unacknowledged_age_ms(), -1);
}

TEST_F(QueueTest, AgeComesFromTheAppendTimeOnDisk) {
  std::filesystem::create_directory(options.dir);
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  const Bytes p = payload_for(1, 10);
  sizes[1] = 10;
  std::string file;
  const auto header = qf::encode_segment_header(1);
  const auto record = qf::encode_record_header(1, now_ms.count() - 60000, p, {});
  file.append(reinterpret_cast<const char*>(header.data()), header.size());
  file.append(reinterpret_cast<const char*>(record.data()), record.size());
  file.append(reinterpret_cast<const char*>(p.data()), p.size());
  write_file(segment(1), file);
  auto q = open();
  EXPECT_THAT(replayed(*q), ElementsAre(1));
  EXPECT_GE(q->oldest_unacknowledged_age_ms(), 60000);
  EXPECT_LT(q->oldest_unacknowledged_age_ms(), 120000);
}

// --- Sync ----------------------------------------------------------------

TEST_F(QueueTest, SyncCoversClosedSegmentsAndTheDirectory) {
  three_per_segment();
  std::vector<bool> synced;  // one entry per fsync: is it the directory?
  options.sync_file = [&](int fd) {
    struct stat st {};
    EXPECT_EQ(::fstat(fd, &st), 0);
    synced.push_back(S_ISDIR(st.st_mode));
    return 0;
  };
  auto q = open();
  for (uint64_t s = 1; s <= 7; ++s) ASSERT_TRUE(append(*q, s, kPayload));
  EXPECT_EQ(q->sync(), 0);
  EXPECT_THAT(synced, ElementsAre(false, false, false, true));
  synced.clear();
  ASSERT_TRUE(append(*q, 8, kPayload));
  EXPECT_EQ(q->sync(), 0);
  EXPECT_THAT(synced, ElementsAre(false));
  synced.clear();
  EXPECT_EQ(q->sync(), 0);
  EXPECT_THAT(synced, IsEmpty()) << "nothing new to make durable";
}

TEST_F(QueueTest, ConcurrentSyncsShareFsyncs) {
  constexpr int kThreads = 8;
  std::atomic<int> fsyncs{0};
  std::atomic<int> arrived{0};
  options.sync_file = [&](int) {
    // The first round waits until every caller has appended and come to
    // sync(), so that they find it in progress.
    if (fsyncs++ == 0) {
      EXPECT_TRUE(eventually([&] { return arrived == kThreads; }));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return 0;
  };
  auto q = open();
  std::mutex order;
  uint64_t next = 1;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      {
        std::lock_guard lock(order);
        if (!append(*q, next++, kPayload)) ++failures;
      }
      ++arrived;
      if (q->sync() != 0) ++failures;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_LE(q->sync_count(), 2u) << "one round in progress, one for all who came meanwhile";
  EXPECT_LT(fsyncs, kThreads);
}

TEST_F(QueueTest, FailedFsyncIsSticky) {
  std::atomic<bool> failing{false};
  options.sync_file = [&](int) { return failing ? EIO : 0; };
  auto q = open();
  ASSERT_TRUE(append(*q, 1, kPayload));
  EXPECT_EQ(q->sync(), 0);
  failing = true;
  ASSERT_TRUE(append(*q, 2, kPayload));
  EXPECT_EQ(q->sync(), EIO);
  failing = false;
  EXPECT_EQ(q->sync(), EIO) << "nothing new appended, still failed";
  ASSERT_TRUE(append(*q, 3, kPayload));
  EXPECT_EQ(q->sync(), EIO) << "a later good fsync does not make the earlier data durable";
}

// --- Back-pressure -------------------------------------------------------

class QueueBackPressureTest : public QueueTest {
 protected:
  QueueBackPressureTest() { options.max_bytes = qf::kSegmentHeaderSize + 2 * kRecord; }

  // Fills the queue to max_bytes and starts an appender of record 3.
  void start_blocked_appender() {
    q = open();
    ASSERT_TRUE(append(*q, 1, kPayload));
    ASSERT_TRUE(append(*q, 2, kPayload));
    ASSERT_EQ(q->bytes(), options.max_bytes);
    appender = std::thread([this] { result = append(*q, 3, kPayload) ? 1 : 0; });
    ASSERT_TRUE(eventually([&] { return q->waiting_for_space(); }));
  }
  ~QueueBackPressureTest() override {
    if (q) q->stop();
    if (appender.joinable()) appender.join();
  }

  std::unique_ptr<DurableQueue> q;
  std::thread appender;
  std::atomic<int> result{-1};  // -1: append has not returned
};

TEST_F(QueueBackPressureTest, AppenderWaitsUntilAcknowledgementFreesASegment) {
  start_blocked_appender();
  EXPECT_EQ(result, -1);
  q->acknowledge(1);  // frees no whole segment
  EXPECT_TRUE(q->waiting_for_space());
  EXPECT_EQ(result, -1);
  q->acknowledge(2);
  ASSERT_TRUE(eventually([&] { return result != -1; }));
  EXPECT_EQ(result, 1);
  EXPECT_FALSE(q->waiting_for_space());
  EXPECT_THAT(replayed(*q), ElementsAre(3));
}

TEST_F(QueueBackPressureTest, StopReleasesABlockedAppenderWithFalse) {
  start_blocked_appender();
  q->stop();
  ASSERT_TRUE(eventually([&] { return result != -1; }));
  EXPECT_EQ(result, 0);
  EXPECT_FALSE(append(*q, 4, kPayload)) << "stopped for good";
  EXPECT_THAT(replayed(*q), ElementsAre(1, 2));
}

TEST_F(QueueBackPressureTest, EmptyQueueTakesARecordLargerThanItsLimit) {
  auto queue = open();
  EXPECT_TRUE(append(*queue, 1, 4 * kRecord));
}

// --- Opening ---------------------------------------------------------------

TEST_F(QueueTest, OpenCreatesTheDirectoryPrivate) {
  options.dir = tmp.sub("var/lib/mirrorfs/vol");
  auto q = open();
  struct stat st {};
  ASSERT_EQ(::stat(options.dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_F(QueueTest, OpenFailureNamesTheDirectory) {
  write_file(tmp.sub("file"), "x");
  options.dir = tmp.sub("file/queue");
  try {
    open();
    FAIL() << "opened a queue beneath a regular file";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr(options.dir));
  }
}

TEST_F(QueueTest, OneQueuePerDirectory) {
  auto q = open();
  try {
    open();
    FAIL() << "opened the same queue twice";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("in use"));
  }
}

}  // namespace
}  // namespace mirror::queue_testing
