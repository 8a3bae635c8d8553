# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench/pybig.py MIB - the Python target of the benchmark's python figure
# (bench/bench_python.c), run by Debian's /usr/bin/python3: a pymalloc heap
# of about MIB MiB of small objects, built in rounds of 100,000 each of
# 2-tuples of ints, floats, short str, one-key dicts (and their key
# tables), bytes of 100, one-item lists (and their item arrays), and
# instances of a class with __slots__ and of a plain class: ten types, from
# 16 to 144-byte blocks. Built at C speed (map, zip: about 1.3 s for 1 GiB),
# with the collector off so that no collection runs meanwhile.
#
# Then it prints "ready rss_kib=N" and parks in os.read(0, 1): blocked in
# read(2), it runs no Python code and so no allocator, and its heap stays
# as read (os.read allocates its 1-byte result before it blocks). When its
# stdin closes (the driver ends it) it leaves with os._exit(): tearing down
# 30 million objects would take seconds.
import ctypes
import gc
import itertools
import os
import sys

MIB = int(sys.argv[1])
# die with the driver, as the C targets do (prctl PR_SET_PDEATHSIG, SIGKILL)
ctypes.CDLL(None).prctl(1, 9)
K = 100000
gc.disable()


class Plain:
    pass


class Slotted:
    __slots__ = ("a", "b")


def statm_rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


keep = []
rep = itertools.repeat
base = statm_rss()
i = 0
while statm_rss() - base < MIB << 20:
    r = range(i * K + 1000, (i + 1) * K + 1000)  # no cached small ints
    keep.append(list(zip(r, r)))
    keep.append(list(map(float, r)))
    keep.append(list(map(str, r)))
    keep.append(list(map(dict.fromkeys, zip(r))))
    keep.append(list(map(bytes, rep(100, K))))
    keep.append(list(map(list, zip(r))))
    keep.append(list(map(Slotted.__new__, rep(Slotted, K))))
    keep.append(list(map(Plain.__new__, rep(Plain, K))))
    i += 1
del r
os.write(1, b"ready rss_kib=%d\n" % (statm_rss() >> 10))
os.read(0, 1)
os._exit(0)
