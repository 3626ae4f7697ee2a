// The local side's questions about the copy, asked over an inspection
// connection to mirrord: its identity record, a directory's entries, a
// file's extended attribute names and block checksums. The initial sync,
// resync and verify compare with these answers and repair through the
// ordinary request connections. The frames are in mirror/inspect_format.h.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "mirror/auth.h"
#include "mirror/tree_inspection.h"
#include "mirror/volume_identity.h"

namespace mirror {

// The copy's identity record exists but cannot be believed (corrupt, or
// unreadable there): the operator decides, as for a split brain.
class CopyIdentityUnreadable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class InspectionClient {
 public:
  // Connects to `peer` ("HOST:PORT") and authenticates as a request
  // connection does, asking for an inspection connection to `volume`. Throws
  // std::runtime_error naming the peer when it cannot.
  InspectionClient(const std::string& peer, const std::string& volume, const Secret& secret,
                   int timeout_ms);
  ~InspectionClient();
  InspectionClient(const InspectionClient&) = delete;
  InspectionClient& operator=(const InspectionClient&) = delete;

  // Every call below throws std::runtime_error naming the peer when the
  // connection fails or the answer is malformed; an errno from the copy
  // (e.g. ENOENT) is an answer, not an exception.

  // The copy's identity record; nothing when it has none. A record the copy
  // cannot read or that is corrupt throws CopyIdentityUnreadable.
  std::optional<VolumeIdentity> identity();
  // Replaces the copy's identity record (fsync'd before the answer).
  void set_identity(const VolumeIdentity& identity);

  struct Listing {
    int error = 0;
    std::vector<EntryDescription> entries;  // sorted by name
    bool more = false;                      // ask again with after = last name
  };
  // Entries of directory `path` ("" is the volume root) after `after`.
  Listing list(const std::string& path, const std::string& after);

  struct Names {
    int error = 0;
    std::vector<std::string> names;
  };
  Names xattr_names(const std::string& path);

  struct Checksums {
    int error = 0;
    uint64_t size = 0;           // the file's size on the copy
    std::vector<uint64_t> sums;  // from block `first`, up to `count`
  };
  Checksums checksums(const std::string& path, uint64_t first, uint32_t count);

  // Bytes written to and read from the connection, frames included.
  uint64_t bytes_sent() const;
  uint64_t bytes_received() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mirror
