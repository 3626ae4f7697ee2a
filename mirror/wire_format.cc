// Encoders and decoders of the frames specified in wire_format.h.
#include "mirror/wire_format.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstring>

#include "mirror/coding.h"

namespace mirror::wire {
namespace {

using coding::put;
using coding::Reader;

uint64_t header_seed(std::span<const std::byte> header24) {
  return XXH3_64bits(header24.data(), 24);
}

template <size_t N>
void put_array(std::vector<std::byte>& out, const std::array<std::byte, N>& a) {
  out.insert(out.end(), a.begin(), a.end());
}

template <size_t N>
void get_array(Reader& in, std::array<std::byte, N>& a) {
  auto s = in.get_span(N);
  if (s.size() == N) std::memcpy(a.data(), s.data(), N);
}

std::optional<std::string> expect_end(const Reader& in, const char* what) {
  if (!in.ok()) return std::string(what) + " payload is truncated";
  if (in.remaining() != 0) {
    return std::string(what) + " payload has " + std::to_string(in.remaining()) +
           " unexpected trailing bytes";
  }
  return std::nullopt;
}

bool valid_name_bytes(std::string_view s) { return s.find('\0') == std::string_view::npos; }

}  // namespace

std::vector<std::byte> start_frame(size_t payload_hint) {
  std::vector<std::byte> out;
  out.reserve(kHeaderSize + payload_hint);
  out.resize(kHeaderSize);
  return out;
}

OutFrame finish_frame(FrameType type, uint64_t sequence, std::vector<std::byte> head,
                      std::span<const std::byte> data) {
  const size_t payload = head.size() - kHeaderSize + data.size();
  std::vector<std::byte> h;
  h.reserve(kHeaderSize);
  put<uint32_t>(h, kMagic);
  put<uint8_t>(h, kVersion);
  put<uint8_t>(h, static_cast<uint8_t>(type));
  put<uint16_t>(h, 0);
  put<uint32_t>(h, static_cast<uint32_t>(payload));
  put<uint32_t>(h, 0);
  put<uint64_t>(h, sequence);
  XXH3_state_t state;
  XXH3_64bits_reset_withSeed(&state, header_seed(h));
  XXH3_64bits_update(&state, head.data() + kHeaderSize, head.size() - kHeaderSize);
  if (!data.empty()) XXH3_64bits_update(&state, data.data(), data.size());
  put<uint64_t>(h, XXH3_64bits_digest(&state));
  std::memcpy(head.data(), h.data(), kHeaderSize);
  return OutFrame{std::move(head), data};
}

OutFrame encode_hello(const Hello& m) {
  auto out = start_frame(64 + m.volume.size());
  put<uint8_t>(out, m.min_version);
  put<uint8_t>(out, m.max_version);
  put<uint16_t>(out, 0);
  put<uint32_t>(out, m.features);
  put<uint64_t>(out, m.session);
  put<uint16_t>(out, m.index);
  put<uint16_t>(out, m.count);
  put<uint16_t>(out, static_cast<uint16_t>(m.volume.size()));
  put<uint16_t>(out, 0);
  put_array(out, m.nonce);
  put<uint64_t>(out, m.resume_from);
  coding::put_bytes(out, m.volume);
  return finish_frame(FrameType::hello, 0, std::move(out));
}

std::vector<std::byte> hello_transcript(const Hello& m) {
  OutFrame f = encode_hello(m);
  return {f.head.begin() + kHeaderSize, f.head.end()};
}

OutFrame encode_challenge(const Challenge& m) {
  auto out = start_frame(kNonceSize + kProofSize);
  put_array(out, m.nonce);
  put_array(out, m.proof);
  return finish_frame(FrameType::challenge, 0, std::move(out));
}

OutFrame encode_auth(const Auth& m) {
  auto out = start_frame(kProofSize);
  put_array(out, m.proof);
  return finish_frame(FrameType::auth, 0, std::move(out));
}

OutFrame encode_welcome(const Welcome& m) {
  auto out = start_frame(16);
  put<uint8_t>(out, m.version);
  for (int i = 0; i < 7; ++i) put<uint8_t>(out, 0);
  put<uint64_t>(out, m.applied_through);
  return finish_frame(FrameType::welcome, 0, std::move(out));
}

OutFrame encode_response(const Response& m) {
  auto out = start_frame(8);
  put<uint32_t>(out, m.error);
  put<uint32_t>(out, 0);
  return finish_frame(FrameType::response, m.sequence, std::move(out));
}

OutFrame encode_request(uint64_t sequence, uint64_t barrier, const MirrorRequest& r) {
  auto out = start_frame(kRequestFixedSize + r.path.size() + r.target.size() + r.xattr_name.size());
  put<uint8_t>(out, static_cast<uint8_t>(r.op));
  put<uint8_t>(out, 0);
  put<uint16_t>(out, 0);
  put<uint32_t>(out, r.flags);
  put<uint64_t>(out, barrier);
  put<uint64_t>(out, r.offset);
  put<uint64_t>(out, r.length);
  put<uint64_t>(out, r.inode);
  put<uint32_t>(out, r.attr.valid);
  put<uint32_t>(out, r.attr.mode);
  put<uint32_t>(out, r.attr.uid);
  put<uint32_t>(out, r.attr.gid);
  put<uint64_t>(out, r.attr.size);
  put<uint64_t>(out, r.attr.rdev);
  put<uint64_t>(out, static_cast<uint64_t>(r.attr.atime.tv_sec));
  put<uint64_t>(out, static_cast<uint64_t>(r.attr.mtime.tv_sec));
  put<uint64_t>(out, static_cast<uint64_t>(r.mtime_after.tv_sec));
  put<uint32_t>(out, static_cast<uint32_t>(r.attr.atime.tv_nsec));
  put<uint32_t>(out, static_cast<uint32_t>(r.attr.mtime.tv_nsec));
  put<uint32_t>(out, static_cast<uint32_t>(r.mtime_after.tv_nsec));
  put<uint16_t>(out, static_cast<uint16_t>(r.path.size()));
  put<uint16_t>(out, static_cast<uint16_t>(r.target.size()));
  put<uint16_t>(out, static_cast<uint16_t>(r.xattr_name.size()));
  put<uint16_t>(out, 0);
  put<uint32_t>(out, static_cast<uint32_t>(r.data.size()));
  put<uint64_t>(out, static_cast<uint64_t>(r.parent_mtime_after.tv_sec));
  put<uint64_t>(out, static_cast<uint64_t>(r.target_parent_mtime_after.tv_sec));
  put<uint32_t>(out, static_cast<uint32_t>(r.parent_mtime_after.tv_nsec));
  put<uint32_t>(out, static_cast<uint32_t>(r.target_parent_mtime_after.tv_nsec));
  coding::put_bytes(out, r.path);
  coding::put_bytes(out, r.target);
  coding::put_bytes(out, r.xattr_name);
  return finish_frame(FrameType::request, sequence, std::move(out), r.data);
}

std::optional<std::string> decode_header(std::span<const std::byte, kHeaderSize> raw,
                                         FrameHeader& out) {
  Reader in(raw);
  uint32_t magic = in.get<uint32_t>();
  uint8_t version = in.get<uint8_t>();
  uint8_t type = in.get<uint8_t>();
  uint16_t flags = in.get<uint16_t>();
  out.payload_length = in.get<uint32_t>();
  uint32_t reserved = in.get<uint32_t>();
  out.sequence = in.get<uint64_t>();
  out.checksum = in.get<uint64_t>();
  if (magic != kMagic) return "bad magic (not a mirrorfs peer?)";
  if (version != kVersion) return "unsupported frame version " + std::to_string(version);
  if (type < static_cast<uint8_t>(FrameType::hello) ||
      type > static_cast<uint8_t>(FrameType::inspect_reply)) {
    return "unknown frame type " + std::to_string(type);
  }
  if (flags != 0 || reserved != 0) return "reserved header fields are not zero";
  if (out.payload_length > kMaxPayload) {
    return "payload length " + std::to_string(out.payload_length) + " exceeds the limit of " +
           std::to_string(kMaxPayload);
  }
  out.type = static_cast<FrameType>(type);
  return std::nullopt;
}

bool checksum_matches(std::span<const std::byte, kHeaderSize> raw,
                      std::span<const std::byte> payload) {
  Reader in(raw.subspan(24));
  uint64_t expected = in.get<uint64_t>();
  return XXH3_64bits_withSeed(payload.data(), payload.size(), header_seed(raw)) == expected;
}

std::optional<std::string> decode_hello(std::span<const std::byte> payload, Hello& out) {
  Reader in(payload);
  out.min_version = in.get<uint8_t>();
  out.max_version = in.get<uint8_t>();
  uint16_t reserved1 = in.get<uint16_t>();
  out.features = in.get<uint32_t>();
  out.session = in.get<uint64_t>();
  out.index = in.get<uint16_t>();
  out.count = in.get<uint16_t>();
  uint16_t volume_length = in.get<uint16_t>();
  uint16_t reserved2 = in.get<uint16_t>();
  get_array(in, out.nonce);
  out.resume_from = in.get<uint64_t>();
  if (in.ok() && (reserved1 != 0 || reserved2 != 0)) return "HELLO reserved fields are not zero";
  if (volume_length == 0 || volume_length > kMaxVolumeName) {
    return "HELLO volume name length " + std::to_string(volume_length) + " is out of bounds";
  }
  out.volume = std::string(in.get_string(volume_length));
  if (auto e = expect_end(in, "HELLO")) return e;
  if (!valid_name_bytes(out.volume)) return "HELLO volume name contains a NUL byte";
  if (out.count == 0 || out.index >= out.count) {
    return "HELLO connection index " + std::to_string(out.index) + " of " +
           std::to_string(out.count) + " is out of bounds";
  }
  if (out.min_version > out.max_version) return "HELLO version range is empty";
  return std::nullopt;
}

std::optional<std::string> decode_challenge(std::span<const std::byte> payload, Challenge& out) {
  Reader in(payload);
  get_array(in, out.nonce);
  get_array(in, out.proof);
  return expect_end(in, "CHALLENGE");
}

std::optional<std::string> decode_auth(std::span<const std::byte> payload, Auth& out) {
  Reader in(payload);
  get_array(in, out.proof);
  return expect_end(in, "AUTH");
}

std::optional<std::string> decode_welcome(std::span<const std::byte> payload, Welcome& out) {
  Reader in(payload);
  out.version = in.get<uint8_t>();
  uint64_t reserved = 0;
  for (int i = 0; i < 7; ++i) reserved |= in.get<uint8_t>();
  out.applied_through = in.get<uint64_t>();
  if (auto e = expect_end(in, "WELCOME")) return e;
  if (reserved != 0) return "WELCOME reserved fields are not zero";
  return std::nullopt;
}

std::optional<std::string> decode_response(const FrameHeader& header,
                                           std::span<const std::byte> payload, Response& out) {
  Reader in(payload);
  out.sequence = header.sequence;
  out.error = in.get<uint32_t>();
  uint32_t reserved = in.get<uint32_t>();
  if (auto e = expect_end(in, "RESPONSE")) return e;
  if (reserved != 0) return "RESPONSE reserved field is not zero";
  if (out.error > 4095) return "RESPONSE errno " + std::to_string(out.error) + " is out of range";
  return std::nullopt;
}

std::optional<std::string> decode_request(const FrameHeader& header,
                                          std::span<const std::byte> payload,
                                          ReceivedRequest& out) {
  Reader in(payload);
  MirrorRequest& r = out.request;
  out.sequence = header.sequence;
  uint8_t op = in.get<uint8_t>();
  uint32_t reserved = in.get<uint8_t>();
  reserved |= in.get<uint16_t>();
  r.flags = in.get<uint32_t>();
  out.barrier = in.get<uint64_t>();
  r.offset = in.get<uint64_t>();
  r.length = in.get<uint64_t>();
  r.inode = in.get<uint64_t>();
  r.attr.valid = in.get<uint32_t>();
  r.attr.mode = in.get<uint32_t>();
  r.attr.uid = in.get<uint32_t>();
  r.attr.gid = in.get<uint32_t>();
  r.attr.size = in.get<uint64_t>();
  r.attr.rdev = in.get<uint64_t>();
  r.attr.atime.tv_sec = static_cast<time_t>(in.get<uint64_t>());
  r.attr.mtime.tv_sec = static_cast<time_t>(in.get<uint64_t>());
  r.mtime_after.tv_sec = static_cast<time_t>(in.get<uint64_t>());
  r.attr.atime.tv_nsec = in.get<uint32_t>();
  r.attr.mtime.tv_nsec = in.get<uint32_t>();
  r.mtime_after.tv_nsec = in.get<uint32_t>();
  uint16_t path_length = in.get<uint16_t>();
  uint16_t target_length = in.get<uint16_t>();
  uint16_t name_length = in.get<uint16_t>();
  reserved |= in.get<uint16_t>();
  uint32_t data_length = in.get<uint32_t>();
  r.parent_mtime_after.tv_sec = static_cast<time_t>(in.get<uint64_t>());
  r.target_parent_mtime_after.tv_sec = static_cast<time_t>(in.get<uint64_t>());
  r.parent_mtime_after.tv_nsec = in.get<uint32_t>();
  r.target_parent_mtime_after.tv_nsec = in.get<uint32_t>();
  if (!in.ok()) return "REQUEST payload is truncated";
  if (op < static_cast<uint8_t>(Op::write) || op > static_cast<uint8_t>(Op::fsync)) {
    return "REQUEST has unknown operation " + std::to_string(op);
  }
  r.op = static_cast<Op>(op);
  if (reserved != 0) return "REQUEST reserved fields are not zero";
  if (path_length > kMaxPath || target_length > kMaxPath || name_length > kMaxXattrName ||
      data_length > kMaxData) {
    return "REQUEST field lengths out of bounds (path " + std::to_string(path_length) +
           ", target " + std::to_string(target_length) + ", xattr name " +
           std::to_string(name_length) + ", data " + std::to_string(data_length) + ")";
  }
  for (long ns : {r.attr.atime.tv_nsec, r.attr.mtime.tv_nsec, r.mtime_after.tv_nsec,
                  r.parent_mtime_after.tv_nsec, r.target_parent_mtime_after.tv_nsec}) {
    if (ns >= 1000000000) return "REQUEST has a time with more than 999999999 nanoseconds";
  }
  r.path = std::string(in.get_string(path_length));
  r.target = std::string(in.get_string(target_length));
  r.xattr_name = std::string(in.get_string(name_length));
  r.data = in.get_span(data_length);
  if (auto e = expect_end(in, "REQUEST")) return e;
  if (!valid_name_bytes(r.path) || !valid_name_bytes(r.target) || !valid_name_bytes(r.xattr_name)) {
    return "REQUEST path, target or xattr name contains a NUL byte";
  }
  return std::nullopt;
}

}  // namespace mirror::wire
