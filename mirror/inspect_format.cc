// Encoders and decoders of the inspection frames specified in inspect_format.h.
#include "mirror/inspect_format.h"

#include <sys/stat.h>

#include <cstring>

#include "mirror/coding.h"

namespace mirror::inspect {
namespace {

using coding::put;
using coding::Reader;

constexpr uint8_t kFlagPresent = 1;  // identity
constexpr uint8_t kFlagMore = 1;     // list
constexpr uint32_t kMaxErrno = 4095;

bool has_nul(std::string_view s) {
  return s.find('\0') != std::string_view::npos;
}

std::optional<std::string> expect_end(const Reader& in, const char* what) {
  if (!in.ok()) return std::string(what) + " payload is truncated";
  if (in.remaining() != 0) {
    return std::string(what) + " payload has " + std::to_string(in.remaining()) +
           " unexpected trailing bytes";
  }
  return std::nullopt;
}

bool known_kind(uint8_t k) {
  return k >= static_cast<uint8_t>(Kind::identity) && k <= static_cast<uint8_t>(Kind::checksums);
}

}  // namespace

const char* to_string(Kind kind) {
  switch (kind) {
    case Kind::identity:
      return "identity";
    case Kind::set_identity:
      return "set_identity";
    case Kind::list:
      return "list";
    case Kind::xattr_names:
      return "xattr_names";
    case Kind::checksums:
      return "checksums";
  }
  return "unknown";
}

size_t entry_size(const EntryDescription& e) {
  return kEntryFixedSize + e.name.size() + e.link_target.size();
}

wire::OutFrame encode_query(const Query& q) {
  // The header is wire's own, so both formats share one definition of
  // magic, checksum and bounds.
  auto out = wire::start_frame(kQueryFixedSize + q.path.size() + q.after.size() + q.record.size());
  put<uint8_t>(out, static_cast<uint8_t>(q.kind));
  put<uint8_t>(out, 0);
  put<uint16_t>(out, static_cast<uint16_t>(q.path.size()));
  put<uint16_t>(out, static_cast<uint16_t>(q.after.size()));
  put<uint16_t>(out, 0);
  put<uint64_t>(out, q.first_block);
  put<uint32_t>(out, q.count);
  put<uint32_t>(out, q.max_entries);
  put<uint32_t>(out, static_cast<uint32_t>(q.record.size()));
  put<uint32_t>(out, 0);
  coding::put_bytes(out, q.path);
  coding::put_bytes(out, q.after);
  out.insert(out.end(), q.record.begin(), q.record.end());
  return wire::finish_frame(wire::FrameType::inspect, q.id, std::move(out));
}

wire::OutFrame encode_reply(const Reply& r) {
  size_t body = r.record.size() + 8 * r.sums.size();
  for (const EntryDescription& e : r.entries) body += entry_size(e);
  for (const std::string& name : r.names) body += 2 + name.size();
  auto out = wire::start_frame(kReplyFixedSize + body);
  uint8_t flags = 0;
  uint32_t count = 0;
  if (r.kind == Kind::identity && r.present) flags |= kFlagPresent;
  if (r.kind == Kind::list && r.more) flags |= kFlagMore;
  if (r.kind == Kind::list) count = static_cast<uint32_t>(r.entries.size());
  if (r.kind == Kind::xattr_names) count = static_cast<uint32_t>(r.names.size());
  if (r.kind == Kind::checksums) count = static_cast<uint32_t>(r.sums.size());
  put<uint8_t>(out, static_cast<uint8_t>(r.kind));
  put<uint8_t>(out, flags);
  put<uint16_t>(out, 0);
  put<uint32_t>(out, r.error);
  put<uint32_t>(out, count);
  put<uint32_t>(out, 0);
  put<uint64_t>(out, r.kind == Kind::checksums ? r.size : 0);
  switch (r.kind) {
    case Kind::identity:
      if (r.present) out.insert(out.end(), r.record.begin(), r.record.end());
      break;
    case Kind::set_identity:
      break;
    case Kind::list:
      for (const EntryDescription& e : r.entries) {
        put<uint16_t>(out, static_cast<uint16_t>(e.name.size()));
        put<uint16_t>(out, static_cast<uint16_t>(e.link_target.size()));
        put<uint32_t>(out, e.mode);
        put<uint32_t>(out, e.uid);
        put<uint32_t>(out, e.gid);
        put<uint64_t>(out, e.size);
        put<uint64_t>(out, e.nlink);
        put<uint64_t>(out, e.inode);
        put<uint64_t>(out, e.rdev);
        put<uint64_t>(out, static_cast<uint64_t>(e.mtime.tv_sec));
        put<uint32_t>(out, static_cast<uint32_t>(e.mtime.tv_nsec));
        put<uint32_t>(out, 0);
        put<uint64_t>(out, e.xattr_digest);
        coding::put_bytes(out, e.name);
        coding::put_bytes(out, e.link_target);
      }
      break;
    case Kind::xattr_names:
      for (const std::string& name : r.names) {
        put<uint16_t>(out, static_cast<uint16_t>(name.size()));
        coding::put_bytes(out, name);
      }
      break;
    case Kind::checksums:
      for (uint64_t sum : r.sums) put<uint64_t>(out, sum);
      break;
  }
  return wire::finish_frame(wire::FrameType::inspect_reply, r.id, std::move(out));
}

std::optional<std::string> decode_query(const wire::FrameHeader& header,
                                        std::span<const std::byte> payload, Query& out) {
  Reader in(payload);
  out.id = header.sequence;
  uint8_t kind = in.get<uint8_t>();
  uint32_t reserved = in.get<uint8_t>();
  uint16_t path_length = in.get<uint16_t>();
  uint16_t after_length = in.get<uint16_t>();
  reserved |= in.get<uint16_t>();
  out.first_block = in.get<uint64_t>();
  out.count = in.get<uint32_t>();
  out.max_entries = in.get<uint32_t>();
  uint32_t record_length = in.get<uint32_t>();
  reserved |= in.get<uint32_t>();
  if (!in.ok()) return "INSPECT payload is truncated";
  if (!known_kind(kind)) return "INSPECT has unknown kind " + std::to_string(kind);
  out.kind = static_cast<Kind>(kind);
  if (reserved != 0) return "INSPECT reserved fields are not zero";
  if (path_length > wire::kMaxPath || after_length > kMaxName ||
      record_length > kIdentityRecordSize) {
    return "INSPECT field lengths out of bounds (path " + std::to_string(path_length) + ", after " +
           std::to_string(after_length) + ", record " + std::to_string(record_length) + ")";
  }
  out.path = std::string(in.get_string(path_length));
  out.after = std::string(in.get_string(after_length));
  auto record = in.get_span(record_length);
  out.record.assign(record.begin(), record.end());
  if (auto e = expect_end(in, "INSPECT")) return e;
  if (has_nul(out.path) || has_nul(out.after)) return "INSPECT path or name contains a NUL byte";
  // Which fields each kind uses; the others must be zero.
  const Kind k = out.kind;
  const std::string what = std::string("INSPECT ") + to_string(k);
  const bool uses_path = k == Kind::list || k == Kind::xattr_names || k == Kind::checksums;
  if (!uses_path && path_length != 0) return what + " carries a path";
  if (k != Kind::list && (after_length != 0 || out.max_entries != 0)) {
    return what + " carries list fields";
  }
  if (k != Kind::checksums && (out.first_block != 0 || out.count != 0)) {
    return what + " carries checksum fields";
  }
  if (k != Kind::set_identity && record_length != 0) return what + " carries a record";
  if (k == Kind::set_identity && record_length != kIdentityRecordSize) {
    return what + " record is " + std::to_string(record_length) + " bytes, not " +
           std::to_string(kIdentityRecordSize);
  }
  if (k == Kind::list && (out.max_entries == 0 || out.max_entries > kMaxListEntries)) {
    return what + " max entries " + std::to_string(out.max_entries) + " is out of bounds (1.." +
           std::to_string(kMaxListEntries) + ")";
  }
  if (k == Kind::checksums && out.count > kMaxChecksumCount) {
    return what + " count " + std::to_string(out.count) + " is out of bounds (0.." +
           std::to_string(kMaxChecksumCount) + ")";
  }
  return std::nullopt;
}

namespace {

std::optional<std::string> decode_entry(Reader& in, const std::string* previous,
                                        EntryDescription& e) {
  uint16_t name_length = in.get<uint16_t>();
  uint16_t target_length = in.get<uint16_t>();
  e.mode = in.get<uint32_t>();
  e.uid = in.get<uint32_t>();
  e.gid = in.get<uint32_t>();
  e.size = in.get<uint64_t>();
  e.nlink = in.get<uint64_t>();
  e.inode = in.get<uint64_t>();
  e.rdev = in.get<uint64_t>();
  e.mtime.tv_sec = static_cast<time_t>(in.get<uint64_t>());
  uint32_t nsec = in.get<uint32_t>();
  uint32_t reserved = in.get<uint32_t>();
  e.xattr_digest = in.get<uint64_t>();
  if (!in.ok()) return "INSPECT_REPLY list entry is truncated";
  if (reserved != 0) return "INSPECT_REPLY list entry reserved field is not zero";
  if (nsec >= 1000000000) return "INSPECT_REPLY list entry has more than 999999999 nanoseconds";
  e.mtime.tv_nsec = nsec;
  if (name_length == 0 || name_length > kMaxName || target_length > wire::kMaxPath) {
    return "INSPECT_REPLY list entry lengths out of bounds (name " + std::to_string(name_length) +
           ", target " + std::to_string(target_length) + ")";
  }
  if (S_ISLNK(e.mode) != (target_length != 0)) {
    return "INSPECT_REPLY list entry has a symlink target if and only if it is no symlink";
  }
  e.name = std::string(in.get_string(name_length));
  e.link_target = std::string(in.get_string(target_length));
  if (!in.ok()) return "INSPECT_REPLY list entry is truncated";
  if (has_nul(e.name) || has_nul(e.link_target) || e.name.find('/') != std::string::npos) {
    return "INSPECT_REPLY list entry name or target contains a NUL byte or a '/' in the name";
  }
  if (e.name == "." || e.name == "..") return "INSPECT_REPLY list entry is named '" + e.name + "'";
  if (previous != nullptr && !(*previous < e.name)) {
    return "INSPECT_REPLY list entries are not in increasing name order";
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> decode_reply(const wire::FrameHeader& header,
                                        std::span<const std::byte> payload, Reply& out) {
  Reader in(payload);
  out.id = header.sequence;
  uint8_t kind = in.get<uint8_t>();
  uint8_t flags = in.get<uint8_t>();
  uint32_t reserved = in.get<uint16_t>();
  out.error = in.get<uint32_t>();
  uint32_t count = in.get<uint32_t>();
  reserved |= in.get<uint32_t>();
  out.size = in.get<uint64_t>();
  if (!in.ok()) return "INSPECT_REPLY payload is truncated";
  if (!known_kind(kind)) return "INSPECT_REPLY has unknown kind " + std::to_string(kind);
  out.kind = static_cast<Kind>(kind);
  const Kind k = out.kind;
  const std::string what = std::string("INSPECT_REPLY ") + to_string(k);
  if (reserved != 0) return what + " reserved fields are not zero";
  if (out.error > kMaxErrno)
    return what + " errno " + std::to_string(out.error) + " is out of range";
  if (out.error != 0 && (flags != 0 || count != 0 || out.size != 0 || in.remaining() != 0)) {
    return what + " carries an answer along with errno " + std::to_string(out.error);
  }
  const bool flag_allowed = k == Kind::identity || k == Kind::list;
  if ((flags & ~1u) != 0 || (!flag_allowed && flags != 0)) {
    return what + " has unknown flags " + std::to_string(flags);
  }
  out.present = k == Kind::identity && (flags & kFlagPresent);
  out.more = k == Kind::list && (flags & kFlagMore);
  if (k != Kind::checksums && out.size != 0) return what + " carries a size";
  const bool counted = k == Kind::list || k == Kind::xattr_names || k == Kind::checksums;
  if (!counted && count != 0) return what + " carries a count";
  // Every counted item takes at least 2 bytes: a count beyond what the
  // payload holds is refused before anything is reserved for it.
  if (count > in.remaining() / 2) {
    return what + " count " + std::to_string(count) + " exceeds what the payload holds";
  }
  switch (k) {
    case Kind::identity:
      if (out.present) {
        auto record = in.get_span(kIdentityRecordSize);
        out.record.assign(record.begin(), record.end());
      }
      break;
    case Kind::set_identity:
      break;
    case Kind::list:
      out.entries.resize(count);
      for (uint32_t i = 0; i < count; ++i) {
        if (auto e = decode_entry(in, i > 0 ? &out.entries[i - 1].name : nullptr, out.entries[i])) {
          return e;
        }
      }
      break;
    case Kind::xattr_names:
      out.names.resize(count);
      for (uint32_t i = 0; i < count; ++i) {
        uint16_t length = in.get<uint16_t>();
        if (in.ok() && (length == 0 || length > kMaxName)) {
          return what + " name length " + std::to_string(length) + " is out of bounds";
        }
        out.names[i] = std::string(in.get_string(length));
        if (!in.ok()) break;
        if (has_nul(out.names[i])) return what + " name contains a NUL byte";
        if (i > 0 && !(out.names[i - 1] < out.names[i])) {
          return what + " names are not in increasing order";
        }
      }
      break;
    case Kind::checksums:
      if (count > kMaxChecksumCount) {
        return what + " count " + std::to_string(count) + " is out of bounds";
      }
      out.sums.resize(count);
      for (uint64_t& sum : out.sums) sum = in.get<uint64_t>();
      break;
  }
  return expect_end(in, what.c_str());
}

}  // namespace mirror::inspect
