#include "mirror/volume_identity.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "mirror/coding.h"
#include "mirror/state_files.h"

namespace mirror {
namespace {

using coding::put;

constexpr size_t kChecksumOffset = 120;

uint64_t random_u64() {
  uint64_t v = 0;
  while (v == 0) {
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v) != 1) {
      throw std::runtime_error("no random bytes for a volume generation (OpenSSL RAND_bytes)");
    }
  }
  return v;
}

std::string errno_text(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

std::string hex(const uint8_t* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += digits[p[i] >> 4];
    s += digits[p[i] & 15];
  }
  return s;
}

}  // namespace

std::string format_generation(uint64_t generation) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(generation));
  return buf;
}

VolumeIdentity VolumeIdentity::fresh() {
  VolumeIdentity id;
  if (RAND_bytes(id.uuid.data(), static_cast<int>(id.uuid.size())) != 1) {
    throw std::runtime_error("no random bytes for a volume uuid (OpenSSL RAND_bytes)");
  }
  id.role = DataRole::primary;
  id.generation = random_u64();
  return id;
}

void VolumeIdentity::branch(uint64_t at_sequence) {
  for (size_t i = history.size() - 1; i > 0; --i) history[i] = history[i - 1];
  history[0] = GenerationMark{generation, at_sequence};
  generation = random_u64();
  role = DataRole::primary;
  flags = 0;
  sequence = 0;
}

bool VolumeIdentity::descends_from(uint64_t g, uint64_t* at_sequence) const {
  for (const auto& mark : history) {
    if (mark.generation != 0 && mark.generation == g) {
      if (at_sequence) *at_sequence = mark.sequence;
      return true;
    }
  }
  return false;
}

std::string VolumeIdentity::describe() const {
  std::string s = "uuid " + hex(uuid.data(), uuid.size()) + ", generation " +
                  format_generation(generation) + ", " +
                  (role == DataRole::primary ? "primary" : "copy");
  if (role == DataRole::primary) {
    s += (flags & kIdentityClean) ? ", stopped cleanly through request " + std::to_string(sequence)
                                  : ", in use or stopped uncleanly";
  } else {
    s += (flags & kIdentityConsistent) ? ", consistent through request " + std::to_string(sequence)
                                       : ", inconsistent (a sync is unfinished)";
  }
  return s;
}

namespace identity_format {

std::vector<std::byte> encode(const VolumeIdentity& id) {
  std::vector<std::byte> out;
  out.reserve(kSize);
  put<uint32_t>(out, kMagic);
  put<uint8_t>(out, kVersion);
  put<uint8_t>(out, static_cast<uint8_t>(id.role));
  put<uint16_t>(out, 0);
  put<uint32_t>(out, id.flags);
  put<uint32_t>(out, 0);
  for (uint8_t b : id.uuid) put<uint8_t>(out, b);
  put<uint64_t>(out, id.generation);
  put<uint64_t>(out, id.sequence);
  for (const auto& mark : id.history) {
    put<uint64_t>(out, mark.generation);
    put<uint64_t>(out, mark.sequence);
  }
  put<uint64_t>(out, 0);
  put<uint64_t>(out, XXH3_64bits(out.data(), out.size()));
  return out;
}

std::optional<std::string> decode(std::span<const std::byte> bytes, VolumeIdentity& out) {
  if (bytes.size() != kSize) {
    return "identity record of " + std::to_string(bytes.size()) + " bytes, expected " +
           std::to_string(kSize);
  }
  coding::Reader in(bytes);
  const uint32_t magic = in.get<uint32_t>();
  const uint8_t version = in.get<uint8_t>();
  const uint8_t role = in.get<uint8_t>();
  const uint16_t reserved1 = in.get<uint16_t>();
  out.flags = in.get<uint32_t>();
  const uint32_t reserved2 = in.get<uint32_t>();
  for (auto& b : out.uuid) b = in.get<uint8_t>();
  out.generation = in.get<uint64_t>();
  out.sequence = in.get<uint64_t>();
  for (auto& mark : out.history) {
    mark.generation = in.get<uint64_t>();
    mark.sequence = in.get<uint64_t>();
  }
  const uint64_t reserved3 = in.get<uint64_t>();
  const uint64_t checksum = in.get<uint64_t>();
  if (magic != kMagic) return "not an identity record (bad magic)";
  if (version != kVersion)
    return "identity record version " + std::to_string(version) + ", expected " +
           std::to_string(kVersion);
  if (XXH3_64bits(bytes.data(), kChecksumOffset) != checksum) {
    return "identity record checksum mismatch";
  }
  if (reserved1 != 0 || reserved2 != 0 || reserved3 != 0) {
    return "identity record reserved fields are not zero";
  }
  if (role != static_cast<uint8_t>(DataRole::primary) &&
      role != static_cast<uint8_t>(DataRole::copy)) {
    return "identity record role " + std::to_string(role) + " is neither primary (1) nor copy (2)";
  }
  if ((out.flags & ~uint32_t(kIdentityClean | kIdentityConsistent)) != 0) {
    return "identity record has unknown flags";
  }
  if (out.generation == 0) return "identity record has no generation";
  out.role = static_cast<DataRole>(role);
  return std::nullopt;
}

}  // namespace identity_format

