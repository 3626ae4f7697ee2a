// The mirror link under attack, with real daemons and real sockets: a peer
// with the wrong secret or none, secret files anyone may read, and hostile or
// malformed frames from a peer that did authenticate. mirrord must refuse,
// write nothing outside its volumes, drop only the offending connection, say
// why in its log, and keep serving everyone else.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <optional>
#include <sstream>

#include "mirror/auth.h"
#include "mirror/frame_io.h"
#include "mirror/tree_compare.h"
#include "mirror/wire_format.h"
#include "tests/support/mirror_fixture.h"
#include "tests/support/raw_peer.h"

namespace {

namespace wire = mirror::wire;
using mirror::IoStatus;
using mirror::MirrorRequest;
using mirror::Op;
using testing_support::is_mounted;
using testing_support::MirrordProcess;
using testing_support::MirrorfsProcess;
using testing_support::RawPeer;
using testing_support::read_file;
using testing_support::run_command;
using testing_support::wait_until;
using testing_support::write_file;
using testing_support::write_secret;

// Whether one line of `log` contains every one of `parts`.
bool has_line_with(const std::string& log, std::initializer_list<std::string> parts) {
  std::istringstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    bool all = true;
    for (const auto& p : parts) all = all && line.find(p) != std::string::npos;
    if (all) return true;
  }
  return false;
}

bool directory_is_empty(const std::string& dir) {
  return std::filesystem::is_empty(dir);
}

MirrorRequest request(Op op, std::string path, std::string target = "") {
  MirrorRequest r;
  r.op = op;
  r.path = std::move(path);
  r.target = std::move(target);
  if (op == Op::create) {
    r.attr.valid = mirror::kAttrMode;
    r.attr.mode = S_IFREG | 0644;
  } else if (op == Op::mkdir) {
    r.attr.valid = mirror::kAttrMode;
    r.attr.mode = S_IFDIR | 0755;
  }
  return r;
}

MirrorRequest write_request(std::string path, const std::string& text) {
  MirrorRequest r = request(Op::write, std::move(path));
  r.data = std::as_bytes(std::span(text.data(), text.size()));
  r.length = text.size();
  return r;
}

