# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench/memcload.py - the memcached side of bench/verdicts-real.sh: a
# steady load on a memcached at 127.0.0.1:PORT, text protocol.
#   memcload.py PORT load    sets of values of 100-3000 bytes (random
#                            sizes) to keys drawn from 2M (about 3 GB of
#                            values: far beyond any -m the bench gives), a
#                            get of 10 keys after every 100 sets; until
#                            the connection is gone or the process killed
#   memcload.py PORT stats [GROUP]
#                            memcached's `stats` (`stats GROUP`: slabs...),
#                            one "NAME VALUE" a line
# Exit 1 when memcached cannot be reached or answers what is not expected.
import random
import socket
import sys
import time

KEYS = 2 << 20
BATCH = 100
GETS = 10


def connect(port):
    try:
        return socket.create_connection(('127.0.0.1', port), timeout=10)
    except OSError as e:
        sys.exit('memcload: 127.0.0.1:%d: %s' % (port, e))


def until(s, buf, end):
    """Reads until the data so far ends with END; returns it."""
    while not buf.endswith(end):
        more = s.recv(1 << 16)
        if not more:
            sys.exit('memcload: memcached closed the connection')
        buf += more
    return buf


def stats(port, group):
    s = connect(port)
    s.sendall(b'stats%s\r\n' % (b' ' + group.encode() if group else b''))
    for line in until(s, b'', b'END\r\n').decode().splitlines():
        f = line.split()
        if len(f) == 3 and f[0] == 'STAT':
            print(f[1], f[2])


def load(port):
    s = connect(port)
    r = random.Random(13)
    print('ready', flush=True)
    while True:
        req = []
        for _ in range(BATCH):
            n = r.randrange(100, 3001)
            req.append(b'set k%d 0 0 %d\r\n%s\r\n' %
                       (r.randrange(KEYS), n, b'v' * n))
        req.append(b'get ' +
                   b' '.join(b'k%d' % r.randrange(KEYS) for _ in range(GETS)) +
                   b'\r\n')
        s.sendall(b''.join(req))
        # the values are all 'v': the get's closing END is the only END
        reply = until(s, b'', b'END\r\n')
        # STORED, or SERVER_ERROR out of memory when a class has no page
        # to evict from yet: memcached at its limit, not a fault here
        for line in reply.split(b'\r\n', BATCH)[:BATCH]:
            if line != b'STORED' and not line.startswith(b'SERVER_ERROR'):
                sys.exit('memcload: unexpected reply %r' % line[:200])
        time.sleep(0.002)


if __name__ == '__main__':
    if not (len(sys.argv) == 3 and sys.argv[2] == 'load' or
            len(sys.argv) in (3, 4) and sys.argv[2] == 'stats'):
        sys.exit('usage: memcload.py PORT load|stats [GROUP]')
    port = int(sys.argv[1])
    if sys.argv[2] == 'load':
        load(port)
    else:
        stats(port, sys.argv[3] if len(sys.argv) == 4 else '')
