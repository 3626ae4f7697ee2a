// The inspection frames of inspect_format.h, as a specification: each query
// and reply comes back from its bytes unchanged, and every kind of damage is
// refused with a sentence naming it. Damaged frames are re-sealed (length
// and checksum made to agree) so that the decoders' own checks are tested.
#include "mirror/inspect_format.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <sys/stat.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mirror::inspect {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;
using wire::FrameHeader;
using wire::kHeaderSize;

using Bytes = std::vector<std::byte>;

// Payload offsets, copied from the layout drawn in inspect_format.h so that a
// change of the layout shows up here.
constexpr size_t kQueryReserved1 = 1;
constexpr size_t kQueryPathLength = 2;
constexpr size_t kQueryAfterLength = 4;
constexpr size_t kQueryReserved2 = 6;
constexpr size_t kQueryFirstBlock = 8;
constexpr size_t kQueryCount = 16;
constexpr size_t kQueryMaxEntries = 20;
constexpr size_t kQueryRecordLength = 24;
constexpr size_t kQueryReserved3 = 28;
constexpr size_t kReplyFlags = 1;
constexpr size_t kReplyReserved1 = 2;
constexpr size_t kReplyErrno = 4;
constexpr size_t kReplyCount = 8;
constexpr size_t kReplyReserved2 = 12;
constexpr size_t kReplySize = 16;
constexpr size_t kEntryNameLength = 0;
constexpr size_t kEntryTargetLength = 2;
constexpr size_t kEntryMode = 4;
constexpr size_t kEntryNsec = 56;
constexpr size_t kEntryReserved = 60;
constexpr size_t kEntryName = 72;

Bytes flatten(const wire::OutFrame& f) {
  Bytes out(f.head.begin(), f.head.end());
  out.insert(out.end(), f.data.begin(), f.data.end());
  return out;
}

template <typename T>
void put_at(Bytes& b, size_t at, T value) {
  for (size_t i = 0; i < sizeof(T); ++i) b.at(at + i) = static_cast<std::byte>(value >> (8 * i));
}

void reseal(Bytes& frame) {
  put_at<uint32_t>(frame, 8, static_cast<uint32_t>(frame.size() - kHeaderSize));
  const uint64_t seed = XXH3_64bits(frame.data(), 24);
  put_at<uint64_t>(
      frame, 24,
      XXH3_64bits_withSeed(frame.data() + kHeaderSize, frame.size() - kHeaderSize, seed));
}

template <typename T>
Bytes with_field(Bytes frame, size_t payload_offset, T value) {
  put_at<T>(frame, kHeaderSize + payload_offset, value);
  reseal(frame);
  return frame;
}

Bytes cut(Bytes frame, size_t payload_size) {
  frame.resize(kHeaderSize + payload_size);
  reseal(frame);
  return frame;
}

Bytes with_trailing_bytes(Bytes frame, size_t n) {
  frame.insert(frame.end(), n, std::byte{0});
  reseal(frame);
  return frame;
}

// What a receiver makes of a whole frame: a header fault, a checksum
// mismatch or the decoder's fault; nothing when it is believed.
template <typename M, typename Decode>
std::optional<std::string> receive(const Bytes& frame, Decode decode, M& out) {
  FrameHeader h;
  auto header = std::span<const std::byte>(frame).first<kHeaderSize>();
  if (auto e = wire::decode_header(header, h)) return e;
  auto payload = std::span<const std::byte>(frame).subspan(kHeaderSize);
  if (h.payload_length != payload.size()) return "length mismatch";
  if (!wire::checksum_matches(header, payload)) return "checksum mismatch";
  return decode(h, payload, out);
}

std::optional<std::string> query_fault(const Bytes& frame, Query* out = nullptr) {
  Query q;
  return receive(frame, decode_query, out ? *out : q);
}

std::optional<std::string> reply_fault(const Bytes& frame, Reply* out = nullptr) {
  Reply r;
  return receive(frame, decode_reply, out ? *out : r);
}

::testing::AssertionResult sound(const std::optional<std::string>& fault) {
  if (!fault) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "refused: " << *fault;
}

