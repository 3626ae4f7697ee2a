// Writes the seed corpus of applied_state_decoder_fuzz: a few sound files,
// encoded by the real encoder so the seeds follow the format when it
// changes. Usage: applied_state_decoder_seeds DIR
//
// fuzz-sources: mirror/applied_state.cc
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "mirror/applied_state.h"

namespace {

namespace layout = mirror::applied_state_format;

void write(const std::string& dir, const std::string& name, const layout::Contents& c) {
  std::vector<std::byte> bytes = layout::encode(c);
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
  write(argv[1], "one-connection", {1, 0, {0}});
  write(argv[1], "four-connections", {0x1122334455667788, 41, {50, 0, 47, 43}});
  write(argv[1], "no-connections", {7, 3, {}});
  return 0;
}