// A real mirrord serving volume "vol" from `copy`, with `outside` a directory
// beside the copy that nothing may reach.
class HostilePeerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp = std::make_unique<TempDir>();
    copy = tmp->sub("copy");
    outside = tmp->sub("outside");
    secret_path = tmp->sub("secret");
    ASSERT_EQ(mkdir(copy.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(outside.c_str(), 0755), 0);
    ASSERT_EQ(mkdir((outside + "/dir").c_str(), 0755), 0);
    write_file(outside + "/victim", "precious\n");
    write_file(outside + "/dir/inner", "also precious\n");
    // A twin of `outside`, untouched, to compare it with at the end.
    twin = tmp->sub("outside-twin");
    auto r = run_command({"cp", "-a", outside, twin});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    write_secret(secret_path, "the secret of the hostile peer tests\n");
    secret = std::make_unique<mirror::Secret>(mirror::Secret::from_file(secret_path));
    mirrord = std::make_unique<MirrordProcess>(
        std::vector<std::pair<std::string, std::string>>{{"vol", copy}}, secret_path,
        tmp->sub("mirrord.log"));
  }

  void TearDown() override {
    if (mirrord) {
      EXPECT_EQ(mirrord->poll_exit(), -1) << "mirrord died during the test";
      EXPECT_EQ(mirrord->stop(), 0) << "mirrord did not exit cleanly";
      if (HasFailure()) std::cerr << "mirrord output:\n" << mirrord->log();
    }
    mirrord.reset();
    tmp.reset();
  }

  // A session id no earlier connection of this test used.
  uint64_t fresh_session() { return 0x5ec0000000000000ull + ++sessions_; }

  // Nothing outside the volume changed: `outside` equals its twin, and the
  // names an escape would have made beside the copy do not exist.
  void expect_outside_untouched() {
    EXPECT_EQ(mirror::format_differences(mirror::compare_trees(twin, outside)), "")
        << "something changed outside the volume";
    for (const char* name : {"escape", "x", "x-link", "abs", "sym"}) {
      EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(tmp->sub(name))))
          << tmp->sub(name) << " appeared beside the copy";
    }
  }

  // mirrord is alive and a fresh authenticated connection gets a request
  // stored.
  void expect_still_serving() {
    ASSERT_EQ(mirrord->poll_exit(), -1) << "mirrord died";
    RawPeer peer(mirrord->port());
    ASSERT_TRUE(peer.authenticate(*secret, fresh_session()));
    std::string name = "alive-" + std::to_string(++alive_);
    std::string why;
    auto created = peer.call(1, 0, request(Op::create, name), &why);
    ASSERT_TRUE(created.has_value()) << why;
    EXPECT_EQ(*created, 0u) << strerror(static_cast<int>(*created));
    std::string text = "still serving\n";
    auto written = peer.call(2, 1, write_request(name, text), &why);
    ASSERT_TRUE(written.has_value()) << why;
    EXPECT_EQ(*written, 0u) << strerror(static_cast<int>(*written));
    EXPECT_EQ(read_file(copy + "/" + name), text);
  }

  // Waits until mirrord's log has a line naming `peer` and `fault`.
  void expect_logged(const std::string& peer, const std::string& fault) {
    EXPECT_TRUE(wait_until([&] {
      return has_line_with(mirrord->log(), {peer, fault});
    })) << "mirrord did not log a line naming "
        << peer << " and \"" << fault << "\"";
  }

  std::unique_ptr<TempDir> tmp;
  std::string copy, outside, twin, secret_path;
  std::unique_ptr<mirror::Secret> secret;
  std::unique_ptr<MirrordProcess> mirrord;

 private:
  uint64_t sessions_ = 0;
  int alive_ = 0;
};

// ---------------------------------------------------------------------------
// Secrets

TEST(SecretTest, MirrorfsWithTheWrongSecretIsRefusedAndWritesNothing) {
  std::string why;
  if (!testing_support::fuse_available(&why)) GTEST_SKIP() << why;
  TempDir tmp;
  std::string backing = tmp.sub("backing"), mnt = tmp.sub("mnt"), copy = tmp.sub("copy");
  for (const auto& d : {backing, mnt, copy}) ASSERT_EQ(mkdir(d.c_str(), 0755), 0) << d;
  write_secret(tmp.sub("secret-a"), "secret A\n");
  write_secret(tmp.sub("secret-b"), "secret B\n");
  MirrordProcess mirrord({{"vol", copy}}, tmp.sub("secret-a"), tmp.sub("mirrord.log"));
  MirrorfsProcess mirrorfs(backing, mnt,
                           {"peer=127.0.0.1:" + std::to_string(mirrord.port()), "volume=vol",
                            "secret_file=" + tmp.sub("secret-b"), "mode=async",
                            "queue_dir=" + tmp.sub("queue"), "control=" + tmp.sub("ctl.sock")},
                           tmp.sub("mirrorfs.log"));
  write_file(mnt + "/f", "must not reach the mirror\n");
  // Its heartbeats are the first thing mirrord refuses: it never answers
  // them, so mirrorfs never even connects.
  EXPECT_TRUE(wait_until([&] { return mirrord.log().find("forged") != std::string::npos; }))
      << "mirrord output:\n"
      << mirrord.log();
  EXPECT_TRUE(directory_is_empty(copy)) << "the copy received files from an unauthenticated peer";
  EXPECT_FALSE(has_line_with(mirrord.log(), {"accepted"})) << mirrord.log();
  EXPECT_EQ(mirrord.poll_exit(), -1) << "mirrord died";
  EXPECT_EQ(mirrorfs.poll_exit(), -1) << "mirrorfs died:\n" << mirrorfs.log();
  mirrorfs.stop();
  EXPECT_FALSE(is_mounted(mnt));
  EXPECT_EQ(mirrord.stop(), 0);
}

