// The TCP frames of wire_format.h, as a specification: every frame type comes
// back from its bytes unchanged, and every kind of damage a peer or a link can
// do to the bytes is refused with a sentence naming it. Helpers below build
// the damaged frames on purpose; those that damage a payload re-seal the frame
// (length and checksum made to agree again) so that the payload decoder's own
// checks are what is tested, not the checksum.
#include "mirror/wire_format.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mirror/inspect_format.h"
#include "mirror/request.h"

namespace mirror::wire {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Optional;

using Bytes = std::vector<std::byte>;

// Payload field offsets, copied from the layout drawn in wire_format.h so that
// a change of the layout shows up here as a failing test.
constexpr size_t kHelloFixedSize = 64;  // up to the volume bytes
constexpr size_t kHelloReserved1 = 2;
constexpr size_t kHelloReserved2 = 22;
constexpr size_t kHelloVolumeLength = 20;
constexpr size_t kWelcomeReserved = 1;
constexpr size_t kResponseReserved = 4;
constexpr size_t kRequestReserved1 = 1;
constexpr size_t kRequestReserved2 = 2;
constexpr size_t kRequestAtimeNsec = 96;
constexpr size_t kRequestMtimeNsec = 100;
constexpr size_t kRequestMtimeAfterNsec = 104;
constexpr size_t kRequestPathLength = 108;
constexpr size_t kRequestReserved3 = 114;

// --- Building frames, sound and damaged ---------------------------------

// The frame as it goes on the wire: the head, then the borrowed data.
Bytes flatten(const OutFrame& f) {
  Bytes out(f.head.begin(), f.head.end());
  out.insert(out.end(), f.data.begin(), f.data.end());
  return out;
}

Bytes bytes_of(std::string_view s) {
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  return Bytes(p, p + s.size());
}

template <typename T>
void put_at(Bytes& b, size_t at, T value) {
  for (size_t i = 0; i < sizeof(T); ++i) b.at(at + i) = static_cast<std::byte>(value >> (8 * i));
}

std::span<const std::byte, kHeaderSize> header_of(std::span<const std::byte> frame) {
  return frame.first<kHeaderSize>();
}

std::span<const std::byte> payload_of(const Bytes& frame) {
  return std::span(frame).subspan(kHeaderSize);
}

// Makes the header agree with the payload as it now is: its length, and its
// checksum (XXH3-64 of the payload seeded with XXH3-64 of header bytes 0..23,
// little-endian at offset 24) — what a hostile peer that knows the format
// would send.
void reseal(Bytes& frame) {
  put_at<uint32_t>(frame, 8, static_cast<uint32_t>(frame.size() - kHeaderSize));
  const uint64_t seed = XXH3_64bits(frame.data(), 24);
  put_at<uint64_t>(frame, 24,
                   XXH3_64bits_withSeed(frame.data() + kHeaderSize, frame.size() - kHeaderSize, seed));
}

// `frame` with a payload field overwritten, re-sealed.
template <typename T>
Bytes with_payload_field(Bytes frame, size_t offset, T value) {
  put_at<T>(frame, kHeaderSize + offset, value);
  reseal(frame);
  return frame;
}

// `frame` with bytes appended to its payload, re-sealed.
Bytes with_trailing_bytes(Bytes frame, size_t n) {
  frame.insert(frame.end(), n, std::byte{0});
  reseal(frame);
  return frame;
}

std::optional<std::string> decode_payload(const FrameHeader& h, std::span<const std::byte> payload) {
  switch (h.type) {
    case FrameType::hello: {
      Hello m;
      return decode_hello(payload, m);
    }
    case FrameType::challenge: {
      Challenge m;
      return decode_challenge(payload, m);
    }
    case FrameType::auth: {
      Auth m;
      return decode_auth(payload, m);
    }
    case FrameType::welcome: {
      Welcome m;
      return decode_welcome(payload, m);
    }
    case FrameType::response: {
      Response m;
      return decode_response(h, payload, m);
    }
    case FrameType::request: {
      ReceivedRequest m;
      return decode_request(h, payload, m);
    }
    case FrameType::inspect: {  // tested in inspect_format_test.cc
      inspect::Query m;
      return inspect::decode_query(h, payload, m);
    }
    case FrameType::inspect_reply: {
      inspect::Reply m;
      return inspect::decode_reply(h, payload, m);
    }
  }
  return "decode_header let an unknown frame type through";
}

// What a receiver makes of the front of a byte stream: the fault found by the
// header check, the checksum or the payload decoder, or nothing when the
// frame is believed. Bytes beyond the header's payload length belong to the
// next frame and are left alone.
std::optional<std::string> receive(std::span<const std::byte> stream) {
  if (stream.size() < kHeaderSize) return "stream is shorter than a header";
  FrameHeader h;
  if (auto e = decode_header(header_of(stream), h)) return e;
  if (stream.size() - kHeaderSize < h.payload_length) return "stream is shorter than the frame";
  auto payload = stream.subspan(kHeaderSize, h.payload_length);
  if (!checksum_matches(header_of(stream), payload)) return "checksum mismatch";
  return decode_payload(h, payload);
}

::testing::AssertionResult sound(const std::optional<std::string>& fault) {
  if (!fault) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "refused: " << *fault;
}

void expect_same_time(const timespec& a, const timespec& b) {
  EXPECT_EQ(a.tv_sec, b.tv_sec);
  EXPECT_EQ(a.tv_nsec, b.tv_nsec);
}

Nonce counting_nonce(uint8_t start) {
  Nonce n;
  for (size_t i = 0; i < n.size(); ++i) n[i] = static_cast<std::byte>(start + i);
  return n;
}

Hello sample_hello() {
  Hello m;
  m.min_version = 1;
  m.max_version = 3;
  m.features = 0xA5A5F00D;
  m.session = 0x0123456789ABCDEF;
  m.index = 2;
  m.count = 4;
  m.volume = "projects";
  m.nonce = counting_nonce(7);
  m.resume_from = 0x8877665544332211;
  return m;
}

// A small request with every variable-length field present.
MirrorRequest small_request(std::span<const std::byte> data) {
  MirrorRequest r;
  r.op = Op::setxattr;
  r.path = "dir/file";
  r.target = "t";
  r.xattr_name = "user.x";
  r.data = data;
  r.flags = 1;
  r.inode = 42;
  return r;
}

Bytes small_request_frame(const Bytes& data) {
  return flatten(encode_request(9, 8, small_request(data)));
}

// One sound frame of each type.
std::vector<Bytes> one_frame_of_each_type(const Bytes& request_data) {
  Challenge c{counting_nonce(1), {}};
  c.proof[0] = std::byte{0xFF};
  Auth a;
  a.proof[31] = std::byte{1};
  return {flatten(encode_hello(sample_hello())), flatten(encode_challenge(c)),
          flatten(encode_auth(a)), flatten(encode_welcome({1, 77})),
          flatten(encode_response({12, 5})), small_request_frame(request_data)};
}

// --- Round trips ---------------------------------------------------------

TEST(WireRoundTrip, Hello) {
  const Hello in = sample_hello();
  Bytes frame = flatten(encode_hello(in));
  FrameHeader h;
  ASSERT_TRUE(sound(decode_header(header_of(frame), h)));
  EXPECT_EQ(h.type, FrameType::hello);
  EXPECT_EQ(h.payload_length, kHelloFixedSize + in.volume.size());
  EXPECT_EQ(h.payload_length, frame.size() - kHeaderSize);
  ASSERT_TRUE(checksum_matches(header_of(frame), payload_of(frame)));
  Hello out;
  ASSERT_TRUE(sound(decode_hello(payload_of(frame), out)));
  EXPECT_EQ(out.min_version, in.min_version);
  EXPECT_EQ(out.max_version, in.max_version);
  EXPECT_EQ(out.features, in.features);
  EXPECT_EQ(out.session, in.session);
  EXPECT_EQ(out.index, in.index);
  EXPECT_EQ(out.count, in.count);
  EXPECT_EQ(out.volume, in.volume);
  EXPECT_EQ(out.nonce, in.nonce);
  EXPECT_EQ(out.resume_from, in.resume_from);
}

TEST(WireRoundTrip, HelloWithLongestVolumeName) {
  Hello in = sample_hello();
  in.volume = std::string(kMaxVolumeName, 'v');
  Bytes frame = flatten(encode_hello(in));
  Hello out;
  ASSERT_TRUE(sound(receive(frame)));
  ASSERT_TRUE(sound(decode_hello(payload_of(frame), out)));
  EXPECT_EQ(out.volume, in.volume);
}

TEST(WireRoundTrip, Challenge) {
  Challenge in{counting_nonce(3), {}};
  for (size_t i = 0; i < in.proof.size(); ++i) in.proof[i] = static_cast<std::byte>(0xF0 ^ i);
  Bytes frame = flatten(encode_challenge(in));
  FrameHeader h;
  ASSERT_TRUE(sound(decode_header(header_of(frame), h)));
  EXPECT_EQ(h.type, FrameType::challenge);
  EXPECT_EQ(h.payload_length, kNonceSize + kProofSize);
  ASSERT_TRUE(checksum_matches(header_of(frame), payload_of(frame)));
  Challenge out;
  ASSERT_TRUE(sound(decode_challenge(payload_of(frame), out)));
  EXPECT_EQ(out.nonce, in.nonce);
  EXPECT_EQ(out.proof, in.proof);
}

TEST(WireRoundTrip, Auth) {
  Auth in;
  for (size_t i = 0; i < in.proof.size(); ++i) in.proof[i] = static_cast<std::byte>(i * 13);
  Bytes frame = flatten(encode_auth(in));
  FrameHeader h;
  ASSERT_TRUE(sound(decode_header(header_of(frame), h)));
  EXPECT_EQ(h.type, FrameType::auth);
  EXPECT_EQ(h.payload_length, kProofSize);
  ASSERT_TRUE(checksum_matches(header_of(frame), payload_of(frame)));
  Auth out;
  ASSERT_TRUE(sound(decode_auth(payload_of(frame), out)));
  EXPECT_EQ(out.proof, in.proof);
}

TEST(WireRoundTrip, Welcome) {
  const Welcome in{1, 0xFEDCBA9876543210};
  Bytes frame = flatten(encode_welcome(in));
  FrameHeader h;
  ASSERT_TRUE(sound(decode_header(header_of(frame), h)));
  EXPECT_EQ(h.type, FrameType::welcome);
  EXPECT_EQ(h.payload_length, 16u);
  ASSERT_TRUE(checksum_matches(header_of(frame), payload_of(frame)));
  Welcome out;
  out.version = 0;
  ASSERT_TRUE(sound(decode_welcome(payload_of(frame), out)));
  EXPECT_EQ(out.version, in.version);
  EXPECT_EQ(out.applied_through, in.applied_through);
}

TEST(WireRoundTrip, ResponseCarriesSequenceInHeader) {
  const Response in{0x1122334455667788, 4095};
  Bytes frame = flatten(encode_response(in));
  FrameHeader h;
  ASSERT_TRUE(sound(decode_header(header_of(frame), h)));
  EXPECT_EQ(h.type, FrameType::response);
  EXPECT_EQ(h.sequence, in.sequence);
  EXPECT_EQ(h.payload_length, 8u);
  ASSERT_TRUE(checksum_matches(header_of(frame), payload_of(frame)));
  Response out;
  ASSERT_TRUE(sound(decode_response(h, payload_of(frame), out)));
  EXPECT_EQ(out.sequence, in.sequence);
  EXPECT_EQ(out.error, in.error);
}

TEST(WireRoundTrip, RequestWithEveryField) {
  Bytes data(kMaxData);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i * 31 + (i >> 12));
  MirrorRequest in;
  in.op = Op::setxattr;
  in.path = "some dir/sub\xff" + std::string(3000, 'p');
  in.target = "other/" + std::string(kMaxPath - 6, 't');
  in.xattr_name = "user." + std::string(kMaxXattrName - 5, 'n');
  in.data = data;
  in.offset = 0x0102030405060708;
  in.length = 0x1112131415161718;
  in.flags = 0xDEADBEEF;
  in.inode = 0x2122232425262728;
  in.attr.valid = kAttrMode | kAttrUid | kAttrGid | kAttrSize | kAttrAtime | kAttrMtime | kAttrRdev;
  in.attr.mode = 0100644 | 07000;
  in.attr.uid = 4000000000u;
  in.attr.gid = 65534;
  in.attr.size = 0x3132333435363738;
  in.attr.rdev = 0x4142434445464748;
  in.attr.atime = {1700000000, 1};
  in.attr.mtime = {-86400, 999999999};  // before 1970
  in.mtime_after = {4102444800, 123456789};

