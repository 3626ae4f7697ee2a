// The heartbeat datagram: the one place its bytes are specified. Each side of
// a link sends one every heartbeat interval over UDP; the receiver believes
// it only if the HMAC over the shared secret matches, and only once (the
// sequence number must grow per sender identity).
//
// All integers are little-endian.
//
//    0       4     5       6          8                 16          24          32
//    +-------+-----+-------+----------+-----------------+-----------+-----------+
//    | magic | ver | flags | reserved | sender identity | sequence  | send time |
//    | MRHB  |  1  |   0   |    0     | u64             | u64       | u64 ms    |
//    +-------+-----+-------+----------+-----------------+-----------+-----------+
//    32            34         36                 36+n
//    +-------------+----------+------------------+------------------------------+
//    | name length | reserved | link name        | HMAC-SHA256                  |
//    | u16 = n     |    0     | n bytes, 1..255  | 32 bytes                     |
//    +-------------+----------+------------------+------------------------------+
//
// sender identity: a random id chosen once per sending process or session.
// sequence: strictly increasing per sender identity (the first is 1); a
//   receiver drops a datagram whose sequence is not greater than the last it
//   accepted from that identity (a replayed or reordered datagram).
// send time: the sender's CLOCK_REALTIME in ms since the epoch. Informational:
//   the failure detector runs on the receiver's own steady clock.
// link name: the volume the link mirrors; printable, no control bytes.
// HMAC: HMAC-SHA256 keyed with the link's shared secret over bytes 0..36+n,
//   compared in constant time. It is the datagram's checksum too.
//
// A datagram is 68 + n bytes, at most kMaxDatagram, and must be exactly that
// long. Version rule: a receiver refuses any version but its own, and fields
// marked 0 must be zero in version 1, so that a later version can give them
// meaning.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace heartbeat {

inline constexpr uint32_t kMagic = 0x4248524D;  // "MRHB" on the wire
inline constexpr uint8_t kVersion = 1;
inline constexpr size_t kFixedSize = 36;  // everything before the link name
inline constexpr size_t kMacSize = 32;
inline constexpr size_t kMinDatagram = kFixedSize + 1 + kMacSize;
inline constexpr size_t kMaxLinkName = 255;
inline constexpr size_t kMaxDatagram = 512;  // bigger than any valid datagram
static_assert(kFixedSize + kMaxLinkName + kMacSize <= kMaxDatagram);

using Mac = std::array<std::byte, kMacSize>;

struct Datagram {
  uint64_t identity = 0;      // the sender's random id
  uint64_t sequence = 0;      // strictly increasing per identity
  uint64_t send_time_ms = 0;  // sender's CLOCK_REALTIME, informational
  std::string link;           // the volume name
  bool operator==(const Datagram&) const = default;
};

// Why a datagram was refused, for the receiver's counters.
enum class Fault {
  malformed,  // not a well-formed version-1 datagram
  forged,     // well-formed, but the HMAC does not match the secret
};

// The datagram's bytes, HMAC included. Throws std::invalid_argument for a
// link name that decode would refuse (empty, longer than kMaxLinkName, or
// holding a control byte): the caller validates configuration first.
std::vector<std::byte> encode(const Datagram& d, std::span<const std::byte> secret);

// Decodes and authenticates `bytes`: nullopt and `out` filled if the datagram
// is believed, otherwise a sentence saying what was wrong (and `*fault`, if
// given, says which kind). Every structural check comes before the HMAC, so
// "forged" means "well-formed but not signed with this secret".
std::optional<std::string> decode(std::span<const std::byte> bytes,
                                  std::span<const std::byte> secret, Datagram& out,
                                  Fault* fault = nullptr);

// HMAC-SHA256 of `body` keyed with `secret`: the last 32 bytes of a datagram
// whose body is everything before them. Exposed for tests and the fuzz target,
// which build hostile datagrams with a valid HMAC.
Mac compute_mac(std::span<const std::byte> body, std::span<const std::byte> secret);

// A random, nonzero sender identity.
uint64_t random_identity();

}  // namespace heartbeat
