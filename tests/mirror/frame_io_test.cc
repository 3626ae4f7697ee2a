// Frames written in pieces: a write that stops where the socket is full
// and is finished later, from that offset, arrives whole.
#include "mirror/frame_io.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "mirror/wire_format.h"

namespace mirror {
namespace {

struct SocketPair {
  int fds[2] = {-1, -1};
  SocketPair() {
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    int small = 16 << 10;
    setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  }
  ~SocketPair() {
    for (int fd : fds) {
      if (fd >= 0) close(fd);
    }
  }
};

std::vector<std::byte> pattern(size_t n) {
  std::vector<std::byte> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>(i * 7 + i / 251);
  return v;
}

TEST(FrameIo, AWriteThatStopsShortIsFinishedFromItsOffset) {
  SocketPair s;
  auto data = pattern(1 << 20);
  MirrorRequest r;
  r.op = Op::write;
  r.path = "dir/file";
  r.offset = 4096;
  r.length = data.size();
  r.data = data;
  wire::OutFrame frame = wire::encode_request(42, 41, r);

  const ssize_t reached = write_frame_from(s.fds[0], frame, 0, /*wait=*/false);
  ASSERT_GT(reached, 0);
  ASSERT_LT(static_cast<size_t>(reached), frame.size()) << "the socket took a whole MiB at once";
  // Nothing more fits until the reader drains some.
  EXPECT_EQ(write_frame_from(s.fds[0], frame, static_cast<size_t>(reached), false), reached);

  FrameRead got;
  std::vector<std::byte> payload;
  std::thread reader([&] { got = read_frame(s.fds[1], payload, 5000, 5000); });
  EXPECT_EQ(write_frame_from(s.fds[0], frame, static_cast<size_t>(reached), /*wait=*/true),
            static_cast<ssize_t>(frame.size()));
  reader.join();
  ASSERT_EQ(got.status, IoStatus::ok) << got.fault;
  wire::ReceivedRequest decoded;
  ASSERT_FALSE(wire::decode_request(got.header, payload, decoded));
  EXPECT_EQ(decoded.sequence, 42u);
  EXPECT_EQ(decoded.request.path, "dir/file");
  ASSERT_EQ(decoded.request.data.size(), data.size());
  EXPECT_TRUE(std::equal(data.begin(), data.end(), decoded.request.data.begin()));
}

TEST(FrameIo, AnOffsetInsideTheHeaderResumesThere) {
  SocketPair s;
  MirrorRequest r;
  r.op = Op::mkdir;
  r.path = "a/b";
  wire::OutFrame frame = wire::encode_request(7, 6, r);
  ASSERT_GT(frame.head.size(), 10u);
  // The first 10 bytes go out by hand, the rest from offset 10.
  ASSERT_EQ(send(s.fds[0], frame.head.data(), 10, 0), 10);
  EXPECT_EQ(write_frame_from(s.fds[0], frame, 10, true), static_cast<ssize_t>(frame.size()));
  std::vector<std::byte> payload;
  FrameRead got = read_frame(s.fds[1], payload, 5000);
  ASSERT_EQ(got.status, IoStatus::ok) << got.fault;
  wire::ReceivedRequest decoded;
  ASSERT_FALSE(wire::decode_request(got.header, payload, decoded));
  EXPECT_EQ(decoded.request.path, "a/b");
}

TEST(FrameIo, AClosedPeerFailsTheWrite) {
  SocketPair s;
  close(s.fds[1]);
  s.fds[1] = -1;
  MirrorRequest r;
  r.op = Op::unlink;
  r.path = "x";
  wire::OutFrame frame = wire::encode_request(1, 0, r);
  EXPECT_EQ(write_frame_from(s.fds[0], frame, 0, false), -1);
  EXPECT_EQ(errno, EPIPE);
}

}  // namespace
}  // namespace mirror