  Bytes frame = flatten(encode_request(0xA1A2A3A4A5A6A7A8, 0xB1B2B3B4B5B6B7B8, in));
  FrameHeader h;
  ASSERT_TRUE(sound(decode_header(header_of(frame), h)));
  EXPECT_EQ(h.type, FrameType::request);
  EXPECT_EQ(h.sequence, 0xA1A2A3A4A5A6A7A8u);
  EXPECT_EQ(h.payload_length, kRequestFixedSize + in.path.size() + in.target.size() +
                                  in.xattr_name.size() + data.size());
  ASSERT_TRUE(checksum_matches(header_of(frame), payload_of(frame)));
  ReceivedRequest out;
  ASSERT_TRUE(sound(decode_request(h, payload_of(frame), out)));
  EXPECT_EQ(out.sequence, 0xA1A2A3A4A5A6A7A8u);
  EXPECT_EQ(out.barrier, 0xB1B2B3B4B5B6B7B8u);
  const MirrorRequest& r = out.request;
  EXPECT_EQ(r.op, in.op);
  EXPECT_EQ(r.path, in.path);
  EXPECT_EQ(r.target, in.target);
  EXPECT_EQ(r.xattr_name, in.xattr_name);
  EXPECT_TRUE(std::ranges::equal(r.data, data)) << "data of " << r.data.size() << " bytes differs";
  EXPECT_EQ(r.offset, in.offset);
  EXPECT_EQ(r.length, in.length);
  EXPECT_EQ(r.flags, in.flags);
  EXPECT_EQ(r.inode, in.inode);
  EXPECT_EQ(r.attr.valid, in.attr.valid);
  EXPECT_EQ(r.attr.mode, in.attr.mode);
  EXPECT_EQ(r.attr.uid, in.attr.uid);
  EXPECT_EQ(r.attr.gid, in.attr.gid);
  EXPECT_EQ(r.attr.size, in.attr.size);
  EXPECT_EQ(r.attr.rdev, in.attr.rdev);
  expect_same_time(r.attr.atime, in.attr.atime);
  expect_same_time(r.attr.mtime, in.attr.mtime);
  expect_same_time(r.mtime_after, in.mtime_after);
}

