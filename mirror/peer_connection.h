// Connection i of a link, on the local side: element i of the local
// connection array and its worker thread, which establishes the connection
// from the element's socket parameters, authenticates, and sends the
// requests given to it in order; a second thread reads the mirror's
// responses. If the connection breaks, it is re-established and every
// request not yet answered is sent again (the mirror answers a request it
// already applied without applying it twice). Internal to mirror/.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mirror/auth.h"
#include "mirror/connection_array.h"
#include "mirror/wire_format.h"

namespace mirror {

// One mirror request on its way: the encoded frame, the bytes it borrows, and
// the mirror's answer once it came.
struct PendingRequest {
  uint64_t sequence = 0;
  size_t route = 0;                   // the connection it travels on
  std::vector<std::byte> owned_data;  // a copy the frame points into, when the caller's may go
  wire::OutFrame frame;
  std::mutex mutex;  // guards done, error, released
  std::condition_variable answered;
  bool done = false;
  int error = 0;
  bool released = false;  // done without an answer: the link went down (on_disconnect=queue)

  // Makes the frame's data a copy of its own (once), so the request may
  // outlive the buffer it borrowed.
  void own_data() {
    if (frame.data.empty() || frame.data.data() == owned_data.data()) return;
    owned_data.assign(frame.data.begin(), frame.data.end());
    frame.data = owned_data;
  }
};
using PendingPtr = std::shared_ptr<PendingRequest>;

// What every connection of a link shares.
struct LinkContext {
  std::string volume;
  uint64_t session = 0;
  const Secret* secret = nullptr;
  // The lowest sequence number not yet answered (for HELLO's resume-from).
  std::function<uint64_t()> resume_from;
  // Called once per request when the mirror answered it.
  std::function<void(const PendingPtr&, int error)> on_answer;
  // A failure worth an operator's eye (for status), already logged.
  std::function<void(const std::string& message)> on_error;
  // An established connection was closed or reset by the peer, or failed
  // (mirrord restarted, or gave up on the session): the copy it serves may
  // not be the one checked.
  std::function<void()> on_peer_closed;
};

class PeerConnection {
 public:
  PeerConnection(const LinkContext& link, ConnectionElement& element, size_t index, size_t count);
  ~PeerConnection();
  PeerConnection(const PeerConnection&) = delete;
  PeerConnection& operator=(const PeerConnection&) = delete;

  void start();
  // Queues a request; requests go out in the order they were submitted. A
  // small one finding the sender idle is written by the caller as far as the
  // socket takes it without blocking, saving the sender's wakeup: the round
  // trip a sync caller waits for is shorter by a thread switch.
  void submit(PendingPtr request);
  // Establish the connection (and keep re-establishing it if it breaks).
  void open();
  // Closes the connection and forgets every request not yet answered (the
  // queue holds them). On return no frame is being written any more, so
  // memory borrowed by forgotten requests may go.
  void close();
  void stop();
  bool connected();

  struct Stats {
    bool open = false;       // connected and authenticated
    bool enabled = false;    // meant to be connected (else closed on purpose)
    uint64_t in_flight = 0;  // requests waiting to be sent or answered
    uint64_t bytes_sent = 0;
    uint64_t bytes_acked = 0;
    uint64_t requests_sent = 0;
  };
  Stats stats();

 private:
  void send_loop();
  void receive_loop();
  int establish();  // returns the connected, authenticated socket or -1
  void break_connection(int fd);
  void drop_socket(std::unique_lock<std::mutex>& lock);
  // A write of `request` on `fd` ended at `reached` (write_frame_from's
  // result): counts it, keeps it as partial_ for the sender to finish, or
  // breaks the connection. True when the frame went out whole.
  bool end_write_locked(int fd, const PendingPtr& request, ssize_t reached);

  const LinkContext& link_;
  ConnectionElement& element_;
  const size_t index_, count_;
  std::mutex mutex_;  // guards everything below
  std::condition_variable changed_;
  std::condition_variable idle_;  // a write ended (writing_ went false)
  std::deque<PendingPtr> to_send_;
  std::deque<PendingPtr> awaiting_;  // sent, not yet answered, in order
  // Begun by submit() and not finished: the sender writes the rest before
  // anything else. It is awaiting_'s back.
  PendingPtr partial_;
  size_t partial_offset_ = 0;
  uint64_t generation_ = 0;  // one per established connection
  bool broken_ = false;
  bool enabled_ = false;   // open() and not close()d
  bool writing_ = false;   // the sender is writing a frame, outside mutex_
  int receiving_fd_ = -1;  // the socket the receiver reads, which must not be closed under it
  bool stopping_ = false;
  bool logged_failure_ = false;
  uint64_t bytes_sent_ = 0, bytes_acked_ = 0, requests_sent_ = 0;
  std::thread sender_, receiver_;
};

}  // namespace mirror
