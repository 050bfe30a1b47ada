#!/usr/bin/env python3
"""Introspection test: COMMAND and INFO of herald-server ($HERALD_SERVER)
against a redis-server 7.0 started here (tests/lib/servers.py).

  - COMMAND INFO of every herald command is compared with redis's, in RESP2
    and RESP3: byte for byte for commands without subcommands and for each
    subcommand both servers have; for containers the top-level fields too.
    Subcommands only one side has are skipped (and listed).
  - COMMAND COUNT / COMMAND / COMMAND LIST agree with each other; COMMAND
    INFO / DOCS of unknown names, DOCS shape and since/group values, LIST
    filters and errors behave as in redis.
  - INFO: the sections chosen by each argument list match redis's (minus
    the sections herald does not keep); every field herald prints exists in
    redis's INFO, in the same order; a list of essential fields exists in
    herald; values that have to be exact are; RESP2/RESP3 framing matches.
  - INFO's counters move: connected_clients, total_connections_received,
    total_commands_processed, total_error_replies, pubsub_channels /
    patterns / shard channels, pubsub_clients, instantaneous_ops_per_sec.

Prints one line per check and "N passed, N failed"; exits 1 on failure.
Without a redis-server the comparisons are reported as skipped.
"""
import os
import re
import shutil
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from servers import Server, redis_binary  # noqa: E402

# Fields herald prints that redis 7.0 does not: its own version, and fields
# Redis added in 7.2 (the version herald reports).
HERALD_ONLY_FIELDS = {'herald_version', 'pubsub_clients',
                      'client_query_buffer_limit_disconnections',
                      'client_output_buffer_limit_disconnections'}
# Commands herald has that redis 7.0 does not (added in 7.2).
HERALD_ONLY_COMMANDS = {b'client|setinfo', b'client|no-touch'}
# Sections redis prints that herald does not keep.
REDIS_ONLY_SECTIONS = {'Latencystats'}
ESSENTIAL_FIELDS = {
    'Server': ['redis_version', 'redis_mode', 'os', 'arch_bits', 'multiplexing_api',
               'gcc_version', 'process_id', 'run_id', 'tcp_port', 'server_time_usec',
               'uptime_in_seconds', 'uptime_in_days', 'hz', 'configured_hz', 'executable',
               'config_file'],
    'Clients': ['connected_clients', 'cluster_connections', 'maxclients',
                'client_recent_max_input_buffer', 'client_recent_max_output_buffer',
                'blocked_clients', 'tracking_clients', 'clients_in_timeout_table'],
    'Memory': ['used_memory', 'used_memory_human', 'used_memory_rss', 'used_memory_peak',
               'used_memory_peak_human', 'maxmemory', 'maxmemory_policy', 'mem_allocator'],
    'Persistence': ['loading', 'rdb_changes_since_last_save', 'aof_enabled'],
    'Stats': ['total_connections_received', 'total_commands_processed',
              'instantaneous_ops_per_sec', 'total_net_input_bytes', 'total_net_output_bytes',
              'rejected_connections', 'expired_keys', 'evicted_keys', 'keyspace_hits',
              'keyspace_misses', 'pubsub_channels', 'pubsub_patterns', 'pubsubshard_channels',
              'total_error_replies'],
    'Replication': ['role', 'connected_slaves', 'master_replid', 'master_repl_offset'],
    'CPU': ['used_cpu_sys', 'used_cpu_user'],
    'Cluster': ['cluster_enabled'],
}

# --------------------------------------------------------------------------
# A small RESP client that keeps types: bulk -> bytes, simple -> Simple,
# error -> Error, integer -> int, null -> None, array -> list,
# set -> Set (list subclass), map -> Map (list of pairs), verbatim -> Verbatim.


class Simple(bytes):
    pass


class Error(bytes):
    pass


class Verbatim(bytes):
    pass


class Set(list):
    pass


class Map(list):
    pass