TEST(WireRoundTrip, RequestOfEveryOperation) {
  for (int op = static_cast<int>(Op::write); op <= static_cast<int>(Op::fsync); ++op) {
    MirrorRequest in;
    in.op = static_cast<Op>(op);
    in.path = "f";
    Bytes frame = flatten(encode_request(static_cast<uint64_t>(op), 0, in));
    FrameHeader h;
    ASSERT_TRUE(sound(decode_header(header_of(frame), h)));
    ReceivedRequest out;
    ASSERT_TRUE(sound(decode_request(h, payload_of(frame), out))) << to_string(in.op);
    EXPECT_EQ(out.request.op, in.op);
    EXPECT_EQ(out.sequence, static_cast<uint64_t>(op));
  }
}

TEST(WireRoundTrip, RequestOfRootWithNothingElse) {
  MirrorRequest in;
  in.op = Op::fsync;  // path "" is the volume root
  Bytes frame = flatten(encode_request(1, 0, in));
  EXPECT_EQ(frame.size(), kHeaderSize + kRequestFixedSize);
  FrameHeader h;
  ASSERT_TRUE(sound(decode_header(header_of(frame), h)));
  ReceivedRequest out;
  out.request.path = "stale";
  ASSERT_TRUE(sound(decode_request(h, payload_of(frame), out)));
  EXPECT_EQ(out.request.path, "");
  EXPECT_TRUE(out.request.data.empty());
}

