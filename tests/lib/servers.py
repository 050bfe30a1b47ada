"""Start herald-server or redis-server on a free loopback port for a test.

    from servers import Server
    with Server('herald') as s:      # or Server('redis')
        sock = s.connect()           # raw socket
        ... s.port ...

A unittest module that shares one server among all its tests (t_redis_py.py,
t_redis_py_cache.py) uses ModuleServer, which also runs it in a private
working directory, cleans up on SIGTERM/SIGINT/SIGHUP and prints the summary:

    redis = require_redis_py('t_redis_py')
    MOD = ModuleServer('t_redis_py', 'redis-py ' + redis.__version__)
    setUpModule, tearDownModule = MOD.start, MOD.stop
    ... MOD.server.port, MOD.redis_client(timeout), next_message(), wait_until() ...
    if __name__ == '__main__': sys.exit(MOD.main())

herald-server comes from $HERALD_SERVER (set by ctest); redis-server from
$REDIS_SERVER or PATH. Every server is started with loopback-only binding and
stopped (SIGTERM, then SIGKILL) when the block exits.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def herald_binary():
    path = os.environ.get('HERALD_SERVER')
    if path:
        return os.path.abspath(path)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.path.join(root, 'build', 'herald-server')


def redis_binary():
    return os.environ.get('REDIS_SERVER') or shutil.which('redis-server') or '/usr/bin/redis-server'


class Server:
    def __init__(self, kind='herald', args=(), port=None):
        self.kind = kind
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix='herald-test-')
        self.logpath = os.path.join(self.dir, 'server.log')
        if kind == 'herald':
            cmd = [herald_binary(), '--port', str(self.port), '--bind', '127.0.0.1']
        elif kind == 'redis':
            cmd = [redis_binary(), '--port', str(self.port), '--bind', '127.0.0.1',
                   '--save', '', '--appendonly', 'no', '--daemonize', 'no',
                   '--dir', self.dir, '--enable-debug-command', 'yes']
        else:
            raise ValueError(kind)
        self.cmd = cmd + list(args)
        self.proc = None

    def start(self, timeout=10.0):
        self.log = open(self.logpath, 'wb')
        # Each server runs in its own temporary directory, so nothing it
        # writes (a redis-server stand-in's dump.rdb, say) lands in the tree.
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.dir)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('%s exited early (%s):\n%s' % (self.kind, self.proc.returncode,
                                                                   self.read_log()))
            try:
                with socket.create_connection(('127.0.0.1', self.port), timeout=1) as s:
                    # QUIT, then read until the server closes: it has freed
                    # this probe client by then, so tests that list clients
                    # (CLIENT LIST, INFO clients) never see it.
                    s.sendall(b'PING\r\nQUIT\r\n')
                    reply = b''
                    while True:
                        chunk = s.recv(64)
                        if not chunk:
                            break
                        reply += chunk
                    if reply.startswith(b'+PONG'):
                        return self
            except OSError:
                pass
            time.sleep(0.02)
        self.stop()
        raise RuntimeError('%s did not start on port %d' % (self.kind, self.port))

    def read_log(self):
        try:
            with open(self.logpath, 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except OSError:
            return ''

    def connect(self, timeout=5.0):
        s = socket.create_connection(('127.0.0.1', self.port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, 'log', None):
            self.log.close()
            self.log = None
        return self.proc.returncode if self.proc else None

    def kill_now(self):
        """From a signal handler: SIGKILL a running server and remove its
        temporary directory (no log checks, no waiting beyond the reap)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def sanitizer_report(self):
        """The sanitizer (ASan/UBSan/LSan) report in the server's log, or ''."""
        log = self.read_log()
        for marker in ('ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:'):
            i = log.find(marker)
            if i >= 0:
                return log[max(0, i - 200):i + 4000]
        return ''

    def __exit__(self, *exc):
        self.stop()
        report = self.sanitizer_report() if self.kind == 'herald' else ''
        shutil.rmtree(self.dir, ignore_errors=True)
        if report:
            raise AssertionError('herald-server sanitizer report:\n' + report)