struct BadSecret {
  const char* what;
  // Makes the secret file at the path (or not).
  void (*make)(const std::string& path);
  const char* says;  // in the error line besides the path
};

const BadSecret kBadSecrets[] = {
    {"group and others may read it",
     [](const std::string& p) {
       write_secret(p, "loose\n");
       chmod(p.c_str(), 0644);
     },
     "chmod 600"},
    {"group may write it",
     [](const std::string& p) {
       write_secret(p, "loose\n");
       chmod(p.c_str(), 0620);
     },
     "chmod 600"},
    {"it is missing", [](const std::string&) {}, "No such file"},
    {"it is empty", [](const std::string& p) { write_secret(p, ""); }, "empty"},
    {"it holds only a newline", [](const std::string& p) { write_secret(p, "\n"); }, "empty"},
};

std::vector<std::string> nonempty_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

TEST(SecretTest, MirrorfsRefusesToStartWithABadSecretFile) {
  for (const auto& bad : kBadSecrets) {
    SCOPED_TRACE(bad.what);
    TempDir tmp;
    std::string backing = tmp.sub("backing"), mnt = tmp.sub("mnt"), secret = tmp.sub("secret");
    for (const auto& d : {backing, mnt}) ASSERT_EQ(mkdir(d.c_str(), 0755), 0) << d;
    bad.make(secret);
    // auto_unmount: should it mount after all, killing it at the deadline
    // leaves no mount behind.
    auto r = run_command({MIRRORFS_BIN, backing, mnt, "-f", "-o",
                          "auto_unmount,peer=127.0.0.1:1,volume=v,secret_file=" + secret},
                         std::chrono::seconds(10));
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_NE(r.exit_code, -1) << "mirrorfs did not exit: " << r.output;
    auto lines = nonempty_lines(r.output);
    ASSERT_EQ(lines.size(), 1u) << r.output;
    EXPECT_NE(lines[0].find(secret), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find(bad.says), std::string::npos) << lines[0];
    EXPECT_FALSE(is_mounted(mnt));
  }
}

TEST(SecretTest, MirrordRefusesToStartWithABadSecretFile) {
  for (const auto& bad : kBadSecrets) {
    SCOPED_TRACE(bad.what);
    TempDir tmp;
    std::string copy = tmp.sub("copy"), secret = tmp.sub("secret");
    ASSERT_EQ(mkdir(copy.c_str(), 0755), 0);
    bad.make(secret);
    auto r = run_command(
        {MIRRORD_BIN, "--listen", "127.0.0.1:0", "--volume", "v=" + copy, "--secret-file", secret},
        std::chrono::seconds(10));
    EXPECT_EQ(r.exit_code, 1) << r.output;
    auto lines = nonempty_lines(r.output);
    ASSERT_EQ(lines.size(), 1u) << r.output;
    EXPECT_NE(lines[0].find(secret), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find(bad.says), std::string::npos) << lines[0];
  }
}

TEST_F(HostilePeerTest, APeerWithoutTheSecretLearnsNothing) {
  write_secret(tmp->sub("guess"), "a guess\n");
  auto guess = mirror::Secret::from_file(tmp->sub("guess"));
  RawPeer peer(mirrord->port());
  ASSERT_TRUE(peer.hello(fresh_session()));
  ASSERT_TRUE(peer.send_auth(guess));
  EXPECT_TRUE(peer.closed_without_a_word());
  expect_logged(peer.name(), "authentication failed");
  EXPECT_TRUE(directory_is_empty(copy));
  expect_still_serving();
}

