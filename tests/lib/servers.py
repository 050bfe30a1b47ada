"""Start herald-server or redis-server on a free loopback port for a test.

    from servers import Server
    with Server('herald') as s:      # or Server('redis')
        sock = s.connect()           # raw socket
        ... s.port ...

herald-server comes from $HERALD_SERVER (set by ctest); redis-server from
$REDIS_SERVER or PATH. Every server is started with loopback-only binding and
stopped (SIGTERM, then SIGKILL) when the block exits.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time


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