Bytes record_bytes() {
  Bytes r(kIdentityRecordSize);
  for (size_t i = 0; i < r.size(); ++i) r[i] = static_cast<std::byte>(i * 7);
  return r;
}

std::vector<Query> one_query_of_each_kind() {
  std::vector<Query> out(5);
  out[0].kind = Kind::identity;
  out[1].kind = Kind::set_identity;
  out[1].record = record_bytes();
  out[2].kind = Kind::list;
  out[2].path = "src/lib";
  out[2].after = "b.c";
  out[2].max_entries = 100;
  out[3].kind = Kind::xattr_names;
  out[3].path = "f";
  out[4].kind = Kind::checksums;
  out[4].path = "big/file";
  out[4].first_block = 0x123456789;
  out[4].count = 77;
  for (size_t i = 0; i < out.size(); ++i) out[i].id = 1000 + i;
  return out;
}

EntryDescription entry(std::string name, uint32_t mode) {
  EntryDescription e;
  e.name = std::move(name);
  e.mode = mode;
  e.uid = 1000;
  e.gid = 100;
  e.size = S_ISDIR(mode) ? 0 : 12345;
  e.nlink = S_ISDIR(mode) ? 0 : 2;
  e.inode = 0xDEADBEEF;
  e.mtime = {1700000000, 999999999};
  e.xattr_digest = 0xFEEDFACECAFEBEEF;
  if (S_ISLNK(mode)) e.link_target = "../somewhere/else";
  if (S_ISCHR(mode)) e.rdev = 0x0103;
  return e;
}

std::vector<Reply> one_reply_of_each_kind() {
  std::vector<Reply> out(5);
  out[0].kind = Kind::identity;
  out[0].present = true;
  out[0].record = record_bytes();
  out[1].kind = Kind::set_identity;
  out[2].kind = Kind::list;
  out[2].more = true;
  out[2].entries = {entry("a", S_IFREG | 0644), entry("b", S_IFDIR | 0755),
                    entry("c", S_IFLNK | 0777), entry("d", S_IFCHR | 0600)};
  out[2].entries[0].mtime = {-5, 1};  // before 1970
  out[3].kind = Kind::xattr_names;
  out[3].names = {"security.selinux", "user.a", "user.b"};
  out[4].kind = Kind::checksums;
  out[4].size = 3 * kSyncBlockSize + 1;
  out[4].sums = {1, 0xFFFFFFFFFFFFFFFF, 42};
  for (size_t i = 0; i < out.size(); ++i) out[i].id = 2000 + i;
  return out;
}

Bytes list_reply_frame() {
  return flatten(encode_reply(one_reply_of_each_kind()[2]));
}

// --- Round trips ---------------------------------------------------------

TEST(InspectRoundTrip, EveryQueryKind) {
  for (const Query& in : one_query_of_each_kind()) {
    SCOPED_TRACE(to_string(in.kind));
    Bytes frame = flatten(encode_query(in));
    FrameHeader h;
    ASSERT_TRUE(
        sound(wire::decode_header(std::span<const std::byte>(frame).first<kHeaderSize>(), h)));
    EXPECT_EQ(h.type, wire::FrameType::inspect);
    EXPECT_EQ(h.sequence, in.id);
    EXPECT_EQ(h.payload_length,
              kQueryFixedSize + in.path.size() + in.after.size() + in.record.size());
    Query out;
    ASSERT_TRUE(sound(query_fault(frame, &out)));
    EXPECT_EQ(out.id, in.id);
    EXPECT_EQ(out.kind, in.kind);
    EXPECT_EQ(out.path, in.path);
    EXPECT_EQ(out.after, in.after);
    EXPECT_EQ(out.max_entries, in.max_entries);
    EXPECT_EQ(out.first_block, in.first_block);
    EXPECT_EQ(out.count, in.count);
    EXPECT_EQ(out.record, in.record);
  }
}

