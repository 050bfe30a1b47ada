#!/usr/bin/env python3
"""Generate tests/diff/glob_vectors/glob_vectors.h: glob-match vectors recorded
from a real redis-server, for tests/unit/test_common_glob.c.

    tests/diff/gen_glob_vectors.py            # starts its own redis-server (loopback)
    tests/diff/gen_glob_vectors.py --port N   # uses one already on 127.0.0.1:N
    tests/diff/gen_glob_vectors.py --seed S --out PATH

Ground truth comes only from observing the server:
  * case-sensitive matching: all subjects of a group are SET as keys of an
    empty database and `KEYS <pattern>` says which of them match (pattern "*"
    alone is special-cased by KEYS, so the empty subject is never a key: its
    row is obtained with PSUBSCRIBE/PUBLISH). Every group is cross-checked by
    PSUBSCRIBE-ing all its patterns on one connection and PUBLISH-ing every
    subject: the receiver count must equal the number of matching patterns.
  * nocase matching: `CONFIG GET <pattern>` over the server's config names
    (only patterns containing one of `*?[`, so the glob path is used).
  * long/pathological inputs ("repeat" vectors, built by repetition in the
    test): KEYS against a database holding that one key.

The output is deterministic for a given seed and server version.
"""
import argparse
import os
import random
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'lib'))


# --- minimal pipelined RESP2 client ------------------------------------------

class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(('127.0.0.1', port), timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b''

    @staticmethod
    def encode(args):
        out = [b'*%d\r\n' % len(args)]
        for a in args:
            if isinstance(a, str):
                a = a.encode('latin1')
            elif isinstance(a, int):
                a = str(a).encode()
            out.append(b'$%d\r\n%s\r\n' % (len(a), a))
        return b''.join(out)

    def send(self, cmds):
        self.sock.sendall(b''.join(self.encode(c) for c in cmds))

    def _line(self):
        while b'\r\n' not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b'\r\n', 1)
        return line

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise RuntimeError('connection closed')
        self.buf += chunk

    def reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b'+':
            return rest
        if t == b'-':
            raise RuntimeError('server error: %r' % rest)
        if t == b':':
            return int(rest)
        if t == b'$':
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if t == b'*':
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise RuntimeError('bad reply %r' % line)

    def call_many(self, cmds, chunk=2000):
        out = []
        for i in range(0, len(cmds), chunk):
            part = cmds[i:i + chunk]
            self.send(part)
            out.extend(self.reply() for _ in part)
        return out

    def call(self, *args):
        return self.call_many([args])[0]

    def close(self):
        self.sock.close()


# --- ground truth -------------------------------------------------------------

def keys_matrix(c, sub, patterns, subjects):
    """rows[i] = set of subject indexes matching patterns[i] (case-sensitive)."""
    index = {s: j for j, s in enumerate(subjects)}
    c.call('FLUSHDB')
    keyed = [s for s in subjects if s != b'']
    for i in range(0, len(keyed), 500):
        c.call('MSET', *[x for s in keyed[i:i + 500] for x in (s, b'1')])
    replies = c.call_many([('KEYS', p) for p in patterns])
    rows = [set(index[k] for k in r) for r in replies]
    if b'' in index:
        # The empty subject: PUBLISH "" to a connection subscribed to every
        # pattern of the group tells how many match; then find which.
        e = index[b'']
        hits = publish_counts(sub, patterns, [b''])[0]
        if hits:
            for i, p in enumerate(patterns):
                if publish_counts(sub, [p], [b''])[0]:
                    rows[i].add(e)
    return rows


