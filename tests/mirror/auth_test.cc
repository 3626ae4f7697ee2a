// The shared secret of a mirror link and the handshake proofs of auth.h: a
// secret file anyone but its owner could read is refused with a sentence that
// says how to fix it, and a proof depends on every one of its inputs.
#include "mirror/auth.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace mirror {
namespace {

using ::testing::HasSubstr;
using testing_support::write_file;

std::vector<std::byte> bytes_of(std::string_view s) {
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  return std::vector<std::byte>(p, p + s.size());
}

// Writes a secret file with the given mode (regardless of the umask).
std::string secret_file(const TempDir& dir, const std::string& name, const std::string& contents,
                        mode_t mode = 0600) {
  std::string path = dir.sub(name);
  write_file(path, contents);
  if (::chmod(path.c_str(), mode) != 0) throw std::runtime_error("chmod " + path);
  return path;
}

// The message Secret::from_file throws for `path`, or "" if it accepts it.
std::string refusal(const std::string& path) {
  try {
    Secret::from_file(path);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

wire::Nonce counting_nonce(uint8_t start) {
  wire::Nonce n;
  for (size_t i = 0; i < n.size(); ++i) n[i] = static_cast<std::byte>(start + i);
  return n;
}

std::string hex(const wire::Proof& p) {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  for (std::byte b : p) {
    s += digits[static_cast<unsigned>(b) >> 4];
    s += digits[static_cast<unsigned>(b) & 15];
  }
  return s;
}

// --- Secret::from_file ---------------------------------------------------

TEST(SecretFromFile, MissingFileIsRefused) {
  TempDir dir;
  const std::string path = dir.sub("absent");
  EXPECT_THAT(refusal(path), HasSubstr(path));
}

TEST(SecretFromFile, EmptyFileIsRefused) {
  TempDir dir;
  const std::string path = secret_file(dir, "secret", "");
  EXPECT_THAT(refusal(path), HasSubstr(path + " is empty"));
}

TEST(SecretFromFile, FileOfOnlyNewlinesIsRefused) {
  TempDir dir;
  const std::string path = secret_file(dir, "secret", "\n\r\n");
  EXPECT_THAT(refusal(path), HasSubstr("is empty"));
}

TEST(SecretFromFile, GroupReadableFileIsRefused) {
  TempDir dir;
  const std::string path = secret_file(dir, "secret", "s3cret\n", 0640);
  const std::string message = refusal(path);
  EXPECT_THAT(message, HasSubstr(path));
  EXPECT_THAT(message, HasSubstr("0640"));
  EXPECT_THAT(message, HasSubstr("chmod 600"));
}

TEST(SecretFromFile, OtherReadableFileIsRefused) {
  TempDir dir;
  const std::string path = secret_file(dir, "secret", "s3cret\n", 0604);
  const std::string message = refusal(path);
  EXPECT_THAT(message, HasSubstr(path));
  EXPECT_THAT(message, HasSubstr("0604"));
  EXPECT_THAT(message, HasSubstr("chmod 600"));
}

TEST(SecretFromFile, AnyGroupOrOtherPermissionIsRefused) {
  TempDir dir;
  for (mode_t extra : {040, 020, 010, 04, 02, 01}) {
    const std::string path = secret_file(dir, "secret", "s3cret", 0600 | extra);
    EXPECT_THAT(refusal(path), HasSubstr("chmod 600")) << "extra mode bits " << std::oct << extra;
  }
}

TEST(SecretFromFile, DirectoryIsRefused) {
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0700), 0);
  EXPECT_THAT(refusal(dir.path()), HasSubstr(dir.path() + ": not a regular file"));
}

TEST(SecretFromFile, OwnerOnlyFileIsAccepted) {
  TempDir dir;
  for (mode_t mode : {0600, 0400}) {
    const std::string path = secret_file(dir, "secret", "s3cret", mode);
    EXPECT_EQ(refusal(path), "") << "mode " << std::oct << mode;
  }
}

TEST(SecretFromFile, TrailingNewlineIsDropped) {
  TempDir dir;
  const Secret s = Secret::from_file(secret_file(dir, "secret", "s3cret\n"));
  EXPECT_TRUE(std::ranges::equal(s.bytes(), bytes_of("s3cret")));
}

TEST(SecretFromFile, TrailingCarriageReturnIsDropped) {
  TempDir dir;
  const Secret s = Secret::from_file(secret_file(dir, "secret", "s3cret\r\n"));
  EXPECT_TRUE(std::ranges::equal(s.bytes(), bytes_of("s3cret")));
}

TEST(SecretFromFile, InnerBytesAreKept) {
  TempDir dir;
  const std::string contents("a b\n\0\xff" "c", 7);
  const Secret s = Secret::from_file(secret_file(dir, "secret", contents + "\n"));
  EXPECT_TRUE(std::ranges::equal(s.bytes(), bytes_of(contents)));
}

// --- Proofs --------------------------------------------------------------

class ProofTest : public ::testing::Test {
 protected:
  Secret secret(const std::string& contents) {
    return Secret::from_file(secret_file(dir_, "secret" + std::to_string(++files_), contents));
  }