class Conn:
    def __init__(self, port, proto=2, timeout=5.0):
        self.sock = socket.create_connection(('127.0.0.1', port), timeout=timeout)
        self.buf = b''
        if proto == 3:
            r = self.cmd('HELLO', '3')
            assert not isinstance(r, Error), r

    def close(self):
        self.sock.close()

    def send(self, *args):
        out = [b'*%d\r\n' % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b'$%d\r\n%s\r\n' % (len(a), a))
        self.sock.sendall(b''.join(out))

    def raw(self, *args):
        """Sends a command, returns its reply's bytes."""
        self.send(*args)
        return self.read_frame()

    def cmd(self, *args):
        return parse(self.raw(*args))[0]

    def read_frame(self):
        for _ in range(100000):
            n = frame_len(self.buf, 0)
            if n:
                frame, self.buf = self.buf[:n], self.buf[n:]
                return frame
            data = self.sock.recv(1 << 20)
            if not data:
                raise EOFError('connection closed')
            self.buf += data
        raise RuntimeError('reply too long')


def frame_len(b, i):
    e = b.find(b'\r\n', i)
    if e < 0:
        return 0
    t, line, p = b[i:i + 1], b[i + 1:e], e + 2
    if t in (b'$', b'=', b'!'):
        n = int(line)
        if n < 0:
            return p - i
        return p + n + 2 - i if len(b) >= p + n + 2 else 0
    if t in (b'*', b'~', b'>', b'%', b'|'):
        n = int(line)
        if n < 0:
            return p - i
        if t in (b'%', b'|'):
            n *= 2
        for _ in range(n):
            k = frame_len(b, p)
            if not k:
                return 0
            p += k
        return p - i
    return p - i


def parse(b, i=0):
    e = b.find(b'\r\n', i)
    t, line, p = chr(b[i]), b[i + 1:e], e + 2
    if t in '$=!':
        n = int(line)
        if n < 0:
            return None, p
        data = b[p:p + n]
        if t == '=':
            data = Verbatim(data[4:])
        elif t == '!':
            data = Error(data)
        return data, p + n + 2
    if t in '*~>%':
        n = int(line)
        if n < 0:
            return None, p
        items = []
        for _ in range(n * 2 if t == '%' else n):
            v, p = parse(b, p)
            items.append(v)
        if t == '~':
            return Set(items), p
        if t == '%':
            return Map(zip(items[0::2], items[1::2])), p
        return items, p
    if t == ':':
        return int(line), p
    if t == '+':
        return Simple(line), p
    if t == '-':
        return Error(line), p
    if t == '_':
        return None, p
    if t == '#':
        return line == b't', p
    return (t, line), p


def frames(b):
    """Splits a COMMAND INFO reply (an array) into the raw bytes of its
    elements."""
    assert b[:1] == b'*', b[:20]
    e = b.find(b'\r\n')
    n, p, out = int(b[1:e]), e + 2, []
    for _ in range(n):
        k = frame_len(b, p)
        out.append(b[p:p + k])
        p += k
    return out

# --------------------------------------------------------------------------


class Results:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def check(self, name, ok, detail=''):
        if ok:
            self.passed += 1
            print('PASS %s' % name)
        else:
            self.failed += 1
            print('FAIL %s%s' % (name, (': ' + detail) if detail else ''))
        return ok

    def skip(self, name, why):
        self.skipped += 1
        print('SKIP %s: %s' % (name, why))


def info_sections(text):
    """Parses INFO text into an ordered list of (section, [(field, value)])."""
    if isinstance(text, bytes):
        text = text.decode()
    out = []
    for line in text.split('\r\n'):
        if line.startswith('# '):
            out.append((line[2:], []))
        elif line:
            k, _, v = line.partition(':')
            out[-1][1].append((k, v))
    return out


def info_dict(conn, *sections):
    d = {}
    for _, fields in info_sections(conn.cmd('INFO', *sections)):
        d.update(fields)
    return d


def is_subsequence(small, big):
    it = iter(big)
    return all(any(x == y for y in it) for x in small)


def wait_for(fn, timeout=3.0):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v or time.time() > deadline:
            return v
        time.sleep(0.02)


def name_of(entry):
    return entry[0].decode() if isinstance(entry, list) else None

# --------------------------------------------------------------------------


