# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench/memcload.py - the memcached side of bench/verdicts-real.sh: a
# steady load on a memcached at 127.0.0.1:PORT, text protocol.
#   memcload.py PORT load    CLIENTS (8) connections at once, each closed
#                            and opened anew after a random 50-500
#                            requests (memcached's per-connection mallocs
#                            and frees churn), each request drawn from:
#                            60% sets of values of 100-3000 bytes (random
#                            sizes) to keys drawn from 2M (about 3 GB of
#                            values: far beyond any -m the bench gives),
#                            20% gets of one key, 10% multi-gets of 2-20
#                            keys, 10% deletes; until killed
#   memcload.py PORT stats [GROUP]
#                            memcached's `stats` (`stats GROUP`: slabs...),
#                            one "NAME VALUE" a line
# Exit 1 when memcached cannot be reached or answers what is not expected
# (the load: any of its clients).
import os
import random
import socket
import sys
import threading
import time

KEYS = 2 << 20
CLIENTS = 8


def connect(port):
    try:
        return socket.create_connection(('127.0.0.1', port), timeout=10)
    except OSError as e:
        fail('127.0.0.1:%d: %s' % (port, e))


def fail(msg):
    """Ends the whole process, from any thread."""
    sys.stderr.write('memcload: %s\n' % msg)
    sys.stderr.flush()
    os._exit(1)


def line(f):
    ln = f.readline()
    if not ln.endswith(b'\r\n'):
        fail('memcached closed the connection')
    return ln[:-2]


def until(s, buf, end):
    """Reads until the data so far ends with END; returns it."""
    while not buf.endswith(end):
        more = s.recv(1 << 16)
        if not more:
            fail('memcached closed the connection')
        buf += more
    return buf


def stats(port, group):
    s = connect(port)
    s.sendall(b'stats%s\r\n' % (b' ' + group.encode() if group else b''))
    for ln in until(s, b'', b'END\r\n').decode().splitlines():
        f = ln.split()
        if len(f) == 3 and f[0] == 'STAT':
            print(f[1], f[2])


def get(s, f, keys):
    s.sendall(b'get %s\r\n' % b' '.join(b'k%d' % k for k in keys))
    while True:
        ln = line(f)
        if ln == b'END':
            return
        v = ln.split()
        if len(v) != 4 or v[0] != b'VALUE':
            fail('unexpected reply %r' % ln[:200])
        f.read(int(v[3]) + 2)


def client(port, seed):
    r = random.Random(seed)
    while True:
        s = connect(port)
        f = s.makefile('rb')
        for i in range(r.randrange(50, 501)):
            p = r.random()
            if p < 0.6:
                n = r.randrange(100, 3001)
                s.sendall(b'set k%d 0 0 %d\r\n%s\r\n' %
                          (r.randrange(KEYS), n, b'v' * n))
                ln = line(f)
                # SERVER_ERROR out of memory when a class has no page
                # to evict from yet: memcached at its limit, no fault
                if ln != b'STORED' and not ln.startswith(b'SERVER_ERROR'):
                    fail('unexpected reply %r' % ln[:200])
            elif p < 0.8:
                get(s, f, [r.randrange(KEYS)])
            elif p < 0.9:
                get(s, f, [r.randrange(KEYS)
                           for _ in range(r.randrange(2, 21))])
            else:
                s.sendall(b'delete k%d\r\n' % r.randrange(KEYS))
                ln = line(f)
                if ln not in (b'DELETED', b'NOT_FOUND'):
                    fail('unexpected reply %r' % ln[:200])
            if i % 10 == 9:
                time.sleep(0.001)
        f.close()
        s.close()


def load(port):
    # one connection first: memcached is there, or exit 1 at once
    connect(port).close()
    for i in range(CLIENTS):
        threading.Thread(target=client, args=(port, 13 + i),
                         daemon=True).start()
    print('ready', flush=True)
    while True:
        time.sleep(3600)


if __name__ == '__main__':
    if not (len(sys.argv) == 3 and sys.argv[2] == 'load' or
            len(sys.argv) in (3, 4) and sys.argv[2] == 'stats'):
        sys.exit('usage: memcload.py PORT load|stats [GROUP]')
    port = int(sys.argv[1])
    if sys.argv[2] == 'load':
        load(port)
    else:
        stats(port, sys.argv[3] if len(sys.argv) == 4 else '')