def publish_counts(sub, patterns, channels):
    """Receiver count of PUBLISH <channel> with `sub` PSUBSCRIBEd to patterns."""
    pub, subc = sub
    subc.send([('PSUBSCRIBE',) + tuple(patterns[i:i + 1000])
               for i in range(0, len(patterns), 1000)])
    for _ in patterns:
        subc.reply()  # psubscribe confirmations
    counts = []
    for i in range(0, len(channels), 100):
        part = pub.call_many([('PUBLISH', ch, b'x') for ch in channels[i:i + 100]])
        # drain the pmessages: one per (channel, matching pattern)
        for _ in range(sum(part)):
            subc.reply()
        counts += part
    subc.send([('PUNSUBSCRIBE',)])
    for _ in patterns:
        subc.reply()
    return counts


def crosscheck(sub, patterns, subjects, rows):
    counts = publish_counts(sub, patterns, subjects)
    for j, s in enumerate(subjects):
        want = sum(1 for r in rows if j in r)
        if counts[j] != want:
            raise RuntimeError('KEYS and PUBLISH disagree on subject %r: %d vs %d'
                               % (s, want, counts[j]))


# --- generators -----------------------------------------------------------------

SUBJ_ALPHA = [b'a'] * 6 + [b'b'] * 4 + [bytes([c]) for c in b'*?[]^-\\'] + \
    [b'\x00', b'\x80', b'\xff', b'A', b'_', b'`', b'c', b'z']
PAT_LIT = [b'a'] * 6 + [b'b'] * 4 + [b']', b'^', b'-', b'\x00', b'\x80', b'\xff', b'A', b'`',
                                   b'c', b'z', b'_']


def rand_subject(rng, maxlen=7):
    return b''.join(rng.choice(SUBJ_ALPHA) for _ in range(rng.randint(0, maxlen)))


def rand_class(rng):
    body = b''
    if rng.random() < 0.3:
        body += b'^'
    for _ in range(rng.randint(0, 4)):
        r = rng.random()
        if r < 0.35:
            body += rng.choice(PAT_LIT + [b'*', b'?', b'['])
        elif r < 0.65:
            body += rng.choice(SUBJ_ALPHA) + b'-' + rng.choice(SUBJ_ALPHA)
        elif r < 0.8:
            body += b'\\' + rng.choice(SUBJ_ALPHA)
        else:
            body += rng.choice([b'-', b']', b'\\', b'^'])
    return b'[' + body + (b']' if rng.random() < 0.85 else b'')


def rand_pattern(rng):
    out = b''
    for _ in range(rng.randint(0, 7)):
        r = rng.random()
        if r < 0.35:
            out += rng.choice(PAT_LIT)
        elif r < 0.5:
            out += b'*' * rng.choice([1, 1, 1, 2, 3])
        elif r < 0.6:
            out += b'?'
        elif r < 0.78:
            out += rand_class(rng)
        elif r < 0.88:
            out += b'\\' + rng.choice(SUBJ_ALPHA)
        else:  # raw special bytes: unbalanced brackets, lone backslashes, ...
            out += rng.choice([b'[', b']', b'\\', b'^', b'-', b'[^', b'[]', b'[^]'])
    return out


def instantiate(rng, pat):
    """A subject likely (not certainly) to match pat: biases towards positives."""
    out = b''
    i = 0
    while i < len(pat):
        ch = pat[i:i + 1]
        if ch == b'*':
            out += rand_subject(rng, 3)
        elif ch == b'?':
            out += rng.choice(SUBJ_ALPHA)
        elif ch == b'\\' and i + 1 < len(pat):
            i += 1
            out += pat[i:i + 1]
        elif ch == b'[':
            j = pat.find(b']', i + 1)
            body = pat[i + 1:j if j >= 0 else len(pat)]
            body = body.lstrip(b'^')
            out += bytes([rng.choice(body)]) if body and rng.random() < 0.8 \
                else rng.choice(SUBJ_ALPHA)
            i = j if j >= 0 else len(pat)
        else:
            out += ch
        i += 1
    if rng.random() < 0.2 and out:  # small mutation
        k = rng.randrange(len(out))
        out = out[:k] + rng.choice(SUBJ_ALPHA) + out[k + 1:]
    return out


