// The project's little-endian encoding (heartbeat/coding.h: put, put_bytes,
// get), with a Reader for the longer frames and records of mirror/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "heartbeat/coding.h"

namespace mirror::coding {

using heartbeat::coding::put;
using heartbeat::coding::put_bytes;

// Reads fields in order from a byte span; once a read runs past the end,
// `ok()` is false and every later read yields zeros.
class Reader {
 public:
  explicit Reader(std::span<const std::byte> in) : in_(in) {}

  template <typename T>
  T get() {
    static_assert(std::is_unsigned_v<T>);
    if (!take(sizeof(T))) return 0;
    return heartbeat::coding::get<T>(in_.subspan(pos_ - sizeof(T)));
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
