// Encoding, decoding and authentication of the heartbeat datagram of
// datagram.h.
#include "heartbeat/datagram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdio>
#include <stdexcept>
#include <string_view>

#include "heartbeat/coding.h"

namespace heartbeat {
namespace {

// Offsets of datagram.h's drawing.
constexpr size_t kVersionAt = 4, kFlagsAt = 5, kReservedAt = 6, kIdentityAt = 8, kSequenceAt = 16,
                 kSendTimeAt = 24, kNameLengthAt = 32, kNameReservedAt = 34;

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// Why `name` cannot be a link name, or nullopt.
std::optional<std::string> name_fault(std::string_view name) {
  if (name.empty()) return "the link name is empty";
  if (name.size() > kMaxLinkName) {
    return "the link name is " + std::to_string(name.size()) + " bytes, longer than " +
           std::to_string(kMaxLinkName);
  }
  for (size_t i = 0; i < name.size(); ++i) {
    auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c == 0x7f) {
      return "the link name holds control byte " + hex(c) + " at " + std::to_string(i);
    }
  }
  return std::nullopt;
}

}  // namespace

Mac compute_mac(std::span<const std::byte> body, std::span<const std::byte> secret) {
  Mac mac{};
  unsigned int length = 0;
  // An empty key is still a key to HMAC; OpenSSL wants a non-null pointer.
  static const unsigned char kEmpty = 0;
  const void* key = secret.empty() ? &kEmpty : static_cast<const void*>(secret.data());
  const auto* in = body.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(body.data());
  if (HMAC(EVP_sha256(), key, static_cast<int>(secret.size()), in, body.size(),
           reinterpret_cast<unsigned char*>(mac.data()), &length) == nullptr ||
      length != mac.size()) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return mac;
}

uint64_t random_identity() {
  uint64_t id = 0;
  while (id == 0) {
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&id), sizeof id) != 1) {
      throw std::runtime_error("no random bytes for a heartbeat sender identity");
    }
  }
  return id;
}

std::vector<std::byte> encode(const Datagram& d, std::span<const std::byte> secret) {
  if (auto fault = name_fault(d.link)) throw std::invalid_argument("heartbeat: " + *fault);
  std::vector<std::byte> out;
  out.reserve(kFixedSize + d.link.size() + kMacSize);
  coding::put<uint32_t>(out, kMagic);
  coding::put<uint8_t>(out, kVersion);
  coding::put<uint8_t>(out, 0);   // flags
  coding::put<uint16_t>(out, 0);  // reserved
  coding::put<uint64_t>(out, d.identity);
  coding::put<uint64_t>(out, d.sequence);
  coding::put<uint64_t>(out, d.send_time_ms);
  coding::put<uint16_t>(out, static_cast<uint16_t>(d.link.size()));
  coding::put<uint16_t>(out, 0);  // reserved
  coding::put_bytes(out, d.link);
  Mac mac = compute_mac(out, secret);
  out.insert(out.end(), mac.begin(), mac.end());
  return out;
}

std::optional<std::string> decode(std::span<const std::byte> bytes,
                                  std::span<const std::byte> secret, Datagram& out, Fault* fault) {
  auto malformed = [&](std::string why) -> std::optional<std::string> {
    if (fault) *fault = Fault::malformed;
    return "malformed heartbeat datagram: " + why;
  };
  const size_t size = bytes.size();
  if (size < kMinDatagram) {
    return malformed(std::to_string(size) + " bytes, shorter than the " +
                     std::to_string(kMinDatagram) + "-byte minimum");
  }
  if (size > kMaxDatagram) {
    return malformed(std::to_string(size) + " bytes, longer than the " +
                     std::to_string(kMaxDatagram) + "-byte maximum");
  }
  if (uint32_t magic = coding::get<uint32_t>(bytes); magic != kMagic) {
    return malformed("bad magic " + hex(magic) + " (want \"MRHB\")");
  }
  if (auto v = coding::get<uint8_t>(bytes.subspan(kVersionAt)); v != kVersion) {
    return malformed("version " + std::to_string(v) + ", but this side speaks version " +
                     std::to_string(kVersion));
  }
  if (auto flags = coding::get<uint8_t>(bytes.subspan(kFlagsAt)); flags != 0) {
    return malformed("flags " + hex(flags) + " are not zero");
  }
  if (auto r = coding::get<uint16_t>(bytes.subspan(kReservedAt)); r != 0) {
    return malformed("reserved field at offset 6 is " + hex(r) + ", not zero");
  }
  if (auto r = coding::get<uint16_t>(bytes.subspan(kNameReservedAt)); r != 0) {
    return malformed("reserved field at offset 34 is " + hex(r) + ", not zero");
  }
  const size_t name_length = coding::get<uint16_t>(bytes.subspan(kNameLengthAt));
  if (size != kFixedSize + name_length + kMacSize) {
    return malformed(std::to_string(size) + " bytes, but a link name of " +
                     std::to_string(name_length) + " bytes makes " +
                     std::to_string(kFixedSize + name_length + kMacSize));
  }
  std::string_view name(reinterpret_cast<const char*>(bytes.data() + kFixedSize), name_length);
  if (auto why = name_fault(name)) return malformed(*why);

  const size_t body = size - kMacSize;
  Mac expected = compute_mac(bytes.first(body), secret);
  if (CRYPTO_memcmp(expected.data(), bytes.data() + body, kMacSize) != 0) {
    if (fault) *fault = Fault::forged;
    return "forged heartbeat datagram: the HMAC does not match (altered in transit, or signed "
           "with another secret)";
  }
  out.identity = coding::get<uint64_t>(bytes.subspan(kIdentityAt));
  out.sequence = coding::get<uint64_t>(bytes.subspan(kSequenceAt));
  out.send_time_ms = coding::get<uint64_t>(bytes.subspan(kSendTimeAt));
  out.link.assign(name);
  return std::nullopt;
}

}  // namespace heartbeat
