#!/usr/bin/python3
"""t_redis_py_cache.py - redis-py (Debian's python3-redis) using the server as a cache.

Starts $HERALD_SERVER (default build/herald-server) on a free 127.0.0.1 port via
tests/lib/servers.py and does what cache-style applications do with redis-py:
SET/GET/SETEX/TTL/EXPIRE/MGET/MSET/INCR/DELETE/EXISTS, SCAN (scan_iter) and
KEYS, pipelines with and without MULTI/EXEC, WATCH-based optimistic locking
with a retry loop under a concurrent writer, keyspace notifications
(notify-keyspace-events + PSUBSCRIBE __keyspace@0__:*), client tracking in
RESP2 with invalidations redirected to a Pub/Sub connection subscribed to
__redis__:invalidate, and a small two-level cache (a local dict in front of
the server) kept coherent by those invalidations, including keys that expire
and FLUSHALL's "everything" invalidation.

Uses /usr/bin/python3 on purpose: that is the interpreter python3-redis is
installed for. Every client has a socket timeout and every wait loop a
deadline. The server is stopped when the module finishes, whatever happened.
Exits non-zero if any test failed or errored.
"""
import os
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))

from servers import ModuleServer, require_redis_py, wait_until  # noqa: E402
from servers import next_message as _next_message  # noqa: E402

redis = require_redis_py('t_redis_py_cache')
from redis.exceptions import ResponseError, WatchError  # noqa: E402

TIMEOUT = 10.0  # socket timeout of every client, seconds
WAIT = 5.0      # how long a test waits for an expected message or state, seconds
INVALIDATE = b'__redis__:invalidate'

MOD = ModuleServer('t_redis_py_cache', 'redis-py %s' % redis.__version__)
setUpModule, tearDownModule = MOD.start, MOD.stop


def client(**kw):
    return MOD.redis_client(TIMEOUT, **kw)


def next_message(p, timeout=WAIT, ignore_subscribe_messages=True):
    """The next message from PubSub p (or None after `timeout` seconds)."""
    return _next_message(p, timeout, ignore_subscribe_messages, poll=0.2)


def no_message(p, quiet=0.3):
    """The first message arriving within `quiet` seconds, or None (expected)."""
    return next_message(p, timeout=quiet)


def client_id_by_name(r, name):
    for c in r.client_list():
        if c.get('name') == name:
            return int(c['id'])
    raise AssertionError('no client named %r in CLIENT LIST' % name)


class Base(unittest.TestCase):
    def setUp(self):
        self.r = client()
        self._closers = [self.r.close]
        self.r.flushall()

    def tearDown(self):
        for c in reversed(self._closers):
            try:
                c()
            except Exception:
                pass

    def client(self, **kw):
        r = client(**kw)
        self._closers.append(r.close)
        return r

    def pubsub(self, r=None):
        p = (r or self.r).pubsub()
        self._closers.append(p.close)
        return p

    def listener(self, name):
        """A Pub/Sub connection subscribed to __redis__:invalidate, and its client id."""
        p = self.pubsub(self.client(client_name=name))
        p.subscribe(INVALIDATE)
        m = next_message(p, ignore_subscribe_messages=False)
        self.assertEqual(m, {'type': 'subscribe', 'pattern': None, 'channel': INVALIDATE,
                             'data': 1})
        return p, client_id_by_name(self.r, name)