std::string identity_path_beside(const std::string& dir) {
  return path_beside(dir, ".mirror-identity");
}

std::optional<VolumeIdentity> IdentityFile::load() const {
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw std::runtime_error(errno_text("cannot open identity record", path_));
  }
  std::vector<std::byte> bytes(identity_format::kSize + 1);
  ssize_t n = ::pread(fd, bytes.data(), bytes.size(), 0);
  int err = errno;
  ::close(fd);
  if (n < 0) {
    errno = err;
    throw std::runtime_error(errno_text("cannot read identity record", path_));
  }
  if (n == 0) return std::nullopt;
  bytes.resize(static_cast<size_t>(n));
  VolumeIdentity id;
  if (auto fault = identity_format::decode(bytes, id)) {
    throw std::runtime_error(path_ + ": " + *fault +
                             "; look at it, then move it away to start afresh");
  }
  return id;
}

void IdentityFile::store(const VolumeIdentity& identity) const {
  replace_file(path_, identity_format::encode(identity));
}

void note_unmirrored_use(const std::string& dir) {
  try {
    IdentityFile file(identity_path_beside(dir));
    std::optional<VolumeIdentity> id = file.load();
    if (!id) return;
    const std::string was = id->describe();
    id->branch(id->sequence);
    file.store(*id);
    spdlog::warn(
        "{} is mounted without a peer: its identity ({}) starts generation {}; a copy that "
        "follows the old one is resynced, or reported as a split brain, when they meet",
        dir, was, format_generation(id->generation));
  } catch (const std::exception& e) {
    spdlog::error("{}: {}", dir, e.what());
  }
}

const char* to_string(CopyVerdict v) {
  switch (v) {
    case CopyVerdict::in_step:
      return "in step";
    case CopyVerdict::behind:
      return "behind";
    case CopyVerdict::unknown:
      return "unknown";
    case CopyVerdict::split_brain:
      return "split brain";
  }
  return "?";
}

Decision decide(const VolumeIdentity& local, const std::optional<VolumeIdentity>& copy) {
  if (!copy) return {CopyVerdict::unknown, "the copy has no identity record: full initial sync"};
  const VolumeIdentity& c = *copy;
  if (c.uuid != local.uuid) {
    return {CopyVerdict::split_brain, "the copy belongs to another volume (" + c.describe() +
                                          "); this side is " + local.describe()};
  }
  if (c.generation == local.generation) {
    if (c.role == DataRole::primary) {
      return {CopyVerdict::split_brain, "the copy was used as a primary of this very generation " +
                                            format_generation(c.generation) +
                                            ": both may have changed"};
    }
    if (c.flags & kIdentityConsistent) {
      return {CopyVerdict::in_step, "the copy follows generation " +
                                        format_generation(c.generation) + " through request " +
                                        std::to_string(c.sequence)};
    }
    return {CopyVerdict::behind, "a sync of the copy was not finished: resuming it"};
  }
  uint64_t branched_at = 0;
  if (local.descends_from(c.generation, &branched_at)) {
    if (c.role == DataRole::copy) {
      return {CopyVerdict::behind, "the copy follows generation " +
                                       format_generation(c.generation) +
                                       ", an ancestor of this one: resync"};
    }
    // The former primary returning as a copy after a failover. Stopped
    // cleanly, everything it had was acknowledged, so this side holds it;
    // otherwise it may hold changes this side never received.
    if (c.flags & kIdentityClean) {
      return {CopyVerdict::behind, "the copy is the former primary of generation " +
                                       format_generation(c.generation) +
                                       ", stopped cleanly with nothing unacknowledged: resync"};
    }
    (void)branched_at;
    return {CopyVerdict::split_brain,
            "the copy is the former primary of generation " + format_generation(c.generation) +
                " and may hold changes this side never received (it stopped uncleanly)"};
  }
  if (c.descends_from(local.generation)) {
    return {CopyVerdict::split_brain,
            "the copy became a primary (generation " + format_generation(c.generation) +
                ") after this side's generation " + format_generation(local.generation) +
                ": it changed on its own"};
  }
  return {CopyVerdict::split_brain, "the copy's generation " + format_generation(c.generation) +
                                        " and this side's " + format_generation(local.generation) +
                                        " share no history"};
}

}  // namespace mirror