def test_command_info(R, h, r, proto):
    """Byte-for-byte COMMAND INFO against redis."""
    hc, rc = Conn(h.port, proto), Conn(r.port, proto)
    names = sorted(name_of(e) for e in hc.cmd('COMMAND'))
    skipped_subs = []
    for name in names:
        hraw, rraw = hc.raw('COMMAND', 'INFO', name), rc.raw('COMMAND', 'INFO', name)
        hent, rent = parse(hraw)[0][0], parse(rraw)[0][0]
        if rent is None:
            R.check('RESP%d COMMAND INFO %s exists in redis' % (proto, name), False)
            continue
        if not hent[9] and not rent[9]:
            R.check('RESP%d COMMAND INFO %s' % (proto, name), hraw == rraw,
                    '\n  herald %r\n  redis  %r' % (hraw, rraw))
            continue
        # A container: the fields before the subcommands, then each shared
        # subcommand on its own.
        R.check('RESP%d COMMAND INFO %s (own fields)' % (proto, name),
                hent[:9] == rent[:9] and type(hent[9]) is type(rent[9]) and
                [type(x) for x in hent[:9]] == [type(x) for x in rent[:9]],
                '\n  herald %r\n  redis  %r' % (hent[:9], rent[:9]))
        hsubs = {name_of(e) for e in hent[9]}
        rsubs = {name_of(e) for e in rent[9]}
        skipped_subs += sorted((hsubs ^ rsubs))
        bad = []
        for sub in sorted(hsubs & rsubs):
            a, b = hc.raw('COMMAND', 'INFO', sub), rc.raw('COMMAND', 'INFO', sub)
            if a != b:
                bad.append('%s\n    herald %r\n    redis  %r' % (sub, a, b))
        # The subcommand entries inside the container's reply are the same
        # bytes as when asked for one by one.
        inner = {}
        if hent[9]:
            for f in frames(frames(frames(hraw)[0])[9]):
                inner[name_of(parse(f)[0])] = f
        for sub in sorted(hsubs):
            if inner.get(sub) != frames(hc.raw('COMMAND', 'INFO', sub))[0]:
                bad.append('%s differs inside %s' % (sub, name))
        R.check('RESP%d COMMAND INFO %s subcommands (%d shared)' %
                (proto, name, len(hsubs & rsubs)), not bad, '\n  '.join(bad))
    if skipped_subs:
        print('     (RESP%d: subcommands on one side only, not compared: %s)' %
              (proto, ' '.join(skipped_subs)))
    # Unknown names, mixed with known ones; subcommand names; case.
    for args in (['nosuch'], ['ping', 'nosuch', 'PubSub|NumSub'], ['ping|x'], ['client|'],
                 ['client|list|x'], ['CLIENT|LIST']):
        a, b = hc.raw('COMMAND', 'INFO', *args), rc.raw('COMMAND', 'INFO', *args)
        R.check('RESP%d COMMAND INFO %s' % (proto, ' '.join(args)), a == b,
                '\n  herald %r\n  redis  %r' % (a[:300], b[:300]))
    hc.close()
    rc.close()