class TestStrings(Base):
    def test_set_get_setex_ttl_expire(self):
        r = self.r
        self.assertIs(r.set('c:a', 'v1'), True)
        self.assertEqual(r.get('c:a'), b'v1')
        self.assertIsNone(r.get('c:missing'))
        self.assertIs(r.set('c:a', 'v2', nx=True), None)
        self.assertIs(r.set('c:a', 'v2', xx=True), True)
        self.assertEqual(r.set('c:a', 'v3', get=True), b'v2')
        self.assertEqual(r.ttl('c:a'), -1)
        self.assertEqual(r.ttl('c:missing'), -2)
        self.assertIs(r.setex('c:s', 100, 'x'), True)
        self.assertTrue(98 <= r.ttl('c:s') <= 100)
        self.assertTrue(0 < r.pttl('c:s') <= 100000)
        self.assertIs(r.expire('c:a', 50), True)
        self.assertTrue(48 <= r.ttl('c:a') <= 50)
        self.assertIs(r.expire('c:missing', 50), False)
        self.assertIs(r.persist('c:a'), True)
        self.assertEqual(r.ttl('c:a'), -1)
        self.assertIs(r.set('c:px', 'gone', px=100), True)
        wait_until(lambda: r.get('c:px') is None, what='c:px to expire')
        self.assertEqual(r.exists('c:px'), 0)
        self.assertIs(r.psetex('c:ps', 100000, 'y'), True)
        self.assertEqual(r.get('c:ps'), b'y')
        with self.assertRaisesRegex(ResponseError, 'invalid expire time'):
            r.setex('c:bad', 0, 'x')

    def test_mget_mset_incr_delete_exists(self):
        r = self.r
        self.assertIs(r.mset({'m:1': 'one', 'm:2': b'two\x00bin', 'm:3': 3}), True)
        self.assertEqual(r.mget('m:1', 'm:2', 'm:nope', 'm:3'),
                         [b'one', b'two\x00bin', None, b'3'])
        self.assertEqual(r.mget(['m:1', 'm:3']), [b'one', b'3'])
        self.assertIs(r.msetnx({'m:1': 'x', 'm:new': 'y'}), False)
        self.assertIsNone(r.get('m:new'))
        self.assertEqual(r.incr('m:3'), 4)
        self.assertEqual(r.incr('m:ctr'), 1)
        self.assertEqual(r.incrby('m:ctr', 10), 11)
        self.assertEqual(r.decr('m:ctr'), 10)
        self.assertEqual(r.incrbyfloat('m:f', 1.5), 1.5)
        self.assertEqual(r.get('m:f'), b'1.5')
        with self.assertRaisesRegex(ResponseError, 'not an integer'):
            r.incr('m:1')
        self.assertEqual(r.append('m:1', '!'), 4)
        self.assertEqual(r.strlen('m:1'), 4)
        self.assertEqual(r.exists('m:1', 'm:2', 'm:nope', 'm:1'), 3)
        self.assertEqual(r.delete('m:1', 'm:2', 'm:nope'), 2)
        self.assertEqual(r.exists('m:1'), 0)
        self.assertEqual(r.getdel('m:3'), b'4')
        self.assertIsNone(r.getdel('m:3'))
        self.assertEqual(r.dbsize(), 2)

    def test_scan_iter_and_keys(self):
        r = self.r
        want = set()
        with r.pipeline(transaction=False) as p:
            for i in range(250):
                p.set('scan:%03d' % i, i)
                want.add(('scan:%03d' % i).encode())
            for i in range(20):
                p.set('other:%d' % i, i)
            p.execute()
        seen = []
        for k in r.scan_iter(match='scan:*', count=30):
            seen.append(k)
            self.assertLess(len(seen), 1000, 'SCAN does not terminate')
        self.assertEqual(set(seen), want)  # a full iteration returns every key (maybe twice)
        self.assertEqual(set(r.scan_iter(match='other:1*')),
                         {b'other:1'} | {('other:%d' % i).encode() for i in range(10, 20)})
        self.assertEqual(sorted(r.keys('scan:00*')),
                         sorted(k for k in want if k.startswith(b'scan:00')))
        self.assertEqual(len(r.keys('*')), 270)
        self.assertEqual(r.keys('nomatch*'), [])
        cursor, keys = r.scan(0, match='nomatch*', count=1000)
        self.assertEqual(keys, [])


