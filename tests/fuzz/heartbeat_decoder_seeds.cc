// Writes the seed corpus of heartbeat_decoder_fuzz: a few sound datagrams,
// encoded by the real encoder with the fuzz target's secret so the seeds
// follow the format when it changes. Usage: heartbeat_decoder_seeds DIR
//
// fuzz-sources: heartbeat/datagram.cc
// fuzz-libs: -lcrypto
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "heartbeat/datagram.h"

namespace {

using namespace heartbeat;

constexpr std::string_view kSecret = "heartbeat fuzz secret";  // as in the fuzz target

void write(const std::string& dir, const std::string& name, const Datagram& d) {
  std::span<const std::byte> secret(reinterpret_cast<const std::byte*>(kSecret.data()),
                                    kSecret.size());
  std::vector<std::byte> bytes = encode(d, secret);
  std::ofstream out(dir + "/" + name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::perror((dir + "/" + name).c_str());
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  write(dir, "vol",
        {.identity = 0x0123456789abcdef, .sequence = 1, .send_time_ms = 0, .link = "vol"});
  write(dir, "later",
        {.identity = 42, .sequence = 1u << 20, .send_time_ms = 1700000000123, .link = "projects"});
  write(dir, "longest-name",
        {.identity = ~0ull,
         .sequence = ~0ull,
         .send_time_ms = ~0ull,
         .link = std::string(kMaxLinkName, 'n')});
  write(dir, "utf8-name", {.identity = 7, .sequence = 2, .send_time_ms = 1, .link = "données"});
  return 0;
}
