// Peer authentication: the shared secret of a mirror link, read from a file
// only its owner may read, and the HMAC-SHA256 proofs of the handshake (see
// wire_format.h). Neither side believes a request or heartbeat before the
// other has proved it knows the secret.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mirror/wire_format.h"

namespace mirror {

class Secret {
 public:
  // Reads the secret (trailing newlines dropped). Throws std::runtime_error
  // naming the file when it is missing, empty, not a regular file, or
  // readable or writable by group or others.
  static Secret from_file(const std::string& path);
  std::span<const std::byte> bytes() const { return bytes_; }

 private:
  std::vector<std::byte> bytes_;
};

// A fresh random nonce (OpenSSL's RAND_bytes); throws if none can be had.
wire::Nonce random_nonce();

// HMAC-SHA256(secret, label ‖ transcript ‖ server nonce): "mirrord" proves the
// mirror, "mirrorfs" the local server.
wire::Proof prove(const Secret& secret, std::string_view label,
                  std::span<const std::byte> hello_transcript, const wire::Nonce& server_nonce);

// Constant-time comparison, so a wrong guess learns nothing from timing.
bool same_proof(const wire::Proof& a, const wire::Proof& b);

}  // namespace mirror