TEST_F(HostilePeerTest, ARequestBeforeTheHandshakeIsDroppedWithoutAResponse) {
  RawPeer peer(mirrord->port());
  ASSERT_TRUE(peer.send(wire::encode_request(1, 0, request(Op::create, "sneaked"))));
  EXPECT_TRUE(peer.closed_without_a_word());
  expect_logged(peer.name(), "no HELLO");
  EXPECT_TRUE(directory_is_empty(copy));
  expect_still_serving();
}

// ---------------------------------------------------------------------------
// Confinement: requests that name places outside the volume

TEST_F(HostilePeerTest, RequestsReachingOutsideTheVolumeFailAndTouchNothing) {
  // Planted in the copy: symlinks to a directory and a file outside it.
  ASSERT_EQ(symlink(outside.c_str(), (copy + "/link").c_str()), 0);
  ASSERT_EQ(symlink((outside + "/victim").c_str(), (copy + "/flink").c_str()), 0);

  RawPeer peer(mirrord->port());
  ASSERT_TRUE(peer.authenticate(*secret, fresh_session()));
  uint64_t seq = 0;
  auto call = [&](const MirrorRequest& r) -> std::optional<uint32_t> {
    ++seq;
    std::string why;
    auto e = peer.call(seq, seq - 1, r, &why);
    EXPECT_TRUE(e.has_value()) << to_string(r.op) << " " << r.path << ": " << why;
    return e;
  };
  auto refused = [&](const MirrorRequest& r, uint32_t expected) {
    SCOPED_TRACE(std::string(to_string(r.op)) + " '" + r.path + "' '" + r.target + "'");
    auto e = call(r);
    if (!e) return;
    EXPECT_NE(*e, 0u) << "the mirror stored it";
    EXPECT_EQ(*e, expected) << "got " << strerror(static_cast<int>(*e)) << ", expected "
                            << strerror(static_cast<int>(expected));
  };
  const std::string text = "escaped\n";
  const std::string absolute = tmp->sub("abs");

  // Paths that say so in their text.
  refused(request(Op::create, "../escape"), EINVAL);
  refused(request(Op::mkdir, "../escape"), EINVAL);
  refused(request(Op::create, absolute), EINVAL);
  refused(write_request(outside + "/victim", text), EINVAL);
  refused(request(Op::create, "a/../../escape"), EINVAL);
  refused(request(Op::symlink, "../sym", "anything"), EINVAL);
  refused(request(Op::unlink, "../outside/victim"), EINVAL);
  refused(request(Op::rmdir, "../outside/dir"), EINVAL);
  {
    MirrorRequest r = request(Op::setattr, "../outside/victim");
    r.attr.valid = mirror::kAttrMode | mirror::kAttrSize;
    r.attr.mode = 0777;
    r.attr.size = 0;
    refused(r, EINVAL);
  }

  // A symlink in the copy standing in the path.
  refused(request(Op::create, "link/file"), ELOOP);
  refused(write_request("link/victim", text), ELOOP);
  refused(request(Op::mkdir, "link/sub"), ELOOP);
  refused(request(Op::unlink, "link/victim"), ELOOP);
  refused(request(Op::rmdir, "link/dir"), ELOOP);
  {
    MirrorRequest r = request(Op::setxattr, "link/victim");
    r.xattr_name = "user.evil";
    refused(r, ELOOP);
  }
  // A symlink in the copy as the file itself: never followed.
  refused(write_request("flink", text), ELOOP);
  {
    MirrorRequest r = request(Op::truncate, "flink");
    r.attr.valid = mirror::kAttrSize;
    r.attr.size = 0;
    refused(r, ELOOP);
  }
  {
    MirrorRequest r = request(Op::setattr, "flink");
    r.attr.valid = mirror::kAttrSize;
    r.attr.size = 0;
    refused(r, EINVAL);
  }
  {
    MirrorRequest r = request(Op::setattr, "flink");
    r.attr.valid = mirror::kAttrMode;
    r.attr.mode = 0666;
    refused(r, EOPNOTSUPP);
  }

  // Renames and links whose other end is outside.
  auto made = call(request(Op::create, "x"));
  ASSERT_TRUE(made.has_value());
  ASSERT_EQ(*made, 0u) << strerror(static_cast<int>(*made));
  refused(request(Op::rename, "x", "../x"), EINVAL);
  refused(request(Op::rename, "x", outside + "/x"), EINVAL);
  refused(request(Op::rename, "x", "link/x"), ELOOP);
  refused(request(Op::rename, "../outside/victim", "stolen"), EINVAL);
  refused(request(Op::rename, "link/victim", "stolen"), ELOOP);
  refused(request(Op::link, "x", "../x-link"), EINVAL);
  refused(request(Op::link, "x", "link/x-link"), ELOOP);
  refused(request(Op::link, "../outside/victim", "stolen"), EINVAL);
  refused(request(Op::link, "link/victim", "stolen"), ELOOP);

  // A symlink the peer makes pointing outside is stored as text, and never
  // followed afterwards.
  auto sym = call(request(Op::symlink, "evil", outside));
  ASSERT_TRUE(sym.has_value());
  EXPECT_EQ(*sym, 0u) << strerror(static_cast<int>(*sym));
  refused(request(Op::create, "evil/file"), ELOOP);
  refused(write_request("evil/victim", text), ELOOP);
  refused(request(Op::rename, "x", "evil/x"), ELOOP);

  expect_outside_untouched();
  EXPECT_FALSE(std::filesystem::exists(copy + "/stolen"));
  EXPECT_EQ(read_file(copy + "/x"), "");
  // The connection is still served after all these refusals...
  auto e = call(write_request("x", "fine\n"));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(*e, 0u) << strerror(static_cast<int>(*e));
  EXPECT_EQ(read_file(copy + "/x"), "fine\n");
  // ...and so is a fresh one.
  expect_still_serving();
  expect_outside_untouched();
}

