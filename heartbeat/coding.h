// Little-endian fixed-width encoding, the one way bytes of mirrorfs's
// datagram, wire and queue formats are written and read. It lives in the
// bottom library (dependencies point mirror -> heartbeat); mirror/coding.h
// builds its Reader on it. No struct is ever copied to the wire by its
// in-memory layout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

namespace heartbeat::coding {

template <typename T>
void put(std::vector<std::byte>& out, T value) {
  static_assert(std::is_unsigned_v<T>);
  for (size_t i = 0; i < sizeof(T); ++i) {
    out.push_back(static_cast<std::byte>(value >> (8 * i)));
  }
}

inline void put_bytes(std::vector<std::byte>& out, std::string_view s) {
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  out.insert(out.end(), p, p + s.size());
}

// The unsigned integer of sizeof(T) bytes at the start of `in`, which the
// caller has checked is long enough.
template <typename T>
T get(std::span<const std::byte> in) {
  static_assert(std::is_unsigned_v<T>);
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(static_cast<T>(in[i]) << (8 * i));
  return v;
}

}  // namespace heartbeat::coding
