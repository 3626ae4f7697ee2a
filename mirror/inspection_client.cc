// The local side of an inspection connection: the handshake of a request
// connection with wire::kFeatureInspect in HELLO, then one query and its
// reply at a time (inspect_format.h). Any failure of the connection or a
// malformed answer throws, naming the peer; the connection is then unusable
// and the caller makes a new client.
#include "mirror/inspection_client.h"

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include "mirror/frame_io.h"
#include "mirror/inspect_format.h"
#include "mirror/local_replicator.h"

namespace mirror {
namespace {

constexpr int kConnectTimeoutMs = 3000;
constexpr uint32_t kListBatch = 4096;  // entries per list query; the server may send fewer

}  // namespace

struct InspectionClient::Impl {
  std::string peer;
  std::string volume;
  int timeout_ms = 0;
  int fd = -1;
  std::mutex mutex;  // one query in flight: guards fd's use, next_id and broken
  uint64_t next_id = 1;
  std::string broken;  // why the connection is no longer usable, once it is not
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> received{0};
  std::vector<std::byte> payload;

  [[noreturn]] void fail(const std::string& why) {
    broken = why;
    if (fd >= 0) shutdown(fd, SHUT_RDWR);
    throw std::runtime_error("inspecting volume " + volume + " on " + peer + ": " + why);
  }

  void send(const wire::OutFrame& frame) {
    if (!write_frame(fd, frame)) fail(std::string("cannot send: ") + strerror(errno));
    sent += frame.size();
  }

  // The next frame, which must be of `type`.
  wire::FrameHeader receive(wire::FrameType type, const char* what) {
    FrameRead r = read_frame(fd, payload, timeout_ms, timeout_ms);
    if (r.status == IoStatus::timeout) {
      fail(std::string("no ") + what + " within " + std::to_string(timeout_ms) + " ms");
    }
    if (r.status == IoStatus::closed) fail(std::string("closed by the peer before the ") + what);
    if (r.status != IoStatus::ok) fail(r.fault);
    received += wire::kHeaderSize + payload.size();
    if (r.header.type != type) {
      fail(std::string("a frame of type ") + std::to_string(static_cast<int>(r.header.type)) +
           " came instead of the " + what);
    }
    return r.header;
  }

  void handshake(const Secret& secret) {
    wire::Hello hello;
    hello.features = wire::kFeatureInspect;
    hello.session = 0;
    hello.index = 0;
    hello.count = 1;
    hello.volume = volume;
    hello.nonce = random_nonce();
    const auto transcript = wire::hello_transcript(hello);
    send(wire::encode_hello(hello));
    wire::Challenge challenge;
    receive(wire::FrameType::challenge, "CHALLENGE");
    if (auto why = wire::decode_challenge(payload, challenge)) fail("bad CHALLENGE: " + *why);
    // Nothing is believed from, nor sent to, a peer that cannot prove the secret.
    if (!same_proof(challenge.proof, prove(secret, "mirrord", transcript, challenge.nonce))) {
      fail("the peer failed to prove the shared secret");
    }
    send(wire::encode_auth(wire::Auth{prove(secret, "mirrorfs", transcript, challenge.nonce)}));
    FrameRead r = read_frame(fd, payload, timeout_ms, timeout_ms);
    if (r.status == IoStatus::closed || r.status == IoStatus::failed) {
      fail(
          "the peer ended the handshake (wrong secret, or volume not served there? see "
          "mirrord's log)");
    }
    if (r.status == IoStatus::timeout)
      fail("no WELCOME within " + std::to_string(timeout_ms) + " ms");
    received += wire::kHeaderSize + payload.size();
    wire::Welcome welcome;
    if (r.header.type != wire::FrameType::welcome) fail("no WELCOME after AUTH");
    if (auto why = wire::decode_welcome(payload, welcome)) fail("bad WELCOME: " + *why);
  }

