// What mirrord has applied of a volume's current session, kept in a small
// file so that a request sent again after a restart of mirrord (kill -9
// included) is answered without being applied twice. The local server sends
// the requests it routes to connection i in increasing sequence order, also
// when it sends them again, so "the highest sequence applied on connection
// i" tells which of them were applied (see the restart contract in DESIGN.md).
//
// The file, one per volume (default: beside the copy, as
// "<parent of DIR>/.<basename of DIR>.mirrord-state"; with --state-dir D:
// "D/<volume>.state"). All integers little-endian.
//
//   header, 32 bytes:
//    0       4     5          8         12         16          24
//    +-------+-----+----------+---------+----------+-----------+----------+
//    | magic | ver | reserved | count n | reserved | session   | checksum |
//    | MRST  |  1  | 0 [3]    | u32     | 0 u32    | u64       | u64      |
//    +-------+-----+----------+---------+----------+-----------+----------+
//   then n + 1 records of 16 bytes each:
//    record 0:      applied-through: every sequence up to it is applied
//    record 1 + i:  the highest sequence applied on connection i (0: none)
//    +-----------+----------+
//    | value u64 | checksum |
//    +-----------+----------+
//
// header checksum: XXH3-64 of header bytes 0..23 (seed 0).
// record checksum: XXH3-64 of the record's 8 value bytes, seeded with the
// header checksum plus the record's number, so that a record belongs to one
// header (one session) and one place in the file.
//
// Writes: each record is rewritten in place (pwrite, no fsync) after the
// request it describes is applied and before its response is sent: a kill -9
// loses nothing (the page cache keeps it). The file is fsync'd when an FSYNC
// request was applied, and when it is rewritten for a new session. A file of
// the wrong size, magic, version, reserved field or checksum is corrupt: it
// is reported and treated as unknown (nothing is known to be applied beyond
// what the local server says). An empty file is unknown, without a report.
//
// Version rule: a reader refuses (as corrupt) any version but its own; a new
// session rewrites the file in the writer's version.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace mirror {

namespace applied_state_format {

inline constexpr uint32_t kMagic = 0x5453524D;  // "MRST" in the file
inline constexpr uint8_t kVersion = 1;
inline constexpr size_t kHeaderSize = 32;
inline constexpr size_t kRecordSize = 16;
inline constexpr uint32_t kMaxConnections = 65535;  // HELLO's count is a u16

struct Contents {
  uint64_t session = 0;
  uint64_t applied_through = 0;
  std::vector<uint64_t> applied;  // per connection: the highest sequence applied
  bool operator==(const Contents&) const = default;
};

// The whole file for `c`.
std::vector<std::byte> encode(const Contents& c);
// One record (`number` 0: applied-through, 1 + i: connection i) of a file
// whose header is that of `session` and `count` connections.
std::vector<std::byte> encode_record(uint64_t session, uint32_t count, size_t number,
                                     uint64_t value);
// Decodes a whole file; the fault in a sentence, or nothing when it is sound.
std::optional<std::string> decode(std::span<const std::byte> file, Contents& out);

}  // namespace applied_state_format

// The applied state of one volume, backed by its file. Thread-safe: the
// connection threads of a session record concurrently.
class AppliedState {
 public:
  // Opens (creating it, mode 0600, if need be) and reads the file. Throws
  // std::runtime_error naming the file when it cannot be opened or read. A
  // corrupt file does not throw: see corruption().
  explicit AppliedState(std::string path);
  ~AppliedState();
  AppliedState(const AppliedState&) = delete;
  AppliedState& operator=(const AppliedState&) = delete;

  const std::string& path() const { return path_; }
  // Why the file was found corrupt when opened (naming the file), if it was.
  const std::optional<std::string>& corruption() const { return corruption_; }

  struct Begun {
    uint64_t generation = 0;  // pass to record(); a later begin() makes it stale
    bool known = false;       // the file held this session: its records stand
    uint64_t applied_through = 0;
    std::vector<uint64_t> applied;  // per connection
    std::string error;              // rewriting the file failed (it names the file)
  };
  // Starts serving `session` with `count` connections. If the file holds
  // that session and count, what it holds stands (mirrord restarted);
  // otherwise it is rewritten for the session, every connection at 0 and
  // applied-through at `applied_through`.
  Begun begin(uint64_t session, uint32_t count, uint64_t applied_through);

  // Whether `sequence`, arriving on connection `index`, was applied already.
  bool applied(uint64_t generation, size_t index, uint64_t sequence) const;
  // After applying `sequence` on connection `index`: writes its record, and
  // applied-through when it moved on. Records of a stale generation are
  // ignored. Returns an error naming the file, or nothing.
  std::optional<std::string> record(uint64_t generation, size_t index, uint64_t sequence,
                                    uint64_t applied_through);
  // fsync; an error naming the file, or nothing. Sticky: once failed, it fails.
  std::optional<std::string> sync();

 private:
  std::optional<std::string> write_at(size_t offset, std::span<const std::byte> bytes);

  const std::string path_;
  int fd_ = -1;
  std::optional<std::string> corruption_;
  mutable std::mutex mutex_;                                // guards everything below
  std::optional<applied_state_format::Contents> contents_;  // nothing: unknown
  uint64_t generation_ = 0;
  std::optional<std::string> sync_failure_;
};

}  // namespace mirror
