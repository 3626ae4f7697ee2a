// Recovery of the durable queue, as a specification: each kind of damage a
// crash, a disk or an operator can do to the queue's files is cut at the last
// good record, reported once with the bytes and records it cost and why, and
// never costs a good record before it. Files are damaged on purpose by the
// fixture's helpers; offsets follow the layout in mirror/queue_format.h.
#include <sys/stat.h>

#include <string>
#include <vector>

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
// Where record `i` (0-based) of a segment starts.
constexpr uint64_t record_offset(uint64_t i) {
  return qf::kSegmentHeaderSize + i * kRecord;
}

class QueueRecoveryTest : public QueueFixture {
 protected:
  // Three records of kPayload bytes to a segment.
  void three_per_segment() { options.segment_bytes = record_offset(3); }
};

TEST_F(QueueRecoveryTest, CleanQueueReopensWithoutReports) {
  three_per_segment();
  fill(1, 10, kPayload);
  EXPECT_THAT(reopen_and_replay(), ElementsAreArray(range(1, 10)));
  EXPECT_THAT(cuts, IsEmpty());
}

TEST_F(QueueRecoveryTest, TornFinalRecordPayloadIsCut) {
  fill(1, 5, kPayload);
  truncate_to(segment(1), record_offset(5) - 10);
  EXPECT_THAT(reopen_and_replay(), ElementsAreArray(range(1, 4)));
  ASSERT_EQ(cuts.size(), 1u);
  EXPECT_EQ(cuts[0].file, segment(1));
  EXPECT_EQ(cuts[0].bytes, kRecord - 10);
  EXPECT_EQ(cuts[0].records, 1u);
  EXPECT_THAT(cuts[0].reason, HasSubstr("torn record"));
  EXPECT_EQ(size_of(segment(1)), record_offset(4)) << "the file is truncated at the cut";
}

TEST_F(QueueRecoveryTest, TornFinalRecordHeaderIsCut) {
  fill(1, 5, kPayload);
  truncate_to(segment(1), record_offset(4) + 10);
  EXPECT_THAT(reopen_and_replay(), ElementsAreArray(range(1, 4)));
  ASSERT_EQ(cuts.size(), 1u);
  EXPECT_EQ(cuts[0].bytes, 10u);
  EXPECT_EQ(cuts[0].records, 1u);
  EXPECT_THAT(cuts[0].reason, HasSubstr("torn record header"));
}

TEST_F(QueueRecoveryTest, FlippedByteInTheMiddleCutsThereAndDropsTheRestOfTheSegment) {
  fill(1, 10, kPayload);
  flip_byte(segment(1), record_offset(3) + qf::kRecordHeaderSize + 50);  // record 4's payload
  EXPECT_THAT(reopen_and_replay(), ElementsAreArray(range(1, 3)));
  ASSERT_EQ(cuts.size(), 1u);
  EXPECT_EQ(cuts[0].bytes, 7 * kRecord);
  EXPECT_EQ(cuts[0].records, 7u) << "the damaged record and the 6 sound ones after it";
  EXPECT_THAT(cuts[0].reason, HasSubstr("checksum mismatch in record at offset " +
                                        std::to_string(record_offset(3))));
  EXPECT_THAT(cuts[0].reason, HasSubstr("6 sound record(s) after it"));
}

TEST_F(QueueRecoveryTest, FlippedByteInARecordHeaderIsCaughtToo) {
  fill(1, 6, kPayload);
  flip_byte(segment(1), record_offset(2) + 8);  // record 3's sequence
  EXPECT_THAT(reopen_and_replay(), ElementsAre(1, 2));
  ASSERT_EQ(cuts.size(), 1u);
  EXPECT_EQ(cuts[0].records, 4u);
}

TEST_F(QueueRecoveryTest, DamageInAnEarlierSegmentKeepsTheLaterSegments) {
  three_per_segment();
  fill(1, 9, kPayload);
  flip_byte(segment(2), record_offset(1) + qf::kRecordHeaderSize);  // record 5
  EXPECT_THAT(reopen_and_replay(), ElementsAre(1, 2, 3, 4, 7, 8, 9));
  ASSERT_EQ(cuts.size(), 1u);
  EXPECT_EQ(cuts[0].file, segment(2));
  EXPECT_EQ(cuts[0].records, 2u);
}