TEST(InspectRoundTrip, EveryReplyKind) {
  for (const Reply& in : one_reply_of_each_kind()) {
    SCOPED_TRACE(to_string(in.kind));
    Bytes frame = flatten(encode_reply(in));
    FrameHeader h;
    ASSERT_TRUE(
        sound(wire::decode_header(std::span<const std::byte>(frame).first<kHeaderSize>(), h)));
    EXPECT_EQ(h.type, wire::FrameType::inspect_reply);
    EXPECT_EQ(h.sequence, in.id);
    Reply out;
    ASSERT_TRUE(sound(reply_fault(frame, &out)));
    EXPECT_EQ(out.id, in.id);
    EXPECT_EQ(out.kind, in.kind);
    EXPECT_EQ(out.error, 0u);
    EXPECT_EQ(out.present, in.present);
    EXPECT_EQ(out.record, in.record);
    EXPECT_EQ(out.more, in.more);
    ASSERT_EQ(out.entries.size(), in.entries.size());
    for (size_t i = 0; i < in.entries.size(); ++i) {
      EXPECT_TRUE(out.entries[i] == in.entries[i]) << in.entries[i].name;
      EXPECT_EQ(out.entries[i].inode, in.entries[i].inode);  // carried, though not compared
    }
    EXPECT_EQ(out.names, in.names);
    EXPECT_EQ(out.size, in.size);
    EXPECT_EQ(out.sums, in.sums);
  }
}

TEST(InspectRoundTrip, ListEntrySizeIsItsBytes) {
  const Reply in = one_reply_of_each_kind()[2];
  size_t expected = kReplyFixedSize;
  for (const EntryDescription& e : in.entries) expected += entry_size(e);
  EXPECT_EQ(flatten(encode_reply(in)).size(), kHeaderSize + expected);
  EXPECT_EQ(entry_size(entry("x", S_IFREG)), kEntryFixedSize + 1);
}

TEST(InspectRoundTrip, ErrnoRepliesCarryNothingElse) {
  for (Kind k :
       {Kind::identity, Kind::set_identity, Kind::list, Kind::xattr_names, Kind::checksums}) {
    Reply in;
    in.id = 5;
    in.kind = k;
    in.error = ENOENT;
    Bytes frame = flatten(encode_reply(in));
    EXPECT_EQ(frame.size(), kHeaderSize + kReplyFixedSize);
    Reply out;
    ASSERT_TRUE(sound(reply_fault(frame, &out))) << to_string(k);
    EXPECT_EQ(out.error, static_cast<uint32_t>(ENOENT));
  }
}

TEST(InspectRoundTrip, AbsentIdentityHasNoBody) {
  Reply in;
  in.kind = Kind::identity;
  Bytes frame = flatten(encode_reply(in));
  EXPECT_EQ(frame.size(), kHeaderSize + kReplyFixedSize);
  Reply out;
  ASSERT_TRUE(sound(reply_fault(frame, &out)));
  EXPECT_FALSE(out.present);
  EXPECT_TRUE(out.record.empty());
}

TEST(InspectRoundTrip, LargestQueryAndRepliesFitThePayloadLimit) {
  Query q;
  q.kind = Kind::list;
  q.path = std::string(wire::kMaxPath, 'p');
  q.after = std::string(kMaxName, 'a');
  q.max_entries = kMaxListEntries;
  ASSERT_TRUE(sound(query_fault(flatten(encode_query(q)))));
  Reply r;
  r.kind = Kind::checksums;
  r.sums.assign(kMaxChecksumCount, 7);
  Bytes frame = flatten(encode_reply(r));
  EXPECT_LE(frame.size() - kHeaderSize, wire::kMaxPayload);
  ASSERT_TRUE(sound(reply_fault(frame)));
}

// --- Refusals of queries ------------------------------------------------

TEST(InspectQuery, UnknownKindIsRefused) {
  Bytes frame = flatten(encode_query(one_query_of_each_kind()[0]));
  for (uint8_t k : {0, 6, 255}) {
    EXPECT_THAT(query_fault(with_field<uint8_t>(frame, 0, k)),
                Optional(HasSubstr("unknown kind " + std::to_string(k))));
  }
}

