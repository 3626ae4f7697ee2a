// Blocking frame I/O on a connected TCP socket, with deadlines. Each
// connection has threads of its own (the design's worker and connection
// threads), so a read simply waits, bounded by poll() timeouts: the request
// timeout on the mirror, the handshake deadline on both sides.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "mirror/wire_format.h"

namespace mirror {

enum class IoStatus {
  ok,
  timeout,  // nothing arrived before the deadline (the connection is still sound)
  closed,   // the peer closed the connection
  failed,   // a socket error, a stall in the middle of a frame, or a bad frame
};

struct FrameRead {
  IoStatus status = IoStatus::failed;
  std::string fault;  // why, when failed
  wire::FrameHeader header;
};

// Reads one whole frame into `payload`, checking its header and checksum.
// `first_byte_timeout_ms` bounds the wait for the frame to begin (-1: none);
// once begun, the rest must arrive within `stall_timeout_ms`.
FrameRead read_frame(int fd, std::vector<std::byte>& payload, int first_byte_timeout_ms,
                     int stall_timeout_ms = 10000);

// Writes a whole frame; false (with errno set) when the connection failed.
bool write_frame(int fd, const wire::OutFrame& frame);
// Writes the frame from byte `offset` on; with `wait` false, only what the
// socket takes without blocking. Returns the offset reached (the frame's size
// when it is all written), or -1 (errno set) when the connection failed.
ssize_t write_frame_from(int fd, const wire::OutFrame& frame, size_t offset, bool wait);

// "host:port" of the socket's peer, for logs.
std::string peer_name(int fd);

// A TCP connection to host:port, made within `timeout_ms` and tuned
// (tune_socket), blocking once made; or -1 with `why` set.
int connect_to(const std::string& host, const std::string& port, int timeout_ms, std::string& why);

// TCP_NODELAY and keepalive: small requests and responses go out at once.
void tune_socket(int fd);

}  // namespace mirror