TEST_F(QueueRecoveryTest, ZeroFilledTailIsCutWithoutLosingARecord) {
  fill(1, 5, kPayload);
  append_zeros(segment(1), 4096);
  EXPECT_THAT(reopen_and_replay(), ElementsAreArray(range(1, 5)));
  ASSERT_EQ(cuts.size(), 1u);
  EXPECT_EQ(cuts[0].bytes, 4096u);
  EXPECT_EQ(cuts[0].records, 0u);
  EXPECT_THAT(cuts[0].reason, HasSubstr("zero-filled tail"));
  EXPECT_EQ(size_of(segment(1)), record_offset(5));
}

TEST_F(QueueRecoveryTest, MissingMiddleSegmentIsReportedAndTheQueueGoesOn) {
  three_per_segment();
  fill(1, 12, kPayload);
  std::filesystem::remove(segment(2));
  EXPECT_THAT(reopen_and_replay(), ElementsAre(1, 2, 3, 7, 8, 9, 10, 11, 12));
  ASSERT_EQ(cuts.size(), 1u);
  EXPECT_EQ(cuts[0].file, segment(2));
  EXPECT_THAT(cuts[0].reason, HasSubstr("segment 2 is missing"));
  EXPECT_THAT(cuts[0].reason, HasSubstr("after sequence 3"));
  // Appending goes on after the newest segment.
  {
    auto q = open();
    ASSERT_TRUE(append(*q, 13, kPayload));
  }
  EXPECT_THAT(reopen_and_replay(), ElementsAre(1, 2, 3, 7, 8, 9, 10, 11, 12, 13));
}

TEST_F(QueueRecoveryTest, SeveralMissingSegmentsAreOneReport) {
  three_per_segment();
  fill(1, 15, kPayload);
  std::filesystem::remove(segment(2));
  std::filesystem::remove(segment(3));
  std::filesystem::remove(segment(4));
  EXPECT_THAT(reopen_and_replay(), ElementsAre(1, 2, 3, 13, 14, 15));
  ASSERT_EQ(cuts.size(), 1u);
  EXPECT_THAT(cuts[0].reason, HasSubstr("segments 2 to 4 are missing"));
}

TEST_F(QueueRecoveryTest, EmptySegmentFileIsResetAndReportedOnce) {
  three_per_segment();
  fill(1, 6, kPayload);
  write_file(segment(3), "");  // a crash between creating a segment and writing its header
  EXPECT_THAT(reopen_and_replay(), ElementsAreArray(range(1, 6)));
  ASSERT_EQ(cuts.size(), 1u);
  EXPECT_EQ(cuts[0].file, segment(3));
  EXPECT_EQ(cuts[0].bytes, 0u);
  EXPECT_THAT(cuts[0].reason, HasSubstr("empty segment file"));
  EXPECT_THAT(reopen_and_replay(), ElementsAreArray(range(1, 6)));
  EXPECT_THAT(cuts, IsEmpty());
}

TEST_F(QueueRecoveryTest, GarbageSegmentHeaderDropsThatSegmentOnly) {
  three_per_segment();
  fill(1, 9, kPayload);
  overwrite(segment(2), 0, "this is not a queue segment!");
  EXPECT_THAT(reopen_and_replay(), ElementsAre(1, 2, 3, 7, 8, 9));
  ASSERT_EQ(cuts.size(), 1u);
  EXPECT_EQ(cuts[0].file, segment(2));
  EXPECT_EQ(cuts[0].bytes, record_offset(3));
  EXPECT_EQ(cuts[0].records, 2u) << "record 4's header was overwritten; 5 and 6 are whole";
  EXPECT_THAT(cuts[0].reason, HasSubstr("not a queue segment"));
  EXPECT_THAT(reopen_and_replay(), ElementsAre(1, 2, 3, 7, 8, 9));
  EXPECT_THAT(cuts, IsEmpty()) << "the segment was reset: no gap, no second report";
}

TEST_F(QueueRecoveryTest, TornSegmentHeaderIsReported) {
  std::filesystem::create_directory(options.dir);
  const auto header = qf::encode_segment_header(1);
  write_file(segment(1), std::string(reinterpret_cast<const char*>(header.data()), 10));
  EXPECT_THAT(reopen_and_replay(), IsEmpty());
  ASSERT_EQ(cuts.size(), 1u);
  EXPECT_EQ(cuts[0].bytes, 10u);
  EXPECT_THAT(cuts[0].reason, HasSubstr("segment header torn: 10 of 24 bytes"));
}

TEST_F(QueueRecoveryTest, SegmentWhoseHeaderNamesAnotherSegmentIsNotBelieved) {
  three_per_segment();
  fill(1, 9, kPayload);
  const auto header = qf::encode_segment_header(7);
  overwrite(segment(2), 0,
            std::string(reinterpret_cast<const char*>(header.data()), header.size()));
  EXPECT_THAT(reopen_and_replay(), ElementsAre(1, 2, 3, 7, 8, 9));
  ASSERT_EQ(cuts.size(), 1u);
  EXPECT_EQ(cuts[0].records, 3u);
  EXPECT_THAT(cuts[0].reason, HasSubstr("names segment 7"));
}