  // Sends `q` and returns its reply, checked to answer it.
  inspect::Reply ask(inspect::Query q) {
    std::lock_guard lock(mutex);
    if (!broken.empty()) {
      throw std::runtime_error("inspecting volume " + volume + " on " + peer +
                               ": the connection failed earlier (" + broken + ")");
    }
    q.id = next_id++;
    send(inspect::encode_query(q));
    const wire::FrameHeader header = receive(wire::FrameType::inspect_reply, "INSPECT_REPLY");
    inspect::Reply reply;
    if (auto why = inspect::decode_reply(header, payload, reply)) fail("bad reply: " + *why);
    if (reply.id != q.id || reply.kind != q.kind) {
      fail("reply " + std::to_string(reply.id) + " (" + inspect::to_string(reply.kind) +
           ") does not answer query " + std::to_string(q.id) + " (" + inspect::to_string(q.kind) +
           ")");
    }
    return reply;
  }
};

InspectionClient::InspectionClient(const std::string& peer, const std::string& volume,
                                   const Secret& secret, int timeout_ms)
    : impl_(std::make_unique<Impl>()) {
  impl_->peer = peer;
  impl_->volume = volume;
  impl_->timeout_ms = timeout_ms;
  auto [host, port] = split_host_port(peer, "peer ");
  std::string why;
  impl_->fd = connect_to(host, port, std::min(timeout_ms, kConnectTimeoutMs), why);
  if (impl_->fd < 0) {
    throw std::runtime_error("inspecting volume " + volume + " on " + peer + ": " + why);
  }
  try {
    impl_->handshake(secret);
  } catch (...) {
    ::close(impl_->fd);
    impl_->fd = -1;
    throw;
  }
}

InspectionClient::~InspectionClient() {
  if (impl_->fd >= 0) ::close(impl_->fd);
}

std::optional<VolumeIdentity> InspectionClient::identity() {
  inspect::Query q;
  q.kind = inspect::Kind::identity;
  inspect::Reply reply = impl_->ask(std::move(q));
  const std::string where = "volume " + impl_->volume + " on " + impl_->peer;
  if (reply.error == EUCLEAN) {
    throw CopyIdentityUnreadable(where +
                                 ": the copy's identity record is corrupt (see mirrord's log)");
  }
  if (reply.error != 0) {
    throw CopyIdentityUnreadable(where + ": cannot read the copy's identity record: " +
                                 strerror(static_cast<int>(reply.error)));
  }
  if (!reply.present) return std::nullopt;
  VolumeIdentity identity;
  if (auto why = identity_format::decode(reply.record, identity)) {
    throw CopyIdentityUnreadable(where + ": the copy's identity record is not sound: " + *why);
  }
  return identity;
}

void InspectionClient::set_identity(const VolumeIdentity& identity) {
  inspect::Query q;
  q.kind = inspect::Kind::set_identity;
  q.record = identity_format::encode(identity);
  inspect::Reply reply = impl_->ask(std::move(q));
  if (reply.error != 0) {
    throw std::runtime_error(
        "volume " + impl_->volume + " on " + impl_->peer +
        ": cannot store the copy's identity record: " + strerror(static_cast<int>(reply.error)));
  }
}

InspectionClient::Listing InspectionClient::list(const std::string& path,
                                                 const std::string& after) {
  inspect::Query q;
  q.kind = inspect::Kind::list;
  q.path = path;
  q.after = after;
  q.max_entries = kListBatch;
  inspect::Reply reply = impl_->ask(std::move(q));
  // The decoder checked the order; that the page begins after `after` is
  // this query's to check.
  if (!reply.entries.empty() && !(after < reply.entries.front().name)) {
    std::lock_guard lock(impl_->mutex);
    impl_->fail("listing of '" + path + "' does not begin after '" + after + "'");
  }
  return Listing{static_cast<int>(reply.error), std::move(reply.entries), reply.more};
}

InspectionClient::Names InspectionClient::xattr_names(const std::string& path) {
  inspect::Query q;
  q.kind = inspect::Kind::xattr_names;
  q.path = path;
  inspect::Reply reply = impl_->ask(std::move(q));
  return Names{static_cast<int>(reply.error), std::move(reply.names)};
}

InspectionClient::Checksums InspectionClient::checksums(const std::string& path, uint64_t first,
                                                        uint32_t count) {
  // A large question is asked in parts the format bounds; count 0 asks for
  // the size alone.
  Checksums out;
  for (bool asked = false; !asked || count > 0; asked = true) {
    inspect::Query q;
    q.kind = inspect::Kind::checksums;
    q.path = path;
    q.first_block = first;
    q.count = std::min(count, inspect::kMaxChecksumCount);
    inspect::Reply reply = impl_->ask(std::move(q));
    out.error = static_cast<int>(reply.error);
    if (out.error != 0) return Checksums{out.error, 0, {}};
    if (reply.sums.size() > q.count) {
      std::lock_guard lock(impl_->mutex);
      impl_->fail("checksums of '" + path + "': " + std::to_string(reply.sums.size()) +
                  " sums for " + std::to_string(q.count) + " blocks asked");
    }
    out.size = reply.size;
    out.sums.insert(out.sums.end(), reply.sums.begin(), reply.sums.end());
    if (reply.sums.size() < q.count) break;  // the end of the file
    first += q.count;
    count -= q.count;
  }
  return out;
}

uint64_t InspectionClient::bytes_sent() const {
  return impl_->sent;
}
uint64_t InspectionClient::bytes_received() const {
  return impl_->received;
}

}  // namespace mirror
