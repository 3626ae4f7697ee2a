// The TCP frames between mirrorfs (the local server) and mirrord (the mirror
// server): the one place their bytes are specified.
//
// Every frame is a 32-byte header followed by `payload length` bytes. All
// integers are little-endian.
//
//    0       4     5      6        8                12         16               24              32
//    +-------+-----+------+--------+----------------+----------+----------------+---------------+
//    | magic | ver | type | flags  | payload length | reserved | sequence       | checksum      |
//    | MRFS  |  1  |      | 0      | u32            | 0        | u64            | u64           |
//    +-------+-----+------+--------+----------------+----------+----------------+---------------+
//
// checksum: XXH3-64 of the payload, seeded with XXH3-64 of header bytes 0..23.
// A frame whose magic, version, type, reserved fields, length bound or
// checksum is wrong closes the connection; it is never partly believed.
//
// Version rule: a peer announces the range of versions it speaks in HELLO;
// the mirror picks the highest common one in WELCOME, or refuses. Fields
// marked reserved must be zero in version 1 and are refused otherwise, so a
// later version can give them meaning.
//
// Handshake, on every connection, before any request is believed:
//
//   local                                        mirror
//   HELLO  (versions, features, session, volume,
//           connection i of n, client nonce)  ──►
//                                             ◄──  CHALLENGE (server nonce,
//                                                  HMAC(secret, "mirrord" ‖ HELLO payload ‖ server nonce))
//   AUTH   (HMAC(secret, "mirrorfs" ‖
//           HELLO payload ‖ server nonce))    ──►
//                                             ◄──  WELCOME (version, applied-through sequence)
//
// A mirror that does not accept the AUTH proof closes the connection
// without a word; a local server that does not accept the CHALLENGE proof
// does the same.
//
// Payloads (offsets within the payload):
//
//   HELLO      0 min version u8 | 1 max version u8 | 2 reserved u16 | 4 features u32 |
//              8 session u64 | 16 index u16 | 18 count u16 | 20 volume length u16 |
//              22 reserved u16 | 24 nonce [32] | 56 resume-from sequence u64 | 64 volume bytes
//              resume-from: the lowest sequence number not yet acknowledged; a mirror
//              that does not know the session counts everything below it as applied.
//   CHALLENGE  0 nonce [32] | 32 proof [32]
//   AUTH       0 proof [32]
//   WELCOME    0 version u8 | 1 reserved [7] | 8 applied-through sequence u64
//   REQUEST    (header sequence = the request's sequence number)
//              0 op u8 | 1 reserved u8 | 2 reserved u16 | 4 flags u32 | 8 barrier u64 |
//              16 offset u64 | 24 length u64 | 32 inode u64 | 40 attr valid u32 |
//              44 mode u32 | 48 uid u32 | 52 gid u32 | 56 size u64 | 64 rdev u64 |
//              72 atime sec u64 | 80 mtime sec u64 | 88 mtime-after sec u64 |
//              96 atime nsec u32 | 100 mtime nsec u32 | 104 mtime-after nsec u32 |
//              108 path length u16 | 110 target length u16 | 112 xattr name length u16 |
//              114 reserved u16 | 116 data length u32 | 120 parent mtime sec u64 |
//              128 target parent mtime sec u64 | 136 parent mtime nsec u32 |
//              140 target parent mtime nsec u32 | 144 path | target | xattr name | data
//   RESPONSE   (header sequence = the request's) 0 errno u32 (0: stored) | 4 reserved u32
//   INSPECT, INSPECT_REPLY: on an inspection connection only (HELLO features bit
//              kFeatureInspect; its WELCOME says applied-through 0); their payloads
//              are drawn in inspect_format.h.
//
// barrier: the sequence number of the last namespace change sent before this
// request; the mirror applies the request only after every request up to the
// barrier is applied (see mirror/ordering.h).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mirror/request.h"

