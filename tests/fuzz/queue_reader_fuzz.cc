// libFuzzer target for the durable queue's reader (mirror/queue_format.h):
// the input is taken as a whole segment file and given to parse_segment, the
// function recovery and replay read every segment with, and as a state file
// to decode_state. Beyond "no crash, no read outside the input", the reader's
// accounting must add up (what it keeps and what it drops is the whole file),
// and what it keeps must encode back to exactly the bytes it came from: the
// format is canonical, and nothing the reader believed was made up.
//
// fuzz-sources: mirror/queue_format.cc
// fuzz-options: -max_len=65536
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "mirror/queue_format.h"

namespace {

using namespace mirror::queue_format;

void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "queue reader: %s\n", what);
    std::abort();
  }
}

template <typename A>
void add(std::vector<std::byte>& out, const A& bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> file(reinterpret_cast<const std::byte*>(data), size);
  // The lower bound on sequences comes from the input too, so that the order
  // check is reached both ways.
  const uint64_t after = size > 0 ? static_cast<uint64_t>(data[size - 1] & 0x3) : 0;

  // What the reader kept, encoded again: the header's place is filled in below.
  std::vector<std::byte> again(kSegmentHeaderSize);
  uint64_t previous = after;
  const SegmentScan scan = parse_segment(file, after, [&](const SegmentRecord& r) {
    require(r.payload.data() >= file.data() &&
                r.payload.data() + r.payload.size() <= file.data() + file.size(),
            "a payload lies outside the file");
    require(r.sequence > previous, "sequences do not rise");
    require(r.offset == again.size(), "a record is not where the previous one ended");
    previous = r.sequence;
    add(again, encode_record_header(r.sequence, r.append_time_ms, r.payload, {}));
    add(again, r.payload);
    return true;
  });

  require(scan.good_bytes + scan.dropped_bytes == size, "kept and dropped bytes are not the file");
  require(scan.fault.has_value() == (scan.good_bytes < size || !scan.header_ok),
          "a cut without a reason, or the reverse");
  if (!scan.header_ok) {
    require(scan.records == 0 && scan.good_bytes == 0, "records believed without a header");
  } else {
    require(scan.good_bytes >= kSegmentHeaderSize, "a sound header shorter than a header");
    const auto header = encode_segment_header(scan.number);
    std::copy(header.begin(), header.end(), again.begin());
    require(std::ranges::equal(std::span(again), file.first(scan.good_bytes)),
            "what the reader kept does not encode back to the same bytes");
  }
  require(scan.records == 0 || scan.last_sequence == previous, "last_sequence is not the last");

  // Stopping early leaves good_bytes just past the last record visited.
  if (scan.records > 1) {
    uint64_t seen = 0;
    uint64_t end = 0;
    const SegmentScan part = parse_segment(file, after, [&](const SegmentRecord& r) {
      end = r.offset + kRecordHeaderSize + r.payload.size();
      return ++seen < 2;
    });
    require(seen == 2 && part.good_bytes == end && !part.fault, "stopping early misplaced the end");
  }

  State state;
  if (!decode_state(file, state)) {
    require(std::ranges::equal(encode_state(state), file), "a state file does not encode back");
  }
  return 0;
}