EDGE_PATTERNS = [
    b'', b'*', b'**', b'***', b'?', b'??', b'*?', b'?*', b'*?*', b'a', b'a*', b'*a', b'*a*',
    b'a*b', b'a**b', b'a*b*', b'*a*b', b'a?b', b'\\', b'\\\\', b'a\\', b'\\a', b'\\*', b'\\?',
    b'\\[', b'\\]', b'*\\', b'\\*\\', b'[', b'[]', b'[^]', b'[^', b'[]]', b'[]a]', b'[^]]',
    b'[]*', b'[a', b'[ab', b'[a-', b'[a-]', b'[a-]b', b'[-]', b'[-a]', b'[a-b]', b'[b-a]',
    b'[z-a]', b'[a-z]', b'[--]', b'[---]', b'[-a-]', b'[!a]', b'[^a]', b'[^^]', b'[a^]',
    b'[\\]]', b'[\\\\]', b'[\\', b'[\\]', b'[\\-a]', b'[a\\-z]', b'[a-\\z]', b'[a-\\]',
    b'[a-\\]]', b'[\\a-z]', b'[]-a]', b'[*]', b'[?]', b'[[]', b'[a-]]', b'[^a-]', b'[^-]',
    b'[a-\xff]', b'[\x80-\xff]', b'[\xff-a]', b'[\x00-b]', b'[\x00]', b'\x00', b'a\x00*',
    b'*\x00', b'[^\x00]', b'a[', b'a[b', b'a]', b']', b'^', b'-', b'^a', b'a[]b', b'*[]*',
    b'[*a]', b'[a*]', b'*[*]*', b'[[-]]', b'[a-b-c]', b'[a-a]', b'[^a-a]', b'[ab-]',
    b'[\\^a]', b'[^\\]]', b'[]^]', b'a*a*a*b', b'*a*a*', b'?*?', b'*??*', b'\\\\*',
    b'[\\*]', b'[a-`]', b'[`-a]', b'[A-a]', b'[_-a]', b'[^`-b]',
]


def exhaustive(alpha, maxlen):
    out = [b'']
    layer = [b'']
    for _ in range(maxlen):
        layer = [w + bytes([c]) for w in layer for c in alpha]
        out += layer
    return out


# --- nocase: CONFIG GET ---------------------------------------------------------

def nocase_patterns(rng, names, n):
    """Patterns derived from config names, every one containing * ? or [."""
    letters = b'abcdefghijklmnopqrstuvwxyz'
    out, seen = [], set()
    while len(out) < n:
        name = rng.choice(names)
        p = bytearray()
        for ch in name:
            c = bytes([ch])
            r = rng.random()
            if r < 0.25 and chr(ch).isalpha():
                p += c.upper()
            elif r < 0.32:
                p += b'?'
            elif r < 0.38:
                p += b'*'
            elif r < 0.5:
                lo, hi = rng.choice(letters), rng.choice(letters)
                a, b = bytes([lo]), bytes([hi])
                kind = rng.random()
                if kind < 0.3:
                    a, b = a.upper(), b.upper()
                elif kind < 0.5:
                    a = a.upper()
                elif kind < 0.6:
                    b = b.upper()
                body = rng.choice([a + b'-' + b, c.upper(), c, a + c.upper(), b'\\' + c.upper(),
                                   b'Z-a', b'a-Z', b'A-z', b'z-A', b'`-B', b'@-c', b'_-a',
                                   b'\xff-Z', b'Z-\xff', b'\x80-a', b'\\' + c, b'\\' + a,
                                   b'^' + c.upper(), c.upper() + b'-', b'-' + c.upper(),
                                   b'\x80-\xfe', b'\xfe-\xff', b'\xff-\x80', b'\xfe-a',
                                   b'\xff-' + a, b'\x80-' + a.upper(), c + b'\xff'])
                p += b'[' + (b'^' if rng.random() < 0.2 else b'') + body + b']'
            elif r < 0.55:
                p += b'\\' + (c.upper() if rng.random() < 0.5 else c)
            elif r < 0.58:
                continue
            else:
                p += c
        if rng.random() < 0.2:
            p += b'*'
        p = bytes(p)
        if not any(x in p for x in b'*?['):
            continue
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


