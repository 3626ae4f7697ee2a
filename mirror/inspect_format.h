// The frames of an inspection connection: the questions mirrorfs asks
// mirrord about the copy (initial sync, resync, verify) and their answers.
// They ride in the 32-byte frame header of wire_format.h (magic, version,
// length bound, checksum), as INSPECT (type 7) and INSPECT_REPLY (type 8),
// after a handshake whose HELLO carries wire::kFeatureInspect. The header's
// sequence is the query's id, which the reply echoes. One query is in flight
// at a time. All integers are little-endian.
//
// INSPECT payload (offsets within the payload):
//
//    0      1          2             4            6          8
//    +------+----------+-------------+------------+----------+
//    | kind | reserved | path length | after len. | reserved |
//    | u8   | 0 u8     | u16         | u16        | 0 u16    |
//    +------+----------+-------------+------------+----------+
//    8             16          20            24              28         32
//    +-------------+-----------+-------------+---------------+----------+------+-------+--------+
//    | first block | count     | max entries | record length | reserved | path | after | record |
//    | u64         | u32       | u32         | u32           | 0 u32    |      |       |        |
//    +-------------+-----------+-------------+---------------+----------+------+-------+--------+
//
//   kind 1 identity      the copy's identity record; nothing else is set
//   kind 2 set_identity  record: identity_format's 128 bytes (volume_identity.h)
//   kind 3 list          path, after (a name; "": from the first), max entries
//                        (1..kMaxListEntries)
//   kind 4 xattr_names   path
//   kind 5 checksums     path, first block, count (0..kMaxChecksumCount; 0
//                        asks for the file's size only)
//   Fields a kind does not use must be zero (empty), so a later version can
//   give them meaning. path: relative to the volume, "" its root, at most
//   kMaxPath bytes, no NUL; the server resolves it beneath the copy without
//   following any symlink and answers EINVAL for an absolute path, "..", "."
//   or an empty component, ELOOP for a symlink standing in it.
//
// INSPECT_REPLY payload:
//
//    0      1       2          4       8       12         16         24
//    +------+-------+----------+-------+-------+----------+----------+------+
//    | kind | flags | reserved | errno | count | reserved | size     | body |
//    | u8   | u8    | 0 u16    | u32   | u32   | 0 u32    | u64      |      |
//    +------+-------+----------+-------+-------+----------+----------+------+
//
//   kind: the query's. errno: 0, or why the copy could not answer (then
//   flags, count and size are 0 and there is no body).
//   identity      flags bit 0: a record is present; body: its 128 bytes
//                 (EUCLEAN: the copy's record is corrupt; see mirrord's log)
//   set_identity  nothing but errno
//   list          flags bit 0: more entries follow the last; count entries:
//                   0 name length u16 | 2 target length u16 | 4 mode u32 |
//                   8 uid u32 | 12 gid u32 | 16 size u64 | 24 nlink u64 |
//                   32 inode u64 | 40 rdev u64 | 48 mtime sec u64 |
//                   56 mtime nsec u32 | 60 reserved u32 | 64 xattr digest u64 |
//                   72 name | symlink target
//                 names 1..255 bytes without '/' or NUL, strictly increasing
//                 bytewise; a target (1..kMaxPath bytes) only for a symlink
//   xattr_names   count names, each: length u16 (1..255) | bytes (no NUL),
//                 strictly increasing
//   checksums     size: the file's size; count u64 sums, of blocks of
//                 kSyncBlockSize from the query's first block on (fewer than
//                 asked at the end of the file)
//
// A reply never exceeds wire::kMaxPayload: a listing stops before the entry
// that would overflow it and says more; kMaxChecksumCount sums always fit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mirror/tree_inspection.h"
#include "mirror/wire_format.h"

namespace mirror::inspect {

enum class Kind : uint8_t {
  identity = 1,
  set_identity = 2,
  list = 3,
  xattr_names = 4,
  checksums = 5,
};
const char* to_string(Kind kind);

inline constexpr size_t kQueryFixedSize = 32;
inline constexpr size_t kReplyFixedSize = 24;
inline constexpr size_t kEntryFixedSize = 72;
inline constexpr size_t kMaxName = 255;             // NAME_MAX; also an xattr name's bound
inline constexpr size_t kIdentityRecordSize = 128;  // identity_format::kSize
inline constexpr uint32_t kMaxListEntries = 65536;
inline constexpr uint32_t kMaxChecksumCount = 16384;  // 2 GiB of file per query
static_assert(kReplyFixedSize + 8 * size_t{kMaxChecksumCount} <= wire::kMaxPayload);

struct Query {
  uint64_t id = 0;  // the header's sequence
  Kind kind = Kind::identity;
  std::string path;
  std::string after;              // list
  uint32_t max_entries = 0;       // list
  uint64_t first_block = 0;       // checksums
  uint32_t count = 0;             // checksums
  std::vector<std::byte> record;  // set_identity
};

struct Reply {
  uint64_t id = 0;  // the query's
  Kind kind = Kind::identity;
  uint32_t error = 0;
  bool present = false;                   // identity
  std::vector<std::byte> record;          // identity, when present
  bool more = false;                      // list
  std::vector<EntryDescription> entries;  // list
  std::vector<std::string> names;         // xattr_names
  uint64_t size = 0;                      // checksums
  std::vector<uint64_t> sums;             // checksums
};

// An entry's bytes in a listing body; the server adds entries while the
// reply stays within wire::kMaxPayload.
size_t entry_size(const EntryDescription& e);

// Encoders take sound values (the decoders' bounds); they do not check.
wire::OutFrame encode_query(const Query& q);
wire::OutFrame encode_reply(const Reply& r);

// Each checks every length, bound and reserved field and returns the fault
// in a sentence, or nothing. The header's sequence becomes the id.
std::optional<std::string> decode_query(const wire::FrameHeader& header,
                                        std::span<const std::byte> payload, Query& out);
std::optional<std::string> decode_reply(const wire::FrameHeader& header,
                                        std::span<const std::byte> payload, Reply& out);

}  // namespace mirror::inspect