def test_command_misc(R, h, r):
    hc, rc = Conn(h.port), Conn(r.port)
    allcmds = hc.cmd('COMMAND')
    count = hc.cmd('COMMAND', 'COUNT')
    lst = hc.cmd('COMMAND', 'LIST')
    top = [x for x in lst if b'|' not in x]
    R.check('COMMAND COUNT equals the number of commands', isinstance(count, int) and
            count == len(allcmds) == len(top) == len(hc.cmd('COMMAND', 'INFO')),
            'count=%r COMMAND=%d LIST(top)=%d' % (count, len(allcmds), len(top)))
    subs = sum(len(e[9]) for e in allcmds)
    R.check('COMMAND LIST names every command and subcommand',
            len(lst) == count + subs and len(set(lst)) == len(lst))
    R.check('COMMAND LIST names match COMMAND', sorted(top) == sorted(e[0] for e in allcmds))
    rl = set(rc.cmd('COMMAND', 'LIST'))
    R.check('every herald command name exists in redis', set(lst) - HERALD_ONLY_COMMANDS <= rl,
            repr(sorted(set(lst) - rl)))

    # LIST filters, compared with redis restricted to herald's names.
    mine = set(lst)
    for filt in (['ACLCAT', 'pubsub'], ['aclcat', 'CONNECTION'], ['aclcat', '@pubsub'],
                 ['aclcat', 'nosuchcat'], ['aclcat', 'dangerous'], ['PATTERN', 'pubsub*'],
                 ['pattern', 'CLIENT|*'], ['pattern', '*s?b*'], ['module', 'x']):
        a = hc.cmd('COMMAND', 'LIST', 'FILTERBY', *filt)
        b = rc.cmd('COMMAND', 'LIST', 'FILTERBY', *filt)
        R.check('COMMAND LIST FILTERBY %s' % ' '.join(filt),
                isinstance(a, list) and len(set(a)) == len(a) and set(a) & rl == set(b) & mine,
                'herald %r redis∩herald %r' % (sorted(a), sorted(set(b) & mine)))
    for args in (['FILTERBY'], ['foo'], ['FILTERBY', 'pattern', 'x', 'y'],
                 ['FILTERBY', 'nosuch', 'x'], ['FILTERBY', 'pattern']):
        a, b = hc.raw('COMMAND', 'LIST', *args), rc.raw('COMMAND', 'LIST', *args)
        R.check('COMMAND LIST %s (error)' % ' '.join(args), a == b, '%r vs %r' % (a, b))

    # DOCS: unknown names are left out; shape and the factual fields.
    for proto in (2, 3):
        h3, r3 = Conn(h.port, proto), Conn(r.port, proto)
        a, b = h3.raw('COMMAND', 'DOCS', 'nosuch'), r3.raw('COMMAND', 'DOCS', 'nosuch')
        R.check('RESP%d COMMAND DOCS nosuch' % proto, a == b, '%r vs %r' % (a, b))
        d = h3.cmd('COMMAND', 'DOCS', 'nosuch', 'ping', 'pubsub|numsub')
        if proto == 3:
            ok = isinstance(d, Map) and [k for k, _ in d] == [b'ping', b'pubsub|numsub']
        else:
            ok = isinstance(d, list) and d[0::2] == [b'ping', b'pubsub|numsub']
        R.check('RESP%d COMMAND DOCS mixed names' % proto, ok, repr(d)[:300])
        h3.close()
        r3.close()

    def docs_map(conn, *names):
        d = parse(conn.raw('COMMAND', 'DOCS', *names))[0]
        return {k: dict(v) for k, v in d}

    h3, r3 = Conn(h.port, 3), Conn(r.port, 3)
    hd, rd = docs_map(h3), docs_map(r3)
    R.check('COMMAND DOCS (all) names every command',
            sorted(hd) == sorted(e[0] for e in allcmds))
    bad = []
    for name, doc in sorted(hd.items()):
        rdoc = rd.get(name)
        if rdoc is None:
            bad.append('%s missing in redis' % name)
            continue
        pairs = [(name, doc, rdoc)]
        if b'subcommands' in doc:
            hs, rs = dict(doc[b'subcommands']), dict(rdoc.get(b'subcommands', []))
            for sub in hs:
                if sub in rs:
                    pairs.append((sub, dict(hs[sub]), dict(rs[sub])))
        for n, x, y in pairs:
            if not is_subsequence(list(x), list(y)):
                bad.append('%s: fields %r not within %r' % (n, list(x), list(y)))
            for f in (b'since', b'group'):
                if f in x and x.get(f) != y.get(f):
                    bad.append('%s: %s %r vs redis %r' % (n, f, x.get(f), y.get(f)))
            if b'summary' not in x or b'group' not in x:
                if n.find(b'|') < 0 or not n.startswith(b'cluster|'):
                    bad.append('%s: no summary/group' % n)
    R.check('COMMAND DOCS fields, since and group agree with redis', not bad, '\n  '.join(bad))
    h3.close()
    r3.close()

    helptext = hc.cmd('COMMAND', 'HELP')
    R.check('COMMAND HELP', isinstance(helptext, list) and len(helptext) > 4 and
            all(isinstance(x, Simple) for x in helptext) and
            helptext[0].startswith(b'COMMAND <subcommand>') and helptext[-2] == b'HELP')
    a, b = hc.raw('COMMAND', 'NOSUCH'), rc.raw('COMMAND', 'NOSUCH')
    R.check('COMMAND NOSUCH (error)', a == b, '%r vs %r' % (a, b))
    a, b = hc.raw('COMMAND', 'COUNT', 'x'), rc.raw('COMMAND', 'COUNT', 'x')
    R.check('COMMAND COUNT x (error)', a == b, '%r vs %r' % (a, b))
    hc.close()
    rc.close()


