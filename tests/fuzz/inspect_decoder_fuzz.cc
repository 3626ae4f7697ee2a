// libFuzzer target for the inspection frames of mirror/inspect_format.h: the
// input is taken as a frame (its first 32 bytes the header, short inputs
// padded with zeros; the rest the payload) and given to decode_header,
// checksum_matches and both inspection decoders, whatever the header and
// checksum say, so that the decoders' own checks are reached. Beyond "no
// crash, no out-of-bounds read", whatever a decoder accepts must encode back
// to exactly the bytes it came from: the encoding is canonical, and nothing
// the decoder believed was dropped or made up.
//
// fuzz-sources: mirror/inspect_format.cc mirror/wire_format.cc mirror/request.cc
// fuzz-options: -max_len=65536
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "mirror/inspect_format.h"

namespace {

using namespace mirror::wire;

// Aborts (a finding) unless `f`'s payload is `payload`, and, when the input
// was a believed frame, unless all of `f` is the input.
void expect_reencodes_to(const OutFrame& f, std::span<const std::byte, kHeaderSize> header,
                         std::span<const std::byte> payload, bool believed, const char* what) {
  std::vector<std::byte> again(f.head.begin(), f.head.end());
  again.insert(again.end(), f.data.begin(), f.data.end());
  std::span<const std::byte> again_payload = std::span(again).subspan(kHeaderSize);
  bool same = std::ranges::equal(again_payload, payload);
  if (same && believed) same = std::ranges::equal(std::span(again).first(kHeaderSize), header);
  if (!same) {
    std::fprintf(stderr, "%s: decoded frame does not encode back to the same bytes\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace inspect = mirror::inspect;
  std::array<std::byte, kHeaderSize> header{};
  std::memcpy(header.data(), data, std::min(size, kHeaderSize));
  // The payload is the fuzzer's own buffer, so any read past it is caught.
  std::span<const std::byte> payload;
  if (size > kHeaderSize) {
    payload = std::span(reinterpret_cast<const std::byte*>(data) + kHeaderSize, size - kHeaderSize);
  }
  FrameHeader h;
  const bool header_sound = !decode_header(header, h).has_value();
  const bool checksum_ok = checksum_matches(header, payload);
  const bool complete = header_sound && h.payload_length == payload.size();
  auto believed = [&](FrameType type) { return complete && checksum_ok && h.type == type; };

  inspect::Query query;
  if (!inspect::decode_query(h, payload, query)) {
    expect_reencodes_to(inspect::encode_query(query), header, payload, believed(FrameType::inspect),
                        "INSPECT");
  }
  inspect::Reply reply;
  if (!inspect::decode_reply(h, payload, reply)) {
    expect_reencodes_to(inspect::encode_reply(reply), header, payload,
                        believed(FrameType::inspect_reply), "INSPECT_REPLY");
  }
  return 0;
}
