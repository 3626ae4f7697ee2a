// Which of the n connections a mirror request travels on. A deterministic
// function of the request's content, so that a request sent again after a
// reconnection or a restart (from the queue) takes the same connection as
// before: the mirror relies on that to recognise requests it already applied
// (each connection's requests arrive in increasing sequence order). All
// requests on one file share a connection; namespace changes, full barriers
// anyway, are spread by sequence number. Internal to mirror/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "mirror/request.h"

namespace mirror {

bool is_namespace_change(Op op);

size_t route_request(Op op, uint64_t sequence, uint64_t inode, std::string_view path, size_t n);

// The route of an encoded REQUEST frame (as the queue holds it); nothing,
// with `fault` set, when the frame does not decode.
std::optional<size_t> route_frame(std::span<const std::byte> frame, size_t n, std::string& fault);

}  // namespace mirror