def headers(text):
    return [s for s, _ in info_sections(text)]


def test_info_format(R, h, r, hpid):
    hc, rc = Conn(h.port), Conn(r.port)
    for args in ([], ['default'], ['all'], ['everything'], ['cpu', 'server'], ['CPU'],
                 ['Server', 'server'], ['nosuch'], ['cpu', 'nosuch'], ['default', 'cpu'],
                 ['modules'], ['module_list'], ['keyspace'], ['cluster', 'Keyspace'],
                 ['commandstats'], ['clients', 'memory', 'persistence', 'stats',
                                    'replication']):
        a = headers(hc.cmd('INFO', *args))
        b = [s for s in headers(rc.cmd('INFO', *args)) if s not in REDIS_ONLY_SECTIONS]
        R.check('INFO %s: sections' % ' '.join(args), a == b, '%r vs %r' % (a, b))

    # Framing: RESP2 bulk, RESP3 verbatim txt; empty for unknown sections.
    for proto in (2, 3):
        h3, r3 = Conn(h.port, proto), Conn(r.port, proto)
        for args in (['nosuch'], ['keyspace'], ['cluster'], ['modules', 'keyspace']):
            a, b = h3.raw('INFO', *args), r3.raw('INFO', *args)
            R.check('RESP%d INFO %s: bytes' % (proto, ' '.join(args)), a == b,
                    '%r vs %r' % (a, b))
        a = h3.raw('INFO')
        lead = b'=' if proto == 3 else b'$'
        ok = a.startswith(lead) and (proto == 2 or a.split(b'\r\n', 1)[1].startswith(b'txt:'))
        body = parse(a)[0]
        ok = ok and body.endswith(b'\r\n') and not body.endswith(b'\r\n\r\n')
        lines = body.decode().split('\r\n')[:-1]
        for i, line in enumerate(lines):
            if line == '':
                ok = ok and i + 1 < len(lines) and lines[i + 1].startswith('# ')
            elif not (line.startswith('# ') or re.match(r'^[a-zA-Z0-9_|]+:[^\r\n]*$', line)):
                ok = False
        R.check('RESP%d INFO: framing and line format' % proto, ok, repr(a[:200]))
        h3.close()
        r3.close()

    # Field names: herald's are redis's (same order); essentials are there.
    hs = info_sections(hc.cmd('INFO', 'everything'))
    rs = dict(info_sections(rc.cmd('INFO', 'everything')))
    for sec, fields in hs:
        if sec in ('Commandstats', 'Errorstats'):
            continue  # one field per command / error code seen: compared in test_commandstats
        names = [k for k, _ in fields]
        rnames = [k for k, _ in rs.get(sec, [])]
        extra = [k for k in names if k not in rnames and k not in HERALD_ONLY_FIELDS]
        R.check('INFO %s: every field exists in redis' % sec, sec in rs and not extra,
                'not in redis: %r' % extra)
        common = [k for k in names if k in rnames]
        R.check('INFO %s: field order follows redis' % sec, is_subsequence(common, rnames))
        missing = [k for k in ESSENTIAL_FIELDS.get(sec, []) if k not in names]
        R.check('INFO %s: essential fields present' % sec, not missing, repr(missing))
    R.check('INFO: every section with essential fields is printed',
            set(ESSENTIAL_FIELDS) <= {s for s, _ in hs})
    R.check('INFO: Keyspace is empty', ('Keyspace', []) in hs)

    d = info_dict(hc, 'everything')
    exact = {'redis_version': '7.2.4', 'redis_mode': 'standalone', 'multiplexing_api': 'epoll',
             'tcp_port': str(h.port), 'process_id': str(hpid), 'role': 'master',
             'mem_allocator': 'libc', 'maxmemory_policy': 'noeviction', 'maxmemory': '0',
             'cluster_enabled': '0', 'connected_slaves': '0', 'loading': '0',
             'uptime_in_days': '0', 'executable': os.path.realpath(h.cmd[0])}
    bad = ['%s=%r (want %r)' % (k, d.get(k), v) for k, v in exact.items() if d.get(k) != v]
    R.check('INFO: exact values', not bad, ', '.join(bad))
    R.check('INFO: run_id / master_replid are 40 hex digits',
            re.match(r'^[0-9a-f]{40}$', d.get('run_id', '')) is not None and
            re.match(r'^[0-9a-f]{40}$', d.get('master_replid', '')) is not None)
    R.check('INFO: herald_version', re.match(r'^\d+\.\d+\.\d+', d.get('herald_version', '')))
    num = re.compile(r'^-?\d+(\.\d+)?$')
    R.check('INFO: numbers where redis has numbers',
            all(num.match(d[k]) for k in ('used_memory', 'used_memory_rss', 'used_memory_peak',
                                          'used_cpu_sys', 'used_cpu_user', 'server_time_usec',
                                          'arch_bits', 'hz', 'maxclients')))
    # (used_memory comes from mallinfo2, which reads 0 under ASan.)
    R.check('INFO: used_memory_peak >= used_memory >= 0',
            int(d['used_memory_peak']) >= int(d['used_memory']) >= 0)
    now_us = time.time() * 1e6
    R.check('INFO: server_time_usec is now', abs(int(d['server_time_usec']) - now_us) < 5e6)
    hc.close()
    rc.close()


