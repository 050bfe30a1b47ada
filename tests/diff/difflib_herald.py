"""Differential test harness: herald-server against a real redis-server.

The same scripted byte streams are sent to both servers and the replies are cut
into RESP frames and compared, per connection and per step, byte for byte
unless the step declares a normalisation. Both servers are started fresh for
every case (tests/lib/servers.py), on 127.0.0.1 only, and the two transcripts
of a case are recorded concurrently and compared afterwards.

CASE FILE FORMAT (tests/diff/cases/*.diff)
==========================================
Line oriented, UTF-8. Blank lines and lines whose first non-blank character is
'#' are comments (there are no trailing comments: a payload may contain '#').

  === <case name>
      Starts a case. Every case runs on a fresh pair of servers with fresh
      connections. A file holds one or more cases.

  <C>[ raw| inline][/<n>]: <payload>
      A send step on connection <C> (a name such as A, B, sub1; connections
      are opened on first use, and reopened on use after `close`).
        <C>: <args>        a command, split like redis-cli / Redis's own
                           sdssplitargs ("..." with \\n \\r \\t \\b \\a \\\\ \\" \\xHH
                           escapes, '...' with \\' only) and sent as a RESP
                           multibulk array. `A: PUBLISH ch "a\\x00b\\r\\nc"`
                           sends a 3-element array whose third bulk holds a NUL
                           and a CRLF.
        <C> inline: <text> the text verbatim (no escape processing), plus CRLF:
                           an inline command as telnet would send it.
        <C> raw: <bytes>   exactly these bytes after escape processing
                           (\\r \\n \\t \\0 \\\\ \\xHH); nothing is appended.
                           `A raw: *1\\r\\n$4\\r\\nPING\\r\\n`
      After sending, the harness reads from <C> until <n> reply frames have
      arrived (default 1), or until the connection was quiet for the quiet
      time (default 250 ms; only reached when a server sends too little), or
      until the server closed the connection. /0 sends without reading.
      Everything is one write, so several commands in one raw/inline payload
      form one pipelined packet.

  read <C> [<n>] [quiet=<ms>]
      Read from <C> until <n> frames (default 1) or quiet for <ms> (default
      250; for n = 0 the default is 120, i.e. "expect nothing": the step
      listens for the quiet time and whatever arrives is its reply).
  read <C> closed [quiet=<ms>]
      Read until the server closes the connection (or quiet for <ms>,
      default 1000): the frames before the close are compared and so is
      whether the close happened.
  close <C>          the client closes its side.
  sleep <ms>         pause (at most 2000), e.g. to let a server notice a close.

  Variables, expanded in payloads and in expected bytes: ${C.addr} (the
  "127.0.0.1:port" of connection C as the server sees it), ${server.addr},
  ${server.port}, ${<var>} saved by `save`, and ${repeat:<count>:<text>}.

STEP OPTIONS (lines directly after a send or read step, apply to that step)
  save <var>            store the first reply frame (integer or bulk payload)
                        as ${<var>}, separately for each server (ids differ).
  expect-unordered      the elements of each aggregate reply frame form a
                        multiset (RESP3 maps: a multiset of key/value pairs).
  expect-unordered pairs    same for a flat RESP2 array of key/value pairs.
  expect-unordered frames   the frames read by this step form a multiset.
  expect-unordered deep every aggregate at any depth is a multiset, e.g. the
                        key list inside a SCAN reply (cursor 0 on both).
  expect-unordered channels for the replies of a bare UNSUBSCRIBE /
                        PUNSUBSCRIBE / SUNSUBSCRIBE with several subscriptions
                        (hash order): element 1 (the channel) of the frames
                        is a multiset, the rest (the counts) stays in order.
  norm client-id        integer replies are client ids: compared by their
                        first-seen order within the case (per server).
  norm hello            HELLO map: server and version values only need to be
                        strings; id is a client id (first-seen order).
  norm client-list      CLIENT LIST / CLIENT INFO text: see NORMALISATIONS.
  norm time             TIME: two bulk strings of digits, seconds near now.
  norm int              any integer (shape only), e.g. COMMAND COUNT.
  norm int-range <lo> <hi>
                        every integer in the step's frames (nested ones too)
                        must lie in [lo, hi] on both servers; the frames are
                        otherwise compared exactly. For timing-dependent
                        values: PTTL, TTL, OBJECT IDLETIME.
  norm command-info [herald-extra=a,b]   COMMAND INFO per command entry.
  norm command-docs     COMMAND DOCS per command entry.
  norm help             a HELP reply: same number of lines, same first line
                        and "HELP" entry, every line a simple string, the
                        last line "    Print this help." (7.2) or "    Prints
                        this help." (7.0). The wording of the other lines is
                        each server's own: herald writes its help texts itself
                        rather than copying Redis's.
  expect-info: <tokens> INFO: both replies are checked against the tokens
                        instead of against each other: `name=value` (exact),
                        `name~regex` (full match), `name` (present),
                        `!name` (absent), `#Section` (header present),
                        `sections-exact` (both list the same section headers);
                        ${vars} are expanded, e.g. tcp_port=${server.port}.
  expect-herald: <bytes>
                        herald targets Redis 7.2, the reference is 7.0: where
                        7.2 answers differently, herald's frames of this step
                        must be exactly <bytes> (escape processing as for raw)
                        and the reference reply is only shown. Each use has a
                        comment in the case file saying why.
  expect-herald-fields[ <C>]: k=v ...
                        with `norm client-list`: fields Redis 7.2 adds after
                        resp= (lib-name, lib-ver) that herald must send with
                        these values, on the line of connection <C> (or on
                        every line). Ignored where the reference has them too
                        (then they are compared like the other fields).

  When herald-server is itself a redis-server (self-check mode, the harness
  checks the binary name), expect-herald* options are ignored and every step
  is compared with the reference.

NORMALISATIONS (only where a step asks for them)
  - client ids: first-seen order per case (CLIENT ID, HELLO id, CLIENT LIST id=)
  - CLIENT LIST / INFO: reply type (bulk or verbatim) and line structure are
    compared; per line the field names and their order, and the values of
    name db sub psub ssub multi flags cmd resp lib-name lib-ver; id by
    first-seen order; addr mapped to the connection name; laddr to <server>;
    all other values (fd age idle qbuf qbuf-free argv-mem multi-mem rbs rbp
    obl oll omem tot-mem events user redir ...) masked.
  - HELLO: server/version values masked (must be strings), id as above.
  - INFO: only the requested fields (expect-info).
  - TIME: shape only. COMMAND COUNT: shape only (norm int).
  - PTTL and the like: integers only checked against a range (norm int-range).
  - COMMAND INFO: per command entry present in both replies: name, arity,
    first/last key, step exact; flags, ACL categories and tips as sets; key
    specs exact; subcommands compared recursively for those both servers
    list (herald may lack subcommands it does not implement; extra ones only
    when listed in herald-extra=).
  - COMMAND DOCS: per command: since and group exact, summary and complexity
    non-empty strings (herald's documentation is its own text: summaries,
    and no argument trees or history notes, which are Redis's prose);
    subcommands as for COMMAND INFO.
  - hash-ordered replies: expect-unordered, declared per step.

Whatever a step did not read is not lost: it is compared by the next read on
that connection, and after the last step every connection is drained and the
leftovers are compared too (an extra reply from either server fails).

RUNNING
  tests/diff/t_differential [-k name-part] [-j jobs] [--dump] [--list]
  HERALD_SERVER=/usr/bin/redis-server tests/diff/t_differential   (self-check)
  HERALD_DIFF_TARGET=7.2 applies the expect-herald* options even to a
  redis-server (to see them fail against 7.0). --dump prints both transcripts
  of every case (for writing cases). Every read is bounded (quiet time, 5 s
  cap), the whole run by a budget (--budget, 90 s); servers are stopped at
  the end of each case, and on SIGTERM/SIGINT/SIGHUP.
"""
import concurrent.futures
import os
import re
import select
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'lib'))
import servers  # noqa: E402

