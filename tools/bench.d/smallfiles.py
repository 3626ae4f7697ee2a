#!/usr/bin/env python3
"""One phase of tools/bench's small-files workload; prints the rate in files/s.

    smallfiles.py create|stat|unlink DIR COUNT

create makes COUNT files of 1 KiB spread over 100 subdirectories of DIR (which
must not exist yet), stat stats every one of them, unlink removes them and the
directories again. Only the phase itself is timed, not the interpreter start.
"""
import os
import sys
import time

NDIRS = 100
PAYLOAD = b"x" * 1024


def main():
    phase, top, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    dirs = [os.path.join(top, "d%03d" % d) for d in range(NDIRS)]
    files = [os.path.join(dirs[i % NDIRS], "f%05d" % i) for i in range(count)]
    start = time.perf_counter()
    if phase == "create":
        os.mkdir(top)
        for d in dirs:
            os.mkdir(d)
        for f in files:
            fd = os.open(f, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, PAYLOAD)
            os.close(fd)
    elif phase == "stat":
        for f in files:
            if os.stat(f).st_size != len(PAYLOAD):
                sys.exit("smallfiles: %s has the wrong size" % f)
    elif phase == "unlink":
        for f in files:
            os.unlink(f)
        for d in dirs:
            os.rmdir(d)
        os.rmdir(top)
    else:
        sys.exit("smallfiles: unknown phase %r" % phase)
    print("%.1f" % (count / (time.perf_counter() - start)))


if __name__ == "__main__":
    main()