class TestPipelines(Base):
    def test_pipeline_without_transaction(self):
        r = self.r
        with r.pipeline(transaction=False) as p:
            p.set('p:a', 1).incr('p:a').get('p:a').mget('p:a', 'p:b').delete('p:a').exists('p:a')
            self.assertEqual(p.execute(), [True, 2, b'2', [b'2', None], 1, 0])
        with r.pipeline(transaction=False) as p:
            p.set('p:s', 'text').incr('p:s').get('p:s')
            res = p.execute(raise_on_error=False)
        self.assertIs(res[0], True)
        self.assertIsInstance(res[1], ResponseError)
        self.assertEqual(res[2], b'text')

    def test_transaction(self):
        r = self.r
        with r.pipeline(transaction=True) as p:
            p.set('t:a', 10).incrby('t:a', 5).get('t:a').setex('t:b', 60, 'x').ttl('t:b')
            res = p.execute()
        self.assertEqual(res[:4], [True, 15, b'15', True])
        self.assertTrue(58 <= res[4] <= 60)
        # a runtime error inside EXEC does not abort the other commands
        with r.pipeline(transaction=True) as p:
            p.set('t:s', 'text').incr('t:s').set('t:after', 1)
            res = p.execute(raise_on_error=False)
        self.assertIs(res[0], True)
        self.assertIsInstance(res[1], ResponseError)
        self.assertIs(res[2], True)
        self.assertEqual(r.get('t:after'), b'1')

    def test_watch_optimistic_locking(self):
        """Two clients increment a counter with WATCH/MULTI/EXEC; the first
        attempt of one of them is made to lose the race and must retry."""
        r1, r2 = self.r, self.client()
        r1.set('w:ctr', 0)
        attempts = {'n': 0}

        def add_one(r, interfere):
            deadline = time.time() + WAIT
            with r.pipeline(transaction=True) as p:
                while time.time() < deadline:
                    try:
                        p.watch('w:ctr')
                        cur = int(p.get('w:ctr'))
                        attempts['n'] += 1
                        if interfere and attempts['n'] == 1:
                            # another client changes the key between WATCH and EXEC
                            r2.incr('w:ctr')
                        p.multi()
                        p.set('w:ctr', cur + 1)
                        return p.execute()
                    except WatchError:
                        continue
            raise AssertionError('optimistic locking did not succeed before the deadline')

        self.assertEqual(add_one(r1, interfere=True), [True])
        self.assertEqual(attempts['n'], 2, 'the first EXEC was aborted by the concurrent write')
        self.assertEqual(r1.get('w:ctr'), b'2')

        # now real concurrency: two threads, 50 increments each, every one retried
        # until it commits
        errors = []

        def worker(r):
            try:
                for _ in range(50):
                    add_one(r, interfere=False)
            except Exception as e:  # pragma: no cover
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(c,)) for c in (r1, r2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertFalse(any(t.is_alive() for t in threads), 'workers finished')
        self.assertEqual(errors, [])
        self.assertEqual(r1.get('w:ctr'), b'102')

    def test_watch_unchanged_and_unwatch(self):
        r = self.r
        r.set('w:k', 'a')
        with r.pipeline(transaction=True) as p:
            p.watch('w:k', 'w:other')
            self.assertEqual(p.get('w:k'), b'a')
            p.multi()
            p.set('w:k', 'b')
            self.assertEqual(p.execute(), [True])
        with r.pipeline(transaction=True) as p:
            p.watch('w:k')
            self.client().set('w:k', 'c')
            p.unwatch()
            p.multi()
            p.set('w:k', 'd')
            self.assertEqual(p.execute(), [True])
        self.assertEqual(r.get('w:k'), b'd')
        # a key that expires while watched also aborts the transaction
        r.set('w:exp', 'x', px=100)
        with r.pipeline(transaction=True) as p:
            p.watch('w:exp')
            wait_until(lambda: self.client().exists('w:exp') == 0, what='w:exp to expire')
            p.multi()
            p.set('w:exp', 'y')
            with self.assertRaises(WatchError):
                p.execute()


class TestKeyspaceNotifications(Base):
    def setUp(self):
        super().setUp()
        self.r.config_set('notify-keyspace-events', 'KEA')
        # runs last (the closers run in reverse), on a connection of its own
        self._closers.insert(0, self._notifications_off)

    def _notifications_off(self):
        r = client()
        try:
            r.config_set('notify-keyspace-events', '')
        finally:
            r.close()

    def test_keyspace_events(self):
        r = self.r
        self.assertEqual(r.config_get('notify-keyspace-events'),
                         {'notify-keyspace-events': 'AKE'})
        p = self.pubsub(self.client())
        p.psubscribe('__keyspace@0__:*')
        self.assertEqual(next_message(p, ignore_subscribe_messages=False)['type'], 'psubscribe')
        r.set('n:k', 1)
        r.incr('n:k')
        r.expire('n:k', 100)
        r.append('n:k', 'x')
        r.rename('n:k', 'n:k2')
        r.delete('n:k2')
        r.delete('n:k2')  # nothing deleted, no event
        r.set('n:short', 1, px=50)
        got = []
        for _ in range(9):
            m = next_message(p)
            self.assertIsNotNone(m, 'keyspace event %d arrived (got %r)' % (len(got) + 1, got))
            self.assertEqual(m['type'], 'pmessage')
            self.assertEqual(m['pattern'], b'__keyspace@0__:*')
            got.append((m['channel'], m['data']))
        self.assertEqual(got, [
            (b'__keyspace@0__:n:k', b'set'),
            (b'__keyspace@0__:n:k', b'incrby'),
            (b'__keyspace@0__:n:k', b'expire'),
            (b'__keyspace@0__:n:k', b'append'),
            (b'__keyspace@0__:n:k', b'rename_from'),
            (b'__keyspace@0__:n:k2', b'rename_to'),
            (b'__keyspace@0__:n:k2', b'del'),
            (b'__keyspace@0__:n:short', b'set'),
            (b'__keyspace@0__:n:short', b'expire'),  # SET ... PX: set, then expire
        ])
        # the key expires: actively, or when touched by this access
        time.sleep(0.2)
        self.client().get('n:short')
        m = next_message(p)
        self.assertEqual((m['channel'], m['data']) if m else None,
                         (b'__keyspace@0__:n:short', b'expired'))
        self.assertIsNone(no_message(p))

    def test_keyevent_events(self):
        r = self.r
        r.config_set('notify-keyspace-events', 'E$g')
        p = self.pubsub(self.client())
        p.psubscribe('__keyevent@0__:*')
        self.assertEqual(next_message(p, ignore_subscribe_messages=False)['type'], 'psubscribe')
        r.mset({'e:a': 1, 'e:b': 2})
        r.delete('e:a')
        got = [next_message(p) for _ in range(3)]
        self.assertEqual([(m['channel'], m['data']) for m in got if m], [
            (b'__keyevent@0__:set', b'e:a'),
            (b'__keyevent@0__:set', b'e:b'),
            (b'__keyevent@0__:del', b'e:a'),
        ])


class TestTrackingRedirect(Base):
    def test_invalidation_message(self):
        p, lid = self.listener('py-inv-listener')
        tracker = self.client(single_connection_client=True)
        writer = self.client()
        self.assertEqual(tracker.execute_command('CLIENT', 'TRACKING', 'ON', 'REDIRECT', lid),
                         b'OK')
        self.assertEqual(tracker.execute_command('CLIENT', 'GETREDIR'), lid)
        info = tracker.execute_command('CLIENT', 'TRACKINGINFO')
        self.assertEqual(info, [b'flags', [b'on'], b'redirect', lid, b'prefixes', []])
        self.assertIsNone(tracker.get('tr:k'))
        writer.set('tr:k', 'v1')
        self.assertEqual(next_message(p), {'type': 'message', 'pattern': None,
                                           'channel': INVALIDATE, 'data': [b'tr:k']})
        # not read again: no second invalidation
        writer.set('tr:k', 'v2')
        self.assertIsNone(no_message(p))
        self.assertEqual(tracker.mget('tr:k', 'tr:j'), [b'v2', None])
        writer.mset({'tr:j': 1, 'tr:k': 2})
        got = [next_message(p), next_message(p)]
        self.assertEqual([m['data'] for m in got if m], [[b'tr:j'], [b'tr:k']])
        # a write by the tracking client itself is reported too
        tracker.get('tr:k')
        tracker.incr('tr:k')
        self.assertEqual(next_message(p)['data'], [b'tr:k'])
        # FLUSHALL: a null instead of a list of keys
        writer.flushall()
        m = next_message(p)
        self.assertEqual((m['channel'], m['data']) if m else None, (INVALIDATE, None))
        self.assertEqual(tracker.execute_command('CLIENT', 'TRACKING', 'OFF'), b'OK')
        tracker.get('tr:k')
        writer.set('tr:k', 3)
        self.assertIsNone(no_message(p))

    def test_expiry_invalidation(self):
        p, lid = self.listener('py-inv-exp')
        tracker = self.client(single_connection_client=True)
        writer = self.client()
        tracker.execute_command('CLIENT', 'TRACKING', 'ON', 'REDIRECT', lid)
        writer.set('tr:exp', 'v', px=100)
        self.assertEqual(tracker.get('tr:exp'), b'v')
        time.sleep(0.2)
        writer.exists('tr:exp')  # expires it now if the active cycle has not yet
        self.assertEqual(next_message(p)['data'], [b'tr:exp'])

    def test_bcast_prefix(self):
        p, lid = self.listener('py-inv-bcast')
        tracker = self.client(single_connection_client=True)
        writer = self.client()
        tracker.execute_command('CLIENT', 'TRACKING', 'ON', 'REDIRECT', lid, 'BCAST',
                                'PREFIX', 'user:', 'PREFIX', 'sess:')
        writer.mset({'user:2': 1, 'user:1': 1, 'other': 1})
        self.assertEqual(next_message(p)['data'], [b'user:1', b'user:2'])
        writer.set('sess:9', 1)
        self.assertEqual(next_message(p)['data'], [b'sess:9'])
        writer.set('other', 2)
        self.assertIsNone(no_message(p))


class TwoLevelCache:
    """L1: a dict in this process; L2: the server. Reads go through a
    connection with CLIENT TRACKING ON REDIRECT <listener>; the listener's
    invalidation messages drop L1 entries (all of them for a flush)."""

    def __init__(self, make_client, name):
        self.listener_client = make_client(client_name=name)
        self.pubsub = self.listener_client.pubsub()
        self.pubsub.subscribe(INVALIDATE)
        m = next_message(self.pubsub, ignore_subscribe_messages=False)
        assert m and m['type'] == 'subscribe', m
        self.listener_id = client_id_by_name(make_client(), name)
        self.server = make_client(single_connection_client=True)
        assert self.server.execute_command('CLIENT', 'TRACKING', 'ON', 'REDIRECT',
                                           self.listener_id) == b'OK'
        self.l1 = {}
        self.hits = self.misses = self.invalidations = self.flushes = 0

    def close(self):
        self.pubsub.close()
        self.listener_client.close()
        self.server.close()

    def poll(self, timeout=0.0):
        """Applies the invalidations that have arrived; returns how many."""
        n = 0
        deadline = time.time() + timeout
        while True:
            m = self.pubsub.get_message(ignore_subscribe_messages=True,
                                        timeout=max(0.0, min(0.05, deadline - time.time())))
            if m is None:
                if time.time() >= deadline:
                    return n
                continue
            if m['type'] != 'message' or m['channel'] != INVALIDATE:
                continue
            n += 1
            if m['data'] is None:
                self.flushes += 1
                self.l1.clear()
            else:
                for key in m['data']:
                    self.invalidations += 1
                    self.l1.pop(key, None)

    def get(self, key):
        self.poll()
        k = key.encode() if isinstance(key, str) else key
        if k in self.l1:
            self.hits += 1
            return self.l1[k]
        self.misses += 1
        value = self.server.get(k)
        if value is not None:
            self.l1[k] = value
        return value

    def set(self, key, value, **kw):
        k = key.encode() if isinstance(key, str) else key
        self.l1.pop(k, None)
        return self.server.set(k, value, **kw)

    def wait_dropped(self, key, other=None, timeout=WAIT):
        """Waits (with a deadline) until key left L1; `other`, a second
        client, touches the key now and then so that a lazily expiring
        server notices the expiry."""
        k = key.encode() if isinstance(key, str) else key
        deadline = time.time() + timeout
        while k in self.l1:
            if time.time() >= deadline:
                raise AssertionError('L1 still holds %r after %.1fs' % (k, timeout))
            if other is not None:
                other.exists(k)
            self.poll(timeout=0.05)


class TestTwoLevelCache(Base):
    def make(self, name):
        c = TwoLevelCache(self.client, name)
        self._closers.append(c.close)
        return c

    def test_read_through_and_invalidate(self):
        cache = self.make('py-l1-a')
        writer = self.client()
        writer.mset({'l2:a': 'A1', 'l2:b': 'B1'})
        self.assertEqual(cache.get('l2:a'), b'A1')
        self.assertEqual(cache.get('l2:a'), b'A1')
        self.assertEqual(cache.get('l2:b'), b'B1')
        self.assertEqual((cache.hits, cache.misses), (1, 2))
        writer.set('l2:a', 'A2')
        cache.wait_dropped('l2:a')
        self.assertIn(b'l2:b', cache.l1)
        self.assertEqual(cache.get('l2:a'), b'A2')
        self.assertEqual(cache.get('l2:b'), b'B1')
        self.assertEqual((cache.hits, cache.misses), (2, 3))
        # the cache's own write drops its entry and the invalidation is harmless
        cache.set('l2:b', 'B2')
        self.assertEqual(cache.get('l2:b'), b'B2')
        writer.delete('l2:b')
        cache.wait_dropped('l2:b')
        self.assertIsNone(cache.get('l2:b'))
        # a missing key is not cached, but it is tracked: a later SET is announced
        writer.set('l2:b', 'B3')
        self.assertGreaterEqual(cache.poll(timeout=1.0), 1)
        self.assertEqual(cache.get('l2:b'), b'B3')
        # INCR, EXPIRE, RENAME invalidate as well
        writer.set('l2:n', 1)
        self.assertEqual(cache.get('l2:n'), b'1')
        writer.incr('l2:n')
        cache.wait_dropped('l2:n')
        self.assertEqual(cache.get('l2:n'), b'2')
        writer.expire('l2:n', 100)
        cache.wait_dropped('l2:n')
        self.assertEqual(cache.get('l2:n'), b'2')
        writer.rename('l2:n', 'l2:m')
        cache.wait_dropped('l2:n')
        self.assertIsNone(cache.get('l2:n'))

    def test_expiry_drops_l1(self):
        cache = self.make('py-l1-exp')
        other = self.client()
        other.set('l2:exp', 'short-lived', px=200)
        self.assertEqual(cache.get('l2:exp'), b'short-lived')
        self.assertEqual(cache.get('l2:exp'), b'short-lived')
        self.assertEqual(cache.hits, 1)
        t0 = time.time()
        cache.wait_dropped('l2:exp', other=other)
        self.assertGreaterEqual(time.time() - t0, 0.05)  # not before it expired
        self.assertIsNone(cache.get('l2:exp'))
        self.assertEqual(other.exists('l2:exp'), 0)

    def test_active_expiry_drops_l1(self):
        """No other client touches the key: the server's own expiry cycle
        must remove it and send the invalidation."""
        cache = self.make('py-l1-active')
        cache.set('l2:act', 'v', px=150)
        self.assertEqual(cache.get('l2:act'), b'v')
        cache.wait_dropped('l2:act')
        self.assertIsNone(cache.get('l2:act'))

    def test_flushall_clears_l1(self):
        cache = self.make('py-l1-flush')
        writer = self.client()
        writer.mset({'l2:x': 1, 'l2:y': 2})
        cache.get('l2:x')
        cache.get('l2:y')
        self.assertEqual(len(cache.l1), 2)
        writer.flushall()
        wait_until(lambda: cache.poll() >= 0 and not cache.l1, what='L1 to be emptied')
        self.assertEqual(cache.flushes, 1)
        self.assertIsNone(cache.get('l2:x'))

    def test_two_caches_stay_coherent(self):
        c1 = self.make('py-l1-one')
        c2 = self.make('py-l1-two')
        c1.set('l2:shared', 'v0')
        for i in range(1, 21):
            self.assertEqual(c1.get('l2:shared'), ('v%d' % (i - 1)).encode())
            self.assertEqual(c2.get('l2:shared'), ('v%d' % (i - 1)).encode())
            (c1 if i % 2 else c2).set('l2:shared', 'v%d' % i)
            c1.wait_dropped('l2:shared')
            c2.wait_dropped('l2:shared')
        self.assertEqual(c1.get('l2:shared'), b'v20')
        self.assertEqual(c2.get('l2:shared'), b'v20')


if __name__ == '__main__':
    sys.exit(MOD.main())