TEST(WireRoundTrip, HelloTranscriptIsTheHelloPayload) {
  const Hello m = sample_hello();
  Bytes frame = flatten(encode_hello(m));
  EXPECT_TRUE(std::ranges::equal(hello_transcript(m), payload_of(frame)));
}

// --- Writes are not copied -----------------------------------------------

TEST(WireRequest, EncodeBorrowsDataInsteadOfCopying) {
  Bytes data(100000, std::byte{0x5A});
  MirrorRequest r = small_request(data);
  OutFrame f = encode_request(1, 0, r);
  EXPECT_EQ(f.data.data(), data.data());
  EXPECT_EQ(f.data.size(), data.size());
  EXPECT_EQ(f.head.size(),
            kHeaderSize + kRequestFixedSize + r.path.size() + r.target.size() + r.xattr_name.size());
  EXPECT_EQ(f.size(), f.head.size() + data.size());
}

TEST(WireRequest, ChecksumCoversBorrowedData) {
  Bytes data = bytes_of("payload bytes");
  OutFrame f = encode_request(1, 0, small_request(data));
  data[3] ^= std::byte{1};  // the caller's buffer changed before the send
  EXPECT_THAT(receive(flatten(f)), Optional(HasSubstr("checksum")));
}

TEST(WireRequest, DecodedDataPointsIntoPayload) {
  Bytes data = bytes_of("0123456789");
  Bytes frame = small_request_frame(data);
  FrameHeader h;
  ASSERT_TRUE(sound(decode_header(header_of(frame), h)));
  ReceivedRequest out;
  auto payload = payload_of(frame);
  ASSERT_TRUE(sound(decode_request(h, payload, out)));
  EXPECT_EQ(out.request.data.data(), payload.data() + payload.size() - data.size());
  EXPECT_EQ(out.request.data.size(), data.size());
}

