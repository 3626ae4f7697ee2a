// libFuzzer target for mirrord's applied-state file (mirror/applied_state.h):
// the input is taken as a whole file and given to decode, which mirrord runs
// on the file it finds at start. Beyond "no crash, no read outside the
// input", a file the decoder accepts must encode back to exactly its bytes:
// the format is canonical, and nothing the decoder believed was made up.
//
// fuzz-sources: mirror/applied_state.cc
// fuzz-options: -max_len=4096
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "mirror/applied_state.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace layout = mirror::applied_state_format;
  std::span<const std::byte> file(reinterpret_cast<const std::byte*>(data), size);
  layout::Contents contents;
  if (layout::decode(file, contents)) return 0;
  std::vector<std::byte> again = layout::encode(contents);
  if (again.size() != size || !std::equal(again.begin(), again.end(), file.begin())) {
    std::fprintf(stderr, "applied state: an accepted file does not encode back to its bytes\n");
    std::abort();
  }
  return 0;
}