  TempDir dir_;
  int files_ = 0;
  const std::vector<std::byte> transcript_ = bytes_of("hello transcript");
  const wire::Nonce nonce_ = counting_nonce(0);
};

TEST_F(ProofTest, IsHmacSha256OfLabelTranscriptAndNonce) {
  // Computed independently: Python's hmac.new(secret, label + transcript +
  // bytes(range(32)), hashlib.sha256). A peer written in another language
  // must arrive at these bytes.
  const Secret s = secret("correct horse battery staple\n");
  EXPECT_EQ(hex(prove(s, "mirrorfs", transcript_, nonce_)),
            "3a2740204bba485294c0f79d9d74a23443b66f727ccaab4b11fefa917e24e29b");
  EXPECT_EQ(hex(prove(s, "mirrord", transcript_, nonce_)),
            "9c4f16be41a698d903257e51e1eb963e970fc7b043f09111fb3dedcce3d8cb93");
}

TEST_F(ProofTest, EqualInputsGiveEqualProofs) {
  const Secret a = secret("same");
  const Secret b = secret("same\n");
  EXPECT_EQ(prove(a, "mirrorfs", transcript_, nonce_), prove(b, "mirrorfs", transcript_, nonce_));
}

TEST_F(ProofTest, DiffersForDifferentLabels) {
  const Secret s = secret("k");
  EXPECT_NE(prove(s, "mirrorfs", transcript_, nonce_), prove(s, "mirrord", transcript_, nonce_));
}

TEST_F(ProofTest, DiffersForDifferentSecrets) {
  EXPECT_NE(prove(secret("k1"), "mirrorfs", transcript_, nonce_),
            prove(secret("k2"), "mirrorfs", transcript_, nonce_));
}

TEST_F(ProofTest, DiffersForDifferentTranscripts) {
  const Secret s = secret("k");
  std::vector<std::byte> other = transcript_;
  other.back() ^= std::byte{1};
  EXPECT_NE(prove(s, "mirrorfs", transcript_, nonce_), prove(s, "mirrorfs", other, nonce_));
}

TEST_F(ProofTest, DiffersForDifferentNonces) {
  const Secret s = secret("k");
  wire::Nonce other = nonce_;
  other[31] ^= std::byte{0x80};
  EXPECT_NE(prove(s, "mirrorfs", transcript_, nonce_), prove(s, "mirrorfs", transcript_, other));
}

TEST_F(ProofTest, SameProofComparesEveryByte) {
  const wire::Proof p = prove(secret("k"), "mirrorfs", transcript_, nonce_);
  EXPECT_TRUE(same_proof(p, p));
  for (size_t i = 0; i < p.size(); ++i) {
    wire::Proof q = p;
    q[i] ^= std::byte{1};
    EXPECT_FALSE(same_proof(p, q)) << "byte " << i;
  }
}

// --- Nonces --------------------------------------------------------------

TEST(AuthNonce, RandomNoncesDiffer) {
  const wire::Nonce a = random_nonce();
  const wire::Nonce b = random_nonce();
  EXPECT_NE(a, b);
  EXPECT_NE(a, wire::Nonce{});
}

}  // namespace
}  // namespace mirror
