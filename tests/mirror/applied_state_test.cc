// The applied-state file (mirror/applied_state.h): its bytes round-trip, a
// new session resets it, a damaged file is reported naming the file and
// treated as unknown, and what one run of mirrord recorded is recognised by
// the next.
#include "mirror/applied_state.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <stdexcept>
#include <string>

#include "mirror/mirror_server.h"
#include "tests/support/temp_dir.h"

namespace {

namespace layout = mirror::applied_state_format;
using mirror::AppliedState;
using testing_support::read_file;
using testing_support::write_file;

constexpr uint64_t kSession = 0x1122334455667788;

std::string flip_byte(std::string bytes, size_t at) {
  bytes[at] = static_cast<char>(bytes[at] ^ 0x40);
  return bytes;
}

class AppliedStateTest : public ::testing::Test {
 protected:
  std::string path() const { return tmp.sub("vol.state"); }
  TempDir tmp;
};

TEST(AppliedStateFormat, RoundTrips) {
  layout::Contents c{kSession, 41, {50, 0, 47, 43}};
  auto bytes = layout::encode(c);
  EXPECT_EQ(bytes.size(), layout::kHeaderSize + layout::kRecordSize * 5);
  layout::Contents back;
  ASSERT_EQ(layout::decode(bytes, back), std::nullopt);
  EXPECT_EQ(back, c);
}

TEST(AppliedStateFormat, RecordsAreWhereTheLayoutSays) {
  layout::Contents c{kSession, 7, {0, 0}};
  auto bytes = layout::encode(c);
  auto record = layout::encode_record(kSession, 2, 2, 99);  // connection 1
  std::copy(record.begin(), record.end(), bytes.begin() + layout::kHeaderSize + 2 * 16);
  layout::Contents back;
  ASSERT_EQ(layout::decode(bytes, back), std::nullopt);
  EXPECT_EQ(back.applied, (std::vector<uint64_t>{0, 99}));
}

TEST(AppliedStateFormat, EveryFlippedByteIsCaught) {
  auto bytes = layout::encode({kSession, 3, {5, 9}});
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto bad = bytes;
    bad[i] ^= std::byte{0x01};
    layout::Contents out;
    EXPECT_NE(layout::decode(bad, out), std::nullopt) << "byte " << i;
  }
}

TEST(AppliedStateFormat, ARecordMovedToAnotherPlaceIsCaught) {
  auto bytes = layout::encode({kSession, 3, {5, 9}});
  std::copy(bytes.begin() + 48, bytes.begin() + 64, bytes.begin() + 64);  // 1's record over 2's
  layout::Contents out;
  auto fault = layout::decode(bytes, out);
  ASSERT_NE(fault, std::nullopt);
  EXPECT_NE(fault->find("connection 2"), std::string::npos) << *fault;
}

TEST(AppliedStateFormat, TruncatedAndOversizedFilesAreCaught) {
  auto bytes = layout::encode({kSession, 3, {5, 9}});
  layout::Contents out;
  auto shorter = bytes;
  shorter.resize(bytes.size() - 1);
  EXPECT_NE(layout::decode(shorter, out), std::nullopt);
  auto longer = bytes;
  longer.push_back(std::byte{0});
  EXPECT_NE(layout::decode(longer, out), std::nullopt);
  EXPECT_NE(layout::decode(std::span(bytes).first(10), out), std::nullopt);
}