TEST(InspectQuery, NonZeroReservedFieldsAreRefused) {
  for (const Query& q : one_query_of_each_kind()) {
    Bytes frame = flatten(encode_query(q));
    EXPECT_THAT(query_fault(with_field<uint8_t>(frame, kQueryReserved1, 1)),
                Optional(HasSubstr("reserved fields are not zero")));
    EXPECT_THAT(query_fault(with_field<uint16_t>(frame, kQueryReserved2, 0x100)),
                Optional(HasSubstr("reserved fields are not zero")));
    EXPECT_THAT(query_fault(with_field<uint32_t>(frame, kQueryReserved3, 0x80000000)),
                Optional(HasSubstr("reserved fields are not zero")));
  }
}

TEST(InspectQuery, FieldsAKindDoesNotUseMustBeZero) {
  const auto q = one_query_of_each_kind();
  Bytes identity = flatten(encode_query(q[0]));
  Bytes list = flatten(encode_query(q[2]));
  Bytes names = flatten(encode_query(q[3]));
  EXPECT_THAT(query_fault(with_field<uint64_t>(identity, kQueryFirstBlock, 1)),
              Optional(HasSubstr("INSPECT identity carries checksum fields")));
  EXPECT_THAT(query_fault(with_field<uint32_t>(names, kQueryMaxEntries, 3)),
              Optional(HasSubstr("INSPECT xattr_names carries list fields")));
  EXPECT_THAT(query_fault(with_field<uint32_t>(list, kQueryCount, 3)),
              Optional(HasSubstr("INSPECT list carries checksum fields")));
  Query with_path = q[0];
  with_path.path = "x";
  EXPECT_THAT(query_fault(flatten(encode_query(with_path))),
              Optional(HasSubstr("INSPECT identity carries a path")));
  Query with_record = q[3];
  with_record.record = record_bytes();
  EXPECT_THAT(query_fault(flatten(encode_query(with_record))),
              Optional(HasSubstr("INSPECT xattr_names carries a record")));
}

TEST(InspectQuery, LengthsBeyondBoundsAreRefused) {
  Bytes list = flatten(encode_query(one_query_of_each_kind()[2]));
  EXPECT_THAT(query_fault(with_field<uint16_t>(list, kQueryPathLength, wire::kMaxPath + 1)),
              Optional(HasSubstr("field lengths out of bounds (path 4097")));
  EXPECT_THAT(query_fault(with_field<uint16_t>(list, kQueryAfterLength, kMaxName + 1)),
              Optional(HasSubstr("after 256")));
  EXPECT_THAT(query_fault(with_field<uint32_t>(list, kQueryRecordLength, 129)),
              Optional(HasSubstr("record 129")));
  Query short_record = one_query_of_each_kind()[1];
  short_record.record.resize(100);
  EXPECT_THAT(query_fault(flatten(encode_query(short_record))),
              Optional(HasSubstr("record is 100 bytes, not 128")));
}

TEST(InspectQuery, CountsOutOfBoundsAreRefused) {
  const auto q = one_query_of_each_kind();
  Bytes list = flatten(encode_query(q[2]));
  Bytes sums = flatten(encode_query(q[4]));
  EXPECT_THAT(query_fault(with_field<uint32_t>(list, kQueryMaxEntries, 0)),
              Optional(HasSubstr("max entries 0 is out of bounds")));
  EXPECT_THAT(query_fault(with_field<uint32_t>(list, kQueryMaxEntries, kMaxListEntries + 1)),
              Optional(HasSubstr("max entries 65537 is out of bounds")));
  EXPECT_THAT(query_fault(with_field<uint32_t>(sums, kQueryCount, kMaxChecksumCount + 1)),
              Optional(HasSubstr("count 16385 is out of bounds")));
  EXPECT_TRUE(sound(query_fault(with_field<uint32_t>(sums, kQueryCount, 0))))
      << "count 0 asks for the size alone";
}

TEST(InspectQuery, NulInPathOrAfterIsRefused) {
  Query q = one_query_of_each_kind()[2];
  q.path = std::string("a\0b", 3);
  EXPECT_THAT(query_fault(flatten(encode_query(q))), Optional(HasSubstr("NUL byte")));
  q = one_query_of_each_kind()[2];
  q.after = std::string("\0", 1);
  EXPECT_THAT(query_fault(flatten(encode_query(q))), Optional(HasSubstr("NUL byte")));
}

