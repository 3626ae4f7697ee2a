// Writes the seed corpus of queue_reader_fuzz: sound segment files and a state
// file made by the real encoders (so the seeds follow the format when it
// changes), and the damaged ones recovery meets most: a torn tail, a flipped
// byte, a zero-filled tail. Usage: queue_reader_seeds DIR
//
// fuzz-sources: mirror/queue_format.cc
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "mirror/queue_format.h"

namespace {

using namespace mirror::queue_format;
using Bytes = std::vector<std::byte>;

template <typename A>
void add(Bytes& out, const A& bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
}

void write(const std::string& dir, const std::string& name, const Bytes& b) {
  std::ofstream out(dir + "/" + name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  if (!out) {
    std::perror((dir + "/" + name).c_str());
    std::exit(1);
  }
}

Bytes segment(uint64_t number, uint64_t first, const std::vector<size_t>& sizes) {
  Bytes out;
  add(out, encode_segment_header(number));
  uint64_t sequence = first;
  for (size_t size : sizes) {
    Bytes payload(size);
    for (size_t i = 0; i < size; ++i) payload[i] = static_cast<std::byte>('a' + i % 26);
    add(out, encode_record_header(sequence, 1700000000000 + sequence, payload, {}));
    ++sequence;
    add(out, payload);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  write(dir, "seed-empty-segment", segment(1, 1, {}));
  write(dir, "seed-records", segment(3, 10, {0, 1, 16, 200, 3}));
  write(dir, "seed-many", segment(7, 1, std::vector<size_t>(40, 8)));
  Bytes torn = segment(2, 5, {30, 30, 30});
  torn.resize(torn.size() - 7);
  write(dir, "seed-torn", torn);
  Bytes flipped = segment(2, 5, {30, 30, 30});
  flipped[kSegmentHeaderSize + kRecordHeaderSize + 40] ^= std::byte{0x20};
  write(dir, "seed-flipped", flipped);
  Bytes zeros = segment(4, 1, {12, 12});
  zeros.resize(zeros.size() + 100);
  write(dir, "seed-zero-tail", zeros);
  Bytes state;
  add(state, encode_state(State{0x1234, 99}));
  write(dir, "seed-state", state);
  return 0;
}
