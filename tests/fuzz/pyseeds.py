#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""pyseeds.py - real pymalloc pools as seeds for tests/fuzz/fuzz_pymalloc.c.

Usage (as root, or as the owner of the child with ptrace allowed):
    python3 tests/fuzz/pyseeds.py [INTERPRETER] [NAME]
INTERPRETER defaults to Debian's /usr/bin/python3 (by path: another python3
on PATH is another build); the seed is written to
tests/fuzz/corpus-pymalloc/real-NAME-small and real-NAME-objects (NAME
defaults to the interpreter's version, e.g. 3.11.2).

It starts the interpreter on a small program that builds dicts, tuples,
floats, instances of classes (with and without __slots__) and bytes above
512 bytes (malloc chunks), and waits in sys.stdin.read(). While it waits,
this script reads its memory through /proc/PID/mem (read-only, no ptrace
stop) and copies, into the record format of fuzz_pymalloc.c:

 - -small: the used pools of the fewest carved bytes, of four size
   classes; -objects: one used pool of each of the classes that hold the
   child's objects (OBJECT_CLASSES), the one with the fewest carved
   bytes; up to their nextoffset (the rest of a pool is zero here);
 - the 48 bytes each of those pools' nextpool/prevpool links point at (a
   neighbour's header or a usedpools list head), unless it is copied
   already;
 - for every word of a block in use that points at a type object (ready,
   a printable tp_name), its first 176 bytes, its metatype's, and its
   tp_name;
 - the chunks in [heap] of the bytes objects, with their malloc header;

each page under its real mapping's protection and kind of name (anonymous,
[heap], or the interpreter's file). Then the child is killed. The seed
replays under make check (tests/fuzz/replay.sh); nothing here runs there.
"""
import os
import re
import struct
import subprocess
import sys

PAGE = 4096
NPOOLS = 4
# 3.11: floats (24 bytes, class 1), instances of Plain and Slotted (48,
# class 2), dicts, pairs and short strs (56 to 64, class 3)
OBJECT_CLASSES = (1, 2, 3)

CHILD = r"""
import sys
class Plain:
    def __init__(self, i): self.i = i
class Slotted:
    __slots__ = ('a', 'b')
    def __init__(self, i): self.a = i; self.b = None
keep = []
for i in range(300):
    keep.append({'k': i})
    keep.append((i, str(i)))
    keep.append(i + 0.5)
    keep.append(Plain(i))
    keep.append(Slotted(i))
big = [bytes([i % 256]) * (600 + i) for i in range(8)]
sys.stdout.write('ready %s\n' % '.'.join(map(str, sys.version_info[:3])))
sys.stdout.flush()
sys.stdin.read()
"""


def maps_of(pid):
    out = []
    with open('/proc/%d/maps' % pid) as f:
        for line in f:
            m = re.match(r'([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)',
                         line)
            out.append((int(m.group(1), 16), int(m.group(2), 16),
                        m.group(3), m.group(4).strip()))
    return out


def find(maps, addr):
    for m in maps:
        if m[0] <= addr < m[1]:
            return m
    return None


class Mem:
    def __init__(self, pid):
        self.f = open('/proc/%d/mem' % pid, 'rb', buffering=0)

    def read(self, addr, n):
        try:
            self.f.seek(addr)
            b = self.f.read(n)
            return b if len(b) == n else None
        except (OSError, ValueError, OverflowError):
            return None


def u32(b, o):
    return struct.unpack_from('<I', b, o)[0]


def u64(b, o):
    return struct.unpack_from('<Q', b, o)[0]


def header_ok(h, addr):
    """The header's own checks of pymalloc_header_check(), loosely."""
    count, szidx = u32(h, 0), u32(h, 36)
    nextoff, maxnext = u32(h, 40), u32(h, 44)
    if szidx >= 32:
        return None
    bs = 16 * (szidx + 1)
    ps = maxnext + bs
    if ps not in (4096, 16384) or addr % ps:
        return None
    if nextoff < 48 + 2 * bs or nextoff > ps or (nextoff - 48) % bs:
        return None
    if count == 0 or count > (nextoff - 48) // bs or u64(h, 8) == 0:
        return None  # used pools only: linked, with a free block
    return ps


def main():
    interp = sys.argv[1] if len(sys.argv) > 1 else '/usr/bin/python3'
    here = os.path.dirname(os.path.abspath(__file__))
    child = subprocess.Popen([interp, '-c', CHILD], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
    try:
        ready = child.stdout.readline().decode().split()
        if not ready or ready[0] != 'ready':
            sys.exit('pyseeds: the child did not start')
        name = sys.argv[2] if len(sys.argv) > 2 else ready[1]
        seeds = {name + '-small': capture(child.pid, None),
                 name + '-objects': capture(child.pid, OBJECT_CLASSES)}
    finally:
        child.kill()
        child.wait()
    for name, records in seeds.items():
        path = os.path.join(here, 'corpus-pymalloc', 'real-' + name)
        with open(path, 'wb') as f:
            f.write(records)
        print('pyseeds: %s, %d bytes' % (path, len(records)))


def capture(pid, classes):
    maps = maps_of(pid)
    mem = Mem(pid)
    # the used pools, by class: the one with the fewest carved bytes
    best = {}
    for start, end, perms, path in maps:
        if perms != 'rw-p' or (path and not path.startswith('[anon:')):
            continue
        for a in range(start, end, PAGE):
            h = mem.read(a, 48)
            if not h:
                continue
            ps = header_ok(h, a)
            if not ps:
                continue
            szidx, nextoff = u32(h, 36), u32(h, 40)
            if szidx not in best or nextoff < best[szidx][2]:
                best[szidx] = (a, ps, nextoff)
    if classes:
        # the classes of the child's objects, whatever their size
        chosen = [best[c] for c in classes if c in best]
    else:
        # the smallest used pools of any class
        chosen = sorted(best.values(), key=lambda p: p[2])[:NPOOLS]
    spans = {}  # address -> bytes

    def keep(addr, n):
        b = mem.read(addr, n)
        if b is not None:
            spans[addr] = b
        return b

    pool_pages = set()
    types = set()
    for a, ps, nextoff in chosen:
        b = keep(a, nextoff)
        for p in range(a, a + ps, PAGE):
            pool_pages.add(p)
        for o in range(48, nextoff, 8):
            types.add(u64(b, o))
        for link in (u64(b, 16), u64(b, 24)):
            if not any(c[0] <= link < c[0] + c[1] for c in chosen):
                keep(link, 48)
    # type objects: ready, named; and their metatypes and names
    seen = set()
    todo = [t for t in types if t % 8 == 0 and find(maps, t)]
    while todo:
        t = todo.pop()
        if t in seen:
            continue
        seen.add(t)
        b = mem.read(t, 176)
        if not b or not u64(b, 168) & (1 << 12):
            continue
        name = mem.read(u64(b, 24), 96)
        if not name or b'\0' not in name or name.index(b'\0') == 0:
            continue
        if not all(0x20 <= c < 0x7f for c in name[:name.index(b'\0')]):
            continue
        spans[t] = b
        spans[u64(b, 24)] = name[:name.index(b'\0') + 1]
        todo.append(u64(b, 8))
    # chunks in [heap] whose second word is bytes' type: objects > 512
    heap = [m for m in maps if m[3] == '[heap]']
    for t, b in list(spans.items()):
        if len(b) != 176:
            continue
        if spans.get(u64(b, 24)) != b'bytes\0' or not heap:
            continue
        start, end = heap[0][0], heap[0][1]
        found = 0
        for a in range(start, end, 1 << 20):
            blob = mem.read(a, min(1 << 20, end - a)) or b''
            for o in range(0, len(blob) - 31, 16):
                size = u64(blob, o + 8)
                if (u64(blob, o + 16 + 8) == t and size & 1 and
                        520 < size & ~7 < 4096 and found < 3):
                    keep(a + o, 16 + 48)
                    found += 1
    # one mapping record per run of pages of one real mapping
    pages = set(pool_pages)
    for a, b in spans.items():
        for p in range(a - a % PAGE, a + len(b), PAGE):
            pages.add(p)
    out = bytearray()
    run = None
    for p in sorted(pages) + [None]:
        m = find(maps, p) if p is not None else None
        if p is not None and m is None:
            continue
        if run and p is not None and p == run[1] and m == run[2]:
            run[1] += PAGE
            continue
        if run:
            start, end, mp = run
            prot = ((mp[2][0] == 'r') | (mp[2][1] == 'w') << 1 |
                    (mp[2][2] == 'x') << 2 | (mp[2][3] == 's') << 3)
            kind = {'': 0, '[heap]': 2}.get(mp[3], 1 if
                                             mp[3].startswith('[anon:')
                                             else 3)
            out += struct.pack('<B', prot | kind << 4)
            out += (start // PAGE).to_bytes(5, 'little')
            out += struct.pack('<HI', (end - start) // PAGE, end - start)
        run = [p, p + PAGE, m] if p is not None else None
    for a in sorted(spans):
        b = spans[a].rstrip(b'\0') if a not in [c[0] for c in chosen] \
            else spans[a]
        if not b:
            continue
        out += struct.pack('<BQH', 0x80, a, len(b)) + b
    return bytes(out)


if __name__ == '__main__':
    main()
