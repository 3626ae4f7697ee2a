// The inspection channel with a real mirrord: the copy's identity record is
// absent, stored beside the copy and read back (also by a restarted
// mirrord); a corrupt record is reported and kept; listings, xattr names and
// block checksums asked over the wire agree with the same functions run on
// the copy directly; paths that would leave the copy get an errno and never
// data from outside; a wrong secret is refused; a malformed query ends only
// its connection. And the gate: a request connection's resume-from releases
// requests waiting for requests the local side no longer sends.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mirror/auth.h"
#include "mirror/inspect_format.h"
#include "mirror/inspection_client.h"
#include "mirror/tree_inspection.h"
#include "mirror/volume_identity.h"
#include "tests/support/mirror_fixture.h"
#include "tests/support/raw_peer.h"

namespace {

using mirror::EntryDescription;
using mirror::InspectionClient;
using mirror::Secret;
using mirror::VolumeIdentity;
using ::testing::HasSubstr;
using testing_support::MirrordProcess;
using testing_support::RawPeer;
using testing_support::read_file;
using testing_support::TempDir;
using testing_support::wait_until;
using testing_support::write_file;
using testing_support::write_secret;
namespace wire = mirror::wire;
namespace inspect = mirror::inspect;

constexpr int kTimeoutMs = 10000;

class Inspection : public ::testing::Test {
 protected:
  void SetUp() override {
    copy = tmp.sub("copy");
    ASSERT_EQ(mkdir(copy.c_str(), 0755), 0);
    secret_file = tmp.sub("secret");
    write_secret(secret_file, "the inspection secret\n");
    start_mirrord();
  }

  // Each run logs to a file of its own: the port is read from the log.
  void start_mirrord(const std::string& log = "mirrord.log") {
    mirrord = std::make_unique<MirrordProcess>(
        std::vector<std::pair<std::string, std::string>>{{"vol", copy}}, secret_file, tmp.sub(log));
  }

  std::string peer() const { return "127.0.0.1:" + std::to_string(mirrord->port()); }
  std::unique_ptr<InspectionClient> client() {
    return std::make_unique<InspectionClient>(peer(), "vol", Secret::from_file(secret_file),
                                              kTimeoutMs);
  }
  std::string in_copy(const std::string& rel) const { return copy + "/" + rel; }

  // The whole directory as the client pages through it.
  std::vector<EntryDescription> remote_listing(InspectionClient& c, const std::string& path,
                                               size_t* pages = nullptr) {
    std::vector<EntryDescription> all;
    std::string after;
    for (bool more = true; more;) {
      InspectionClient::Listing page = c.list(path, after);
      EXPECT_EQ(page.error, 0) << path << ": " << strerror(page.error);
      if (page.error != 0) break;
      all.insert(all.end(), page.entries.begin(), page.entries.end());
      more = page.more;
      if (!page.entries.empty()) after = page.entries.back().name;
      if (pages != nullptr) ++*pages;
    }
    return all;
  }