# --- repeat vectors (long, pathological, nesting limit) -------------------------

def R(ppre, punit, pn, ppost, spre, sunit, sn, spost):
    return (ppre, punit, pn, ppost, spre, sunit, sn, spost)


REPEATS = [
    # Redis's nesting limit: > 1000 non-trailing star groups never match.
    *[R(b'', b'*a', n, b'', b'', b'a', n, b'') for n in (999, 1000, 1001, 1002)],
    *[R(b'', b'*a', n, b'*', b'', b'a', n, b'') for n in (1000, 1001)],
    *[R(b'', b'a*', n, b'', b'', b'a', n, b'') for n in (1000, 1001, 1002)],
    *[R(b'', b'a*', n, b'a', b'', b'a', n + 1, b'') for n in (1000, 1001)],
    *[R(b'', b'**a', n, b'', b'', b'a', n, b'') for n in (1000, 1001)],
    *[R(b'', b'*?', n, b'', b'', b'x', n + 7, b'') for n in (1000, 1001)],
    R(b'', b'*\\*', 1500, b'', b'', b'*', 1500, b''),
    R(b'', b'*[*]', 1001, b'', b'', b'*', 1001, b''),
    R(b'', b'[a-]*', 1500, b'', b'', b'a', 1500, b''),
    R(b'', b'\\**', 1500, b'', b'', b'*', 1500, b''),
    R(b'', b'*a', 1001, b'', b'b', b'a', 1001, b''),
    R(b'x', b'*a', 1001, b'', b'', b'a', 1001, b''),
    # One star group, however many stars.
    R(b'', b'*', 100000, b'', b'', b'a', 1, b''),
    R(b'', b'*', 100000, b'b', b'', b'a', 10000, b'b'),
    R(b'', b'*', 100000, b'b', b'', b'a', 10000, b'c'),
    # Pathological backtracking: must be fast, and the answers must agree.
    R(b'', b'a*', 8, b'b', b'', b'a', 10000, b''),
    R(b'', b'a*', 8, b'b', b'', b'a', 10000, b'b'),
    R(b'', b'a*', 30, b'b', b'', b'a', 10000, b''),
    R(b'', b'*a', 30, b'*b', b'', b'a', 10000, b''),
    R(b'', b'*a', 30, b'*b', b'', b'a', 10000, b'b'),
    R(b'', b'*?', 40, b'b', b'', b'a', 10000, b''),
    R(b'', b'?*', 200, b'c', b'', b'ab', 5000, b''),
    R(b'*', b'a', 300, b'b', b'', b'a', 10000, b''),
    R(b'*', b'a', 300, b'b', b'', b'a', 10000, b'b'),
    R(b'', b'*[a-b]', 50, b'c*', b'', b'ab', 5000, b''),
    R(b'', b'*[^b]', 50, b'b', b'', b'a', 10000, b'b'),
    R(b'', b'?', 10000, b'', b'', b'x', 10000, b''),
    R(b'', b'?', 10000, b'', b'', b'x', 9999, b''),
    R(b'', b'?', 10000, b'*', b'', b'x', 10001, b''),
    # Huge classes and escapes.
    R(b'[', b'a', 10000, b']', b'', b'a', 1, b''),
    R(b'[^', b'a', 10000, b']', b'', b'a', 1, b''),
    R(b'[', b'\\]', 5000, b'', b'', b']', 1, b''),
    R(b'', b'\\*', 5000, b'', b'', b'*', 5000, b''),
    R(b'', b'[a-b]', 3000, b'', b'', b'b', 3000, b''),
]


def expand(prefix, unit, n, post):
    return prefix + unit * n + post


# --- output --------------------------------------------------------------------

