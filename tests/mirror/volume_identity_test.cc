#include "mirror/volume_identity.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "tests/support/temp_dir.h"

namespace mirror {
namespace {

VolumeIdentity copy_of(const VolumeIdentity& primary, bool consistent, uint64_t sequence = 0) {
  VolumeIdentity c = primary;
  c.role = DataRole::copy;
  c.flags = consistent ? uint32_t{kIdentityConsistent} : 0u;
  c.sequence = sequence;
  return c;
}

TEST(VolumeIdentity, EncodesAndDecodesEveryField) {
  VolumeIdentity id = VolumeIdentity::fresh();
  id.flags = kIdentityClean;
  id.sequence = 77;
  id.branch(70);
  id.branch(90);
  id.sequence = 5;
  id.flags = kIdentityConsistent;
  id.role = DataRole::copy;
  auto bytes = identity_format::encode(id);
  ASSERT_EQ(bytes.size(), identity_format::kSize);
  VolumeIdentity back;
  ASSERT_FALSE(identity_format::decode(bytes, back));
  EXPECT_EQ(back, id);
  EXPECT_EQ(back.history[1].sequence, 70u);
  EXPECT_EQ(back.history[0].sequence, 90u);
}

TEST(VolumeIdentity, RefusesDamagedRecordsSayingWhy) {
  auto bytes = identity_format::encode(VolumeIdentity::fresh());
  VolumeIdentity out;
  auto flipped = bytes;
  flipped[40] ^= std::byte{1};
  EXPECT_EQ(identity_format::decode(flipped, out).value(), "identity record checksum mismatch");
  auto shorter = bytes;
  shorter.pop_back();
  EXPECT_NE(identity_format::decode(shorter, out).value().find("127 bytes"), std::string::npos);
  auto magic = bytes;
  magic[0] = std::byte{'X'};
  EXPECT_NE(identity_format::decode(magic, out).value().find("bad magic"), std::string::npos);
}

TEST(VolumeIdentity, FileStoresLoadsAndNamesACorruptFile) {
  testing_support::TempDir dir;
  IdentityFile file(dir.path() + "/id");
  EXPECT_FALSE(file.load());
  VolumeIdentity id = VolumeIdentity::fresh();
  file.store(id);
  EXPECT_EQ(file.load().value(), id);
  std::ofstream(dir.path() + "/id", std::ios::binary | std::ios::trunc) << "garbage";
  try {
    file.load();
    FAIL() << "a corrupt record loaded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(dir.path() + "/id"), std::string::npos) << e.what();
  }
}

TEST(VolumeIdentity, PathBesideTheData) {
  EXPECT_EQ(identity_path_beside("/srv/data"), "/srv/.data.mirror-identity");
  EXPECT_EQ(identity_path_beside("/srv/data/"), "/srv/.data.mirror-identity");
  EXPECT_THROW(identity_path_beside("/"), std::runtime_error);
}

TEST(Decide, NoRecordMeansFullSync) {
  EXPECT_EQ(decide(VolumeIdentity::fresh(), std::nullopt).verdict, CopyVerdict::unknown);
}

TEST(Decide, SameGenerationConsistentIsInStepElseBehind) {
  VolumeIdentity p = VolumeIdentity::fresh();
  EXPECT_EQ(decide(p, copy_of(p, true)).verdict, CopyVerdict::in_step);
  EXPECT_EQ(decide(p, copy_of(p, false)).verdict, CopyVerdict::behind);
}

TEST(Decide, AnotherVolumeIsRefused) {
  VolumeIdentity p = VolumeIdentity::fresh();
  Decision d = decide(p, copy_of(VolumeIdentity::fresh(), true));
  EXPECT_EQ(d.verdict, CopyVerdict::split_brain);
  EXPECT_NE(d.reason.find("another volume"), std::string::npos);
}

TEST(Decide, CopyOfAnAncestorGenerationIsBehind) {
  VolumeIdentity p = VolumeIdentity::fresh();
  VolumeIdentity c = copy_of(p, true, 10);
  p.branch(12);  // e.g. changes made without mirroring
  EXPECT_EQ(decide(p, c).verdict, CopyVerdict::behind);
}

TEST(Decide, FailoverThenOldPrimaryReturning) {
  VolumeIdentity a = VolumeIdentity::fresh();  // the first primary
  VolumeIdentity b = copy_of(a, true, 100);    // its copy, applied through 100
  b.branch(b.sequence);                        // b promoted: failover
  // a stopped cleanly with everything acknowledged: nothing of its own.
  VolumeIdentity clean = a;
  clean.flags = kIdentityClean;
  clean.sequence = 100;
  EXPECT_EQ(decide(b, clean).verdict, CopyVerdict::behind);
  // a crashed: it may hold anything.
  VolumeIdentity crashed = a;
  crashed.flags = 0;
  Decision d = decide(b, crashed);
  EXPECT_EQ(d.verdict, CopyVerdict::split_brain);
  EXPECT_NE(d.reason.find("uncleanly"), std::string::npos) << d.reason;
}

TEST(Decide, CopyPromotedBehindTheBackIsSplitBrain) {
  VolumeIdentity a = VolumeIdentity::fresh();
  VolumeIdentity b = copy_of(a, true, 50);
  b.branch(50);  // the copy was mounted as a primary and changed
  Decision d = decide(a, b);
  EXPECT_EQ(d.verdict, CopyVerdict::split_brain);
  EXPECT_NE(d.reason.find("changed on its own"), std::string::npos) << d.reason;
  EXPECT_EQ(decide(a, VolumeIdentity(a)).verdict, CopyVerdict::split_brain);  // both primaries
}

}  // namespace
}  // namespace mirror