DEFAULT_QUIET_MS = 250
EXPECT_NOTHING_QUIET_MS = 120
CLOSED_QUIET_MS = 1000
READ_HARD_CAP_S = 5.0
MAX_SLEEP_MS = 2000


class CaseError(Exception):
    pass


# --------------------------------------------------------------------------
# escapes, variables, argument splitting
# --------------------------------------------------------------------------

def unescape(text):
    """\\r \\n \\t \\0 \\\\ \\" \\xHH -> bytes (text is str; other chars as UTF-8)."""
    out = bytearray()
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == '\\' and i + 1 < n:
            d = text[i + 1]
            if d == 'x' and i + 3 < n + 0 and re.match(r'[0-9a-fA-F]{2}', text[i + 2:i + 4]):
                out.append(int(text[i + 2:i + 4], 16))
                i += 4
                continue
            simple = {'r': 13, 'n': 10, 't': 9, '0': 0, '\\': 92, '"': 34, "'": 39}
            if d in simple:
                out.append(simple[d])
                i += 2
                continue
            raise CaseError('bad escape \\%s' % d)
        out += c.encode('utf-8')
        i += 1
    return bytes(out)


_HEX = b'0123456789abcdefABCDEF'


def split_args(line):
    """Redis's sdssplitargs on bytes. Returns a list of bytes, or None when
    the quotes are unbalanced."""
    args = []
    p = 0
    n = len(line)
    while True:
        while p < n and line[p] in b' \t\n\r\v\f':
            p += 1
        if p >= n:
            return args
        inq = insq = done = False
        cur = bytearray()
        while not done:
            c = line[p] if p < n else None
            if inq:
                if c is None:
                    return None
                if (c == 0x5c and p + 3 < n and line[p + 1] == ord('x') and
                        line[p + 2] in _HEX and line[p + 3] in _HEX):
                    cur.append(int(line[p + 2:p + 4], 16))
                    p += 3
                elif c == 0x5c and p + 1 < n:
                    p += 1
                    e = line[p]
                    cur.append({ord('n'): 10, ord('r'): 13, ord('t'): 9,
                                ord('b'): 8, ord('a'): 7}.get(e, e))
                elif c == ord('"'):
                    if p + 1 < n and line[p + 1] not in b' \t\n\r\v\f':
                        return None
                    done = True
                else:
                    cur.append(c)
            elif insq:
                if c is None:
                    return None
                if c == 0x5c and p + 1 < n and line[p + 1] == ord("'"):
                    p += 1
                    cur.append(ord("'"))
                elif c == ord("'"):
                    if p + 1 < n and line[p + 1] not in b' \t\n\r\v\f':
                        return None
                    done = True
                else:
                    cur.append(c)
            else:
                if c is None or c in b' \n\r\t\0':
                    done = True
                elif c == ord('"'):
                    inq = True
                elif c == ord("'"):
                    insq = True
                else:
                    cur.append(c)
            if p < n:
                p += 1
        args.append(bytes(cur))


def encode_command(args):
    out = [b'*%d\r\n' % len(args)]
    for a in args:
        out.append(b'$%d\r\n%s\r\n' % (len(a), a))
    return b''.join(out)


_VAR = re.compile(r'\$\{([^}]*)\}')


def expand(text, variables):
    def sub(m):
        name = m.group(1)
        if name.startswith('repeat:'):
            _, count, chunk = name.split(':', 2)
            return chunk * int(count)
        if name not in variables:
            raise CaseError('undefined variable ${%s}' % name)
        return variables[name]
    return _VAR.sub(sub, text)


# --------------------------------------------------------------------------
# RESP frame splitter / parser
# --------------------------------------------------------------------------

class Malformed(Exception):
    pass


class Node:
    __slots__ = ('t', 'raw', 'val', 'kids')

    def __init__(self, t, raw, val=None, kids=None):
        self.t = t          # type byte as a 1-char str: '+', '$', '*', '%', ...
        self.raw = raw      # the exact bytes of this value
        self.val = val      # scalars: payload bytes; aggregates: declared count
        self.kids = kids    # aggregates: child Nodes (maps: k, v, k, v ...)

    def text(self):
        return self.val.decode('utf-8', 'replace') if isinstance(self.val, bytes) else str(self.val)


_LINE_TYPES = '+-:_,#('
_BULK_TYPES = '$!='
_AGG_TYPES = '*~>'
_MAP_TYPES = '%|'


