#include <malloc.h>

#include "fs/mirrorfs.h"

int main(int argc, char** argv) {
  // Mirror requests carry up to 1 MiB of data each; served from the heap
  // rather than a fresh mmap each, they cost no page faults and no munmap.
  mallopt(M_MMAP_THRESHOLD, 8 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
  return mirrorfs::run(argc, argv);
}
