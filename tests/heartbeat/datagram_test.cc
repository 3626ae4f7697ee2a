// The heartbeat datagram of heartbeat/datagram.h: what encode writes decode
// believes, and nothing else: any flipped bit, another secret, a byte too few
// or too many, or a well-signed datagram breaking a version-1 rule is refused
// with a sentence saying why.
#include "heartbeat/datagram.h"

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "heartbeat/coding.h"

namespace heartbeat {
namespace {

using ::testing::HasSubstr;

std::vector<std::byte> bytes_of(std::string_view s) {
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  return {p, p + s.size()};
}

const std::vector<std::byte> kSecret = bytes_of("correct horse battery staple");

Datagram sample() {
  return {
      .identity = 0x0123456789abcdef, .sequence = 42, .send_time_ms = 1700000000123, .link = "vol"};
}

// Replaces the HMAC of `d` with the right one, so that only the structural
// checks can refuse it.
void resign(std::vector<std::byte>& d) {
  std::span body = std::span(d).first(d.size() - kMacSize);
  Mac mac = compute_mac(body, kSecret);
  std::copy(mac.begin(), mac.end(), d.end() - kMacSize);
}

// decode's sentence for `bytes`, or "" if believed.
std::string refusal(std::span<const std::byte> bytes, Fault* fault = nullptr) {
  Datagram d;
  return decode(bytes, kSecret, d, fault).value_or("");
}

TEST(HeartbeatDatagram, RoundTrips) {
  std::vector<std::byte> bytes = encode(sample(), kSecret);
  EXPECT_EQ(bytes.size(), kFixedSize + 3 + kMacSize);
  Datagram out;
  EXPECT_EQ(decode(bytes, kSecret, out), std::nullopt);
  EXPECT_EQ(out, sample());
}

TEST(HeartbeatDatagram, LayoutIsLittleEndianAsDrawn) {
  std::vector<std::byte> b = encode(sample(), kSecret);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(b.data()), 4), "MRHB");
  EXPECT_EQ(coding::get<uint8_t>(std::span(b).subspan(4)), kVersion);
  EXPECT_EQ(coding::get<uint64_t>(std::span(b).subspan(8)), 0x0123456789abcdefu);
  EXPECT_EQ(static_cast<uint8_t>(b[8]), 0xef);
  EXPECT_EQ(coding::get<uint64_t>(std::span(b).subspan(16)), 42u);
  EXPECT_EQ(coding::get<uint64_t>(std::span(b).subspan(24)), 1700000000123u);
  EXPECT_EQ(coding::get<uint16_t>(std::span(b).subspan(32)), 3u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(b.data()) + 36, 3), "vol");
}

TEST(HeartbeatDatagram, LongestLinkNameRoundTrips) {
  Datagram d = sample();
  d.link = std::string(kMaxLinkName, 'x');
  std::vector<std::byte> bytes = encode(d, kSecret);
  EXPECT_LE(bytes.size(), kMaxDatagram);
  Datagram out;
  EXPECT_EQ(decode(bytes, kSecret, out), std::nullopt);
  EXPECT_EQ(out, d);
}

TEST(HeartbeatDatagram, EverySingleBitFlipIsRefused) {
  const std::vector<std::byte> good = encode(sample(), kSecret);
  for (size_t bit = 0; bit < good.size() * 8; ++bit) {
    std::vector<std::byte> bad = good;
    bad[bit / 8] ^= static_cast<std::byte>(1u << (bit % 8));
    EXPECT_NE(refusal(bad), "") << "bit " << bit << " flipped was believed";
  }
}

TEST(HeartbeatDatagram, AnotherSecretIsForged) {
  std::vector<std::byte> bytes = encode(sample(), bytes_of("another secret"));
  Fault fault = Fault::malformed;
  EXPECT_THAT(refusal(bytes, &fault), HasSubstr("HMAC does not match"));
  EXPECT_EQ(fault, Fault::forged);
}

TEST(HeartbeatDatagram, AlteredFieldIsForged) {
  std::vector<std::byte> bytes = encode(sample(), kSecret);
  bytes[16] ^= std::byte{1};  // the sequence
  Fault fault = Fault::malformed;
  EXPECT_THAT(refusal(bytes, &fault), HasSubstr("forged"));
  EXPECT_EQ(fault, Fault::forged);
}

TEST(HeartbeatDatagram, EveryTruncationIsMalformed) {
  const std::vector<std::byte> good = encode(sample(), kSecret);
  for (size_t n = 0; n < good.size(); ++n) {
    Fault fault = Fault::forged;
    EXPECT_THAT(refusal(std::span(good).first(n), &fault), HasSubstr("malformed")) << n;
    EXPECT_EQ(fault, Fault::malformed) << n;
  }
  EXPECT_THAT(refusal(std::span(good).first(10)), HasSubstr("shorter than"));
}

TEST(HeartbeatDatagram, TrailingBytesAreMalformed) {
  std::vector<std::byte> bytes = encode(sample(), kSecret);
  bytes.push_back(std::byte{0});
  EXPECT_THAT(refusal(bytes), HasSubstr("a link name of 3 bytes makes"));
  resign(bytes);  // even signed, the length must match the name
  EXPECT_THAT(refusal(bytes), HasSubstr("malformed"));
}

TEST(HeartbeatDatagram, OversizedIsMalformed) {
  std::vector<std::byte> bytes = encode(sample(), kSecret);
  bytes.resize(kMaxDatagram + 1);
  EXPECT_THAT(refusal(bytes), HasSubstr("longer than the 512-byte maximum"));
}

TEST(HeartbeatDatagram, WellSignedButBreakingVersionOneRulesIsMalformed) {
  struct Case {
    size_t offset;
    std::byte value;
    const char* sentence;
  };
  for (const Case& c :
       {Case{0, std::byte{'X'}, "bad magic"}, Case{4, std::byte{2}, "version 2"},
        Case{5, std::byte{0x80}, "flags 0x80 are not zero"}, Case{7, std::byte{1}, "offset 6"},
        Case{35, std::byte{1}, "offset 34"}, Case{36, std::byte{'\n'}, "control byte 0xa at 0"}}) {
    std::vector<std::byte> bytes = encode(sample(), kSecret);
    bytes[c.offset] = c.value;
    resign(bytes);
    Fault fault = Fault::forged;
    EXPECT_THAT(refusal(bytes, &fault), HasSubstr(c.sentence)) << "offset " << c.offset;
    EXPECT_EQ(fault, Fault::malformed);
  }
}

TEST(HeartbeatDatagram, EncodeRefusesBadLinkNames) {
  Datagram d = sample();
  d.link = "";
  EXPECT_THROW(encode(d, kSecret), std::invalid_argument);
  d.link = std::string(kMaxLinkName + 1, 'x');
  EXPECT_THROW(encode(d, kSecret), std::invalid_argument);
  d.link = std::string("a\0b", 3);
  EXPECT_THROW(encode(d, kSecret), std::invalid_argument);
}

TEST(HeartbeatDatagram, RandomIdentitiesDiffer) {
  EXPECT_NE(random_identity(), 0u);
  EXPECT_NE(random_identity(), random_identity());
}

}  // namespace
}  // namespace heartbeat