TEST(InspectQuery, EveryTruncationAndTrailingBytesAreRefused) {
  for (const Query& q : one_query_of_each_kind()) {
    Bytes frame = flatten(encode_query(q));
    const size_t n = frame.size() - kHeaderSize;
    for (size_t len = 0; len < n; ++len) {
      EXPECT_TRUE(query_fault(cut(frame, len)).has_value())
          << to_string(q.kind) << " cut to " << len;
    }
    EXPECT_THAT(query_fault(cut(frame, kQueryFixedSize - 1)),
                Optional(HasSubstr("INSPECT payload is truncated")));
    EXPECT_THAT(query_fault(with_trailing_bytes(frame, 3)),
                Optional(HasSubstr("3 unexpected trailing bytes")));
  }
}

// --- Refusals of replies ------------------------------------------------

TEST(InspectReply, UnknownKindAndReservedFieldsAreRefused) {
  for (const Reply& r : one_reply_of_each_kind()) {
    Bytes frame = flatten(encode_reply(r));
    EXPECT_THAT(reply_fault(with_field<uint8_t>(frame, 0, 9)),
                Optional(HasSubstr("unknown kind 9")));
    EXPECT_THAT(reply_fault(with_field<uint16_t>(frame, kReplyReserved1, 1)),
                Optional(HasSubstr("reserved fields are not zero")));
    EXPECT_THAT(reply_fault(with_field<uint32_t>(frame, kReplyReserved2, 1)),
                Optional(HasSubstr("reserved fields are not zero")));
  }
}

TEST(InspectReply, ErrnoOutOfRangeOrWithAnAnswerIsRefused) {
  const auto replies = one_reply_of_each_kind();
  Reply failed;
  failed.kind = Kind::list;
  failed.error = EACCES;
  Bytes frame = flatten(encode_reply(failed));
  EXPECT_THAT(reply_fault(with_field<uint32_t>(frame, kReplyErrno, 4096)),
              Optional(HasSubstr("errno 4096 is out of range")));
  EXPECT_THAT(reply_fault(with_field<uint8_t>(frame, kReplyFlags, 1)),
              Optional(HasSubstr("carries an answer along with errno 13")));
  Bytes listing = flatten(encode_reply(replies[2]));
  EXPECT_THAT(reply_fault(with_field<uint32_t>(listing, kReplyErrno, EIO)),
              Optional(HasSubstr("INSPECT_REPLY list carries an answer along with errno 5")));
}

TEST(InspectReply, FlagsSizeAndCountWhereTheKindHasNoneAreRefused) {
  const auto r = one_reply_of_each_kind();
  Bytes set = flatten(encode_reply(r[1]));
  Bytes list = flatten(encode_reply(r[2]));
  EXPECT_THAT(reply_fault(with_field<uint8_t>(set, kReplyFlags, 1)),
              Optional(HasSubstr("INSPECT_REPLY set_identity has unknown flags 1")));
  EXPECT_THAT(reply_fault(with_field<uint8_t>(list, kReplyFlags, 3)),
              Optional(HasSubstr("has unknown flags 3")));
  EXPECT_THAT(reply_fault(with_field<uint64_t>(list, kReplySize, 1)),
              Optional(HasSubstr("INSPECT_REPLY list carries a size")));
  EXPECT_THAT(reply_fault(with_field<uint32_t>(set, kReplyCount, 1)),
              Optional(HasSubstr("INSPECT_REPLY set_identity carries a count")));
  EXPECT_THAT(reply_fault(with_field<uint32_t>(list, kReplyCount, 0xFFFFFFFF)),
              Optional(HasSubstr("exceeds what the payload holds")));
}

TEST(InspectReply, IdentityRecordOfTheWrongSizeIsRefused) {
  Bytes frame = flatten(encode_reply(one_reply_of_each_kind()[0]));
  EXPECT_THAT(reply_fault(cut(frame, kReplyFixedSize + 127)),
              Optional(HasSubstr("INSPECT_REPLY identity payload is truncated")));
  EXPECT_THAT(reply_fault(with_trailing_bytes(frame, 1)),
              Optional(HasSubstr("1 unexpected trailing bytes")));
  // Absent, yet with a record behind it.
  EXPECT_THAT(reply_fault(with_field<uint8_t>(frame, kReplyFlags, 0)),
              Optional(HasSubstr("128 unexpected trailing bytes")));
}