TEST_F(AppliedStateTest, ANewFileKnowsNothingAndReportsNothing) {
  AppliedState state(path());
  EXPECT_EQ(state.corruption(), std::nullopt);
  auto b = state.begin(kSession, 2, 10);
  EXPECT_FALSE(b.known);
  EXPECT_EQ(b.applied_through, 10u);
  EXPECT_EQ(b.applied, (std::vector<uint64_t>{0, 0}));
  EXPECT_EQ(b.error, "");
  struct stat st {};
  ASSERT_EQ(stat(path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(AppliedStateTest, ARestartRecognisesAppliedSequences) {
  {
    AppliedState first(path());
    auto b = first.begin(kSession, 3, 0);
    EXPECT_EQ(first.record(b.generation, 0, 1, 1), std::nullopt);
    EXPECT_EQ(first.record(b.generation, 2, 2, 2), std::nullopt);
    EXPECT_EQ(first.record(b.generation, 0, 4, 2), std::nullopt);  // 3 not applied yet
  }  // as if killed: nothing but the pwrites happened
  AppliedState second(path());
  EXPECT_EQ(second.corruption(), std::nullopt);
  auto b = second.begin(kSession, 3, 1);
  EXPECT_TRUE(b.known);
  EXPECT_EQ(b.applied_through, 2u);
  EXPECT_EQ(b.applied, (std::vector<uint64_t>{4, 0, 2}));
  EXPECT_TRUE(second.applied(b.generation, 0, 1));
  EXPECT_TRUE(second.applied(b.generation, 0, 4));
  EXPECT_FALSE(second.applied(b.generation, 0, 5));
  EXPECT_FALSE(second.applied(b.generation, 1, 3));
  EXPECT_TRUE(second.applied(b.generation, 2, 2));
  EXPECT_FALSE(second.applied(b.generation, 2, 6));
}

TEST_F(AppliedStateTest, ResumeFromAboveTheFileMovesAppliedThroughOn) {
  {
    AppliedState first(path());
    first.begin(kSession, 1, 5);
  }
  AppliedState second(path());
  auto b = second.begin(kSession, 1, 9);
  EXPECT_TRUE(b.known);
  EXPECT_EQ(b.applied_through, 9u);
  AppliedState third(path());
  EXPECT_EQ(third.begin(kSession, 1, 0).applied_through, 9u);
}

TEST_F(AppliedStateTest, ANewSessionResetsTheFile) {
  {
    AppliedState first(path());
    auto b = first.begin(kSession, 2, 0);
    first.record(b.generation, 1, 8, 0);
  }
  AppliedState second(path());
  auto b = second.begin(kSession + 1, 2, 3);
  EXPECT_FALSE(b.known);
  EXPECT_EQ(b.applied, (std::vector<uint64_t>{0, 0}));
  EXPECT_FALSE(second.applied(b.generation, 1, 8));
  AppliedState third(path());  // and the reset is in the file
  auto c = third.begin(kSession + 1, 2, 0);
  EXPECT_TRUE(c.known);
  EXPECT_EQ(c.applied_through, 3u);
  EXPECT_EQ(c.applied, (std::vector<uint64_t>{0, 0}));
}

TEST_F(AppliedStateTest, AnotherConnectionCountResetsTheFile) {
  {
    AppliedState first(path());
    auto b = first.begin(kSession, 2, 0);
    first.record(b.generation, 0, 8, 0);
  }
  AppliedState second(path());
  auto b = second.begin(kSession, 4, 0);
  EXPECT_FALSE(b.known);
  EXPECT_EQ(b.applied, std::vector<uint64_t>(4, 0));
  EXPECT_EQ(read_file(path()).size(), layout::kHeaderSize + layout::kRecordSize * 5);
}

TEST_F(AppliedStateTest, RecordsOfAReplacedSessionAreIgnored) {
  AppliedState state(path());
  auto old_session = state.begin(kSession, 2, 0);
  auto new_session = state.begin(kSession + 1, 2, 0);
  EXPECT_EQ(state.record(old_session.generation, 0, 30, 30), std::nullopt);
  EXPECT_FALSE(state.applied(new_session.generation, 0, 30));
  EXPECT_FALSE(state.applied(old_session.generation, 0, 1));
  AppliedState again(path());
  EXPECT_EQ(again.begin(kSession + 1, 2, 0).applied, (std::vector<uint64_t>{0, 0}));
}

TEST_F(AppliedStateTest, ACorruptFileIsNamedAndTreatedAsUnknown) {
  {
    AppliedState first(path());
    auto b = first.begin(kSession, 2, 0);
    first.record(b.generation, 1, 8, 0);
  }
  std::string bytes = read_file(path());
  write_file(path(), flip_byte(bytes, layout::kHeaderSize + 2 * 16 + 1));  // connection 1's value
  AppliedState second(path());
  ASSERT_NE(second.corruption(), std::nullopt);
  EXPECT_NE(second.corruption()->find(path()), std::string::npos) << *second.corruption();
  EXPECT_NE(second.corruption()->find("corrupt"), std::string::npos) << *second.corruption();
  auto b = second.begin(kSession, 2, 0);
  EXPECT_FALSE(b.known) << "a damaged file must not be believed";
  EXPECT_FALSE(second.applied(b.generation, 1, 8));
  AppliedState third(path());  // rewritten sound for the session
  EXPECT_EQ(third.corruption(), std::nullopt);
  EXPECT_TRUE(third.begin(kSession, 2, 0).known);
}

TEST_F(AppliedStateTest, AFileOfAnotherKindIsCorrupt) {
  write_file(path(), "not a state file at all, but long enough for a header\n");
  AppliedState state(path());
  ASSERT_NE(state.corruption(), std::nullopt);
  EXPECT_NE(state.corruption()->find("magic"), std::string::npos) << *state.corruption();
}

TEST_F(AppliedStateTest, AnUnopenableFileIsNamed) {
  std::string missing = tmp.sub("no-such-dir/vol.state");
  try {
    AppliedState state(missing);
    FAIL() << "opened " << missing;
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
  }
}

TEST_F(AppliedStateTest, SyncSucceedsOnASoundFile) {
  AppliedState state(path());
  state.begin(kSession, 1, 0);
  EXPECT_EQ(state.sync(), std::nullopt);
}

TEST(AppliedStatePath, BesideTheCopyByDefault) {
  mirror::MirrordOptions options;
  EXPECT_EQ(mirror::applied_state_path(options, "v", "/srv/mirror/data"),
            "/srv/mirror/.data.mirrord-state");
  EXPECT_EQ(mirror::applied_state_path(options, "v", "/srv/mirror/data/"),
            "/srv/mirror/.data.mirrord-state");
  EXPECT_THROW(mirror::applied_state_path(options, "v", "/"), std::runtime_error);
}

TEST(AppliedStatePath, InTheStateDirWhenGiven) {
  mirror::MirrordOptions options;
  options.state_dir = "/var/lib/mirrord";
  EXPECT_EQ(mirror::applied_state_path(options, "data", "/srv/mirror/data"),
            "/var/lib/mirrord/data.state");
  EXPECT_THROW(mirror::applied_state_path(options, "a/b", "/srv/x"), std::runtime_error);
}

}  // namespace
