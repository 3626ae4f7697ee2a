// libFuzzer target for the TCP frame decoders of mirror/wire_format.h: the
// input is taken as a frame (its first 32 bytes the header, short inputs
// padded with zeros; the rest the payload) and given to decode_header,
// checksum_matches and every payload decoder, whatever the header and
// checksum say, so that the decoders' own checks are reached. Beyond "no
// crash, no out-of-bounds read", whatever a decoder accepts must encode back
// to exactly the bytes it came from: the encoding is canonical, and nothing
// the decoder believed was dropped or made up.
//
// fuzz-sources: mirror/wire_format.cc mirror/request.cc
// fuzz-options: -max_len=16384
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "mirror/wire_format.h"

namespace {

using namespace mirror::wire;

std::vector<std::byte> flatten(const OutFrame& f) {
  std::vector<std::byte> out(f.head.begin(), f.head.end());
  out.insert(out.end(), f.data.begin(), f.data.end());
  return out;
}

// Aborts (a finding) unless `f`'s payload is `payload`, and, when the input
// was a believed frame, unless all of `f` is the input.
void expect_reencodes_to(const OutFrame& f, std::span<const std::byte, kHeaderSize> header,
                         std::span<const std::byte> payload, bool believed, const char* what) {
  std::vector<std::byte> again = flatten(f);
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
  // A frame a receiver would believe, given a sound payload of its type.
  auto believed = [&](FrameType type) { return complete && checksum_ok && h.type == type; };

  Hello hello;
  if (!decode_hello(payload, hello)) {
    expect_reencodes_to(encode_hello(hello), header, payload, believed(FrameType::hello), "HELLO");
    if (!std::ranges::equal(hello_transcript(hello), payload)) std::abort();
  }
  Challenge challenge;
  if (!decode_challenge(payload, challenge)) {
    expect_reencodes_to(encode_challenge(challenge), header, payload,
                        believed(FrameType::challenge), "CHALLENGE");
  }
  Auth auth;
  if (!decode_auth(payload, auth)) {
    expect_reencodes_to(encode_auth(auth), header, payload, believed(FrameType::auth), "AUTH");
  }
  Welcome welcome;
  if (!decode_welcome(payload, welcome)) {
    expect_reencodes_to(encode_welcome(welcome), header, payload, believed(FrameType::welcome),
                        "WELCOME");
  }
  Response response;
  if (!decode_response(h, payload, response)) {
    expect_reencodes_to(encode_response(response), header, payload,
                        believed(FrameType::response), "RESPONSE");
  }
  ReceivedRequest request;
  if (!decode_request(h, payload, request)) {
    // The data is borrowed from the payload, never copied out of it.
    const auto* end = payload.data() + payload.size();
    if (request.request.data.data() + request.request.data.size() != end &&
        !request.request.data.empty()) {
      std::abort();
    }
    expect_reencodes_to(encode_request(request.sequence, request.barrier, request.request), header,
                        payload, believed(FrameType::request), "REQUEST");
  }
  return 0;
}