// ---------------------------------------------------------------------------
// Malformed frames from an authenticated peer: only that connection closes.

class MalformedFrameTest : public HostilePeerTest {
 protected:
  // Authenticates a connection, lets `attack` send on it, and checks that
  // mirrord closes it, logs `fault` with the peer's name, and keeps serving.
  void expect_dropped(const std::string& fault, const std::function<void(RawPeer&)>& attack) {
    RawPeer peer(mirrord->port());
    ASSERT_TRUE(peer.authenticate(*secret, fresh_session()));
    // A sound request first: the connection works until the bad frame.
    auto e = peer.call(1, 0, request(Op::create, "before-" + std::to_string(++round_)));
    ASSERT_TRUE(e.has_value());
    ASSERT_EQ(*e, 0u);
    attack(peer);
    EXPECT_TRUE(peer.closed_without_a_word());
    expect_logged(peer.name(), fault);
    expect_still_serving();
    expect_outside_untouched();
  }

  // A sound request frame (sequence 2, barrier 1), to be spoiled.
  static wire::OutFrame sound_frame() {
    static const std::string data = "payload";
    MirrorRequest r = write_request("before-1", data);
    wire::OutFrame f = wire::encode_request(2, 1, r);
    // One contiguous buffer, so that any byte of it can be changed.
    f.head.insert(f.head.end(), f.data.begin(), f.data.end());
    f.data = {};
    return f;
  }

 private:
  int round_ = 0;
};

TEST_F(MalformedFrameTest, AnOversizedPayloadLengthClosesTheConnection) {
  expect_dropped("exceeds the limit", [](RawPeer& peer) {
    wire::OutFrame f = sound_frame();
    uint32_t length = static_cast<uint32_t>(wire::kMaxPayload + 1);
    for (int i = 0; i < 4; ++i) f.head[8 + i] = static_cast<std::byte>(length >> (8 * i));
    // Only the header: the mirror must not wait for (or allocate) the rest.
    ASSERT_TRUE(peer.send_bytes(std::span(f.head).first(wire::kHeaderSize)));
  });
}

