// The applied-state file specified in applied_state.h: its encoder and
// decoder, and the per-volume object that keeps it.
#include "mirror/applied_state.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "mirror/coding.h"

namespace mirror {
namespace applied_state_format {
namespace {

std::vector<std::byte> encode_header(uint64_t session, uint32_t count) {
  std::vector<std::byte> out;
  coding::put<uint32_t>(out, kMagic);
  coding::put<uint8_t>(out, kVersion);
  for (int i = 0; i < 3; ++i) coding::put<uint8_t>(out, 0);
  coding::put<uint32_t>(out, count);
  coding::put<uint32_t>(out, 0);
  coding::put<uint64_t>(out, session);
  coding::put<uint64_t>(out, XXH3_64bits(out.data(), out.size()));
  return out;
}

uint64_t header_checksum(uint64_t session, uint32_t count) {
  auto header = encode_header(session, count);
  return coding::Reader(std::span(header).subspan(24)).get<uint64_t>();
}

void put_record(std::vector<std::byte>& out, uint64_t header_sum, size_t number, uint64_t value) {
  std::vector<std::byte> v;
  coding::put<uint64_t>(v, value);
  coding::put<uint64_t>(out, value);
  coding::put<uint64_t>(out, XXH3_64bits_withSeed(v.data(), v.size(), header_sum + number));
}

}  // namespace

std::vector<std::byte> encode(const Contents& c) {
  const auto count = static_cast<uint32_t>(c.applied.size());
  std::vector<std::byte> out = encode_header(c.session, count);
  const uint64_t sum = header_checksum(c.session, count);
  put_record(out, sum, 0, c.applied_through);
  for (size_t i = 0; i < c.applied.size(); ++i) put_record(out, sum, 1 + i, c.applied[i]);
  return out;
}

std::vector<std::byte> encode_record(uint64_t session, uint32_t count, size_t number,
                                     uint64_t value) {
  std::vector<std::byte> out;
  put_record(out, header_checksum(session, count), number, value);
  return out;
}

std::optional<std::string> decode(std::span<const std::byte> file, Contents& out) {
  if (file.size() < kHeaderSize) {
    return "too short for a header: " + std::to_string(file.size()) + " bytes";
  }
  coding::Reader in(file);
  const auto magic = in.get<uint32_t>();
  const auto version = in.get<uint8_t>();
  const auto reserved_a = in.get<uint8_t>() | in.get<uint8_t>() | in.get<uint8_t>();
  const auto count = in.get<uint32_t>();
  const auto reserved_b = in.get<uint32_t>();
  const auto session = in.get<uint64_t>();
  const auto checksum = in.get<uint64_t>();
  if (magic != kMagic) return "bad magic (not a mirrord applied-state file)";
  if (version != kVersion) {
    return "version " + std::to_string(version) + ", this mirrord reads version " +
           std::to_string(kVersion);
  }
  if (XXH3_64bits(file.data(), 24) != checksum) return "header checksum mismatch";
  if (reserved_a != 0 || reserved_b != 0) return "reserved header field is not zero";
  if (count > kMaxConnections) return "connection count " + std::to_string(count) + " too large";
  const size_t want = kHeaderSize + kRecordSize * (size_t{count} + 1);
  if (file.size() != want) {
    return "size " + std::to_string(file.size()) + " bytes, expected " + std::to_string(want) +
           " for " + std::to_string(count) + " connection(s)";
  }
  Contents c;
  c.session = session;
  c.applied.resize(count);
  for (size_t number = 0; number <= count; ++number) {
    const auto value = in.get<uint64_t>();
    const auto sum = in.get<uint64_t>();
    const auto want_sum = encode_record(session, count, number, value);
    if (coding::Reader(std::span(want_sum).subspan(8)).get<uint64_t>() != sum) {
      return number == 0 ? std::string("applied-through record checksum mismatch")
                         : "record of connection " + std::to_string(number) + " checksum mismatch";
    }
    (number == 0 ? c.applied_through : c.applied[number - 1]) = value;
  }
  out = std::move(c);
  return std::nullopt;
}

}  // namespace applied_state_format

namespace layout = applied_state_format;

namespace {

std::string errno_text(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

}  // namespace

AppliedState::AppliedState(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ < 0) throw std::runtime_error(errno_text("cannot open applied state file", path_));
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    std::string why = S_ISREG(st.st_mode) ? errno_text("cannot stat applied state file", path_)
                                          : "applied state file " + path_ + ": not a regular file";
    ::close(fd_);
    throw std::runtime_error(why);
  }
  // Bounded by the largest sound file; anything longer is corrupt anyway.
  const size_t largest =
      layout::kHeaderSize + layout::kRecordSize * (size_t{layout::kMaxConnections} + 1);
  std::vector<std::byte> bytes(std::min<size_t>(static_cast<size_t>(st.st_size), largest + 1));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::pread(fd_, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string why = errno_text("cannot read applied state file", path_);
      ::close(fd_);
      throw std::runtime_error(why);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  bytes.resize(done);
  if (bytes.empty()) return;  // new: nothing known, nothing wrong
  layout::Contents c;
  if (auto fault = layout::decode(bytes, c)) {
    corruption_ = "applied state file " + path_ + " is corrupt: " + *fault;
  } else {
    contents_ = std::move(c);
  }
}

AppliedState::~AppliedState() {
  if (fd_ >= 0) ::close(fd_);
}

AppliedState::Begun AppliedState::begin(uint64_t session, uint32_t count,
                                        uint64_t applied_through) {
  std::lock_guard lock(mutex_);
  Begun b;
  b.generation = ++generation_;
  if (contents_ && contents_->session == session && contents_->applied.size() == count) {
    b.known = true;
    if (applied_through > contents_->applied_through) {
      contents_->applied_through = applied_through;
      if (auto e = write_at(layout::kHeaderSize,
                            layout::encode_record(session, count, 0, applied_through))) {
        b.error = *e;
      }
    }
  } else {
    contents_ = layout::Contents{session, applied_through, std::vector<uint64_t>(count, 0)};
    auto bytes = layout::encode(*contents_);
    if (auto e = write_at(0, bytes)) {
      b.error = *e;
    } else if (::ftruncate(fd_, static_cast<off_t>(bytes.size())) != 0) {
      b.error = errno_text("cannot truncate applied state file", path_);
    } else if (::fsync(fd_) != 0) {
      b.error = errno_text("cannot fsync applied state file", path_);
      sync_failure_ = b.error;
    }
  }
  b.applied_through = contents_->applied_through;
  b.applied = contents_->applied;
  return b;
}

bool AppliedState::applied(uint64_t generation, size_t index, uint64_t sequence) const {
  std::lock_guard lock(mutex_);
  return generation == generation_ && contents_ && index < contents_->applied.size() &&
         sequence <= contents_->applied[index];
}

std::optional<std::string> AppliedState::record(uint64_t generation, size_t index,
                                                uint64_t sequence, uint64_t applied_through) {
  std::lock_guard lock(mutex_);
  if (generation != generation_ || !contents_ || index >= contents_->applied.size()) {
    return std::nullopt;  // a session replaced meanwhile: its records no longer matter
  }
  const auto count = static_cast<uint32_t>(contents_->applied.size());
  if (sequence > contents_->applied[index]) {
    contents_->applied[index] = sequence;
    if (auto e = write_at(layout::kHeaderSize + layout::kRecordSize * (1 + index),
                          layout::encode_record(contents_->session, count, 1 + index, sequence))) {
      return e;
    }
  }
  if (applied_through > contents_->applied_through) {
    contents_->applied_through = applied_through;
    return write_at(layout::kHeaderSize,
                    layout::encode_record(contents_->session, count, 0, applied_through));
  }
  return std::nullopt;
}

std::optional<std::string> AppliedState::sync() {
  std::lock_guard lock(mutex_);
  if (sync_failure_) return sync_failure_;
  if (::fsync(fd_) != 0) {
    sync_failure_ = errno_text("cannot fsync applied state file", path_);
    return sync_failure_;
  }
  return std::nullopt;
}

std::optional<std::string> AppliedState::write_at(size_t offset, std::span<const std::byte> bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n =
        ::pwrite(fd_, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return errno_text("cannot write applied state file", path_);
    done += static_cast<size_t>(n);
  }
  return std::nullopt;
}

}  // namespace mirror
