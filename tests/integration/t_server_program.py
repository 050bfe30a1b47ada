#!/usr/bin/env python3
"""herald-server as a program: command line, config file, unix socket,
logging, signals and connection limits (maxclients, timeout, output buffer
limits). Starts its own servers on free 127.0.0.1 ports."""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import warnings

warnings.simplefilter("ignore", ResourceWarning)  # sockets are left to the servers to close

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from servers import Server, free_port, herald_binary  # noqa: E402


def recv_until(sock, want, timeout=5.0):
    sock.settimeout(timeout)
    data = b''
    deadline = time.time() + timeout
    while want not in data and time.time() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def publish_and_drain(pub, reader, batch, replies_wanted):
    """Sends a batch of PUBLISHes and waits for their replies (one line
    each), reading `reader` (non-blocking) meanwhile so it never falls
    behind. Returns (replies seen, bytes read from reader)."""
    pub.sendall(batch)
    replies = got = 0
    deadline = time.time() + 20
    while replies < replies_wanted and time.time() < deadline:
        try:
            while True:
                chunk = reader.recv(1 << 20)
                if not chunk:
                    break
                got += len(chunk)
        except BlockingIOError:
            pass
        pub.settimeout(0.05)
        try:
            replies += pub.recv(1 << 20).count(b'\r\n')
        except socket.timeout:
            pass
    return replies, got


def wait_closed(sock, timeout=5.0):
    """True when the server closes the connection within timeout."""
    sock.settimeout(timeout)
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            if sock.recv(65536) == b'':
                return True
    except (socket.timeout, ConnectionResetError):
        return isinstance(sys.exc_info()[1], ConnectionResetError)
    return False


class Program(unittest.TestCase):
    def test_version_and_help(self):
        out = subprocess.run([herald_binary(), '--version'], capture_output=True, text=True,
                             timeout=10)
        self.assertEqual(out.returncode, 0)
        self.assertIn('herald-server v=', out.stdout)
        out = subprocess.run([herald_binary(), '--help'], capture_output=True, text=True,
                             timeout=10)
        self.assertEqual(out.returncode, 0)
        self.assertIn('Usage: herald-server', out.stdout)

    def test_bad_option_fails(self):
        out = subprocess.run([herald_binary(), '--no-such-directive', '1'], capture_output=True,
                             text=True, timeout=10)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn('Bad directive', out.stderr)
        out = subprocess.run([herald_binary(), '--maxclients', 'many'], capture_output=True,
                             text=True, timeout=10)
        self.assertNotEqual(out.returncode, 0)

    def test_config_file_unixsocket_logfile_and_sigterm(self):
        d = tempfile.mkdtemp(prefix='herald-prog-')
        sock_path = os.path.join(d, 'herald.sock')
        log_path = os.path.join(d, 'herald.log')
        conf = os.path.join(d, 'herald.conf')
        port = free_port()
        with open(conf, 'w') as f:
            f.write('# a redis.conf-style file\n'
                    'port %d\nbind 127.0.0.1\n'
                    'unixsocket "%s"\nunixsocketperm 700\n'
                    'logfile %s\nloglevel verbose\n'
                    'maxclients 123\n'
                    'client-output-buffer-limit pubsub 1mb 512kb 10\n'
                    'save ""\nappendonly no\n' % (port, sock_path, log_path))
        p = subprocess.Popen([herald_binary(), conf, '--timeout', '7'], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 10
            while not os.path.exists(sock_path) and time.time() < deadline:
                time.sleep(0.05)
            u = socket.socket(socket.AF_UNIX)
            u.connect(sock_path)
            u.sendall(b'CONFIG GET maxclients\r\nCONFIG GET timeout\r\n'
                      b'CONFIG GET client-output-buffer-limit\r\nPING\r\n')
            r = recv_until(u, b'+PONG\r\n')
            self.assertIn(b'$3\r\n123\r\n', r)
            self.assertIn(b'$1\r\n7\r\n', r)
            self.assertIn(b'pubsub 1048576 524288 10', r)
            self.assertEqual(os.stat(sock_path).st_mode & 0o777, 0o700)
            t = socket.create_connection(('127.0.0.1', port))
            t.sendall(b'CLIENT LIST\r\n')
            r = recv_until(t, b'\n\r\n')
            self.assertIn(b'flags=U', r)  # the unix-socket client is listed as such
            t.close()
            u.close()
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(10), 0)
            self.assertFalse(os.path.exists(sock_path))
            with open(log_path) as f:
                log = f.read()
            self.assertIn('Ready to accept connections tcp on port %d' % port, log)
            self.assertIn('Ready to accept connections unix', log)
            self.assertIn('exit', log)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()

    def test_bad_config_file(self):
        d = tempfile.mkdtemp(prefix='herald-prog-')
        conf = os.path.join(d, 'bad.conf')
        with open(conf, 'w') as f:
            f.write('port 1234\nnot-a-directive yes\n')
        out = subprocess.run([herald_binary(), conf], capture_output=True, text=True, timeout=10)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn('line 2', out.stderr)
        self.assertIn('not-a-directive', out.stderr)

    def test_sigint_exits_zero(self):
        s = Server('herald').start()
        s.proc.send_signal(signal.SIGINT)
        self.assertEqual(s.proc.wait(10), 0)
        s.stop()