def test_info_counters(R, h):
    a = Conn(h.port)
    before = info_dict(a, 'clients', 'stats')
    extra = [Conn(h.port) for _ in range(3)]
    for c in extra:
        c.cmd('PING')
    d = info_dict(a, 'clients', 'stats')
    R.check('INFO: connected_clients counts new connections',
            int(d['connected_clients']) == int(before['connected_clients']) + 3,
            '%s -> %s' % (before['connected_clients'], d['connected_clients']))
    R.check('INFO: total_connections_received moves',
            int(d['total_connections_received']) ==
            int(before['total_connections_received']) + 3)
    extra.pop().close()
    got = wait_for(lambda: info_dict(a, 'clients')['connected_clients'] ==
                   str(int(before['connected_clients']) + 2))
    R.check('INFO: connected_clients drops after a close', got)

    t1 = int(info_dict(a, 'stats')['total_commands_processed'])
    for _ in range(5):
        a.cmd('PING')
    t2 = int(info_dict(a, 'stats')['total_commands_processed'])
    R.check('INFO: total_commands_processed counts each command', t2 == t1 + 6,
            '%d -> %d' % (t1, t2))

    e1 = int(info_dict(a, 'stats')['total_error_replies'])
    a.cmd('NOSUCHCOMMAND')
    e2 = int(info_dict(a, 'stats')['total_error_replies'])
    R.check('INFO: total_error_replies moves', e2 == e1 + 1, '%d -> %d' % (e1, e2))

    base = info_dict(a, 'stats', 'clients')
    sub = extra[0]
    sub.send('SUBSCRIBE', 'intro-a', 'intro-b')
    sub.read_frame()
    sub.read_frame()
    sub.send('PSUBSCRIBE', 'intro-*')
    sub.read_frame()
    sub.send('SSUBSCRIBE', 'intro-s')
    sub.read_frame()
    d = info_dict(a, 'stats', 'clients')
    R.check('INFO: pubsub_channels after SUBSCRIBE',
            int(d['pubsub_channels']) == int(base['pubsub_channels']) + 2,
            '%s -> %s' % (base['pubsub_channels'], d['pubsub_channels']))
    R.check('INFO: pubsub_patterns after PSUBSCRIBE',
            int(d['pubsub_patterns']) == int(base['pubsub_patterns']) + 1)
    R.check('INFO: pubsubshard_channels after SSUBSCRIBE',
            int(d['pubsubshard_channels']) == int(base['pubsubshard_channels']) + 1)
    R.check('INFO: pubsub_clients counts subscribed clients',
            int(d['pubsub_clients']) == int(base['pubsub_clients']) + 1)
    sub.close()
    got = wait_for(lambda: info_dict(a, 'stats')['pubsub_channels'] == base['pubsub_channels'])
    R.check('INFO: pubsub_channels drops when the subscriber leaves', got)

    info_dict(a, 'stats')  # takes a sample
    time.sleep(0.15)
    for _ in range(50):
        a.send('PING')
    for _ in range(50):
        a.read_frame()
    time.sleep(0.15)
    ops = int(info_dict(a, 'stats')['instantaneous_ops_per_sec'])
    R.check('INFO: instantaneous_ops_per_sec reflects traffic', ops > 0, 'ops=%d' % ops)
    n1 = int(info_dict(a, 'stats')['total_net_input_bytes'])
    a.cmd('ECHO', 'x' * 1000)
    n2 = int(info_dict(a, 'stats')['total_net_input_bytes'])
    R.check('INFO: total_net_input_bytes moves', n2 >= n1 + 1000, '%d -> %d' % (n1, n2))
    for c in extra[1:]:
        c.close()
    a.close()