def c_str(b):
    out = []
    for ch in b:
        if 32 <= ch < 127 and ch not in b'"\\?':
            out.append(chr(ch))
        else:
            out.append('\\%03o' % ch)
    return '"' + ''.join(out) + '"'


def bits_hex(row, n):
    v = bytearray((n + 7) // 8)
    for j in row:
        v[j // 8] |= 1 << (j % 8)
    return v.hex()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--port', type=int, help='use a running redis-server on 127.0.0.1')
    ap.add_argument('--seed', type=int, default=20240611)
    ap.add_argument('--groups', type=int, default=40, help='random case-sensitive groups')
    ap.add_argument('--out', default=os.path.join(HERE, 'glob_vectors', 'glob_vectors.h'))
    args = ap.parse_args()

    if args.port is not None:
        generate(args.port, args)
        return
    from servers import Server
    with Server('redis') as server:
        generate(server.port, args)


def generate(port, args):
    rng = random.Random(args.seed)
    c = Conn(port)
    sub = (Conn(port), Conn(port))
    version = [l for l in c.call('INFO', 'server').split(b'\r\n')
               if l.startswith(b'redis_version:')][0].split(b':')[1].decode()
    c.call('SELECT', 9)

    groups = []  # (kind, patterns, subjects, rows)
    used = set()

    def add_group(kind, patterns, subjects):
        patterns = [p for p in dict.fromkeys(patterns) if p not in used]
        used.update(patterns)
        subjects = list(dict.fromkeys(subjects))
        rows = keys_matrix(c, sub, patterns, subjects)
        crosscheck(sub, patterns, subjects, rows)
        groups.append(('cs', patterns, subjects, rows))

    t0 = time.time()
    # 1. hand-picked edge patterns x all strings up to length 2 over a small
    #    alphabet (plus a few longer edge subjects).
    small = b'ab-]\\^[*?_`\x00\x80\xff'
    edge_subjects = exhaustive(small, 2) + [
        b'ab', b'aab', b'abb', b'abab', b'aaab', b'a\x00b', b'[]', b'[a]', b'a]b', b'a[b', b'\\\\',
        b'a\\', b'***', b'??', b'z', b'A', b'^a', b'-a-', b'bab', b'ba', b'aaa', b'\x00\x00']
    add_group('cs', EDGE_PATTERNS, edge_subjects)

    # 2. every pattern of length <= 4 over a 9-byte alphabet x every subject of
    #    length <= 2 over a related alphabet and some longer ones.
    palpha = b'ab*?[]^-\\'
    salpha = b'ab*?[]^-\\`'
    subj = exhaustive(salpha, 2) + [rand_subject(rng, 4) for _ in range(60)] + \
        [bytes(rng.choice(b'ab]-^\\') for _ in range(rng.randint(3, 4))) for _ in range(60)]
    add_group('cs', exhaustive(palpha, 4), subj)

    # 3. random patterns, each group with a shared random pool plus subjects
    #    instantiated from its own patterns.
    for _ in range(args.groups):
        pats = []
        while len(pats) < 100:
            p = rand_pattern(rng)
            if p not in used and p not in pats:
                pats.append(p)
        subjects = [rand_subject(rng) for _ in range(120)] + [b'']
        for p in pats:
            subjects += [instantiate(rng, p) for _ in range(2)]
        add_group('cs', pats, subjects)
    t1 = time.time()

    # 4. nocase via CONFIG GET.
    names = sorted(c.call('CONFIG', 'GET', '*')[::2])
    assert c.call('CONFIG', 'GET', 'MAXMEMOR[Y]')[::2] == [b'maxmemory']
    npats = nocase_patterns(rng, names, 4000)
    replies = c.call_many([('CONFIG', 'GET', p) for p in npats])
    index = {n: j for j, n in enumerate(names)}
    nrows = [set(index[k] for k in r[::2]) for r in replies]
    groups.append(('nocase', npats, names, nrows))

    # 5. repeat vectors.
    rep = []
    slowest = (0.0, None)
    for spec in REPEATS:
        ppre, punit, pn, ppost, spre, sunit, sn, spost = spec
        pat, s = expand(ppre, punit, pn, ppost), expand(spre, sunit, sn, spost)
        c.call('FLUSHDB')
        c.call('SET', s, b'1')
        ts = time.time()
        hit = len(c.call('KEYS', pat))
        dt = time.time() - ts
        slowest = max(slowest, (dt, spec))
        rep.append((spec, hit))

    c.close()
    sub[0].close()
    sub[1].close()

    write_header(args, version, groups, rep)
    nvec = sum(len(g[1]) * len(g[2]) for g in groups)
    npos = sum(len(r) for g in groups for r in g[3])
    print('redis %s: %d groups, %d patterns, %d vectors (%d matches), %d repeat vectors; '
          'keys phase %.1fs; slowest repeat in redis %.3fs'
          % (version, len(groups), sum(len(g[1]) for g in groups), nvec, npos, len(rep),
             t1 - t0, slowest[0]))


def write_header(args, version, groups, rep):
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    L = []
    L.append('/*\n * glob_vectors.h - GENERATED by tests/diff/gen_glob_vectors.py (seed %d)'
             % args.seed)
    L.append(' * from redis-server %s; do not edit. Included by tests/unit/test_common_glob.c.'
             % version)
    L.append(' *\n * Groups: every pattern of a group is checked against every subject of'
             ' the group;')
    L.append(' * gv_bits[i] is a little-endian hex bitmap over the group\'s subjects'
             ' (bit j set = match).')
    L.append(' * Repeat vectors: pattern = ppre + punit x pn + ppost, subject likewise.\n */')
    L.append('#ifndef GLOB_VECTORS_H\n#define GLOB_VECTORS_H\n')
    L.append('#define GV_REDIS_VERSION "%s"\n' % version)
    L.append('typedef struct {\n    const char *p;\n    unsigned len;\n} gv_bytes;\n')
    L.append('typedef struct {\n    unsigned first_pattern, npatterns;\n'
             '    unsigned first_subject, nsubjects;\n    int nocase;\n} gv_group;\n')
    L.append('typedef struct {\n    gv_bytes ppre, punit;\n    unsigned pn;\n    gv_bytes ppost, spre,'
             ' sunit;\n    unsigned sn;\n    gv_bytes spost;\n    int expected;\n} gv_repeat;\n')

    def B(b):
        return '{%s, %d}' % (c_str(b), len(b))

    allp, alls, bits, ginfo = [], [], [], []
    for kind, pats, subs, rows in groups:
        ginfo.append((len(allp), len(pats), len(alls), len(subs), kind == 'nocase'))
        allp += pats
        alls += subs
        bits += [bits_hex(r, len(subs)) for r in rows]
    L.append('static const gv_group gv_groups[] = {')
    L += ['    {%d, %d, %d, %d, %d},' % (a, b, c, d, int(e)) for a, b, c, d, e in ginfo]
    L.append('};\n')
    L.append('static const gv_bytes gv_patterns[] = {')
    L += ['    %s,' % B(p) for p in allp]
    L.append('};\n')
    L.append('static const char *const gv_bits[] = {')
    L += ['    "%s",' % h for h in bits]
    L.append('};\n')
    L.append('static const gv_bytes gv_subjects[] = {')
    L += ['    %s,' % B(s) for s in alls]
    L.append('};\n')
    L.append('static const gv_repeat gv_repeats[] = {')
    for (ppre, punit, pn, ppost, spre, sunit, sn, spost), hit in rep:
        L.append('    {%s, %s, %d, %s, %s, %s, %d, %s, %d},'
                 % (B(ppre), B(punit), pn, B(ppost), B(spre), B(sunit), sn, B(spost), hit))
    L.append('};\n')
    L.append('#endif')
    with open(args.out, 'w') as f:
        f.write('\n'.join(L) + '\n')


if __name__ == '__main__':
    main()
