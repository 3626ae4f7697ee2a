// libFuzzer target for the heartbeat datagram decoder of heartbeat/datagram.h.
// Each input is decoded twice: as it is (an attacker's datagram, which
// almost never carries the right HMAC), and re-signed, its last 32 bytes
// replaced by the right HMAC of the rest, so that the structural checks
// behind the HMAC are reached too. Beyond "no crash, no out-of-bounds read":
// a re-signed input is never called forged, and whatever the decoder
// believes must encode back to exactly the bytes it came from (the encoding
// is canonical; nothing believed was dropped or made up).
//
// fuzz-sources: heartbeat/datagram.cc
// fuzz-libs: -lcrypto
// fuzz-options: -max_len=600
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>
#include <vector>

#include "heartbeat/datagram.h"

namespace {

using namespace heartbeat;

constexpr std::string_view kSecret = "heartbeat fuzz secret";

std::span<const std::byte> secret() {
  return {reinterpret_cast<const std::byte*>(kSecret.data()), kSecret.size()};
}

// Decodes `bytes`; aborts if a believed datagram does not encode back to them
// or if a correctly signed one is called forged.
void check(std::span<const std::byte> bytes, bool signed_right, const char* what) {
  Datagram d;
  Fault fault = Fault::malformed;
  if (auto why = decode(bytes, secret(), d, &fault)) {
    if (why->empty()) {
      std::fprintf(stderr, "%s: refused without a reason\n", what);
      std::abort();
    }
    if (signed_right && fault == Fault::forged) {
      std::fprintf(stderr, "%s: a correctly signed datagram was called forged: %s\n", what,
                   why->c_str());
      std::abort();
    }
    return;
  }
  if (!std::ranges::equal(encode(d, secret()), bytes)) {
    std::fprintf(stderr, "%s: believed datagram does not encode back to the same bytes\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The fuzzer's own buffer, so that any read past it is caught.
  std::span<const std::byte> input(reinterpret_cast<const std::byte*>(data), size);
  check(input, false, "as sent");
  if (size >= kMacSize) {
    std::vector<std::byte> resigned(input.begin(), input.end());
    Mac mac = compute_mac(std::span(resigned).first(size - kMacSize), secret());
    std::copy(mac.begin(), mac.end(), resigned.end() - kMacSize);
    check(resigned, true, "re-signed");
  }
  return 0;
}