class Limits(unittest.TestCase):
    def test_maxclients(self):
        with Server('herald', args=['--maxclients', '3']) as s:
            keep = [s.connect() for _ in range(3)]
            for k in keep:
                k.sendall(b'PING\r\n')
                self.assertEqual(recv_until(k, b'\r\n'), b'+PONG\r\n')
            extra = s.connect()
            self.assertEqual(recv_until(extra, b'\r\n'), b'-ERR max number of clients reached\r\n')
            self.assertTrue(wait_closed(extra))
            keep[0].close()
            time.sleep(0.2)
            again = s.connect()
            again.sendall(b'PING\r\n')
            self.assertEqual(recv_until(again, b'\r\n'), b'+PONG\r\n')
            again.sendall(b'INFO stats\r\n')
            self.assertIn(b'rejected_connections:1', recv_until(again, b'keyspace'))

    def test_declared_huge_bulks_reserve_nothing(self):
        """A declared bulk length is only a claim: the server's memory must
        follow the bytes that arrive, not what clients announce."""
        def vmsize(pid):
            with open('/proc/%d/status' % pid) as f:
                for line in f:
                    if line.startswith('VmSize:'):
                        return int(line.split()[1]) * 1024
            return 0
        with Server('herald') as s:
            before = vmsize(s.proc.pid)
            liars = []
            for _ in range(40):
                k = s.connect()
                k.sendall(b'*2\r\n$4\r\nECHO\r\n$536870000\r\nabc')
                liars.append(k)
            time.sleep(0.3)  # the claims are parsed; the next bytes are a second read
            for k in liars:
                k.sendall(b'defgh')
            time.sleep(0.5)
            probe = s.connect()
            probe.sendall(b'PING\r\n')
            self.assertEqual(recv_until(probe, b'\r\n'), b'+PONG\r\n')
            grown = vmsize(s.proc.pid) - before
            self.assertLess(grown, 512 << 20, 'server reserved %d bytes for 40 claims' % grown)
            # A genuine large argument still arrives whole.
            big = b'x' * (3 << 20)
            probe.sendall(b'*2\r\n$4\r\nECHO\r\n$%d\r\n' % len(big) + big + b'\r\n')
            reply = recv_until(probe, big[-16:] + b'\r\n', timeout=10)
            self.assertEqual(reply, b'$%d\r\n' % len(big) + big + b'\r\n')
            for k in liars:
                k.close()

    def test_idle_timeout_spares_subscribers(self):
        with Server('herald', args=['--timeout', '1']) as s:
            idle = s.connect()
            idle.sendall(b'PING\r\n')
            recv_until(idle, b'\r\n')
            sub = s.connect()
            sub.sendall(b'SUBSCRIBE ch\r\n')
            recv_until(sub, b':1\r\n')
            self.assertTrue(wait_closed(idle, timeout=5))
            pub = s.connect()
            pub.sendall(b'PUBLISH ch still-here\r\n')
            self.assertEqual(recv_until(pub, b'\r\n'), b':1\r\n')
            self.assertIn(b'still-here', recv_until(sub, b'still-here'))

    def check_slow_subscriber_closed(self, size, rounds):
        """A subscriber that never reads is closed at the hard limit while a
        fast one keeps receiving; `size`-byte messages, 50 per round."""
        with Server('herald', args=['--client-output-buffer-limit', 'pubsub 256kb 0 0']) as s:
            slow = s.connect()
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            slow.sendall(b'SUBSCRIBE ch\r\n')
            recv_until(slow, b':1\r\n')
            fast = s.connect()
            fast.sendall(b'SUBSCRIBE ch\r\n')
            recv_until(fast, b':1\r\n')
            pub = s.connect()
            # far more than the kernel's socket buffers can absorb, so the
            # slow reader's queue must reach the limit
            payload = b'x' * size
            cmd = b'*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$%d\r\n%s\r\n' % (size, payload)
            got_fast = 0
            fast.setblocking(False)
            for _ in range(rounds):
                replies, got = publish_and_drain(pub, fast, cmd * 50, 50)
                self.assertEqual(replies, 50)
                got_fast += got
            fast.setblocking(True)
            pub.sendall(b'INFO stats\r\n')
            info = recv_until(pub, b'keyspace')
            self.assertIn(b'client_output_buffer_limit_disconnections:1', info)
            # the fast subscriber is still connected and still receives
            pub.sendall(b'PUBSUB NUMSUB ch\r\n')
            self.assertIn(b':1\r\n', recv_until(pub, b':1\r\n'))
            self.assertGreater(got_fast, 1000 * 100)
            log = s.read_log()
            self.assertIn('overcoming of output buffer limits', log)

    def test_output_buffer_limit_closes_only_the_slow_subscriber(self):
        self.check_slow_subscriber_closed(8000, 40)  # 16 MB, frames of their own

    def test_output_buffer_limit_small_messages(self):
        self.check_slow_subscriber_closed(100, 1000)  # 6.7 MB of slab ranges

    def test_quiet_channel_reader_not_charged_for_busy_slabs(self):
        """Messages share slabs across channels. A subscriber of a quiet
        channel that does not read holds one small range in each of many
        slabs filled by a busy channel; it is charged its own bytes (as Redis
        would), not the slabs, so it stays connected under a limit its bytes
        do not reach, and its messages arrive in order."""
        with Server('herald', args=['--client-output-buffer-limit', 'pubsub 32mb 0 0']) as s:
            quiet = s.connect()
            quiet.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            quiet.sendall(b'CLIENT SETNAME quiet\r\nSUBSCRIBE quiet\r\n')
            recv_until(quiet, b':1\r\n')
            busy = s.connect()
            busy.sendall(b'SUBSCRIBE busy\r\n')
            recv_until(busy, b':1\r\n')
            pub = s.connect()
            # per round: 4 busy messages of 3500 bytes (14 KB of a 16 KB
            # slab) and one quiet message of 1000 bytes, so each quiet message
            # keeps a slab of its own alive: 10 MB of quiet messages (more
            # than socket buffers take) would pin 160 MB of slabs
            busy_cmd = b'*3\r\n$7\r\nPUBLISH\r\n$4\r\nbusy\r\n$3500\r\n%s\r\n' % (b'y' * 3500)
            rounds, per_batch = 10000, 200

            def qmsg(k):
                return (b'q%05d' % k).ljust(1000, b'.')

            busy.setblocking(False)
            got_busy = 0
            for r in range(0, rounds, per_batch):
                batch = b''.join(busy_cmd * 4 +
                                 b'*3\r\n$7\r\nPUBLISH\r\n$5\r\nquiet\r\n$1000\r\n%s\r\n' % qmsg(k)
                                 for k in range(r, r + per_batch))
                replies, got = publish_and_drain(pub, busy, batch, 5 * per_batch)
                self.assertEqual(replies, 5 * per_batch)
                got_busy += got
            self.assertGreater(got_busy, 100 << 20)
            pub.sendall(b'INFO stats\r\n')
            info = recv_until(pub, b'keyspace')
            self.assertIn(b'client_output_buffer_limit_disconnections:0', info)
            pub.sendall(b'PUBSUB NUMSUB quiet\r\n')
            self.assertIn(b'$5\r\nquiet\r\n:1\r\n', recv_until(pub, b'quiet\r\n:'))
            # its queue really holds megabytes, and is charged about as many
            pub.sendall(b'CLIENT LIST\r\n')
            line = [x for x in recv_until(pub, b'\n\r\n').split(b'\n') if b'name=quiet' in x][0]
            omem = int(line.split(b' omem=')[1].split(b' ')[0])
            self.assertGreater(omem, 2 << 20)
            self.assertLess(omem, 20 << 20)
            # the messages arrive in order (the first 64 of them: the 4 KB
            # receive window makes reading them all slow)
            want = b''.join(b'*3\r\n$7\r\nmessage\r\n$5\r\nquiet\r\n$1000\r\n%s\r\n' % qmsg(k)
                            for k in range(64))
            self.assertEqual(recv_until(quiet, want[-1020:], timeout=20)[:len(want)], want)


if __name__ == '__main__':
    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    print('%d passed, %d failed' % (result.testsRun - failed, failed))
    sys.exit(1 if failed else 0)
