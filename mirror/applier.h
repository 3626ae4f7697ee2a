// The applier: the mirror side's hands. mirrord's connection threads give it
// each MirrorRequest received for a volume, and it stores the change in the
// volume's copy, confined beneath the copy's directory whatever the request
// says. It is written so that applying a request again after a half-finished
// attempt converges to the same state (replay after an interruption).
#pragma once

#include <string>

#include "mirror/request.h"

namespace mirror {

class Applier {
 public:
  // Opens the volume's copy directory; throws std::system_error naming it.
  explicit Applier(const std::string& volume_dir);
  ~Applier();
  Applier(const Applier&) = delete;
  Applier& operator=(const Applier&) = delete;

  // Applies one request to the copy. Returns 0 when the change is stored, else
  // a positive errno: EINVAL for a malformed request or one that names a path
  // outside the volume (absolute, "..", ".", empty components, NUL bytes, too
  // long); ELOOP when a symlink in the copy stands in the path, EXDEV for a
  // mount point; otherwise the errno of the failing system call. Never throws.
  // Safe to call from several threads at once.
  int apply(const MirrorRequest& request);

  // Reaches `path` ("" is the volume's root) as apply() reaches a request's
  // path, with the same checks and confinement, without following a symlink
  // at its end: `fd` becomes an O_PATH descriptor of the file itself, the
  // caller's to close. Returns 0 or the errno apply() would give (EINVAL for
  // a path outside the volume, ELOOP for a symlink in it, ENOENT...). For
  // mirrord's answers about the copy (inspection_server.cc).
  int open_path(const std::string& path, int& fd) const;

  const std::string& directory() const { return directory_; }

 private:
  std::string directory_;
  int volume_fd_;  // O_PATH descriptor of directory_; every path resolves beneath it
};

}  // namespace mirror
