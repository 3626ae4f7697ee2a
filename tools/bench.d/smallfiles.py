#!/usr/bin/env python3
"""One phase of tools/bench's small-files workload; prints the rate in files/s.

    smallfiles.py create DIR COUNT [SECONDS]
    smallfiles.py stat|unlink DIR COUNT

create makes COUNT files of 1 KiB spread over 100 subdirectories of DIR (which
must not exist yet), or as many as it can in SECONDS, and prints the rate and
the number of files it made; stat stats the first COUNT of them, unlink removes
them and the directories again. Only the phase itself is timed, not the
interpreter start.
"""
import os
import sys
import time

NDIRS = 100
PAYLOAD = b"x" * 1024


def main():
    phase, top, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    seconds = float(sys.argv[4]) if len(sys.argv) > 4 else float("inf")
    dirs = [os.path.join(top, "d%03d" % d) for d in range(NDIRS)]
    files = [os.path.join(dirs[i % NDIRS], "f%05d" % i) for i in range(count)]
    start = time.perf_counter()
    if phase == "create":
        deadline = start + seconds
        os.mkdir(top)
        for d in dirs:
            os.mkdir(d)
        made = 0
        for f in files:
            fd = os.open(f, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, PAYLOAD)
            os.close(fd)
            made += 1
            if made % 16 == 0 and time.perf_counter() >= deadline:
                break
        print("%.1f %d" % (made / (time.perf_counter() - start), made))
        return
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
