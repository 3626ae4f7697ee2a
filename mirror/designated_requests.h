// Designation (method, element 7) applied to the stream of mirror requests:
// requests on excluded paths are applied locally only, and a rename or link
// that crosses the border of an excluded path becomes what the copy needs to
// stay right (the removal of what left its sight, the content of what came
// into it). Internal to mirror/.
#pragma once

#include <functional>
#include <string>

#include "mirror/designation.h"
#include "mirror/request.h"

namespace mirror {

class DesignatedRequests {
 public:
  // `send` replicates one request and returns 0 or the errno to report.
  using Send = std::function<int(const MirrorRequest&)>;
  // `backing`: the backing directory, where content moved into sight is read.
  DesignatedRequests(Designation designation, std::string backing, Send send);

  // Hands `r`, or what it amounts to for the copy, to `send`.
  int replicate(const MirrorRequest& r);

 private:
  int replicate_rename(const MirrorRequest& r);
  // Removes `mirror_path` on the mirror, recursively, using the local tree at
  // `local_path` (which holds what the mirror has there) as the listing.
  int send_removal(const std::string& mirror_path, const std::string& local_path);
  // Sends the local file or tree at `path` whole: for paths the mirror never
  // had (moved or linked out of an excluded path).
  int send_content(const std::string& path);

  const Designation designation_;
  const std::string backing_;
  const Send send_;
};

}  // namespace mirror