def parse_value(buf, pos, depth=0):
    """Returns (Node, end) for the value at buf[pos:], or None if incomplete.
    Raises Malformed on a protocol violation."""
    if depth > 64:
        raise Malformed('nesting too deep')
    if pos >= len(buf):
        return None
    t = chr(buf[pos])
    le = buf.find(b'\r\n', pos)
    if le < 0:
        if len(buf) - pos > 1 << 20:
            raise Malformed('no CRLF')
        return None
    line = bytes(buf[pos + 1:le])
    if t in _LINE_TYPES:
        return Node(t, bytes(buf[pos:le + 2]), line), le + 2
    if t in _BULK_TYPES:
        try:
            n = int(line)
        except ValueError:
            raise Malformed('bad bulk length %r' % line)
        if n < 0:
            if n != -1 or t != '$':
                raise Malformed('bad bulk length %d' % n)
            return Node(t, bytes(buf[pos:le + 2]), None), le + 2
        end = le + 2 + n + 2
        if len(buf) < end:
            return None
        if buf[end - 2:end] != b'\r\n':
            raise Malformed('bulk not terminated by CRLF')
        return Node(t, bytes(buf[pos:end]), bytes(buf[le + 2:le + 2 + n])), end
    if t in _AGG_TYPES or t in _MAP_TYPES:
        try:
            n = int(line)
        except ValueError:
            raise Malformed('bad aggregate length %r' % line)
        if n < 0:
            if n != -1 or t != '*':
                raise Malformed('bad aggregate length %d' % n)
            return Node(t, bytes(buf[pos:le + 2]), None, None), le + 2
        count = n * 2 if t in _MAP_TYPES else n
        kids = []
        p = le + 2
        for _ in range(count):
            r = parse_value(buf, p, depth + 1)
            if r is None:
                return None
            kids.append(r[0])
            p = r[1]
        if t == '|':  # attribute: belongs to the value that follows
            r = parse_value(buf, p, depth + 1)
            if r is None:
                return None
            kids.append(r[0])
            p = r[1]
        return Node(t, bytes(buf[pos:p]), n, kids), p
    raise Malformed('unknown type byte %r' % t)


def split_frames(buf):
    """Cuts complete frames off the front of bytearray buf (in place).
    Returns a list of Nodes; a malformed tail becomes one Node of type '?'."""
    frames = []
    while buf:
        try:
            r = parse_value(buf, 0)
        except Malformed as e:
            frames.append(Node('?', bytes(buf), ('MALFORMED: %s' % e).encode()))
            del buf[:]
            break
        if r is None:
            break
        frames.append(r[0])
        del buf[:r[1]]
    return frames


def show(raw, limit=400):
    s = repr(raw)
    return s if len(s) <= limit else s[:limit] + '...(%d bytes)' % len(raw)


# --------------------------------------------------------------------------
# case files
# --------------------------------------------------------------------------

class Step:
    def __init__(self, lineno, text, kind, conn=None, **kw):
        self.lineno = lineno
        self.text = text
        self.kind = kind            # send | read | close | sleep
        self.conn = conn
        self.sub = kw.get('sub')    # send: cmd | raw | inline
        self.payload = kw.get('payload')
        self.n = kw.get('n', 1)
        self.quiet = kw.get('quiet')
        self.until_closed = kw.get('until_closed', False)
        self.ms = kw.get('ms', 0)
        self.opts = []              # (name, arg)

    def opt(self, name):
        for k, v in self.opts:
            if k == name:
                return v
        return None

    def opts_named(self, name):
        return [v for k, v in self.opts if k == name]


class Case:
    def __init__(self, name, path, lineno):
        self.name = name
        self.path = path
        self.lineno = lineno
        self.steps = []


_SEND = re.compile(r'^([A-Za-z][A-Za-z0-9_]*)(?: (raw|inline))?(?:/(\d+))?:(?: (.*))?$')
_OPTION_NAMES = ('save', 'expect-unordered', 'norm', 'expect-info:', 'expect-herald:',
                 'expect-herald-fields')
_NORMS = ('client-id', 'hello', 'client-list', 'time', 'int', 'int-range', 'command-info',
          'command-docs', 'help')


def parse_case_file(path):
    cases = []
    case = None
    with open(path, encoding='utf-8') as f:
        lines = f.read().split('\n')
    for lineno, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or stripped.startswith('#'):
            continue
        where = '%s:%d' % (os.path.basename(path), lineno)
        if stripped.startswith('==='):
            case = Case(stripped[3:].strip(), path, lineno)
            if not case.name:
                raise CaseError('%s: case without a name' % where)
            cases.append(case)
            continue
        if case is None:
            raise CaseError('%s: step before the first "=== name" line' % where)
        line = line.rstrip('\r')
        word = stripped.split(' ', 1)[0]
        rest = stripped[len(word):].strip()
        if word in _OPTION_NAMES or word.startswith('expect-herald-fields'):
            if not case.steps or case.steps[-1].kind not in ('send', 'read'):
                raise CaseError('%s: option %s without a send/read step' % (where, word))
            step = case.steps[-1]
            if word == 'norm':
                parts = rest.split()
                if not parts or parts[0] not in _NORMS:
                    raise CaseError('%s: unknown normalisation %r' % (where, rest))
                if parts[0] == 'int-range' and (
                        len(parts) != 3 or not all(re.match(r'^-?\d+$', x) for x in parts[1:])
                        or int(parts[1]) > int(parts[2])):
                    raise CaseError('%s: norm int-range <lo> <hi>' % where)
                step.opts.append(('norm', parts))
            elif word == 'expect-unordered':
                if rest not in ('', 'pairs', 'frames', 'channels', 'deep'):
                    raise CaseError('%s: expect-unordered [pairs|frames|channels|deep]' % where)
                step.opts.append(('unordered', rest or 'elements'))
            elif word == 'save':
                if not re.match(r'^[A-Za-z][\w.]*$', rest):
                    raise CaseError('%s: save <var>' % where)
                step.opts.append(('save', rest))
            elif word == 'expect-info:':
                step.opts.append(('info', rest.split()))
            elif word == 'expect-herald:':
                # keep the raw remainder (after "expect-herald: ") untouched
                step.opts.append(('herald', line.split('expect-herald:', 1)[1][1:]))
            else:
                m = re.match(r'^expect-herald-fields(?: ([A-Za-z]\w*))?:\s*(.*)$', stripped)
                if not m:
                    raise CaseError('%s: expect-herald-fields[ <conn>]: k=v ...' % where)
                fields = []
                for tok in m.group(2).split():
                    k, _, v = tok.partition('=')
                    fields.append((k, v))
                step.opts.append(('herald-fields', (m.group(1), fields)))
            continue
        if word == 'read':
            parts = rest.split()
            if not parts:
                raise CaseError('%s: read <conn> [n|closed] [quiet=ms]' % where)
            st = Step(lineno, stripped, 'read', parts[0])
            for p in parts[1:]:
                if p == 'closed':
                    st.until_closed = True
                elif p.isdigit():
                    st.n = int(p)
                elif p.startswith('quiet=') and p[6:].isdigit():
                    st.quiet = int(p[6:])
                else:
                    raise CaseError('%s: bad read argument %r' % (where, p))
            case.steps.append(st)
            continue
        if word == 'close':
            case.steps.append(Step(lineno, stripped, 'close', rest))
            continue
        if word == 'sleep':
            if not rest.isdigit() or int(rest) > MAX_SLEEP_MS:
                raise CaseError('%s: sleep <ms> (at most %d)' % (where, MAX_SLEEP_MS))
            case.steps.append(Step(lineno, stripped, 'sleep', ms=int(rest)))
            continue
        m = _SEND.match(line.lstrip())
        if not m:
            raise CaseError('%s: cannot parse %r' % (where, stripped))
        conn, sub, n, payload = m.group(1), m.group(2) or 'cmd', m.group(3), m.group(4) or ''
        case.steps.append(Step(lineno, stripped, 'send', conn, sub=sub, payload=payload,
                               n=int(n) if n is not None else 1))
    for c in cases:
        for st in c.steps:
            if st.kind == 'send' and st.sub == 'cmd' and '${' not in st.payload:
                if split_args(st.payload.encode()) is None:
                    raise CaseError('%s:%d: unbalanced quotes in command' %
                                    (os.path.basename(path), st.lineno))
    return cases


