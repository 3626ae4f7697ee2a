#include "mirror/request_routing.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "mirror/wire_format.h"

namespace mirror {

bool is_namespace_change(Op op) {
  switch (op) {
    case Op::create:
    case Op::mknod:
    case Op::mkdir:
    case Op::unlink:
    case Op::rmdir:
    case Op::symlink:
    case Op::link:
    case Op::rename:
      return true;
    default:
      return false;
  }
}

size_t route_request(Op op, uint64_t sequence, uint64_t inode, std::string_view path, size_t n) {
  uint64_t key = sequence;
  if (!is_namespace_change(op)) key = inode != 0 ? inode : XXH3_64bits(path.data(), path.size());
  return static_cast<size_t>(key % n);
}

std::optional<size_t> route_frame(std::span<const std::byte> frame, size_t n, std::string& fault) {
  if (frame.size() < wire::kHeaderSize) {
    fault = "shorter than a frame header";
    return std::nullopt;
  }
  wire::FrameHeader header;
  std::span<const std::byte, wire::kHeaderSize> raw(frame.data(), wire::kHeaderSize);
  if (auto f = wire::decode_header(raw, header)) {
    fault = *f;
    return std::nullopt;
  }
  auto payload = frame.subspan(wire::kHeaderSize);
  wire::ReceivedRequest request;
  if (header.type != wire::FrameType::request) {
    fault = "not a REQUEST frame";
  } else if (payload.size() != header.payload_length) {
    fault = "payload length differs from the header's";
  } else if (auto f = wire::decode_request(header, payload, request)) {
    fault = *f;
  } else {
    return route_request(request.request.op, request.sequence, request.request.inode,
                         request.request.path, n);
  }
  return std::nullopt;
}

}  // namespace mirror
