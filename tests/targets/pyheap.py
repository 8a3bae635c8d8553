# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tests/targets/pyheap.py N THREADS - a CPython heap of known contents for
# tests/integration/test_python_heap.c, run by Debian's /usr/bin/python3
# (3.11), by libpython3.11.so through tests/targets/pyembed, and by
# bullseye's 3.9 and trixie's 3.13: nothing here depends on the version.
#
# Builds N instances of each of four classes of its own (plain, with
# __slots__, with empty __slots__, weak-referenceable slots only), N dicts,
# tuples, lists and bytes of 137 bytes (pymalloc), N/10 bytes of 604
# bytes (malloc chunks) and N/10 lists [int, float, None], starts THREADS threads that block on a lock, then
# prints:
#   python HEXVERSION PREFIX  (sys.hexversion in hex, sys.prefix)
#   counts Plain=N Slotted=N Empty=N WeakOnly=N list=L   (gc.get_objects())
#   big ADDR ...     (id() of the first big bytes: their malloc chunks)
#   the output of sys._debugmallocstats() (fd 2 is made fd 1)
#   ready
# and parks in _signal.sigwait() until SIGUSR1, allocating nothing between
# the statistics and the park (the C function directly: on 3.10 and older
# signal.sigwait is a Python wrapper, whose call allocates a frame). Then
# it serves stdin: "again" answers "alive", "quit" or end of file exits.
import gc
import os
import signal
import sys
import threading

import _signal

N = int(sys.argv[1])
THREADS = int(sys.argv[2])


class Plain:
    def __init__(self, i):
        self.a = i


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self, i):
        self.a = i
        self.b = i


class Empty:
    __slots__ = ()


class WeakOnly:
    __slots__ = ("__weakref__",)


SS = {signal.SIGUSR1}
signal.pthread_sigmask(signal.SIG_BLOCK, SS)  # the threads inherit it
READY = b"ready\n"

plain = [Plain(i) for i in range(N)]
slotted = [Slotted(i) for i in range(N)]
empty = [Empty() for _ in range(N)]
weak = [WeakOnly() for _ in range(N)]
dicts = [{"k": i} for i in range(N)]
tuples = [(i, -i) for i in range(N)]
lists = [[i] for i in range(N)]
small = [bytes(100) + i.to_bytes(4, "little") for i in range(N)]
big = [bytes(600) + i.to_bytes(4, "little") for i in range(N // 10)]
# item arrays that read like objects: refcount &PyLong_Type (a small
# number in a non-PIE interpreter), type &PyFloat_Type
adversarial = [[int, float, None] for _ in range(N // 10)]

lock = threading.Lock()
lock.acquire()
threads = [threading.Thread(target=lock.acquire, daemon=True)
           for _ in range(THREADS)]
for t in threads:
    t.start()

os.write(1, ("python %x %s\n" % (sys.hexversion, sys.prefix)).encode())
gc.collect()
count = {"Plain": 0, "Slotted": 0, "Empty": 0, "WeakOnly": 0, "list": 0}
for o in gc.get_objects():
    name = type(o).__name__
    if name in count and type(o).__module__ in ("__main__", "builtins"):
        count[name] += 1
# the list gc.get_objects() returned is gone; count is not a list
line = "counts " + " ".join("%s=%d" % kv for kv in count.items()) + "\n"
os.write(1, line.encode())
os.write(1, ("big " + " ".join("%d" % id(b) for b in big[:16]) +
             "\n").encode())
del line, name, o
os.dup2(1, 2)
gc.disable()
sys._debugmallocstats()
os.write(1, READY)
_signal.sigwait(SS)

while True:
    cmd = sys.stdin.readline()
    if cmd in ("", "quit\n"):
        break
    if cmd == "again\n":
        sys.stdout.write("alive\n")
        sys.stdout.flush()
