'use strict';
// ioredis.test.js - ioredis (pinned in package.json) against the server under
// test ($HERALD_SERVER), run by tests/integration/t_ioredis with node:test.
//
// ioredis' own connection handshake is part of what is tested: HELLO 3 (the
// default protocol of ioredis 6, falling back to RESP2 on error), CLIENT
// SETNAME (connectionName), CLIENT SETINFO LIB-NAME/LIB-VER and the INFO
// ready check. Every suite runs twice, over RESP2 and RESP3: subscribe /
// psubscribe / ssubscribe with their message events, PUBLISH / SPUBLISH counts,
// unsubscribe counts, PUBSUB introspection, PING while subscribed, a 1 MiB
// binary message, 1000 messages in order, 50 subscriber connections each
// receiving everything, resubscription after CLIENT KILL. All clients are
// closed and the server stopped in after(); every wait has a deadline.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { once } = require('node:events');
const Redis = require('ioredis');
const IOREDIS_VERSION = require('ioredis/package.json').version;
const h = require('./harness');

const T = { timeout: 30000 }; // per test: a hang fails the test instead of the whole run

const suite = h.clientSuite({
  name: 'ioredis',
  version: IOREDIS_VERSION,
  create: (port, opts) =>
    new Redis({
      host: h.HOST,
      port,
      connectTimeout: 5000,
      commandTimeout: 10000,
      maxRetriesPerRequest: 1,
      retryStrategy: () => null, // no silent reconnect loops unless a test asks for one
      ...opts,
    }),
  close: (c) => c.disconnect(),
  probe: (make) => ready(make({ protocol: 2 })),
});
const { mk } = suite;

async function ready(c) {
  if (c.status !== 'ready') await h.withTimeout(once(c, 'ready'), 5000, 'ioredis ready');
  return c;
}