// --- Damage anywhere is detected -----------------------------------------

// Flips each bit of `frame` in turn, as the front of a stream whose following
// bytes are long enough for any payload length a flip can make acceptable.
void expect_every_bit_flip_detected(const Bytes& frame) {
  Bytes stream = frame;
  stream.resize(frame.size() + kMaxPayload, std::byte{0x33});
  ASSERT_TRUE(sound(receive(stream)));
  for (size_t bit = 0; bit < frame.size() * 8; ++bit) {
    stream[bit / 8] ^= std::byte{static_cast<uint8_t>(1u << (bit % 8))};
    auto fault = receive(stream);
    EXPECT_THAT(fault, Optional(Not(HasSubstr("shorter"))))
        << "flip of bit " << bit % 8 << " of byte " << bit / 8 << " of a frame of type "
        << static_cast<int>(frame[5]) << " went unnoticed";
    stream[bit / 8] ^= std::byte{static_cast<uint8_t>(1u << (bit % 8))};
  }
}

TEST(WireCorruption, EveryBitFlipInRequestIsDetected) {
  expect_every_bit_flip_detected(small_request_frame(bytes_of("abc")));
}

TEST(WireCorruption, EveryBitFlipInHandshakeAndResponseIsDetected) {
  auto frames = one_frame_of_each_type({});
  for (const Bytes& frame : frames) expect_every_bit_flip_detected(frame);
}

TEST(WireCorruption, ResealedFrameIsBelieved) {
  // The test helper itself: re-sealing a sound frame changes nothing.
  Bytes frame = small_request_frame(bytes_of("abc"));
  Bytes copy = frame;
  reseal(copy);
  EXPECT_EQ(copy, frame);
}

// --- Header faults -------------------------------------------------------

std::optional<std::string> header_fault(const Bytes& frame) {
  FrameHeader h;
  return decode_header(header_of(frame), h);
}

TEST(WireHeader, BadMagicIsRejected) {
  Bytes frame = small_request_frame({});
  put_at<uint32_t>(frame, 0, 0x5346524E);
  EXPECT_THAT(header_fault(frame), Optional(HasSubstr("bad magic")));
  put_at<uint32_t>(frame, 0, 0x4D524653);  // "MRFS" read big-endian
  EXPECT_THAT(header_fault(frame), Optional(HasSubstr("bad magic")));
}

