'use strict';
// node_redis.test.js - node-redis (the `redis` package pinned in package.json)
// against the server under test ($HERALD_SERVER), run by
// tests/integration/t_node_redis with node:test.
//
// node-redis' handshake is part of what is tested: CLIENT SETNAME (RESP2,
// `name`), HELLO 3 SETNAME (RESP: 3), CLIENT SETINFO LIB-NAME/LIB-VER and, on
// RESP3, CLIENT MAINT_NOTIFICATIONS (an unknown subcommand whose error
// node-redis ignores). Everything runs over RESP2 and RESP3: subscribe /
// pSubscribe / sSubscribe listeners, PUBLISH / SPUBLISH counts, unsubscribe,
// PUBSUB introspection, PING while subscribed, a 1 MiB binary message, 1000
// messages in order, 50 subscriber connections each receiving everything; and
// over RESP3 ordinary commands on a subscribed connection, whose messages come
// as push frames. All clients are closed and the server stopped in after();
// every wait has a deadline.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const NODE_REDIS_VERSION = require('@redis/client/package.json').version;
const h = require('./harness');

const T = { timeout: 30000 }; // per test: a hang fails the test instead of the whole run

const suite = h.nodeRedisSuite();
const { mk } = suite;

for (const RESP of [2, 3]) {
  describe(`node-redis over RESP${RESP}`, () => {
    const opts = RESP === 3 ? { RESP: 3 } : {};
    const ch = (name) => `nr${RESP}:${name}`;
    const numsub = async (c, name) => (await c.pubSubNumSub(name))[name];

    it('connects through its own handshake (HELLO / CLIENT SETNAME, CLIENT SETINFO)', T, async () => {
      const c = await mk({ ...opts, name: `nr-conn-${RESP}` });
      assert.equal(await c.clientGetName(), `nr-conn-${RESP}`);
      const raw = await c.sendCommand(['CLIENT', 'INFO']);
      const info = h.parseClientLine(raw);
      assert.equal(info.resp, String(RESP), 'negotiated protocol');
      assert.equal(info.name, `nr-conn-${RESP}`);
      if (h.atLeast(suite.serverVersion, 7, 2)) {
        assert.equal(info['lib-name'], 'node-redis');
        assert.equal(info['lib-ver'], NODE_REDIS_VERSION);
      }
      assert.equal(await c.ping(), 'PONG');
      assert.equal(await c.ping('hello'), 'hello');
      assert.equal(await c.echo('héllo'), 'héllo');
      const id = await c.clientId();
      assert.ok(Number.isInteger(id) && id > 0);
      const mine = (await c.clientList()).filter((x) => Number(x.id) === id);
      assert.equal(mine.length, 1);
      assert.equal(mine[0].name, `nr-conn-${RESP}`);
      const hello = await c.hello();
      assert.equal(hello.proto, RESP);
      assert.equal(hello.id, id);
      assert.equal(hello.mode, 'standalone');
      assert.equal(hello.role, 'master');
      if (RESP === 2) {
        // an explicit RESP: 2 makes node-redis send HELLO 2 SETNAME instead of CLIENT SETNAME
        const c2 = await mk({ RESP: 2, name: 'nr-hello2' });
        assert.equal(await c2.clientGetName(), 'nr-hello2');
        assert.equal(h.parseClientLine(await c2.sendCommand(['CLIENT', 'INFO'])).resp, '2');
      }
    });

    it('runs the small server commands', T, async () => {
      const c = await mk(opts);
      assert.equal(await c.select(0), undefined);
      assert.equal(await c.dbSize(), 0);
      const t = await c.time();
      assert.ok(Math.abs(Number(t[0]) - Date.now() / 1000) < 5);
      assert.ok((await c.commandCount()) > 10);
      const cfg = await c.configGet('maxclients');
      assert.match(String(cfg.maxclients), /^[1-9]\d*$/);
      const info = h.parseInfo(await c.info());
      for (const f of ['redis_version', 'connected_clients', 'pubsub_channels', 'pubsub_patterns',
        'total_commands_processed', 'used_memory']) {
        assert.ok(f in info, `INFO has ${f}`);
      }
      await assert.rejects(c.sendCommand(['CLUSTER', 'INFO']), /cluster support disabled/);
      await assert.rejects(c.sendCommand(['NOSUCHCMD']), /unknown command/);
    });

    it('subscribes with listeners, PUBLISH counts receivers', T, async () => {
      const pub = await mk(opts);
      const sub = await mk(opts);
      const got = h.collector();
      await sub.subscribe([ch('a'), ch('b')], (message, channel) => got.push([channel, message]));
      assert.equal(await numsub(pub, ch('a')), 1);
      assert.equal(await pub.publish(ch('a'), 'hello'), 1);
      assert.equal(await pub.publish(ch('b'), ''), 1);
      assert.equal(await pub.publish(ch('c'), 'nobody'), 0);
      assert.deepEqual(await got.wait(2), [[ch('a'), 'hello'], [ch('b'), '']]);
      await h.sleep(50);
      assert.equal(got.items.length, 2);
    });

    it('pSubscribes and receives pattern messages', T, async () => {
      const pub = await mk(opts);
      const sub = await mk(opts);
      const got = h.collector();
      await sub.pSubscribe([ch('news.*'), ch('h?llo')], (message, channel) => got.push([channel, message]));
      assert.equal(await pub.publish(ch('news.sport'), 'goal'), 1);
      assert.equal(await pub.publish(ch('hallo'), 'hi'), 1);
      assert.equal(await pub.publish(ch('news'), 'no'), 0);
      assert.deepEqual(await got.wait(2), [[ch('news.sport'), 'goal'], [ch('hallo'), 'hi']]);
      assert.ok((await pub.pubSubNumPat()) >= 2);
    });

    it('sSubscribes and receives SPUBLISH messages', T, async () => {
      const pub = await mk(opts);
      const sub = await mk(opts);
      const got = h.collector();
      await sub.sSubscribe(ch('shard'), (message, channel) => got.push([channel, message]));
      assert.equal(await pub.sPublish(ch('shard'), 'sharded'), 1);
      assert.equal(await pub.publish(ch('shard'), 'not sharded'), 0);
      assert.deepEqual(await got.wait(1), [[ch('shard'), 'sharded']]);
      assert.deepEqual({ ...(await pub.pubSubShardNumSub([ch('shard'), ch('none')])) },
        { [ch('shard')]: 1, [ch('none')]: 0 });
      assert.ok((await pub.pubSubShardChannels(ch('sh*'))).includes(ch('shard')));
      await sub.sUnsubscribe(ch('shard'));
      assert.equal(await pub.sPublish(ch('shard'), 'gone'), 0);
    });

    it('counts subscribers with PUBSUB NUMSUB / NUMPAT / CHANNELS and unsubscribes', T, async () => {
      const pub = await mk(opts);
      const s1 = await mk(opts);
      const s2 = await mk(opts);
      const noop = () => {};
      await s1.subscribe([ch('n1'), ch('n2'), ch('n3')], noop);
      await s2.subscribe(ch('n1'), noop);
      const numpat0 = await pub.pubSubNumPat();
      await s2.pSubscribe(ch('np*'), noop);
      assert.deepEqual({ ...(await pub.pubSubNumSub([ch('n1'), ch('n2'), ch('zz')])) },
        { [ch('n1')]: 2, [ch('n2')]: 1, [ch('zz')]: 0 });
      assert.equal(await pub.pubSubNumPat(), numpat0 + 1);
      assert.deepEqual((await pub.pubSubChannels(ch('n*'))).sort(), [ch('n1'), ch('n2'), ch('n3')]);
      assert.equal(await pub.publish(ch('n1'), 'x'), 2);
      assert.equal(await pub.publish(ch('np1'), 'x'), 1);
      await s1.unsubscribe(ch('n2'));
      assert.equal(await numsub(pub, ch('n2')), 0);
      await s1.unsubscribe();
      // (node-redis resolves an argument-less (P)UNSUBSCRIBE only once the count reaches 0)
      await s2.pUnsubscribe(ch('np*'));
      assert.equal(await pub.pubSubNumPat(), numpat0);
      assert.equal(await pub.publish(ch('n1'), 'y'), 1);
      assert.equal(await pub.publish(ch('n3'), 'y'), 0);
      assert.equal(s1.isPubSubActive, false);
      // back to normal mode (node-redis 5 may hand this reply over as a Buffer after RESP2 pub/sub)
      assert.equal(String(await s1.ping()), 'PONG');
    });

    it('answers PING while subscribed', T, async () => {
      const pub = await mk(opts);
      const sub = await mk(opts);
      const got = h.collector();
      await sub.subscribe(ch('ping'), (message) => got.push(message));
      // RESP2: the server answers ["pong", ""] and node-redis returns its first non-empty
      // element, "pong"; RESP3: the server answers the simple string PONG.
      assert.equal(await sub.ping(), RESP === 2 ? 'pong' : 'PONG');
      assert.equal(await sub.ping('hi'), 'hi');
      assert.equal(await pub.publish(ch('ping'), 'after ping'), 1);
      assert.deepEqual(await got.wait(1), ['after ping']);
    });

    if (RESP === 3) {
      it('receives pushes on a RESP3 connection that keeps running ordinary commands', T, async () => {
        const c = await mk(opts);
        const other = await mk(opts);
        const got = h.collector();
        await c.subscribe(ch('self'), (message, channel) => got.push([channel, message]));
        await c.pSubscribe(ch('sel*'), (message, channel) => got.push([`p:${channel}`, message]));
        assert.equal(await c.echo('still works'), 'still works');
        assert.equal(await c.publish(ch('self'), 'to myself'), 2);
        assert.equal(await c.clientGetName(), null);
        assert.deepEqual({ ...(await c.pubSubNumSub(ch('self'))) }, { [ch('self')]: 1 });
        assert.equal(await other.publish(ch('self'), 'from other'), 2);
        const msgs = await got.wait(4);
        assert.deepEqual(msgs, [
          [ch('self'), 'to myself'], [`p:${ch('self')}`, 'to myself'],
          [ch('self'), 'from other'], [`p:${ch('self')}`, 'from other'],
        ]);
        const info = h.parseClientLine(await c.sendCommand(['CLIENT', 'INFO']));
        assert.equal(info.sub, '1');
        assert.equal(info.psub, '1');
        assert.equal(info.resp, '3');
      });
    }

    it('delivers binary payloads with NUL bytes and 1 MiB (buffer mode)', T, async () => {
      const pub = await mk(opts);
      const sub = await mk(opts);
      const got = h.collector();
      await sub.subscribe([ch('bin'), ch('big')], (message, channel) => got.push([channel, message]), true);
      const small = Buffer.from([0, 1, 2, 0, 255, 13, 10, 0]);
      const big = crypto.randomBytes(1 << 20);
      assert.equal(await pub.publish(ch('bin'), small), 1);
      assert.equal(await pub.publish(ch('big'), big), 1);
      const [[c1, m1], [c2, m2]] = await got.wait(2, 10000);
      assert.equal(c1.toString(), ch('bin'));
      assert.ok(Buffer.isBuffer(m1) && m1.equals(small));
      assert.equal(c2.toString(), ch('big'));
      assert.equal(m2.length, big.length);
      assert.ok(m2.equals(big), '1 MiB payload intact');
    });

    it('delivers 1000 messages in order', T, async () => {
      const pub = await mk(opts);
      const sub = await mk(opts);
      const got = h.collector();
      await sub.subscribe(ch('order'), (message) => got.push(message));
      // node-redis pipelines commands issued in the same tick
      const counts = await Promise.all(Array.from({ length: 1000 }, (_, i) => pub.publish(ch('order'), `m${i}`)));
      assert.deepEqual(counts, Array(1000).fill(1));
      const msgs = await got.wait(1000, 10000);
      assert.deepEqual(msgs, Array.from({ length: 1000 }, (_, i) => `m${i}`));
    });

    it('fans out to 50 subscriber connections, each receiving everything in order', T, async () => {
      const pub = await mk(opts);
      const subs = await Promise.all(Array.from({ length: 50 }, () => mk(opts)));
      const cols = await Promise.all(subs.map(async (s) => {
        const col = h.collector();
        await s.subscribe(ch('fan'), (message) => col.push(message));
        return col;
      }));
      assert.equal(await numsub(pub, ch('fan')), 50);
      const counts = await Promise.all(Array.from({ length: 100 }, (_, i) => pub.publish(ch('fan'), `f${i}`)));
      assert.deepEqual(counts, Array(100).fill(50));
      const want = Array.from({ length: 100 }, (_, i) => `f${i}`);
      const all = await Promise.all(cols.map((c, i) => c.wait(100, 10000, `subscriber ${i}`)));
      for (const msgs of all) assert.deepEqual(msgs, want);
      await Promise.all(subs.map((s) => s.close()));
      await h.waitFor(async () => (await numsub(pub, ch('fan'))) === 0, 'subscribers gone');
    });
  });
}
