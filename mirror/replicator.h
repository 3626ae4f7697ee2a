// The seam between the file system and mirroring. The file system applies a
// mutation to the backing directory first, then hands its description to the
// volume's Replicator, and answers the application with what replicate()
// returns.
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>

#include "mirror/request.h"
#include "mirror/status.h"

namespace mirror {

class Replicator {
 public:
  virtual ~Replicator() = default;
  Replicator() = default;
  Replicator(const Replicator&) = delete;
  Replicator& operator=(const Replicator&) = delete;

  // Called after the local change succeeded, from any FUSE worker thread.
  // Returns 0, or a positive errno the application should see (sync mode: the
  // mirror failed to store the change). May block, as the mode requires.
  virtual int replicate(const MirrorRequest& request) = 0;

  // False when requests are applied locally only: lets the file system skip
  // work no one needs, like reading back the bytes of a copy_file_range.
  virtual bool mirrors() const = 0;

  // A line for logs and status: what this replicator does with requests.
  virtual const char* describe() const = 0;

  // Starts any threads: after the daemon has forked into the background.
  virtual void start() {}
  // Stops any threads; replicate() must not be called afterwards.
  virtual void stop() {}

  // What mirrorctl shows; nothing for a volume that is not mirrored.
  virtual std::optional<VolumeStatus> status() const { return std::nullopt; }
  // Operator commands (mirrorctl pause/resume/mode); they throw
  // std::runtime_error with a sentence when they do not apply.
  virtual void pause(bool paused) {
    (void)paused;
    throw std::runtime_error("this volume is not mirrored");
  }
  virtual void set_mode(Mode mode) {
    (void)mode;
    throw std::runtime_error("this volume is not mirrored");
  }
  // mirrorctl verify: compares the copy with the primary in the background
  // (contents by block checksums on both sides when `checksum`); progress and
  // result in status().sync.
  virtual void verify(bool checksum) {
    (void)checksum;
    throw std::runtime_error("this volume is not mirrored");
  }
  // mirrorctl resync: repairs the copy in the background. `discard_copy`
  // settles a split brain: the copy's own changes are overwritten;
  // `checksum` compares the contents of every file, not only of those whose
  // size or mtime differ.
  virtual void resync(bool discard_copy, bool checksum) {
    (void)discard_copy;
    (void)checksum;
    throw std::runtime_error("this volume is not mirrored");
  }
};

// The replicator of a volume with no peer: every change is applied locally
// only, and replicate() always succeeds.
std::unique_ptr<Replicator> make_local_only_replicator();

}  // namespace mirror