for (const protocol of [2, 3]) {
  describe(`ioredis over RESP${protocol}`, () => {
    const opts = { protocol };
    const ch = (name) => `io${protocol}:${name}`;

    it('connects through its own handshake (HELLO, CLIENT SETNAME, CLIENT SETINFO, INFO)', T, async () => {
      const c = await ready(mk({ ...opts, connectionName: `io-conn-${protocol}` }));
      assert.equal(await c.client('GETNAME'), `io-conn-${protocol}`);
      const info = h.parseClientLine(await c.client('INFO'));
      assert.equal(info.resp, String(protocol), 'negotiated protocol');
      assert.equal(info.name, `io-conn-${protocol}`);
      assert.equal(info.cmd, 'client|info');
      if (h.atLeast(suite.serverVersion, 7, 2)) {
        assert.equal(info['lib-name'], 'ioredis');
        assert.equal(info['lib-ver'], IOREDIS_VERSION);
      }
      assert.equal(await c.ping(), 'PONG');
      assert.equal(await c.ping('hello'), 'hello');
      assert.equal(await c.echo('héllo'), 'héllo');
      const id = await c.client('ID');
      assert.ok(Number.isInteger(id) && id > 0);
      const list = await c.client('LIST');
      assert.match(list, new RegExp(`^id=${id} .* name=io-conn-${protocol} .*cmd=client\\|list`, 'm'));
    });

    it('runs the small server commands', T, async () => {
      const c = await ready(mk(opts));
      assert.equal(await c.select(0), 'OK');
      assert.equal(await c.dbsize(), 0);
      const [secs] = await c.time();
      assert.ok(Math.abs(Number(secs) - Date.now() / 1000) < 5);
      assert.ok((await c.command('COUNT')) > 10);
      const cfg = await c.config('GET', 'maxclients');
      assert.equal(cfg[0], 'maxclients');
      assert.match(cfg[1], /^[1-9]\d*$/);
      const info = h.parseInfo(await c.info());
      for (const f of ['redis_version', 'connected_clients', 'pubsub_channels', 'pubsub_patterns',
        'total_commands_processed', 'used_memory']) {
        assert.ok(f in info, `INFO has ${f}`);
      }
      await assert.rejects(c.call('CLUSTER', 'INFO'), /cluster support disabled/);
      await assert.rejects(c.call('NOSUCHCMD'), /unknown command/);
    });

    it('subscribes and receives messages, with PUBLISH counts', T, async () => {
      const pub = await ready(mk(opts));
      const sub = await ready(mk(opts));
      const got = h.collector();
      sub.on('message', (channel, message) => got.push([channel, message]));
      assert.equal(await sub.subscribe(ch('a'), ch('b')), 2);
      assert.equal(await pub.publish(ch('a'), 'hello'), 1);
      assert.equal(await pub.publish(ch('b'), ''), 1);
      assert.equal(await pub.publish(ch('c'), 'nobody'), 0);
      assert.deepEqual(await got.wait(2), [[ch('a'), 'hello'], [ch('b'), '']]);
      await h.sleep(50);
      assert.equal(got.items.length, 2, 'no message for an unsubscribed channel');
    });

    it('psubscribes and receives pmessage events', T, async () => {
      const pub = await ready(mk(opts));
      const sub = await ready(mk(opts));
      const got = h.collector();
      sub.on('pmessage', (pattern, channel, message) => got.push([pattern, channel, message]));
      assert.equal(await sub.psubscribe(ch('news.*'), ch('h?llo')), 2);
      assert.equal(await pub.publish(ch('news.sport'), 'goal'), 1);
      assert.equal(await pub.publish(ch('hallo'), 'hi'), 1);
      assert.equal(await pub.publish(ch('news'), 'no'), 0);
      assert.deepEqual(await got.wait(2), [
        [ch('news.*'), ch('news.sport'), 'goal'],
        [ch('h?llo'), ch('hallo'), 'hi'],
      ]);
      assert.equal(await pub.pubsub('NUMPAT') >= 2, true);
    });

    it('ssubscribes and receives smessage events from SPUBLISH', T, async () => {
      const pub = await ready(mk(opts));
      const sub = await ready(mk(opts));
      const got = h.collector();
      sub.on('smessage', (channel, message) => got.push([channel, message]));
      assert.equal(await sub.ssubscribe(ch('shard')), 1);
      assert.equal(await pub.spublish(ch('shard'), 'sharded'), 1);
      assert.equal(await pub.publish(ch('shard'), 'not sharded'), 0);
      assert.deepEqual(await got.wait(1), [[ch('shard'), 'sharded']]);
      assert.deepEqual(await pub.pubsub('SHARDNUMSUB', ch('shard'), ch('none')), [ch('shard'), 1, ch('none'), 0]);
      assert.ok((await pub.pubsub('SHARDCHANNELS', ch('sh*'))).includes(ch('shard')));
      assert.equal(await sub.sunsubscribe(ch('shard')), 0);
      assert.equal(await pub.spublish(ch('shard'), 'gone'), 0);
    });

    it('counts subscribers with PUBSUB NUMSUB / NUMPAT / CHANNELS and unsubscribes', T, async () => {
      const pub = await ready(mk(opts));
      const s1 = await ready(mk(opts));
      const s2 = await ready(mk(opts));
      assert.equal(await s1.subscribe(ch('n1'), ch('n2'), ch('n3')), 3);
      assert.equal(await s2.subscribe(ch('n1')), 1);
      const numpat0 = await pub.pubsub('NUMPAT');
      assert.equal(await s2.psubscribe(ch('np*')), 2);
      assert.deepEqual(await pub.pubsub('NUMSUB', ch('n1'), ch('n2'), ch('zz')), [ch('n1'), 2, ch('n2'), 1, ch('zz'), 0]);
      assert.equal(await pub.pubsub('NUMPAT'), numpat0 + 1);
      assert.deepEqual((await pub.pubsub('CHANNELS', ch('n*'))).sort(), [ch('n1'), ch('n2'), ch('n3')]);
      assert.equal(await pub.publish(ch('n1'), 'x'), 2);
      assert.equal(await pub.publish(ch('np1'), 'x'), 1);
      assert.equal(await s1.unsubscribe(ch('n2')), 2);
      assert.deepEqual(await pub.pubsub('NUMSUB', ch('n2')), [ch('n2'), 0]);
      assert.equal(await s1.unsubscribe(), 0);
      // (ioredis resolves an argument-less (P)UNSUBSCRIBE only once the count reaches 0)
      assert.equal(await s2.punsubscribe(ch('np*')), 1);
      assert.equal(await pub.pubsub('NUMPAT'), numpat0);
      assert.equal(await pub.publish(ch('n1'), 'y'), 1);
      // s1 left subscriber mode: ordinary commands work again
      assert.equal(await s1.ping(), 'PONG');
      assert.equal(await s1.echo('back'), 'back');
    });

    it('answers PING while subscribed', T, async () => {
      const pub = await ready(mk(opts));
      const sub = await ready(mk(opts));
      const got = h.collector();
      sub.on('message', (channel, message) => got.push(message));
      await sub.subscribe(ch('ping'));
      const pong = await sub.ping();
      const pong2 = await sub.ping('hi');
      if (protocol === 2) {
        // RESP2 in subscribed mode: PING answers the array ["pong", <message>]
        assert.deepEqual(pong, ['pong', '']);
        assert.deepEqual(pong2, ['pong', 'hi']);
      } else {
        assert.equal(pong, 'PONG');
        assert.equal(pong2, 'hi');
      }
      assert.equal(await pub.publish(ch('ping'), 'after ping'), 1);
      assert.deepEqual(await got.wait(1), ['after ping']);
    });

    if (protocol === 3) {
      it('keeps running ordinary commands on a subscribed RESP3 connection (pushes interleave)', T, async () => {
        const c = await ready(mk(opts));
        const got = h.collector();
        c.on('message', (channel, message) => got.push([channel, message]));
        assert.equal(await c.subscribe(ch('self')), 1);
        assert.equal(await c.echo('still works'), 'still works');
        assert.equal(await c.publish(ch('self'), 'to myself'), 1);
        assert.equal(await c.client('GETNAME'), null);
        assert.deepEqual(await c.pubsub('NUMSUB', ch('self')), [ch('self'), 1]);
        assert.deepEqual(await got.wait(1), [[ch('self'), 'to myself']]);
      });
    }

    it('delivers binary channels and payloads, including NUL bytes and 1 MiB', T, async () => {
      const pub = await ready(mk(opts));
      const sub = await ready(mk(opts));
      const got = h.collector();
      sub.on('messageBuffer', (channel, message) => got.push([channel, message]));
      const small = Buffer.concat([Buffer.from([0, 1, 2, 0, 255, 13, 10]), Buffer.from('end\0')]);
      const bchan = Buffer.from(`${ch('bin')}\0chan`);
      const big = crypto.randomBytes(1 << 20);
      await sub.subscribe(bchan, ch('big'));
      assert.equal(await pub.publish(bchan, small), 1);
      assert.equal(await pub.publish(ch('big'), big), 1);
      const [[c1, m1], [c2, m2]] = await got.wait(2, 10000);
      assert.ok(c1.equals(bchan));
      assert.ok(m1.equals(small));
      assert.equal(c2.toString(), ch('big'));
      assert.equal(m2.length, big.length);
      assert.ok(m2.equals(big), '1 MiB payload intact');
    });

    it('delivers 1000 messages in order', T, async () => {
      const pub = await ready(mk(opts));
      const sub = await ready(mk(opts));
      const got = h.collector();
      sub.on('message', (channel, message) => got.push(message));
      await sub.subscribe(ch('order'));
      const pipeline = pub.pipeline();
      for (let i = 0; i < 1000; i++) pipeline.publish(ch('order'), `m${i}`);
      const results = await pipeline.exec();
      assert.deepEqual(results, Array.from({ length: 1000 }, () => [null, 1]));
      const msgs = await got.wait(1000, 10000);
      assert.deepEqual(msgs, Array.from({ length: 1000 }, (_, i) => `m${i}`));
    });

    it('fans out to 50 subscriber connections, each receiving everything in order', T, async () => {
      const pub = await ready(mk(opts));
      const subs = await Promise.all(Array.from({ length: 50 }, () => ready(mk(opts))));
      const cols = subs.map((s) => {
        const col = h.collector();
        s.on('message', (channel, message) => col.push(message));
        return col;
      });
      await Promise.all(subs.map((s) => s.subscribe(ch('fan'))));
      assert.deepEqual(await pub.pubsub('NUMSUB', ch('fan')), [ch('fan'), 50]);
      const counts = await Promise.all(Array.from({ length: 100 }, (_, i) => pub.publish(ch('fan'), `f${i}`)));
      assert.deepEqual(counts, Array(100).fill(50));
      const want = Array.from({ length: 100 }, (_, i) => `f${i}`);
      const all = await Promise.all(cols.map((c, i) => c.wait(100, 10000, `subscriber ${i}`)));
      for (const msgs of all) assert.deepEqual(msgs, want);
      for (const s of subs) s.disconnect();
      await h.waitFor(async () => (await pub.pubsub('NUMSUB', ch('fan')))[1] === 0, 'subscribers gone');
    });

    it('resubscribes by itself after CLIENT KILL', T, async () => {
      const pub = await ready(mk(opts));
      const sub = await ready(mk({ ...opts, retryStrategy: (times) => (times > 20 ? null : 50) }));
      const got = h.collector();
      sub.on('message', (channel, message) => got.push(message));
      sub.on('pmessage', (pattern, channel, message) => got.push(`p:${message}`));
      const id = await sub.client('ID'); // before subscribing: RESP2 subscriber mode allows no CLIENT
      await sub.subscribe(ch('resub'));
      await sub.psubscribe(ch('resu*'));
      assert.equal(await pub.client('KILL', 'ID', String(id)), 1);
      await h.withTimeout(once(sub, 'ready'), 5000, 'ioredis reconnected');
      await h.waitFor(async () => (await pub.pubsub('NUMSUB', ch('resub')))[1] === 1, 'resubscribed');
      await h.waitFor(async () => (await pub.publish(ch('resub'), 'probe')) === 2, 'pattern resubscribed');
      assert.equal(await pub.publish(ch('resub'), 'after kill'), 2);
      await h.waitFor(() => got.items.includes('after kill') && got.items.includes('p:after kill'),
        'both messages after the reconnection');
      await h.sleep(20);
      assert.equal(got.items.filter((m) => m.endsWith('after kill')).length, 2, 'each delivered once');
      if (protocol === 3) assert.notEqual(await sub.client('ID'), id, 'a new connection');
    });
  });
}
