// The mirrorfs daemon: parses its command line, checks the backing directory
// and mount point, mounts, serves until unmounted or signalled, and returns
// the process's exit status.
#pragma once

namespace mirrorfs {

int run(int argc, char** argv);

}  // namespace mirrorfs
