#include "mirror/auth.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace mirror {

Secret Secret::from_file(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) throw std::runtime_error("secret file " + path + ": " + strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    throw std::runtime_error("secret file " + path + ": not a regular file");
  }
  if (st.st_mode & 077) {
    close(fd);
    char mode[8];
    snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
    throw std::runtime_error("secret file " + path + " has mode " + mode +
                             ": it must not be accessible by group or others (chmod 600)");
  }
  Secret s;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) {
    const auto* p = reinterpret_cast<const std::byte*>(buf);
    s.bytes_.insert(s.bytes_.end(), p, p + n);
    if (s.bytes_.size() > 65536) break;
  }
  close(fd);
  if (n < 0) throw std::runtime_error("secret file " + path + ": " + strerror(errno));
  while (!s.bytes_.empty() &&
         (s.bytes_.back() == std::byte{'\n'} || s.bytes_.back() == std::byte{'\r'})) {
    s.bytes_.pop_back();
  }
  if (s.bytes_.empty()) throw std::runtime_error("secret file " + path + " is empty");
  return s;
}

wire::Nonce random_nonce() {
  wire::Nonce n;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(n.data()), static_cast<int>(n.size())) != 1) {
    throw std::runtime_error("no random bytes for a handshake nonce");
  }
  return n;
}

wire::Proof prove(const Secret& secret, std::string_view label,
                  std::span<const std::byte> hello_transcript, const wire::Nonce& server_nonce) {
  std::vector<unsigned char> message;
  message.reserve(label.size() + hello_transcript.size() + server_nonce.size());
  message.insert(message.end(), label.begin(), label.end());
  for (std::byte b : hello_transcript) message.push_back(static_cast<unsigned char>(b));
  for (std::byte b : server_nonce) message.push_back(static_cast<unsigned char>(b));
  wire::Proof proof{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.bytes().data(), static_cast<int>(secret.bytes().size()),
       message.data(), message.size(), reinterpret_cast<unsigned char*>(proof.data()), &length);
  return proof;
}

bool same_proof(const wire::Proof& a, const wire::Proof& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace mirror