TEST(WireHeader, UnknownVersionIsRejected) {
  Bytes frame = small_request_frame({});
  for (uint8_t v : {0, 2, 255}) {
    frame[4] = std::byte{v};
    EXPECT_THAT(header_fault(frame), Optional(HasSubstr("version " + std::to_string(v))));
  }
}

TEST(WireHeader, UnknownTypeIsRejected) {
  Bytes frame = small_request_frame({});
  for (uint8_t t : {0, 9, 255}) {
    frame[5] = std::byte{t};
    EXPECT_THAT(header_fault(frame), Optional(HasSubstr("unknown frame type " + std::to_string(t))));
  }
}

TEST(WireHeader, NonZeroFlagsAreRejected) {
  for (int bit = 0; bit < 16; ++bit) {
    Bytes frame = small_request_frame({});
    put_at<uint16_t>(frame, 6, static_cast<uint16_t>(1u << bit));
    EXPECT_THAT(header_fault(frame), Optional(HasSubstr("reserved"))) << "flag bit " << bit;
  }
}

TEST(WireHeader, NonZeroReservedFieldIsRejected) {
  for (int bit = 0; bit < 32; ++bit) {
    Bytes frame = small_request_frame({});
    put_at<uint32_t>(frame, 12, 1u << bit);
    EXPECT_THAT(header_fault(frame), Optional(HasSubstr("reserved"))) << "reserved bit " << bit;
  }
}

TEST(WireHeader, PayloadLengthAboveLimitIsRejected) {
  Bytes frame = small_request_frame({});
  for (uint32_t length : {static_cast<uint32_t>(kMaxPayload + 1), 0xFFFFFFFFu}) {
    put_at<uint32_t>(frame, 8, length);
    EXPECT_THAT(header_fault(frame),
                Optional(HasSubstr("payload length " + std::to_string(length) + " exceeds")));
  }
}

TEST(WireHeader, PayloadLengthAtLimitIsAccepted) {
  Bytes frame = small_request_frame({});
  put_at<uint32_t>(frame, 8, static_cast<uint32_t>(kMaxPayload));
  FrameHeader h;
  ASSERT_TRUE(sound(decode_header(header_of(frame), h)));
  EXPECT_EQ(h.payload_length, kMaxPayload);
}

TEST(WireHeader, LargestRequestFitsTheLimit) {
  Bytes data(kMaxData);
  MirrorRequest r;
  r.op = Op::setxattr;
  r.path = std::string(kMaxPath, 'p');
  r.target = std::string(kMaxPath, 't');
  r.xattr_name = std::string(kMaxXattrName, 'n');
  r.data = data;
  Bytes frame = flatten(encode_request(1, 0, r));
  EXPECT_EQ(frame.size() - kHeaderSize, kMaxPayload);
  EXPECT_TRUE(sound(receive(frame)));
}

// --- Truncated and overlong payloads -------------------------------------

TEST(WireTruncation, EveryPrefixOfEveryPayloadIsRejected) {
  for (const Bytes& frame : one_frame_of_each_type(bytes_of("abc"))) {
    FrameHeader h;
    ASSERT_TRUE(sound(decode_header(header_of(frame), h)));
    const auto payload = payload_of(frame);
    ASSERT_TRUE(sound(decode_payload(h, payload)));
    for (size_t n = 0; n < payload.size(); ++n) {
      // A buffer of exactly n bytes, so that a read beyond it is an
      // out-of-bounds read a sanitizer build reports.
      Bytes prefix(payload.begin(), payload.begin() + static_cast<ptrdiff_t>(n));
      EXPECT_TRUE(decode_payload(h, prefix).has_value())
          << "type " << static_cast<int>(h.type) << " payload cut to " << n << " of "
          << payload.size() << " bytes was accepted";
    }
  }
}

TEST(WireTruncation, TruncatedRequestSaysSo) {
  Bytes frame = small_request_frame(bytes_of("abc"));
  frame.pop_back();
  reseal(frame);
  EXPECT_THAT(receive(frame), Optional(HasSubstr("truncated")));
  frame.resize(kHeaderSize + kRequestFixedSize - 1);
  reseal(frame);
  EXPECT_THAT(receive(frame), Optional(HasSubstr("truncated")));
}