def require_redis_py(name):
    """The redis module (Debian's python3-redis); if it is missing, says how to
    get it (as `name`) and exits 1."""
    try:
        import redis
    except ImportError:  # pragma: no cover
        sys.stderr.write('%s: the redis module is missing; install python3-redis '
                         '(scripts/bootstrap) and run with /usr/bin/python3\n' % name)
        sys.exit(1)
    return redis


def wait_until(pred, timeout=5.0, what='condition', interval=0.01):
    """Returns once pred() is true (polled `interval` seconds apart); raises
    AssertionError after `timeout` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(interval)
    raise AssertionError('timed out after %.1fs waiting for %s' % (timeout, what))


def next_message(p, timeout=5.0, ignore_subscribe_messages=False, poll=0.5):
    """The next message from redis-py PubSub p (or None after `timeout`
    seconds), asking get_message() for at most `poll` seconds at a time."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = p.get_message(ignore_subscribe_messages=ignore_subscribe_messages,
                          timeout=min(poll, max(0.0, deadline - time.time())))
        if m is not None:
            return m
    return None


class ModuleServer:
    """The one herald-server ($HERALD_SERVER) a whole unittest module shares;
    `client_desc` names the client library for the start line.

    start() runs it from a private temporary working directory (the server
    inherits it, so nothing it might write, such as a redis-server stand-in's
    dump.rdb on shutdown, lands in the tree) and prints
    '# NAME: CLIENT_DESC, server BINARY on 127.0.0.1:PORT' to stderr; stop()
    stops it and removes the directories. main() runs the module's tests with
    the signal cleanup installed and returns the exit status."""

    def __init__(self, name, client_desc):
        self.name = name
        self.client_desc = client_desc
        self.server = None
        self.workdir = None
        self.old_cwd = None

    def start(self):
        self.old_cwd = os.getcwd()
        self.workdir = tempfile.mkdtemp(prefix='herald-%s-' % self.name)
        os.chdir(self.workdir)
        self.server = Server('herald')
        self.server.start()
        sys.stderr.write('# %s: %s, server %s on 127.0.0.1:%d\n'
                         % (self.name, self.client_desc, self.server.cmd[0], self.server.port))
        return self.server

    def stop(self):
        if self.server is not None:
            self.server.__exit__(None, None, None)
        if self.old_cwd:
            os.chdir(self.old_cwd)
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def redis_client(self, timeout, **kw):
        """A redis-py client of the server; socket and connect timeouts default to `timeout`."""
        import redis
        kw.setdefault('socket_timeout', timeout)
        kw.setdefault('socket_connect_timeout', timeout)
        return redis.Redis(host='127.0.0.1', port=self.server.port, **kw)

    def _emergency_cleanup(self, signum, frame):
        """SIGTERM/SIGINT/SIGHUP (ctest timeout, ^C): kill the server, remove the
        temporary directories, exit at once."""
        if self.server is not None:
            self.server.kill_now()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        sys.stderr.write('%s: killed by signal %d, server stopped\n' % (self.name, signum))
        os._exit(128 + signum)

    def main(self):
        """run_unittests() with this module server's signal cleanup."""
        return run_unittests(self.name, self._emergency_cleanup)


def run_unittests(name, on_signal):
    """Installs on_signal for SIGTERM/SIGINT/SIGHUP, runs the tests of
    __main__ (verbose), prints '# NAME: N run, P passed, F failed, S skipped
    in Ts'; returns 0 if all passed, else 1."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    start = time.time()
    runner = unittest.TextTestRunner(verbosity=2)
    result = unittest.main(exit=False, testRunner=runner).result
    n = result.testsRun
    bad = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    print('# %s: %d run, %d passed, %d failed, %d skipped in %.1fs'
          % (name, n, n - bad - len(result.skipped), bad, len(result.skipped),
             time.time() - start))
    return 0 if result.wasSuccessful() else 1