TEST_F(MalformedFrameTest, AFlippedChecksumClosesTheConnection) {
  expect_dropped("checksum mismatch", [](RawPeer& peer) {
    wire::OutFrame f = sound_frame();
    f.head[24] ^= std::byte{0x01};
    ASSERT_TRUE(peer.send(f));
  });
}

TEST_F(MalformedFrameTest, AFlippedPayloadByteClosesTheConnection) {
  expect_dropped("checksum mismatch", [](RawPeer& peer) {
    wire::OutFrame f = sound_frame();
    f.head.back() ^= std::byte{0x80};
    ASSERT_TRUE(peer.send(f));
  });
}

TEST_F(MalformedFrameTest, GarbageBytesCloseTheConnection) {
  expect_dropped("bad magic", [](RawPeer& peer) {
    std::vector<std::byte> garbage(200);
    for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<std::byte>(i * 37 + 11);
    ASSERT_TRUE(peer.send_bytes(garbage));
  });
}

TEST_F(MalformedFrameTest, AFrameCutShortClosesTheConnection) {
  expect_dropped("closed in the middle of a frame", [](RawPeer& peer) {
    wire::OutFrame f = sound_frame();
    ASSERT_TRUE(peer.send_bytes(std::span(f.head).first(wire::kHeaderSize + 10)));
    ASSERT_EQ(shutdown(peer.fd(), SHUT_WR), 0);
  });
}

TEST_F(MalformedFrameTest, ARequestWaitingForItselfClosesTheConnection) {
  expect_dropped("waits for itself", [](RawPeer& peer) {
    ASSERT_TRUE(peer.send(wire::encode_request(2, 2, request(Op::create, "never"))));
  });
  EXPECT_FALSE(std::filesystem::exists(copy + "/never"));
}

TEST_F(MalformedFrameTest, AnUnknownOperationClosesTheConnection) {
  expect_dropped("unknown operation", [](RawPeer& peer) {
    ASSERT_TRUE(peer.send(wire::encode_request(2, 1, request(static_cast<Op>(200), "never"))));
  });
  EXPECT_FALSE(std::filesystem::exists(copy + "/never"));
}

TEST_F(MalformedFrameTest, AFrameOfTheWrongKindClosesTheConnection) {
  expect_dropped("unexpected frame type", [](RawPeer& peer) {
    ASSERT_TRUE(peer.send(wire::encode_welcome(wire::Welcome{})));
  });
}

// ---------------------------------------------------------------------------
// A connection element re-established by the same session replaces the old
// connection, and the new one is served.

TEST_F(HostilePeerTest, AReestablishedConnectionReplacesTheOldOneAndIsServed) {
  const uint64_t session = fresh_session();
  RawPeer old_peer(mirrord->port());
  ASSERT_TRUE(old_peer.authenticate(*secret, session));
  auto e = old_peer.call(1, 0, request(Op::create, "before"));
  ASSERT_TRUE(e.has_value());
  ASSERT_EQ(*e, 0u);

  RawPeer new_peer(mirrord->port());
  ASSERT_TRUE(new_peer.authenticate(*secret, session, 0, 1, /*resume_from=*/2));
  EXPECT_EQ(new_peer.welcome().applied_through, 1u);
  EXPECT_TRUE(old_peer.closed_without_a_word());
  // Once the old connection's thread has finished with it...
  expect_logged(old_peer.name(), "closed by");
  // ...the new connection is still served.
  std::string why;
  e = new_peer.call(2, 1, write_request("before", "after\n"), &why);
  ASSERT_TRUE(e.has_value()) << why;
  EXPECT_EQ(*e, 0u);
  EXPECT_EQ(read_file(copy + "/before"), "after\n");
}

}  // namespace