  std::vector<EntryDescription> local_listing(const std::string& path) {
    int fd = open(in_copy(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    EXPECT_GE(fd, 0) << path;
    std::vector<EntryDescription> out;
    bool more = true;
    EXPECT_EQ(mirror::list_directory(fd, "", 1000000, out, more), 0);
    EXPECT_FALSE(more);
    close(fd);
    return out;
  }

  void expect_alive(InspectionClient& c) {
    EXPECT_EQ(mirrord->poll_exit(), -1) << mirrord->log();
    EXPECT_EQ(c.list("", "").error, 0);
  }

  TempDir tmp;
  std::string copy, secret_file;
  std::unique_ptr<MirrordProcess> mirrord;
};

TEST_F(Inspection, IdentityIsAbsentThenStoredBesideTheCopyAndReadBack) {
  auto c = client();
  EXPECT_EQ(c->identity(), std::nullopt);
  VolumeIdentity id = VolumeIdentity::fresh();
  id.role = mirror::DataRole::copy;
  id.flags = mirror::kIdentityConsistent;
  id.sequence = 1234;
  c->set_identity(id);
  EXPECT_EQ(c->identity(), std::optional(id));
  const std::string file = mirror::identity_path_beside(copy);
  EXPECT_EQ(file, tmp.sub(".copy.mirror-identity"));
  EXPECT_TRUE(std::filesystem::is_regular_file(file));
  EXPECT_TRUE(std::filesystem::is_empty(copy)) << "the record must live outside the copy";
  EXPECT_THAT(mirrord->log(), HasSubstr("volume vol: identity now " + id.describe()));
  EXPECT_GT(c->bytes_sent(), 0u);
  EXPECT_GT(c->bytes_received(), mirror::identity_format::kSize);

  c.reset();
  mirrord->stop();
  start_mirrord("mirrord-restarted.log");
  EXPECT_EQ(client()->identity(), std::optional(id)) << "a restarted mirrord lost the record";
}

TEST_F(Inspection, ACorruptIdentityIsReportedAndKeptUntilReplaced) {
  const std::string file = mirror::identity_path_beside(copy);
  const std::string garbage(mirror::identity_format::kSize, 'x');
  write_file(file, garbage);
  auto c = client();
  try {
    c->identity();
    ADD_FAILURE() << "a corrupt record was believed";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("corrupt"));
    EXPECT_THAT(e.what(), HasSubstr(peer()));
  }
  EXPECT_EQ(read_file(file), garbage) << "the corrupt record was touched";
  EXPECT_THAT(mirrord->log(), HasSubstr(file));
  expect_alive(*c);
  // The local side decides: an explicit set_identity replaces it.
  VolumeIdentity id = VolumeIdentity::fresh();
  c->set_identity(id);
  EXPECT_EQ(c->identity(), std::optional(id));
}

TEST_F(Inspection, AnswersAgreeWithTheSameFunctionsRunOnTheCopy) {
  ASSERT_EQ(mkdir(in_copy("src").c_str(), 0750), 0);
  ASSERT_EQ(mkdir(in_copy("many").c_str(), 0755), 0);
  write_file(in_copy("src/a.c"), "int main() {}\n");
  write_file(in_copy("src/b.h"), "#pragma once\n");
  ASSERT_EQ(link(in_copy("src/a.c").c_str(), in_copy("src/a-link.c").c_str()), 0);
  ASSERT_EQ(symlink("a.c", in_copy("src/sym").c_str()), 0);
  ASSERT_EQ(mkfifo(in_copy("src/fifo").c_str(), 0600), 0);
  ASSERT_EQ(setxattr(in_copy("src/b.h").c_str(), "user.one", "1", 1, 0), 0);
  ASSERT_EQ(setxattr(in_copy("src/b.h").c_str(), "user.two", "22", 2, 0), 0);
  std::string big(3 * mirror::kSyncBlockSize + 77, 'b');
  big[mirror::kSyncBlockSize + 5] = 'X';
  write_file(in_copy("big"), big);
  // More entries than one reply carries, so the listing comes in pages.
  for (int i = 0; i < 5000; ++i) write_file(in_copy("many/file-" + std::to_string(i)), "");

  auto c = client();
  for (const std::string dir : {"", "src", "many"}) {
    SCOPED_TRACE("directory '" + dir + "'");
    size_t pages = 0;
    const auto remote = remote_listing(*c, dir, &pages);
    const auto local = local_listing(dir);
    ASSERT_EQ(remote.size(), local.size());
    for (size_t i = 0; i < local.size(); ++i) {
      EXPECT_TRUE(remote[i] == local[i]) << local[i].name;
      EXPECT_EQ(remote[i].inode, local[i].inode) << local[i].name;
    }
    if (dir == "many") {
      EXPECT_GE(pages, 2u);
    }
  }

  InspectionClient::Names names = c->xattr_names("src/b.h");
  EXPECT_EQ(names.error, 0);
  EXPECT_EQ(names.names, (std::vector<std::string>{"user.one", "user.two"}));

  int fd = open(in_copy("big").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  std::vector<uint64_t> local_sums;
  ASSERT_EQ(mirror::block_checksums(fd, 0, 100, local_sums), 0);
  close(fd);
  InspectionClient::Checksums sums = c->checksums("big", 0, 100);
  EXPECT_EQ(sums.error, 0);
  EXPECT_EQ(sums.size, big.size());
  EXPECT_EQ(sums.sums, local_sums);
  ASSERT_EQ(local_sums.size(), 4u);
  EXPECT_EQ(c->checksums("big", 1, 1).sums, std::vector<uint64_t>{local_sums[1]});
  EXPECT_EQ(c->checksums("big", 0, 0).size, big.size()) << "count 0 asks for the size alone";

  EXPECT_EQ(c->list("nothing", "").error, ENOENT);
  EXPECT_EQ(c->list("big", "").error, ENOTDIR);
  EXPECT_EQ(c->checksums("src", 0, 1).error, EISDIR);
  EXPECT_EQ(c->checksums("src/fifo", 0, 1).error, EINVAL) << "a FIFO must never be opened";
}

TEST_F(Inspection, PathsLeavingTheCopyGetAnErrnoNeverData) {
  const std::string outside = tmp.sub("outside");
  ASSERT_EQ(mkdir(outside.c_str(), 0755), 0);
  write_file(outside + "/secret.txt", "not for the peer");
  ASSERT_EQ(setxattr((outside + "/secret.txt").c_str(), "user.secret", "s", 1, 0), 0);
  ASSERT_EQ(symlink(outside.c_str(), in_copy("escape").c_str()), 0);
  ASSERT_EQ(symlink((outside + "/secret.txt").c_str(), in_copy("leak").c_str()), 0);
  ASSERT_EQ(mkdir(in_copy("d").c_str(), 0755), 0);

  auto c = client();
  for (const std::string path : {"../outside", "/etc", "d/../../outside", ".", "d/", "//etc"}) {
    EXPECT_EQ(c->list(path, "").error, EINVAL) << path;
    EXPECT_EQ(c->checksums(path, 0, 1).error, EINVAL) << path;
    EXPECT_EQ(c->xattr_names(path).error, EINVAL) << path;
  }
  // A symlink planted in the copy stops the walk; the link itself is all
  // that is described, never what it points to.
  EXPECT_EQ(c->list("escape/", "").error, EINVAL);
  EXPECT_EQ(c->list("escape", "").error, ENOTDIR);
  EXPECT_EQ(c->checksums("escape/secret.txt", 0, 1).error, ELOOP);
  EXPECT_EQ(c->xattr_names("escape/secret.txt").error, ELOOP);
  EXPECT_EQ(c->checksums("leak", 0, 1).error, EINVAL);
  InspectionClient::Names names = c->xattr_names("leak");
  EXPECT_EQ(names.error, 0);
  EXPECT_TRUE(names.names.empty()) << "the target's attributes came through the link";
  const auto root = remote_listing(*c, "");
  ASSERT_EQ(root.size(), 3u);
  EXPECT_EQ(root[1].name, "escape");
  EXPECT_EQ(root[1].link_target, outside);
  EXPECT_EQ(root[1].xattr_digest, 0u);
  expect_alive(*c);
}

TEST_F(Inspection, AWrongSecretOrAnUnservedVolumeIsRefused) {
  const std::string wrong = tmp.sub("wrong");
  write_secret(wrong, "another secret\n");
  try {
    InspectionClient c(peer(), "vol", Secret::from_file(wrong), kTimeoutMs);
    ADD_FAILURE() << "a wrong secret was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr(peer()));
  }
  EXPECT_THROW(InspectionClient(peer(), "other", Secret::from_file(secret_file), kTimeoutMs),
               std::runtime_error);
  EXPECT_TRUE(wait_until(
      [&] { return mirrord->log().find("authentication failed") != std::string::npos; }));
  expect_alive(*client());
}

// The handshake of an inspection connection, by hand.
::testing::AssertionResult inspect_handshake(RawPeer& raw, const Secret& secret) {
  wire::Hello hello;
  hello.features = wire::kFeatureInspect;
  hello.count = 1;
  hello.volume = "vol";
  hello.nonce = mirror::random_nonce();
  std::vector<std::byte> payload;
  wire::Challenge challenge;
  wire::Welcome welcome;
  if (!raw.send(wire::encode_hello(hello))) return ::testing::AssertionFailure() << "send HELLO";
  auto r = raw.read(payload);
  if (r.status != mirror::IoStatus::ok || wire::decode_challenge(payload, challenge)) {
    return ::testing::AssertionFailure() << "no CHALLENGE";
  }
  auto proof = mirror::prove(secret, "mirrorfs", wire::hello_transcript(hello), challenge.nonce);
  if (!raw.send(wire::encode_auth({proof}))) return ::testing::AssertionFailure() << "send AUTH";
  r = raw.read(payload);
  if (r.status != mirror::IoStatus::ok || r.header.type != wire::FrameType::welcome ||
      wire::decode_welcome(payload, welcome)) {
    return ::testing::AssertionFailure() << "no WELCOME";
  }
  return ::testing::AssertionSuccess();
}

TEST_F(Inspection, AMalformedQueryEndsOnlyItsConnection) {
  auto c = client();
  RawPeer raw(mirrord->port());
  ASSERT_TRUE(inspect_handshake(raw, Secret::from_file(secret_file)));
  inspect::Query q;
  q.id = 7;
  q.kind = inspect::Kind::checksums;
  q.path = "x";
  q.count = inspect::kMaxChecksumCount + 1;  // beyond the bound
  ASSERT_TRUE(raw.send(inspect::encode_query(q)));
  EXPECT_TRUE(raw.closed_without_a_word());
  EXPECT_TRUE(wait_until([&] {
    return mirrord->log().find("inspection connection from " + raw.name() +
                               ": bad query 7: INSPECT checksums count") != std::string::npos;
  })) << mirrord->log();
  expect_alive(*c);
}

TEST_F(Inspection, AnInspectionHelloMustBeOneConnectionOfOne) {
  RawPeer raw(mirrord->port());
  wire::Hello hello;
  hello.features = wire::kFeatureInspect;
  hello.index = 0;
  hello.count = 2;
  hello.volume = "vol";
  hello.nonce = mirror::random_nonce();
  const Secret secret = Secret::from_file(secret_file);
  ASSERT_TRUE(raw.send(wire::encode_hello(hello)));
  std::vector<std::byte> payload;
  wire::Challenge challenge;
  ASSERT_EQ(raw.read(payload).status, mirror::IoStatus::ok);
  ASSERT_FALSE(wire::decode_challenge(payload, challenge));
  ASSERT_TRUE(raw.send(wire::encode_auth(
      {mirror::prove(secret, "mirrorfs", wire::hello_transcript(hello), challenge.nonce)})));
  EXPECT_TRUE(raw.closed_without_a_word());
  EXPECT_THAT(mirrord->log(), HasSubstr("must be connection 1 of 1, not 1 of 2"));
}

TEST_F(Inspection, ResumeFromOfANewConnectionReleasesAWaitingRequest) {
  const Secret secret = Secret::from_file(secret_file);
  const uint64_t session = 0x5E55;
  RawPeer a(mirrord->port());
  ASSERT_TRUE(a.authenticate(secret, session, 0, 2, 1));
  // Request 5 waits for 1..4, which the local side will never send (a
  // resync covers them)...
  mirror::MirrorRequest mkdir_d;
  mkdir_d.op = mirror::Op::mkdir;
  mkdir_d.path = "d";
  mkdir_d.attr.valid = mirror::kAttrMode;
  mkdir_d.attr.mode = S_IFDIR | 0755;
  ASSERT_TRUE(a.send(wire::encode_request(5, 4, mkdir_d)));
  std::vector<std::byte> payload;
  EXPECT_EQ(a.read(payload, 100).status, mirror::IoStatus::timeout) << "request 5 did not wait";
  // ...until a connection of the session says everything below 5 is done.
  RawPeer b(mirrord->port());
  ASSERT_TRUE(b.authenticate(secret, session, 1, 2, 5));
  auto r = a.read(payload);
  ASSERT_EQ(r.status, mirror::IoStatus::ok) << r.fault;
  wire::Response response;
  ASSERT_FALSE(wire::decode_response(r.header, payload, response));
  EXPECT_EQ(response.sequence, 5u);
  EXPECT_EQ(response.error, 0u);
  EXPECT_TRUE(std::filesystem::is_directory(in_copy("d")));
}

}  // namespace
