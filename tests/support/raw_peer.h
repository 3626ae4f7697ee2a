// A hand-made local server for tests that speak to mirrord directly: one TCP
// connection on plain sockets that does the handshake and frames of
// mirror/wire_format.h itself, and can say anything else too.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "mirror/auth.h"
#include "mirror/frame_io.h"
#include "mirror/wire_format.h"

namespace testing_support {

inline constexpr int kReadTimeoutMs = 5000;

inline const char* status_name(mirror::IoStatus s) {
  switch (s) {
    case mirror::IoStatus::ok:
      return "ok";
    case mirror::IoStatus::timeout:
      return "timeout";
    case mirror::IoStatus::closed:
      return "closed";
    case mirror::IoStatus::failed:
      return "failed";
  }
  return "?";
}

class RawPeer {
 public:
  explicit RawPeer(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + strerror(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      int err = errno;
      close(fd_);
      throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + ": " +
                               strerror(err));
    }
    mirror::tune_socket(fd_);
  }
  ~RawPeer() {
    if (fd_ >= 0) close(fd_);
  }
  RawPeer(const RawPeer&) = delete;
  RawPeer& operator=(const RawPeer&) = delete;

  int fd() const { return fd_; }

  // "127.0.0.1:PORT" of this end, as mirrord names it in its log.
  std::string name() const {
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    char host[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &addr.sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(addr.sin_port));
  }

  bool send(const mirror::wire::OutFrame& frame) { return mirror::write_frame(fd_, frame); }

  bool send_bytes(std::span<const std::byte> bytes) {
    for (size_t done = 0; done < bytes.size();) {
      ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }

  mirror::FrameRead read(std::vector<std::byte>& payload, int timeout_ms = kReadTimeoutMs) {
    return mirror::read_frame(fd_, payload, timeout_ms, timeout_ms);
  }

  // HELLO, then the CHALLENGE that answers it.
  ::testing::AssertionResult hello(uint64_t session, uint16_t index = 0, uint16_t count = 1,
                                   uint64_t resume_from = 1) {
    hello_ = mirror::wire::Hello{};
    hello_.session = session;
    hello_.index = index;
    hello_.count = count;
    hello_.volume = "vol";
    hello_.nonce = mirror::random_nonce();
    hello_.resume_from = resume_from;
    if (!send(mirror::wire::encode_hello(hello_))) {
      return ::testing::AssertionFailure() << "cannot send HELLO: " << strerror(errno);
    }
    std::vector<std::byte> payload;
    auto r = read(payload);
    if (r.status != mirror::IoStatus::ok || r.header.type != mirror::wire::FrameType::challenge) {
      return ::testing::AssertionFailure()
             << "no CHALLENGE: " << status_name(r.status) << " " << r.fault;
    }
    if (auto fault = mirror::wire::decode_challenge(payload, challenge_)) {
      return ::testing::AssertionFailure() << "bad CHALLENGE: " << *fault;
    }
    return ::testing::AssertionSuccess();
  }

  // AUTH with the proof `secret` gives.
  bool send_auth(const mirror::Secret& secret) {
    mirror::wire::Auth auth;
    auth.proof =
        mirror::prove(secret, "mirrorfs", mirror::wire::hello_transcript(hello_), challenge_.nonce);
    return send(mirror::wire::encode_auth(auth));
  }

  // The whole handshake, checking the mirror's proof too.
  ::testing::AssertionResult authenticate(const mirror::Secret& secret, uint64_t session,
                                          uint16_t index = 0, uint16_t count = 1,
                                          uint64_t resume_from = 1) {
    if (auto h = hello(session, index, count, resume_from); !h) return h;
    auto expected =
        mirror::prove(secret, "mirrord", mirror::wire::hello_transcript(hello_), challenge_.nonce);
    if (!mirror::same_proof(expected, challenge_.proof)) {
      return ::testing::AssertionFailure() << "the mirror's CHALLENGE proof is wrong";
    }
    if (!send_auth(secret)) {
      return ::testing::AssertionFailure() << "cannot send AUTH: " << strerror(errno);
    }
    std::vector<std::byte> payload;
    auto r = read(payload);
    if (r.status != mirror::IoStatus::ok || r.header.type != mirror::wire::FrameType::welcome) {
      return ::testing::AssertionFailure()
             << "no WELCOME: " << status_name(r.status) << " " << r.fault;
    }
    if (auto fault = mirror::wire::decode_welcome(payload, welcome_)) {
      return ::testing::AssertionFailure() << "bad WELCOME: " << *fault;
    }
    return ::testing::AssertionSuccess();
  }

  const mirror::wire::Welcome& welcome() const { return welcome_; }

  // Sends a request and waits for its response: the errno the mirror
  // reports, or nothing (with the reason in `why`) when none came.
  std::optional<uint32_t> call(uint64_t sequence, uint64_t barrier, const mirror::MirrorRequest& r,
                               std::string* why = nullptr) {
    std::string ignored;
    if (why == nullptr) why = &ignored;
    if (!send(mirror::wire::encode_request(sequence, barrier, r))) {
      *why = std::string("send failed: ") + strerror(errno);
      return std::nullopt;
    }
    std::vector<std::byte> payload;
    auto f = read(payload);
    if (f.status != mirror::IoStatus::ok) {
      *why = std::string("no response: ") + status_name(f.status) + " " + f.fault;
      return std::nullopt;
    }
    mirror::wire::Response response;
    if (f.header.type != mirror::wire::FrameType::response) {
      *why = "frame type " + std::to_string(static_cast<int>(f.header.type)) + " came instead";
      return std::nullopt;
    }
    if (auto fault = mirror::wire::decode_response(f.header, payload, response)) {
      *why = "bad RESPONSE: " + *fault;
      return std::nullopt;
    }
    if (response.sequence != sequence) {
      *why = "RESPONSE for " + std::to_string(response.sequence) + " instead of " +
             std::to_string(sequence);
      return std::nullopt;
    }
    return response.error;
  }

  // Whether the mirror closed this connection without sending a frame:
  // a read gives "closed" (or "failed" for a reset) before the deadline.
  ::testing::AssertionResult closed_without_a_word(int timeout_ms = kReadTimeoutMs) {
    std::vector<std::byte> payload;
    auto r = read(payload, timeout_ms);
    if (r.status == mirror::IoStatus::closed || r.status == mirror::IoStatus::failed) {
      return ::testing::AssertionSuccess();
    }
    if (r.status == mirror::IoStatus::ok) {
      return ::testing::AssertionFailure()
             << "the mirror sent a frame of type " << static_cast<int>(r.header.type);
    }
    return ::testing::AssertionFailure() << "the connection stayed open";
  }

 private:
  int fd_ = -1;
  mirror::wire::Hello hello_;
  mirror::wire::Challenge challenge_;
  mirror::wire::Welcome welcome_;
};

}  // namespace testing_support