TEST_F(QueueRecoveryTest, RecordOutOfSequenceOrderEndsTheSegment) {
  std::filesystem::create_directory(options.dir);
  std::string file;
  auto add = [&](const auto& bytes) {
    file.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  };
  add(qf::encode_segment_header(1));
  for (uint64_t s : {1, 2, 5, 3, 6}) {
    const Bytes p = payload_for(s, 10);
    sizes[s] = 10;
    add(qf::encode_record_header(s, 0, p, {}));
    add(p);
  }
  write_file(segment(1), file);
  EXPECT_THAT(reopen_and_replay(), ElementsAre(1, 2, 5));
  ASSERT_EQ(cuts.size(), 1u);
  EXPECT_EQ(cuts[0].records, 2u);
  EXPECT_THAT(cuts[0].reason, HasSubstr("has sequence 3, not above 5"));
}

// Every length a crash could leave a small queue file at recovers exactly the
// records wholly inside it, and reports the rest.
TEST_F(QueueRecoveryTest, EveryTruncationLengthRecoversToTheLastGoodRecord) {
  const std::vector<size_t> payloads = {0, 1, 37, 5};
  {
    auto q = open();
    for (size_t i = 0; i < payloads.size(); ++i) ASSERT_TRUE(append(*q, i + 1, payloads[i]));
  }
  const std::string whole = read_file(segment(1));
  std::vector<uint64_t> ends = {qf::kSegmentHeaderSize};  // where each record ends
  for (size_t p : payloads) ends.push_back(ends.back() + record_bytes(p));
  ASSERT_EQ(ends.back(), whole.size());

  for (uint64_t length = 0; length <= whole.size(); ++length) {
    SCOPED_TRACE("file cut at " + std::to_string(length) + " bytes");
    std::filesystem::remove_all(options.dir);
    std::filesystem::create_directory(options.dir);
    write_file(segment(1), whole.substr(0, length));
    const auto kept = static_cast<uint64_t>(std::upper_bound(ends.begin() + 1, ends.end(), length) -
                                            ends.begin() - 1);
    const bool header_whole = length >= qf::kSegmentHeaderSize;
    EXPECT_THAT(reopen_and_replay(), ElementsAreArray(range(1, header_whole ? kept : 0)));
    const bool at_boundary = header_whole && ends[kept] == length;
    if (at_boundary) {
      EXPECT_THAT(cuts, IsEmpty());
    } else {
      ASSERT_EQ(cuts.size(), 1u);
      EXPECT_EQ(cuts[0].bytes, header_whole ? length - ends[kept] : length);
      EXPECT_EQ(cuts[0].records, header_whole ? 1u : 0u);
    }
    EXPECT_THAT(reopen_and_replay(), ElementsAreArray(range(1, header_whole ? kept : 0)));
    EXPECT_THAT(cuts, IsEmpty()) << "the cut is made once, on disk";
  }
}

TEST_F(QueueRecoveryTest, AppendsAfterACutFollowIt) {
  fill(1, 5, kPayload);
  truncate_to(segment(1), record_offset(5) - 1);
  {
    auto q = open();
    ASSERT_EQ(cuts.size(), 1u);
    EXPECT_EQ(q->records(), 4u);
    ASSERT_TRUE(append(*q, 5, kPayload));
    ASSERT_TRUE(append(*q, 6, kPayload));
  }
  EXPECT_THAT(reopen_and_replay(), ElementsAreArray(range(1, 6)));
  EXPECT_THAT(cuts, IsEmpty());
}

TEST_F(QueueRecoveryTest, DamagedStateFileIsReportedAndStartsFromZero) {
  fill(1, 3, kPayload);
  {
    auto q = open();
    q->set_session(42);
    q->acknowledge(1);
  }
  flip_byte(options.dir + "/state", 9);
  auto q = open();
  ASSERT_EQ(cuts.size(), 1u);
  EXPECT_EQ(cuts[0].file, options.dir + "/state");
  EXPECT_THAT(cuts[0].reason, HasSubstr("state file checksum mismatch"));
  EXPECT_EQ(q->session(), 0u);
  EXPECT_EQ(q->acknowledged(), 0u);
  EXPECT_THAT(replayed(*q), ElementsAre(1, 2, 3));
}

}  // namespace
}  // namespace mirror::queue_testing