def load_cases(directory):
    cases = []
    for name in sorted(os.listdir(directory)):
        if name.endswith('.diff'):
            cases.extend(parse_case_file(os.path.join(directory, name)))
    seen = set()
    for c in cases:
        if c.name in seen:
            raise CaseError('duplicate case name %r' % c.name)
        seen.add(c.name)
    return cases


# --------------------------------------------------------------------------
# running a case against one server
# --------------------------------------------------------------------------

class Result:
    def __init__(self, frames=(), closed=False, sent=b'', error=None):
        self.frames = list(frames)
        self.closed = closed
        self.sent = sent
        self.error = error


class Conn:
    def __init__(self, name, port):
        self.name = name
        self.sock = socket.create_connection(('127.0.0.1', port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        host, p = self.sock.getsockname()[:2]
        self.addr = '%s:%d' % (host, p)
        self.buf = bytearray()
        self.pending = []       # frames cut but not yet consumed by a step
        self.eof = False

    def send(self, data):
        view = memoryview(data)
        deadline = time.monotonic() + READ_HARD_CAP_S
        while view:
            try:
                k = self.sock.send(view)
                view = view[k:]
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    return 'send timed out'
                # keep draining what the server sends meanwhile
                r, w, _ = select.select([self.sock], [self.sock], [], min(left, 0.05))
                if r:
                    self._recv_once()
            except OSError as e:
                self.eof = True
                return 'send failed: %s' % e.__class__.__name__
        return None

    def _recv_once(self):
        try:
            data = self.sock.recv(1 << 16)
        except BlockingIOError:
            return True
        except OSError:
            self.eof = True
            return False
        if not data:
            self.eof = True
            return False
        self.buf += data
        self.pending.extend(split_frames(self.buf))
        return True

    def read(self, n, quiet_ms, until_closed=False):
        """Frames until n are there (or EOF / quiet for quiet_ms). n = 0
        ("expect nothing") listens for the quiet time and returns whatever
        arrived, so an unexpected frame is charged to this step."""
        hard = time.monotonic() + READ_HARD_CAP_S
        last = time.monotonic()
        if n == 0:
            until_closed = False
            n = 1 << 30
        while True:
            if not until_closed and len(self.pending) >= n:
                break
            if self.eof:
                break
            now = time.monotonic()
            wait = min(last + quiet_ms / 1000.0, hard) - now
            if wait <= 0:
                break
            r, _, _ = select.select([self.sock], [], [], wait)
            if r:
                self._recv_once()
                last = time.monotonic()
        if until_closed:
            frames, self.pending = self.pending, []
        else:
            frames, self.pending = self.pending[:n], self.pending[n:]
        # a close right behind the frames counts only when there were fewer
        # frames than asked for, or when the step asked for the close
        closed = self.eof and (until_closed or not self.pending)
        if not until_closed and len(frames) >= n:
            closed = False
        return frames, closed

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Run:
    """The transcript of one case on one server."""

    def __init__(self, server_port, label):
        self.port = server_port
        self.label = label
        self.conns = {}
        self.vars = {'server.port': str(server_port), 'server.addr': '127.0.0.1:%d' % server_port}
        self.addr2conn = {}
        self.results = []

    def conn(self, name):
        c = self.conns.get(name)
        if c is None:
            c = Conn(name, self.port)
            self.conns[name] = c
            self.vars[name + '.addr'] = c.addr
            self.addr2conn[c.addr] = name
        return c

    def execute(self, case, deadline):
        for st in case.steps:
            if time.monotonic() > deadline:
                self.results.append(Result(error='time budget exhausted'))
                continue
            try:
                self.results.append(self.step(st))
            except CaseError as e:
                self.results.append(Result(error=str(e)))
            except OSError as e:
                self.results.append(Result(error='%s: %s' % (e.__class__.__name__, e)))
        # final drain: anything a server sent beyond what the steps read
        drain = {}
        for name, c in sorted(self.conns.items()):
            if c.sock.fileno() >= 0:
                frames, closed = c.read(1 << 30, 60)
                drain[name] = [f.raw for f in frames]
        for c in self.conns.values():
            c.close()
        return drain

    def step(self, st):
        if st.kind == 'sleep':
            time.sleep(st.ms / 1000.0)
            return Result()
        if st.kind == 'close':
            c = self.conns.pop(st.conn, None)
            if c:
                c.close()
            return Result()
        c = self.conn(st.conn)
        if st.kind == 'read':
            if st.until_closed:
                quiet = st.quiet if st.quiet is not None else CLOSED_QUIET_MS
            else:
                quiet = st.quiet if st.quiet is not None else (
                    EXPECT_NOTHING_QUIET_MS if st.n == 0 else DEFAULT_QUIET_MS)
            frames, closed = c.read(st.n, quiet, st.until_closed)
            res = Result(frames, closed)
        else:
            text = expand(st.payload, self.vars)
            if st.sub == 'cmd':
                args = split_args(text.encode('utf-8'))
                if args is None:
                    raise CaseError('unbalanced quotes after expansion')
                data = encode_command(args)
            elif st.sub == 'inline':
                data = text.encode('utf-8') + b'\r\n'
            else:
                data = unescape(text)
            err = c.send(data)
            if st.n > 0:
                frames, closed = c.read(st.n, st.quiet or DEFAULT_QUIET_MS)
            else:
                frames, closed = [], False
            res = Result(frames, closed or (err is not None), sent=data)
        var = st.opt('save')
        if var:
            if res.frames and res.frames[0].t in ':$+':
                self.vars[var] = res.frames[0].text()
            else:
                self.vars[var] = '<unsaved>'
        return res


# --------------------------------------------------------------------------
# comparison
# --------------------------------------------------------------------------

class Ctx:
    """Per-server state used while normalising one case's transcript."""

    def __init__(self, run):
        self.run = run
        self.ids = {}

    def map_id(self, value):
        key = value if isinstance(value, bytes) else str(value).encode()
        if key not in self.ids:
            self.ids[key] = len(self.ids) + 1
        return '<id#%d>' % self.ids[key]


def render(node):
    """A readable canonical form of a node: raw bytes as repr."""
    return repr(node.raw)


def _pairs(kids):
    return [(kids[i], kids[i + 1]) for i in range(0, len(kids) - 1, 2)]


def norm_unordered(node, mode):
    if node.kids is None:
        return render(node)
    head = '%s%s' % (node.t, node.val)
    if mode == 'pairs' or node.t in '%|':
        items = sorted(repr(k.raw) + ' => ' + repr(v.raw) for k, v in _pairs(node.kids))
    else:
        items = sorted(repr(k.raw) for k in node.kids)
    return head + ' {' + ', '.join(items) + '}'


def norm_unordered_deep(node):
    if node.kids is None:
        return render(node)
    items = sorted(norm_unordered_deep(k) for k in node.kids)
    return '%s%s {%s}' % (node.t, node.val, ', '.join(items))


def norm_hello(node, ctx):
    if node.t not in '%*' or not node.kids:
        return render(node)
    out = []
    for k, v in _pairs(node.kids):
        key = k.val
        if key in (b'server', b'version'):
            out.append((key, 'string' if v.t in '$+' and v.val else 'NOT A STRING ' + render(v)))
        elif key == b'id':
            out.append((key, ctx.map_id(v.val) if v.t == ':' else 'NOT AN INT ' + render(v)))
        else:
            out.append((key, render(v)))
    return '%s%s %r' % (node.t, node.val, out)


def norm_time(node):
    if node.t != '*' or not node.kids or len(node.kids) != 2:
        return 'bad TIME shape ' + render(node)
    a, b = node.kids
    if a.t != '$' or b.t != '$' or not a.val.isdigit() or not b.val.isdigit():
        return 'bad TIME shape ' + render(node)
    if abs(int(a.val) - time.time()) > 120 or int(b.val) >= 1000000:
        return 'TIME values off ' + render(node)
    return '*2 [<seconds>, <microseconds>]'


CLIENT_MATCH_FIELDS = ('name', 'db', 'sub', 'psub', 'ssub', 'multi', 'flags', 'cmd', 'resp',
                       'lib-name', 'lib-ver')
CLIENT_72_FIELDS = ('lib-name', 'lib-ver')


def parse_client_text(node):
    """(type, [[(k, v), ...] per line]) or an error string."""
    if node.t not in '$=' or node.val is None:
        return None, 'not a bulk/verbatim reply: ' + render(node)
    body = node.val
    if node.t == '=':
        if not body.startswith(b'txt:'):
            return None, 'verbatim without txt: ' + render(node)
        body = body[4:]
    text = body.decode('utf-8', 'replace')
    if not text.endswith('\n'):
        return None, 'client text does not end with a newline: ' + show(node.raw)
    lines = []
    for line in text[:-1].split('\n'):
        fields = []
        for tok in line.split(' '):
            k, eq, v = tok.partition('=')
            if not eq:
                return None, 'field without "=": %r' % tok
            fields.append((k, v))
        lines.append(fields)
    return node.t, lines


def norm_client_line(fields, ctx, drop=()):
    out = []
    for k, v in fields:
        if k in drop:
            continue
        if k == 'id':
            v = ctx.map_id(v.encode())
        elif k == 'addr':
            v = '<conn %s>' % ctx.run.addr2conn[v] if v in ctx.run.addr2conn else '<unknown addr>'
        elif k == 'laddr':
            v = '<server>' if v == ctx.run.vars['server.addr'] else '<other %s>' % v
        elif k not in CLIENT_MATCH_FIELDS:
            v = '*'
        out.append('%s=%s' % (k, v))
    return ' '.join(out)


def compare_client_list(step, ref, her, rctx, hctx, selfcheck):
    if len(ref.frames) != len(her.frames) or ref.closed != her.closed:
        return False, 'frame count/close differs'
    problems = []
    extra = [] if selfcheck else step.opts_named('herald-fields')
    for rf, hf in zip(ref.frames, her.frames):
        rt, rlines = parse_client_text(rf)
        ht, hlines = parse_client_text(hf)
        if rt is None or ht is None:
            if rf.raw != hf.raw:
                problems.append('reference: %s\n        herald:    %s' % (
                    rlines if rt is None else show(rf.raw), hlines if ht is None else show(hf.raw)))
            continue
        if rt != ht:
            problems.append('reply type %s vs %s' % (rt, ht))
        if len(rlines) != len(hlines):
            problems.append('%d lines vs %d lines' % (len(rlines), len(hlines)))
        for rl, hl in zip(rlines, hlines):
            rkeys = [k for k, _ in rl]
            ref_has_72 = all(k in rkeys for k in CLIENT_72_FIELDS)
            drop = ()
            if extra and not ref_has_72:
                # Redis 7.2 appends lib-name and lib-ver after resp=; the 7.0
                # reference lacks them: check them against the case file.
                addr = dict(hl).get('addr')
                cname = hctx.run.addr2conn.get(addr)
                want = None
                for conn, fields in extra:
                    if conn is None or conn == cname:
                        want = fields
                if want is None:
                    want = []
                hk = [k for k, _ in hl]
                tail = [(k, v) for k, v in hl[len(hk) - len(want):]] if want else []
                if tail != want:
                    problems.append('7.2 fields on line of %s: expected %s, herald has %s' % (
                        cname, ' '.join('%s=%s' % kv for kv in want),
                        ' '.join('%s=%s' % kv for kv in hl[-len(want):]) if want else '-'))
                drop = CLIENT_72_FIELDS
            rn = norm_client_line(rl, rctx)
            hn = norm_client_line(hl, hctx, drop)
            if rn != hn:
                problems.append('line differs:\n        reference: %s\n        herald:    %s' % (rn, hn))
    return not problems, '\n      '.join(problems)


def info_fields(node):
    body = node.val or b''
    if node.t == '=':
        body = body[4:] if body.startswith(b'txt:') else body
    fields = {}
    sections = []
    bad = []
    text = body.decode('utf-8', 'replace')
    if text and not text.endswith('\r\n'):
        bad.append('INFO text does not end with CRLF')
    for line in text.split('\r\n'):
        if not line:
            continue
        if line.startswith('# '):
            sections.append(line[2:])
        elif ':' in line:
            k, v = line.split(':', 1)
            fields[k] = v
        else:
            bad.append('bad INFO line %r' % line)
    return fields, sections, bad


def check_info(node, tokens, variables):
    problems = []
    if node.t not in '$=':
        return ['not a bulk/verbatim reply: ' + show(node.raw)], None
    fields, sections, bad = info_fields(node)
    problems += bad
    for tok in tokens:
        tok = expand(tok, variables)
        if tok == 'sections-exact':
            continue
        if tok.startswith('#'):
            if tok[1:] not in sections:
                problems.append('section %s missing' % tok[1:])
        elif tok.startswith('!'):
            if tok[1:] in fields:
                problems.append('%s present' % tok[1:])
        elif '~' in tok:
            k, rx = tok.split('~', 1)
            if k not in fields:
                problems.append('%s missing' % k)
            elif not re.fullmatch(rx, fields[k]):
                problems.append('%s:%s does not match %s' % (k, fields[k], rx))
        elif '=' in tok:
            k, v = tok.split('=', 1)
            if fields.get(k) != v:
                problems.append('%s:%s, expected %s' % (k, fields.get(k, '<missing>'), v))
        elif tok not in fields:
            problems.append('%s missing' % tok)
    return problems, sections


def compare_info(step, ref, her, rctx, hctx):
    tokens = step.opt('info')
    if len(ref.frames) != len(her.frames) or ref.closed != her.closed:
        return False, 'frame count/close differs'
    problems = []
    for rf, hf in zip(ref.frames, her.frames):
        if rf.t != hf.t:
            problems.append('reply type %s vs %s' % (rf.t, hf.t))
        rp, rs = check_info(rf, tokens, rctx.run.vars)
        hp, hs = check_info(hf, tokens, hctx.run.vars)
        problems += ['reference: ' + p for p in rp]
        problems += ['herald: ' + p for p in hp]
        if 'sections-exact' in tokens and rs != hs:
            problems.append('sections %s vs %s' % (rs, hs))
    return not problems, '\n      '.join(problems)


def _map_items(node):
    """RESP3 map or RESP2 flat array -> list of (key str, value node)."""
    if node.kids is None:
        return []
    return [(k.text(), v) for k, v in _pairs(node.kids)]


def _set_of(node):
    return sorted(k.text() for k in (node.kids or []) if k.kids is None)


def _info_entry(node):
    """COMMAND INFO entry -> dict (name, arity, flags, first, last, step, acl,
    tips, keyspecs, subcommands: {name: entry})."""
    k = node.kids or []
    if node.t != '*' or len(k) < 7:
        return None
    e = {'name': k[0].text(), 'arity': k[1].text(), 'flags': _set_of(k[2]),
         'first': k[3].text(), 'last': k[4].text(), 'step': k[5].text(), 'acl': _set_of(k[6])}
    e['tips'] = _set_of(k[7]) if len(k) > 7 else None
    e['keyspecs'] = [repr(x.raw) for x in (k[8].kids or [])] if len(k) > 8 else None
    subs = {}
    if len(k) > 9:
        for s in k[9].kids or []:
            se = _info_entry(s)
            if se:
                subs[se['name']] = se
    e['subs'] = subs
    e['len'] = len(k)
    return e


def _herald_extra(step):
    """Subcommands herald may list beyond the reference (norm ... herald-extra=a,b)."""
    extra = set()
    for a in step.opt('norm')[1:]:
        if a.startswith('herald-extra='):
            extra |= set(a.split('=', 1)[1].split(','))
    return extra


def _compare_entries(r, h, keys, extra, path, problems):
    """Compares two COMMAND INFO / DOCS entries by keys, then recursively the
    subcommands both list; herald may lack some, and list more only when
    they are in extra."""
    for key in keys:
        if r[key] != h[key]:
            problems.append('%s: %s %r vs %r' % (path, key, r[key], h[key]))
    for name, se in r['subs'].items():
        if name in h['subs']:
            _compare_entries(se, h['subs'][name], keys, extra, name, problems)
    for name in h['subs']:
        if name not in r['subs'] and name not in extra:
            problems.append('%s: herald has subcommand %s the reference does not have' %
                            (path, name))


_INFO_KEYS = ('name', 'arity', 'flags', 'first', 'last', 'step', 'acl', 'tips', 'keyspecs', 'len')
_DOCS_KEYS = ('since', 'group', 'summary', 'complexity')


def compare_command_info(step, ref, her, selfcheck):
    extra = _herald_extra(step)
    if len(ref.frames) != 1 or len(her.frames) != 1:
        return False, 'expected one frame each'
    rf, hf = ref.frames[0], her.frames[0]
    if rf.t != hf.t or rf.val != hf.val:
        return False, 'reply header %s%s vs %s%s' % (rf.t, rf.val, hf.t, hf.val)
    problems = []
    for i, (re_, he) in enumerate(zip(rf.kids or [], hf.kids or [])):
        if re_.kids is None or he.kids is None:
            if re_.raw != he.raw:
                problems.append('entry %d: %s vs %s' % (i, show(re_.raw, 80), show(he.raw, 80)))
            continue
        r, h = _info_entry(re_), _info_entry(he)
        if r is None or h is None:
            problems.append('entry %d: malformed' % i)
            continue
        _compare_entries(r, h, _INFO_KEYS, extra, r['name'], problems)
    return not problems, '\n      '.join(problems)


def _tokens(argnodes, out):
    for a in argnodes:
        items = dict(_map_items(a))
        if 'token' in items:
            out.append(items['token'].text().upper())
        if 'arguments' in items:
            _tokens(items['arguments'].kids or [], out)
    return out


def _docs_entry(node):
    items = dict(_map_items(node))
    e = {}
    for key in ('since', 'group'):
        e[key] = items[key].text() if key in items else None
    for key in ('summary', 'complexity'):
        e[key] = 'string' if key in items and items[key].t in '$+' and items[key].val else \
            ('missing' if key not in items else 'bad')
    e['tokens'] = sorted(_tokens(items['arguments'].kids or [], [])) if 'arguments' in items \
        else 'no arguments entry'
    e['history'] = [repr(h.raw) for h in items['history'].kids or []] if 'history' in items else []
    e['subs'] = {k: _docs_entry(v) for k, v in _map_items(items['subcommands'])} \
        if 'subcommands' in items else {}
    return e


def compare_command_docs(step, ref, her):
    extra = _herald_extra(step)
    if len(ref.frames) != 1 or len(her.frames) != 1:
        return False, 'expected one frame each'
    rf, hf = ref.frames[0], her.frames[0]
    if rf.t != hf.t:
        return False, 'reply type %s vs %s' % (rf.t, hf.t)
    rmap, hmap = dict(_map_items(rf)), dict(_map_items(hf))
    if sorted(rmap) != sorted(hmap):
        return False, 'documented commands %s vs %s' % (sorted(rmap), sorted(hmap))
    problems = []
    for name in rmap:
        if rmap[name].t != hmap[name].t:
            problems.append('%s: entry type %s vs %s' % (name, rmap[name].t, hmap[name].t))
            continue
        _compare_entries(_docs_entry(rmap[name]), _docs_entry(hmap[name]), _DOCS_KEYS, extra,
                         name, problems)
    return not problems, '\n      '.join(problems)


def norm_int_range(node, lo, hi):
    """Integers (at any depth) become an in-range marker or stay visible
    with the range they missed; everything else is compared exactly."""
    if node.t == ':':
        try:
            v = int(node.val)
        except ValueError:
            return 'bad integer ' + render(node)
        if lo <= v <= hi:
            return ':<int in [%d, %d]>' % (lo, hi)
        return ':%d (outside [%d, %d])' % (v, lo, hi)
    if node.kids is not None:
        return '%s%s [%s]' % (node.t, node.val,
                              ', '.join(norm_int_range(k, lo, hi) for k in node.kids))
    return render(node)


def norm_frames(step, res, ctx):
    norms = [o[0] for o in step.opts_named('norm')]
    int_range = [o for o in step.opts_named('norm') if o[0] == 'int-range']
    unordered = step.opt('unordered')
    out = []
    for f in res.frames:
        if f.t == '?':
            out.append('MALFORMED ' + show(f.raw))
            continue
        if 'client-id' in norms and f.t == ':':
            out.append(':' + ctx.map_id(f.val))
        elif 'hello' in norms:
            out.append(norm_hello(f, ctx))
        elif 'time' in norms:
            out.append(norm_time(f))
        elif 'int' in norms and f.t == ':':
            out.append(':<int>')
        elif int_range:
            out.append(norm_int_range(f, int(int_range[0][1]), int(int_range[0][2])))
        elif unordered in ('elements', 'pairs'):
            out.append(norm_unordered(f, unordered))
        elif unordered == 'deep':
            out.append(norm_unordered_deep(f))
        else:
            out.append(f.raw)
    if unordered == 'frames':
        out.sort(key=repr)
    elif unordered == 'channels':
        # (un)subscribe-all replies come in hash order: the channel names
        # (element 1) form a multiset, everything else (the running counts)
        # is compared in order
        names = []
        masked = []
        for f in res.frames:
            if f.kids and len(f.kids) >= 2:
                names.append(f.kids[1].raw)
                masked.append('%s%s [%r, <channel>, %s]' % (
                    f.t, f.val, f.kids[0].raw, ', '.join(repr(k.raw) for k in f.kids[2:])))
            else:
                masked.append(f.raw)
        out = masked + ['channels: %r' % sorted(names)]
    return out, res.closed


def compare_help(ref, her):
    """HELP replies: same shape and framing lines, each server's own words."""
    if len(ref.frames) != 1 or len(her.frames) != 1:
        return False, 'expected one frame each'
    rf, hf = ref.frames[0], her.frames[0]
    if rf.t != '*' or hf.t != '*':
        return False, 'reply types %s / %s, not arrays' % (rf.t, hf.t)
    rl = [k.text() for k in rf.kids or []]
    hl = [k.text() for k in hf.kids or []]
    if any(k.t != '+' for k in hf.kids or []):
        return False, 'herald help lines must be simple strings'
    ends = ('    Print this help.', '    Prints this help.')
    problems = []
    if len(rl) != len(hl):
        problems.append('%d lines vs %d' % (len(rl), len(hl)))
    if not hl or not rl or rl[0] != hl[0]:
        problems.append('first line %r vs %r' % (rl[:1], hl[:1]))
    if len(hl) < 2 or hl[-2] != 'HELP' or hl[-1] not in ends or rl[-1] not in ends:
        problems.append('help must end with HELP / Print this help: %r vs %r' % (rl[-2:], hl[-2:]))
    return not problems, '; '.join(problems)


def compare_step(step, ref, her, rctx, hctx, selfcheck):
    """Returns (ok, message)."""
    if ref.error or her.error:
        return False, 'harness error: reference=%s herald=%s' % (ref.error, her.error)
    expected = step.opt('herald')
    if expected is not None and not selfcheck:
        want = unescape(expand(expected, hctx.run.vars))
        got = b''.join(f.raw for f in her.frames)
        # keep the id numbering in step with the reference's
        if got == want and not her.closed:
            return True, ''
        return False, ('herald must send (Redis 7.2): %s\n      herald sent: %s%s\n'
                       '      (the 7.0 reference sent: %s)' % (
                           show(want), show(got), ' <closed>' if her.closed else '',
                           show(b''.join(f.raw for f in ref.frames))))
    norms = [o[0] for o in step.opts_named('norm')]
    if 'client-list' in norms:
        return compare_client_list(step, ref, her, rctx, hctx, selfcheck)
    if 'command-info' in norms:
        return compare_command_info(step, ref, her, selfcheck)
    if 'command-docs' in norms:
        return compare_command_docs(step, ref, her)
    if 'help' in norms:
        return compare_help(ref, her)
    if step.opt('info') is not None:
        return compare_info(step, ref, her, rctx, hctx)
    rn = norm_frames(step, ref, rctx)
    hn = norm_frames(step, her, hctx)
    if rn == hn:
        return True, ''
    return False, 'reference: %s%s\n      herald:    %s%s' % (
        fmt_frames(rn[0]), ' <closed>' if rn[1] else '',
        fmt_frames(hn[0]), ' <closed>' if hn[1] else '')


def fmt_frames(frames):
    if not frames:
        return '(nothing)'
    return ' '.join(show(f, 300) if isinstance(f, bytes) else f for f in frames)


# --------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------

def is_redis_binary(path):
    # Debian's redis-server is a symlink to redis-check-rdb: compare names
    # as given and the resolved files
    return (os.path.basename(path).startswith('redis-server') or
            os.path.realpath(path) == os.path.realpath(servers.redis_binary()))


_LIVE = set()          # servers started and not yet stopped
_LIVE_LOCK = threading.Lock()
_STARTING = [0]        # starts in flight (a Popen may still be coming)
_STOPPING = [False]    # set by a signal: no new servers


def _stop_all(signum=None, frame=None):
    """Stops every server this process started (also on SIGTERM/SIGINT/SIGHUP,
    e.g. a ctest timeout): waits for starts in flight, then exits when
    called as a signal handler."""
    with _LIVE_LOCK:
        _STOPPING[0] = True
    deadline = time.monotonic() + 15
    stopped = 0
    while True:
        with _LIVE_LOCK:
            live = list(_LIVE)
            _LIVE.clear()
            starting = _STARTING[0]
        for srv in live:
            try:
                srv.__exit__(None, None, None)
                stopped += 1
            except Exception as e:  # noqa: BLE001 - best effort while exiting
                print('stopping %s: %r' % (srv.kind, e))
        if (not live and not starting) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if signum is not None:
        print('interrupted by signal %d: %d servers stopped' % (signum, stopped))
        sys.stdout.flush()
        os._exit(2)


def stop_server(srv):
    with _LIVE_LOCK:
        _LIVE.discard(srv)
    srv.__exit__(None, None, None)


def start_server(kind, selfcheck):
    last = None
    for _ in range(3):
        with _LIVE_LOCK:
            if _STOPPING[0]:
                raise RuntimeError('interrupted')
            srv = servers.Server(kind)
            _LIVE.add(srv)
            _STARTING[0] += 1
        try:
            if kind == 'herald' and is_redis_binary(servers.herald_binary()):
                # a redis-server standing in for herald: same settings as
                # the reference (no RDB files, DEBUG allowed)
                srv.cmd += ['--save', '', '--appendonly', 'no', '--daemonize', 'no',
                            '--dir', srv.dir, '--enable-debug-command', 'yes']
            try:
                srv.start()
            except RuntimeError as e:
                last = e
                stop_server(srv)
                continue
            with _LIVE_LOCK:
                stopping = _STOPPING[0]
            if stopping:
                stop_server(srv)
                raise RuntimeError('interrupted')
            return srv
        finally:
            with _LIVE_LOCK:
                _STARTING[0] -= 1
    raise last


def run_case(case, selfcheck, deadline):
    srv = {}
    crashed = []
    try:
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            futs = {k: ex.submit(start_server, k, selfcheck) for k in ('redis', 'herald')}
            errors = []
            for k, f in futs.items():
                try:
                    srv[k] = f.result()
                except Exception as e:  # noqa: BLE001 - report any start failure
                    errors.append('%s: %s' % (k, e))
            if errors:
                return False, ['could not start servers: ' + '; '.join(errors)], None
            runs = {k: Run(srv[k].port, k) for k in srv}
            dfut = {k: ex.submit(runs[k].execute, case, deadline) for k in runs}
            drains = {k: dfut[k].result() for k in dfut}
            # a server that died during the case (crash, sanitizer report)
            for k, s in srv.items():
                rc = s.proc.poll()
                if rc is not None:
                    crashed.append('%s-server exited during the case (status %s); log tail:\n%s'
                                   % (k, rc, '\n'.join('      | ' + x for x in
                                                       s.read_log().splitlines()[-15:])))
    finally:
        for s in srv.values():
            try:
                stop_server(s)
            except AssertionError as e:  # a sanitizer report in herald's log
                crashed.append(str(e))
    rctx, hctx = Ctx(runs['redis']), Ctx(runs['herald'])
    failures = list(crashed)
    for i, st in enumerate(case.steps):
        if st.kind not in ('send', 'read'):
            continue
        ok, msg = compare_step(st, runs['redis'].results[i], runs['herald'].results[i],
                               rctx, hctx, selfcheck)
        if not ok:
            failures.append('line %d: %s\n      %s' % (st.lineno, st.text[:160], msg))
    for name in sorted(set(drains['redis']) | set(drains['herald'])):
        r, h = drains['redis'].get(name, []), drains['herald'].get(name, [])
        if r != h:
            failures.append('after the last step, unread replies on %s:\n      reference: %s\n'
                            '      herald:    %s' % (name, fmt_frames(r), fmt_frames(h)))
    return not failures, failures, runs


def dump_case(case, runs):
    """Prints the reference's transcript (for writing cases)."""
    for i, st in enumerate(case.steps):
        if st.kind not in ('send', 'read'):
            continue
        for k in ('redis', 'herald'):
            res = runs[k].results[i]
            print('    %-6s %-50s -> %s%s' % (k, st.text[:50], fmt_frames([f.raw for f in res.frames]),
                                            ' <closed>' if res.closed else ''))


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description='herald vs redis differential test')
    ap.add_argument('-k', dest='filter', help='only cases whose name contains this')
    ap.add_argument('-j', dest='jobs', type=int, default=6, help='cases run in parallel')
    ap.add_argument('--dump', action='store_true', help='print both transcripts')
    ap.add_argument('--list', action='store_true', help='list cases and steps')
    ap.add_argument('--budget', type=float, default=90.0, help='seconds for the whole run')
    opts = ap.parse_args(argv)

    cases = load_cases(os.path.join(HERE, 'cases'))
    if opts.filter:
        cases = [c for c in cases if opts.filter in c.name]
    nsteps = sum(1 for c in cases for s in c.steps if s.kind in ('send', 'read'))
    if opts.list:
        for c in cases:
            print('%s (%s, %d steps)' % (c.name, os.path.basename(c.path),
                                         sum(1 for s in c.steps if s.kind in ('send', 'read'))))
        print('%d cases, %d steps' % (len(cases), nsteps))
        return 0

    herald = servers.herald_binary()
    if not os.access(herald, os.X_OK):
        print('herald-server not found at %s (set HERALD_SERVER)' % herald)
        print('0 passed, %d failed' % len(cases))
        return 1
    # HERALD_DIFF_TARGET=7.2 applies the 7.2 expectations even to a
    # redis-server (to see that they are checked at all)
    selfcheck = is_redis_binary(herald) and os.environ.get('HERALD_DIFF_TARGET') != '7.2'
    print('# reference: %s; herald: %s%s' % (
        servers.redis_binary(), herald,
        ' (a redis-server: self-check mode, expect-herald ignored)' if selfcheck else ''))
    print('# %d cases, %d steps' % (len(cases), nsteps))

    import atexit
    import signal
    atexit.register(_stop_all)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _stop_all)

    start = time.monotonic()
    deadline = start + opts.budget
    passed = failed = 0
    lock = threading.Lock()

    def one(case):
        if time.monotonic() > deadline:
            return case, False, ['not run: time budget exhausted'], None
        try:
            ok, fails, runs = run_case(case, selfcheck, deadline)
        except Exception as e:  # noqa: BLE001 - a harness crash fails the case
            ok, fails, runs = False, ['harness exception: %r' % e], None
        return case, ok, fails, runs

    with concurrent.futures.ThreadPoolExecutor(max(1, opts.jobs)) as ex:
        for case, ok, fails, runs in ex.map(one, cases):
            with lock:
                if ok:
                    passed += 1
                    print('PASS %s' % case.name)
                else:
                    failed += 1
                    print('FAIL %s (%s:%d)' % (case.name, os.path.basename(case.path), case.lineno))
                    for f in fails[:12]:
                        print('    ' + f)
                    if len(fails) > 12:
                        print('    ... %d more' % (len(fails) - 12))
                if opts.dump and runs:
                    dump_case(case, runs)
                sys.stdout.flush()
    print('# %.1f s' % (time.monotonic() - start))
    print('%d passed, %d failed' % (passed, failed))
    return 0 if failed == 0 else 1