TEST(WireTruncation, TrailingBytesAreRejected) {
  for (const Bytes& frame : one_frame_of_each_type(bytes_of("abc"))) {
    for (size_t n : {1, 7}) {
      EXPECT_THAT(receive(with_trailing_bytes(frame, n)),
                  Optional(HasSubstr(std::to_string(n) + " unexpected trailing bytes")))
          << "type " << static_cast<int>(frame[5]);
    }
  }
}

TEST(WireTruncation, RequestLengthFieldBeyondPayloadIsRejected) {
  Bytes frame = small_request_frame(bytes_of("abc"));
  EXPECT_THAT(receive(with_payload_field<uint16_t>(frame, kRequestPathLength, 100)),
              Optional(HasSubstr("truncated")));
}

TEST(WireTruncation, HelloVolumeLengthBeyondPayloadIsRejected) {
  Bytes frame = flatten(encode_hello(sample_hello()));
  EXPECT_THAT(receive(with_payload_field<uint16_t>(frame, kHelloVolumeLength, 200)),
              Optional(HasSubstr("truncated")));
}

// --- REQUEST payload faults ----------------------------------------------

std::optional<std::string> receive_request(const MirrorRequest& r) {
  return receive(flatten(encode_request(1, 0, r)));
}

TEST(WireRequest, PathAtBoundIsAccepted) {
  MirrorRequest r = small_request({});
  r.path = std::string(kMaxPath, 'p');
  r.target = std::string(kMaxPath, 't');
  r.xattr_name = std::string(kMaxXattrName, 'n');
  EXPECT_TRUE(sound(receive_request(r)));
}

TEST(WireRequest, PathBeyondBoundIsRejected) {
  MirrorRequest r = small_request({});
  r.path = std::string(kMaxPath + 1, 'p');
  EXPECT_THAT(receive_request(r), Optional(HasSubstr("path 4097")));
}

TEST(WireRequest, TargetBeyondBoundIsRejected) {
  MirrorRequest r = small_request({});
  r.target = std::string(kMaxPath + 1, 't');
  EXPECT_THAT(receive_request(r), Optional(HasSubstr("target 4097")));
}

TEST(WireRequest, XattrNameBeyondBoundIsRejected) {
  MirrorRequest r = small_request({});
  r.xattr_name = std::string(kMaxXattrName + 1, 'n');
  EXPECT_THAT(receive_request(r), Optional(HasSubstr("xattr name 256")));
}

TEST(WireRequest, DataBeyondBoundIsRejected) {
  Bytes data(kMaxData + 1);
  MirrorRequest r = small_request(data);
  EXPECT_THAT(receive_request(r), Optional(HasSubstr("data " + std::to_string(kMaxData + 1))));
}

TEST(WireRequest, UnknownOperationIsRejected) {
  for (int op : {0, static_cast<int>(Op::fsync) + 1, 255}) {
    MirrorRequest r = small_request({});
    r.op = static_cast<Op>(op);
    EXPECT_THAT(receive_request(r), Optional(HasSubstr("unknown operation " + std::to_string(op))));
  }
}

TEST(WireRequest, NanosecondsOfASecondOrMoreAreRejected) {
  const Bytes frame = small_request_frame({});
  for (size_t offset : {kRequestAtimeNsec, kRequestMtimeNsec, kRequestMtimeAfterNsec}) {
    for (uint32_t ns : {1000000000u, 0xFFFFFFFFu}) {
      EXPECT_THAT(receive(with_payload_field<uint32_t>(frame, offset, ns)),
                  Optional(HasSubstr("nanoseconds")))
          << "offset " << offset << ", " << ns << " ns";
    }
    EXPECT_TRUE(sound(receive(with_payload_field<uint32_t>(frame, offset, 999999999u))));
  }
}

TEST(WireRequest, NulInPathIsRejected) {
  MirrorRequest r = small_request({});
  r.path = std::string("dir\0/../x", 9);
  EXPECT_THAT(receive_request(r), Optional(HasSubstr("NUL")));
}

