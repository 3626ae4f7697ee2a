#include "fs/mirrorfs.h"

int main(int argc, char** argv) { return mirrorfs::run(argc, argv); }