def cmdstats(conn):
    """INFO commandstats and errorstats without the timings:
    {'cmdstat_get': 'calls=1,rejected_calls=0,failed_calls=1', 'errorstat_ERR': 'count=2'}."""
    out = {}
    for k, v in info_dict(conn, 'commandstats', 'errorstats').items():
        parts = [x for x in v.split(',') if not x.startswith(('usec=', 'usec_per_call='))]
        out[k] = ','.join(parts)
    return out


def test_commandstats(R, h, r):
    """The same commands on both servers give the same INFO commandstats and
    errorstats counts: calls, rejections before running (arity, subscribed
    mode, queueing errors), failures (error replies), commands run by EXEC,
    subcommands, and CONFIG RESETSTAT."""
    script = [
        ('CONFIG', 'RESETSTAT'),
        ('SET', 'k', 'v'), ('GET', 'k'), ('GET',), ('INCR', 'k'), ('NOSUCH',),
        ('CLIENT', 'NOSUCH'), ('CLIENT', 'ID'), ('OBJECT', 'ENCODING', 'k'),
        ('MULTI',), ('SET', 'a'), ('EXEC',),
        ('MULTI',), ('INCR', 'k'), ('SET', 'k', '1'), ('INCR', 'k'), ('EXEC',),
        ('SET', 'x', 'y', 'NX', 'XX'), ('GETRANGE', 'k', 'a', 'b'), ('EXPIRE', 'k', '10', 'NX', 'XX'),
        ('PING',), ('ECHO', 'hi'),
    ]
    results = []
    for port in (h.port, r.port):
        c = Conn(port)
        for args in script:
            c.raw(*args)
        c.raw('SUBSCRIBE', 'ch')
        c.raw('GET', 'k')  # refused in subscribed mode
        c.close()
        q = Conn(port)
        results.append(cmdstats(q))
        q.close()
    a, b = results
    R.check('INFO commandstats/errorstats: same counts as redis', a == b,
            'herald %r\n  redis %r' % (sorted(a.items()), sorted(b.items())))
    R.check('INFO commandstats: counts what was expected',
            a.get('cmdstat_get') == 'calls=1,rejected_calls=2,failed_calls=0' and
            a.get('cmdstat_incr') == 'calls=3,rejected_calls=0,failed_calls=2' and
            a.get('cmdstat_exec') == 'calls=2,rejected_calls=0,failed_calls=1' and
            a.get('cmdstat_client|id') == 'calls=1,rejected_calls=0,failed_calls=0', repr(a))
    # usec is a time: present, and usec_per_call = usec / calls
    c = Conn(h.port)
    line = info_dict(c, 'commandstats')['cmdstat_set']
    f = dict(x.split('=') for x in line.split(','))
    R.check('INFO commandstats: usec and usec_per_call',
            int(f['usec']) >= 0 and abs(float(f['usec_per_call']) -
                                        int(f['usec']) / int(f['calls'])) < 0.01, line)
    c.raw('CONFIG', 'RESETSTAT')
    d = cmdstats(c)
    R.check('CONFIG RESETSTAT clears commandstats and errorstats',
            not any(k.startswith('errorstat_') for k in d) and
            set(d) <= {'cmdstat_config|resetstat'}, repr(d))
    c.close()