namespace mirror::wire {

inline constexpr uint32_t kMagic = 0x5346524D;  // "MRFS" on the wire
inline constexpr uint8_t kVersion = 1;
inline constexpr size_t kHeaderSize = 32;
inline constexpr size_t kNonceSize = 32;
inline constexpr size_t kProofSize = 32;
inline constexpr size_t kMaxVolumeName = 255;
inline constexpr size_t kMaxPath = 4096;
inline constexpr size_t kMaxXattrName = 255;
inline constexpr size_t kMaxData = 1u << 20;  // a write of max_write, or an xattr value
inline constexpr size_t kRequestFixedSize = 144;
inline constexpr size_t kMaxPayload = kRequestFixedSize + 2 * kMaxPath + kMaxXattrName + kMaxData;

enum class FrameType : uint8_t {
  hello = 1,
  challenge = 2,
  auth = 3,
  welcome = 4,
  request = 5,
  response = 6,
  inspect = 7,        // a question about the copy (mirror/inspect_format.h)
  inspect_reply = 8,  // its answer
};

// HELLO features. kFeatureInspect: this is an inspection connection (index 0
// of count 1; the local server sends session 0), answered with the frames of
// mirror/inspect_format.h; it neither begins nor joins a session.
inline constexpr uint32_t kFeatureInspect = 1u << 0;

struct FrameHeader {
  FrameType type{};
  uint32_t payload_length = 0;
  uint64_t sequence = 0;
  uint64_t checksum = 0;
};

using Nonce = std::array<std::byte, kNonceSize>;
using Proof = std::array<std::byte, kProofSize>;

struct Hello {
  uint8_t min_version = kVersion;
  uint8_t max_version = kVersion;
  uint32_t features = 0;
  uint64_t session = 0;  // identifies one run of the local server
  uint16_t index = 0;    // this connection is element `index` of `count`
  uint16_t count = 0;
  std::string volume;
  Nonce nonce{};
  uint64_t resume_from = 1;
};

struct Challenge {
  Nonce nonce{};
  Proof proof{};
};

struct Auth {
  Proof proof{};
};

struct Welcome {
  uint8_t version = kVersion;
  uint64_t applied_through = 0;
};

struct Response {
  uint64_t sequence = 0;
  uint32_t error = 0;  // 0: stored; else the errno of the mirror's failure
};

// A request as received: `request.data` points into the payload it came in.
struct ReceivedRequest {
  uint64_t sequence = 0;
  uint64_t barrier = 0;
  MirrorRequest request;
};

// A frame ready to send: `head` holds the header and the payload up to the
// data, which follows on the wire from where it lies (no copy of writes).
struct OutFrame {
  std::vector<std::byte> head;
  std::span<const std::byte> data;
  size_t size() const { return head.size() + data.size(); }
};

// Building a frame of another format that rides this header (e.g.
// inspect_format.h): start_frame gives room for the header, the payload is
// appended to it, and finish_frame fills the header in, checksumming the
// payload and then `data`.
std::vector<std::byte> start_frame(size_t payload_hint = 0);
OutFrame finish_frame(FrameType type, uint64_t sequence, std::vector<std::byte> head,
                      std::span<const std::byte> data = {});

OutFrame encode_hello(const Hello& m);
OutFrame encode_challenge(const Challenge& m);
OutFrame encode_auth(const Auth& m);
OutFrame encode_welcome(const Welcome& m);
OutFrame encode_response(const Response& m);
// `r.data` is borrowed by the frame: it must outlive the send.
OutFrame encode_request(uint64_t sequence, uint64_t barrier, const MirrorRequest& r);

// Checks a received header: magic, version, type, reserved fields and the
// length bound. Returns the fault in a sentence, or nothing when it is sound.
std::optional<std::string> decode_header(std::span<const std::byte, kHeaderSize> raw,
                                         FrameHeader& out);
// Whether the payload matches the header's checksum.
bool checksum_matches(std::span<const std::byte, kHeaderSize> raw,
                      std::span<const std::byte> payload);

// Payload decoders: each checks every length and reserved field and returns
// the fault in a sentence, or nothing.
std::optional<std::string> decode_hello(std::span<const std::byte> payload, Hello& out);
std::optional<std::string> decode_challenge(std::span<const std::byte> payload, Challenge& out);
std::optional<std::string> decode_auth(std::span<const std::byte> payload, Auth& out);
std::optional<std::string> decode_welcome(std::span<const std::byte> payload, Welcome& out);
std::optional<std::string> decode_response(const FrameHeader& header,
                                           std::span<const std::byte> payload, Response& out);
std::optional<std::string> decode_request(const FrameHeader& header,
                                          std::span<const std::byte> payload,
                                          ReceivedRequest& out);

// The HELLO payload bytes, as both proofs cover them.
std::vector<std::byte> hello_transcript(const Hello& m);

}  // namespace mirror::wire