TEST(WireRequest, NulInXattrNameIsRejected) {
  MirrorRequest r = small_request({});
  r.xattr_name = std::string("user.a\0b", 8);
  EXPECT_THAT(receive_request(r), Optional(HasSubstr("NUL")));
}

TEST(WireRequest, NonZeroReservedFieldsAreRejected) {
  const Bytes frame = small_request_frame({});
  EXPECT_THAT(receive(with_payload_field<uint8_t>(frame, kRequestReserved1, 1)),
              Optional(HasSubstr("reserved")));
  EXPECT_THAT(receive(with_payload_field<uint16_t>(frame, kRequestReserved2, 0x8000)),
              Optional(HasSubstr("reserved")));
  EXPECT_THAT(receive(with_payload_field<uint16_t>(frame, kRequestReserved3, 1)),
              Optional(HasSubstr("reserved")));
}

// --- HELLO payload faults ------------------------------------------------

std::optional<std::string> receive_hello(const Hello& m) { return receive(flatten(encode_hello(m))); }

TEST(WireHello, IndexNotBelowCountIsRejected) {
  Hello m = sample_hello();
  m.index = m.count;
  EXPECT_THAT(receive_hello(m), Optional(HasSubstr("connection index 4 of 4")));
  m.index = 0xFFFF;
  EXPECT_THAT(receive_hello(m), Optional(HasSubstr("out of bounds")));
}

TEST(WireHello, CountZeroIsRejected) {
  Hello m = sample_hello();
  m.index = 0;
  m.count = 0;
  EXPECT_THAT(receive_hello(m), Optional(HasSubstr("connection index 0 of 0")));
}

TEST(WireHello, EmptyVolumeNameIsRejected) {
  Hello m = sample_hello();
  m.volume.clear();
  EXPECT_THAT(receive_hello(m), Optional(HasSubstr("volume name length 0")));
}

TEST(WireHello, OversizedVolumeNameIsRejected) {
  Hello m = sample_hello();
  m.volume = std::string(kMaxVolumeName + 1, 'v');
  EXPECT_THAT(receive_hello(m), Optional(HasSubstr("volume name length 256")));
}

TEST(WireHello, NulInVolumeNameIsRejected) {
  Hello m = sample_hello();
  m.volume = std::string("vol\0x", 5);
  EXPECT_THAT(receive_hello(m), Optional(HasSubstr("NUL")));
}

TEST(WireHello, EmptyVersionRangeIsRejected) {
  Hello m = sample_hello();
  m.min_version = 2;
  m.max_version = 1;
  EXPECT_THAT(receive_hello(m), Optional(HasSubstr("version range")));
}

TEST(WireHello, NonZeroReservedFieldsAreRejected) {
  const Bytes frame = flatten(encode_hello(sample_hello()));
  EXPECT_THAT(receive(with_payload_field<uint16_t>(frame, kHelloReserved1, 1)),
              Optional(HasSubstr("reserved")));
  EXPECT_THAT(receive(with_payload_field<uint16_t>(frame, kHelloReserved2, 0x100)),
              Optional(HasSubstr("reserved")));
}

// --- WELCOME and RESPONSE payload faults ---------------------------------

TEST(WireWelcome, NonZeroReservedBytesAreRejected) {
  const Bytes frame = flatten(encode_welcome({1, 5}));
  for (size_t i = 0; i < 7; ++i) {
    EXPECT_THAT(receive(with_payload_field<uint8_t>(frame, kWelcomeReserved + i, 0x80)),
                Optional(HasSubstr("reserved")))
        << "reserved byte " << i;
  }
}

TEST(WireResponse, ErrnoAbove4095IsRejected) {
  for (uint32_t e : {4096u, 0xFFFFFFFFu}) {
    EXPECT_THAT(receive(flatten(encode_response({1, e}))),
                Optional(HasSubstr("errno " + std::to_string(e))));
  }
}

TEST(WireResponse, NonZeroReservedFieldIsRejected) {
  const Bytes frame = flatten(encode_response({1, 0}));
  EXPECT_THAT(receive(with_payload_field<uint32_t>(frame, kResponseReserved, 1)),
              Optional(HasSubstr("reserved")));
}

}  // namespace
}  // namespace mirror::wire