MONITOR_LINE = re.compile(rb'^\+(\d+)\.(\d{6}) \[(\d+) ([^\]]+)\] (.*)$')


def monitor_session(port):
    """Runs one script with a MONITOR connection watching; returns (the
    monitor's bytes, the watched client's address)."""
    m, c = Conn(port), Conn(port)
    out = [m.raw('MONITOR')]
    addr = parse(c.raw('CLIENT', 'INFO'))[0].split(b' ')[1][len(b'addr='):]
    for args in (('SET', 'k', 'a b\n\x01"q\\'), ('GET', 'k'), ('CONFIG', 'GET', 'port'),
                 ('PING',), ('GET',), ('NOSUCH', 'x'), ('MULTI',), ('INCR', 'c'), ('EXEC',),
                 ('SELECT', '3'), ('SET', 'z', '1'), ('CLIENT', 'SETNAME', 'foo'),
                 ('HELLO', '3', 'AUTH', 'default', 'secret'), ('HELLO', '2'),
                 ('SUBSCRIBE', 'ch'), ('PING',)):
        c.raw(*args)
    # the monitor itself: no keyspace, PUBLISH refused, a second MONITOR ignored, RESET ends it
    for args in (('PING',), ('GET', 'k'), ('PUBLISH', 'x', 'y'), ('MONITOR',), ('ECHO', 'e'),
                 ('RESET',), ('GET', 'nokey')):
        m.send(*args)
    m.sock.settimeout(1.0)
    data = b''
    deadline = time.time() + 5
    while not data.endswith(b'$-1\r\n') and time.time() < deadline:
        try:
            chunk = m.sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    out.append(m.buf + data)
    m.close()
    c.close()
    return b''.join(out), addr


def test_monitor(R, h, r):
    (a, ha), (b, ra) = monitor_session(h.port), monitor_session(r.port)

    def norm(data, addr):
        lines = []
        for line in data.split(b'\r\n'):
            mm = MONITOR_LINE.match(line)
            if mm:
                who = b'C' if mm.group(4) == addr else b'M'
                line = b'+T [%s %s] %s' % (mm.group(3), who, mm.group(5))
            lines.append(line)
        return lines
    na, nb = norm(a, ha), norm(b, ra)
    R.check('MONITOR: same stream as redis (times and addresses normalised)', na == nb,
            '\n  herald %r\n  redis  %r' % (na, nb))
    first = next((x for x in a.split(b'\r\n') if MONITOR_LINE.match(x)), b'')
    mm = MONITOR_LINE.match(first)
    R.check('MONITOR: a line carries the wall-clock time and the client address',
            mm is not None and abs(int(mm.group(1)) - time.time()) < 60 and mm.group(4) == ha,
            repr(first))


def main():
    R = Results()
    have_redis = shutil.which(redis_binary()) or os.path.exists(redis_binary())
    with Server('herald') as h:
        hpid = h.proc.pid
        if have_redis:
            with Server('redis') as r:
                for proto in (2, 3):
                    test_command_info(R, h, r, proto)
                test_command_misc(R, h, r)
                test_info_format(R, h, r, hpid)
                test_commandstats(R, h, r)
                test_monitor(R, h, r)
        else:
            R.skip('comparisons with redis', 'no redis-server found')
        test_info_counters(R, h)
    print('%d passed, %d failed' % (R.passed, R.failed))
    return 1 if R.failed else 0


if __name__ == '__main__':
    sys.exit(main())
