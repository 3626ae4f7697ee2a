// Little-endian fixed-width encoding, the one way bytes of mirrorfs's wire
// and queue formats are written and read. No struct is ever copied to the
// wire by its in-memory layout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

namespace mirror::coding {

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

// Reads fields in order from a byte span; once a read runs past the end,
// `ok()` is false and every later read yields zeros.
class Reader {
 public:
  explicit Reader(std::span<const std::byte> in) : in_(in) {}

  template <typename T>
  T get() {
    static_assert(std::is_unsigned_v<T>);
    if (!take(sizeof(T))) return 0;
    T v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) {
      v |= static_cast<T>(static_cast<T>(in_[pos_ - sizeof(T) + i]) << (8 * i));
    }
    return v;
  }
  std::string_view get_string(size_t n) {
    if (!take(n)) return {};
    return {reinterpret_cast<const char*>(in_.data() + pos_ - n), n};
  }
  std::span<const std::byte> get_span(size_t n) {
    if (!take(n)) return {};
    return in_.subspan(pos_ - n, n);
  }
  bool ok() const { return ok_; }
  size_t remaining() const { return in_.size() - pos_; }

 private:
  bool take(size_t n) {
    if (!ok_ || in_.size() - pos_ < n) {
      ok_ = false;
      return false;
    }
    pos_ += n;
    return true;
  }
  std::span<const std::byte> in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace mirror::coding
