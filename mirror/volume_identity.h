// The identity of a volume's data, kept by each side beside its data (never
// inside the mirrored tree), and the rule that compares the two at handshake
// (DRBD's generation identifiers, at file level).
//
// A generation names one line of history of the primary's data: it is
// drawn at random when a directory first becomes a primary, and again when
// a copy is promoted (failover) or a primary changes data it cannot mirror.
// `history` remembers the generations this data descends from and the
// sequence through which the two lines were common.
//
// The file (128 bytes, all integers little-endian):
//
//    0       4     5      6          8        12         16
//    +-------+-----+------+----------+--------+----------+-----------------+
//    | magic | ver | role | reserved | flags  | reserved | uuid [16]       |
//    | MRID  |  1  | 1|2  | 0 u16    | u32    | 0 u32    |                 |
//    +-------+-----+------+----------+--------+----------+-----------------+
//    32            40           48                                   112   120
//    +-------------+------------+------------------------------------+-----+----------+
//    | generation  | sequence   | history: 4 × (generation, sequence) | 0   | checksum |
//    | u64         | u64        | u64 u64, newest first, 0: unused   | u64 | u64      |
//    +-------------+------------+------------------------------------+-----+----------+
//
// role 1: primary (mirrorfs serves this data), 2: copy (mirrord keeps it).
// sequence: primary: the highest sequence acknowledged when it last stopped
// cleanly; copy: the sequence its data was applied through when last stored.
// checksum: XXH3-64 of bytes 0..119. A file of the wrong size, magic,
// version, role, reserved field or checksum is corrupt: it is reported and
// never overwritten silently (the operator decides, as for a split brain).
//
// Writes replace the file whole (mirror/state_files.h), so a crash leaves the
// old record or the new one.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace mirror {

enum class DataRole : uint8_t { primary = 1, copy = 2 };

// VolumeIdentity::flags
enum IdentityFlags : uint32_t {
  // primary: it stopped with every request acknowledged by the copy.
  kIdentityClean = 1u << 0,
  // copy: a complete image of `generation` (no sync was interrupted).
  kIdentityConsistent = 1u << 1,
};

struct GenerationMark {
  uint64_t generation = 0;
  uint64_t sequence = 0;
  bool operator==(const GenerationMark&) const = default;
};

struct VolumeIdentity {
  std::array<uint8_t, 16> uuid{};
  DataRole role = DataRole::primary;
  uint32_t flags = 0;
  uint64_t generation = 0;
  uint64_t sequence = 0;
  std::array<GenerationMark, 4> history{};  // newest first
  bool operator==(const VolumeIdentity&) const = default;

  // A fresh primary: new uuid and generation, no history.
  static VolumeIdentity fresh();
  // This data becomes a primary with a new generation descending from the
  // current one at `sequence` (failover, or changes made without mirroring).
  void branch(uint64_t sequence);
  bool descends_from(uint64_t generation, uint64_t* at_sequence = nullptr) const;
  std::string describe() const;  // "uuid 1a2b…, generation 0123…, copy, consistent"
};

std::string format_generation(uint64_t generation);

namespace identity_format {
inline constexpr uint32_t kMagic = 0x4449524D;  // "MRID" in the file
inline constexpr uint8_t kVersion = 1;
inline constexpr size_t kSize = 128;
std::vector<std::byte> encode(const VolumeIdentity& identity);
// The fault in a sentence, or nothing when the bytes are a sound record.
std::optional<std::string> decode(std::span<const std::byte> bytes, VolumeIdentity& out);
}  // namespace identity_format

// "<parent of DIR>/.<basename of DIR>.mirror-identity"; throws
// std::runtime_error when DIR has no parent to put it in.
std::string identity_path_beside(const std::string& dir);

// The record's file. Not thread-safe: one owner.
class IdentityFile {
 public:
  explicit IdentityFile(std::string path) : path_(std::move(path)) {}
  const std::string& path() const { return path_; }
  // The record; nothing when there is no file (or an empty one). A corrupt
  // or unreadable file throws std::runtime_error naming the file and fault.
  std::optional<VolumeIdentity> load() const;
  // Replaces the record durably; throws std::runtime_error naming the file.
  void store(const VolumeIdentity& identity) const;

 private:
  std::string path_;
};

// A mount without a peer of a directory that has an identity record (a
// copy used in a failover without its old primary, or a primary mounted
// unmirrored): its changes reach no copy, so it starts a new generation and
// whichever copy follows the old one is resynced, or reported as a split
// brain, when they meet again. Logs what it did; a directory without a
// record is left alone.
void note_unmirrored_use(const std::string& dir);

// What the primary does when it meets a copy, by rule.
enum class CopyVerdict {
  in_step,      // go on from the queue
  behind,       // the copy misses changes: resync (compare and repair)
  unknown,      // no record: full initial sync
  split_brain,  // both changed independently, or the copy is another volume's
};
const char* to_string(CopyVerdict v);

struct Decision {
  CopyVerdict verdict = CopyVerdict::unknown;
  std::string reason;  // a sentence for logs and status
};

Decision decide(const VolumeIdentity& local, const std::optional<VolumeIdentity>& copy);

}  // namespace mirror