TEST(InspectReply, BadListEntriesAreRefused) {
  const Bytes frame = list_reply_frame();
  const size_t first = kReplyFixedSize;  // entry "a", a regular file
  EXPECT_THAT(reply_fault(with_field<uint32_t>(frame, first + kEntryReserved, 1)),
              Optional(HasSubstr("list entry reserved field is not zero")));
  EXPECT_THAT(reply_fault(with_field<uint32_t>(frame, first + kEntryNsec, 1000000000)),
              Optional(HasSubstr("more than 999999999 nanoseconds")));
  EXPECT_THAT(reply_fault(with_field<uint16_t>(frame, first + kEntryNameLength, 0)),
              Optional(HasSubstr("list entry lengths out of bounds (name 0")));
  EXPECT_THAT(reply_fault(with_field<uint16_t>(frame, first + kEntryTargetLength, 5000)),
              Optional(HasSubstr("target 5000")));
  EXPECT_THAT(reply_fault(with_field<uint32_t>(frame, first + kEntryMode, S_IFLNK | 0777)),
              Optional(HasSubstr("symlink target if and only if it is no symlink")));
  EXPECT_THAT(reply_fault(with_field<uint8_t>(frame, first + kEntryName, '/')),
              Optional(HasSubstr("'/' in the name")));
  EXPECT_THAT(reply_fault(with_field<uint8_t>(frame, first + kEntryName, 'z')),
              Optional(HasSubstr("not in increasing name order")));
  EXPECT_THAT(reply_fault(with_field<uint8_t>(frame, first + kEntryName, '.')),
              Optional(HasSubstr("list entry is named '.'")));
}

TEST(InspectReply, BadXattrNamesAreRefused) {
  Reply r = one_reply_of_each_kind()[3];
  r.names = {"user.b", "user.a"};
  EXPECT_THAT(reply_fault(flatten(encode_reply(r))),
              Optional(HasSubstr("names are not in increasing order")));
  r.names = {""};
  EXPECT_THAT(reply_fault(flatten(encode_reply(r))),
              Optional(HasSubstr("name length 0 is out of bounds")));
  r.names = {std::string("a\0b", 3)};
  EXPECT_THAT(reply_fault(flatten(encode_reply(r))), Optional(HasSubstr("NUL byte")));
}

TEST(InspectReply, TooManyChecksumsAreRefused) {
  Reply r;
  r.kind = Kind::checksums;
  r.sums.assign(kMaxChecksumCount + 1, 0);
  EXPECT_THAT(reply_fault(flatten(encode_reply(r))),
              Optional(HasSubstr("count 16385 is out of bounds")));
}

TEST(InspectReply, EveryTruncationAndTrailingBytesAreRefused) {
  for (const Reply& r : one_reply_of_each_kind()) {
    Bytes frame = flatten(encode_reply(r));
    const size_t n = frame.size() - kHeaderSize;
    for (size_t len = 0; len < n; ++len) {
      EXPECT_TRUE(reply_fault(cut(frame, len)).has_value())
          << to_string(r.kind) << " cut to " << len;
    }
    EXPECT_THAT(reply_fault(cut(frame, kReplyFixedSize - 1)),
                Optional(HasSubstr("INSPECT_REPLY payload is truncated")));
    EXPECT_THAT(reply_fault(with_trailing_bytes(frame, 2)), Optional(HasSubstr("trailing bytes")));
  }
}

TEST(InspectReply, EveryBitFlipIsCaughtByTheChecksum) {
  const Bytes frame = list_reply_frame();
  for (size_t bit = 0; bit < (frame.size() - kHeaderSize) * 8; ++bit) {
    Bytes damaged = frame;
    damaged[kHeaderSize + bit / 8] ^= static_cast<std::byte>(1u << (bit % 8));
    EXPECT_THAT(reply_fault(damaged), Optional(HasSubstr("checksum mismatch"))) << "bit " << bit;
  }
}

}  // namespace
}  // namespace mirror::inspect
