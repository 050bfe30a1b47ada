'use strict';
// node_redis_cache.test.js - node-redis (the `redis` package pinned in
// package.json) with its client-side cache against the server under test
// ($HERALD_SERVER), run by tests/integration/t_node_redis_cache with node:test.
//
// createClient({ RESP: 3, clientSideCache: {...} }) makes node-redis send
// CLIENT TRACKING ON in its handshake, answer cacheable commands (GET, MGET,
// STRLEN, EXISTS, ...) from a local cache and drop entries on the server's
// RESP3 `invalidate` pushes. Tested: a second GET is a cache hit (the cache's
// own stats), writes from another connection (SET, DEL, INCR, EXPIRE, actual
// expiry, FLUSHALL / FLUSHDB) invalidate, MGET entries, the server's view
// (CLIENT TRACKINGINFO, INFO tracking fields); and plain string commands over
// RESP3 (SET options, INCRBYFLOAT, GETEX, OBJECT ENCODING, MULTI/EXEC through
// client.multi() and WATCH). All clients are closed and the server stopped in
// after(); every wait has a deadline.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { BasicClientSideCache } = require('redis');
const h = require('./harness');

const T = { timeout: 30000 }; // per test: a hang fails the test instead of the whole run

const { mk } = h.nodeRedisSuite({ setup: (probe) => probe.flushAll() });

// A RESP3 client with a client-side cache; returns { c, cache, invalidated }
// where invalidated collects the keys (null for "everything") the server
// invalidated, as the cache saw them.
async function mkCaching(extra = {}) {
  const cache = new BasicClientSideCache({ ttl: 0, maxEntries: 0, evictPolicy: 'LRU' });
  const invalidated = h.collector();
  cache.on('invalidate', (key) => invalidated.push(key === null ? null : String(key)));
  const c = await mk({ RESP: 3, clientSideCache: cache, ...extra });
  return { c, cache, invalidated };
}

// Hit and miss counters of the cache, as plain numbers.
function counts(cache) {
  const s = cache.stats();
  return { hits: s.hitCount, misses: s.missCount };
}

describe('node-redis client-side cache (RESP3 + CLIENT TRACKING)', () => {
  it('turns tracking on in its handshake', T, async () => {
    const { c } = await mkCaching();
    const info = await c.sendCommand(['CLIENT', 'TRACKINGINFO']);
    // RESP3 map; node-redis hands maps over as plain objects
    assert.deepEqual(info.flags, ['on']);
    assert.equal(info.redirect, 0);
    assert.deepEqual(info.prefixes, []);
    const line = h.parseClientLine(await c.sendCommand(['CLIENT', 'INFO']));
    assert.equal(line.resp, '3');
    assert.match(line.flags, /t/);
    const plain = await mk();
    // (clients of earlier tests may still be on their way out)
    await h.waitFor(async () => h.parseInfo(await plain.info('clients')).tracking_clients === '1',
      'INFO tracking_clients:1');
  });

  it('serves the second GET from the local cache; a write elsewhere invalidates it', T, async () => {
    const w = await mk();
    await w.flushAll(); // an empty tracking table for the counters below
    const { c, cache, invalidated } = await mkCaching();
    await w.set('csc:a', 'v1');
    assert.deepEqual(counts(cache), { hits: 0, misses: 0 });
    assert.equal(await c.get('csc:a'), 'v1');
    assert.deepEqual(counts(cache), { hits: 0, misses: 1 });
    assert.equal(cache.size(), 1);
    assert.equal(await c.get('csc:a'), 'v1');
    assert.equal(await c.get('csc:a'), 'v1');
    assert.deepEqual(counts(cache), { hits: 2, misses: 1 });
    // the server tracks the key once, for this one client
    const st = h.parseInfo(await w.info('stats'));
    assert.equal(st.tracking_total_keys, '1');
    assert.equal(st.tracking_total_items, '1');

    await w.set('csc:a', 'v2');
    assert.deepEqual(await invalidated.wait(1, 5000, 'invalidation of csc:a'), ['csc:a']);
    assert.equal(cache.size(), 0);
    assert.equal(await c.get('csc:a'), 'v2');
    assert.deepEqual(counts(cache), { hits: 2, misses: 2 });
    assert.equal(await c.get('csc:a'), 'v2');
    assert.deepEqual(counts(cache), { hits: 3, misses: 2 });

    // a missing key is cached as null, and invalidated when it appears
    assert.equal(await c.get('csc:none'), null);
    assert.equal(await c.get('csc:none'), null);
    assert.deepEqual(counts(cache), { hits: 4, misses: 3 });
    await w.set('csc:none', 'now');
    await invalidated.wait(2, 5000, 'invalidation of csc:none');
    assert.equal(invalidated.items[1], 'csc:none');
    assert.equal(await c.get('csc:none'), 'now');
  });

  it('invalidates on DEL, INCR, APPEND, EXPIRE and RENAME', T, async () => {
    const { c, invalidated } = await mkCaching();
    const w = await mk();
    await w.mSet({ 'csc:d': '1', 'csc:n': '10', 'csc:s': 'x', 'csc:e': 'y', 'csc:r': 'z' });
    for (const k of ['csc:d', 'csc:n', 'csc:s', 'csc:e', 'csc:r', 'csc:r2']) await c.get(k);
    assert.equal(await w.del('csc:d'), 1);
    assert.equal(await w.incr('csc:n'), 11);
    assert.equal(await w.append('csc:s', 'y'), 2);
    assert.equal(await w.expire('csc:e', 100), 1);
    assert.equal(await w.rename('csc:r', 'csc:r2'), 'OK');
    const got = await invalidated.wait(6, 5000, 'six invalidations');
    assert.deepEqual(got, ['csc:d', 'csc:n', 'csc:s', 'csc:e', 'csc:r', 'csc:r2']);
    assert.equal(await c.get('csc:d'), null);
    assert.equal(await c.get('csc:n'), '11');
    assert.equal(await c.get('csc:s'), 'xy');
    assert.equal(await c.get('csc:e'), 'y');
    assert.equal(await c.get('csc:r'), null);
    assert.equal(await c.get('csc:r2'), 'z');
    // no-op writes (EXPIRE of a missing key, DEL of nothing) send nothing
    await w.expire('csc:missing', 10);
    await w.del('csc:missing');
    await h.sleep(100);
    assert.equal(invalidated.items.length, 6);
  });

  it('invalidates a key when it expires', T, async () => {
    const { c, cache, invalidated } = await mkCaching();
    const w = await mk();
    await w.set('csc:exp', 'soon', { PX: 200 });
    assert.equal(await c.get('csc:exp'), 'soon');
    assert.equal(await c.get('csc:exp'), 'soon');
    assert.equal(counts(cache).hits, 1);
    // the server's active expiry or, failing that, an access from another
    // connection after the deadline removes the key and tells the cache
    const start = Date.now();
    while (invalidated.items.length === 0) {
      if (Date.now() - start > 5000) assert.fail('no invalidation for the expired key within 5 s');
      await h.sleep(50);
      if (Date.now() - start > 300) await w.exists('csc:exp');
    }
    assert.deepEqual(invalidated.items, ['csc:exp']);
    assert.equal(cache.size(), 0);
    assert.equal(await c.get('csc:exp'), null);
  });

  it('empties the whole cache on FLUSHALL and FLUSHDB', T, async () => {
    const { c, cache, invalidated } = await mkCaching();
    const w = await mk();
    await w.mSet({ 'csc:f1': 'a', 'csc:f2': 'b' });
    await c.get('csc:f1');
    await c.get('csc:f2');
    await c.strLen('csc:f1');
    assert.equal(cache.size(), 3);
    assert.equal(await w.flushAll(), 'OK');
    assert.deepEqual(await invalidated.wait(1, 5000, 'FLUSHALL invalidation'), [null]);
    assert.equal(cache.size(), 0);
    assert.equal(await c.get('csc:f1'), null);
    // FLUSHDB of another database: the same "everything" invalidation
    await w.select(2);
    assert.equal(await w.flushDb(), 'OK');
    await invalidated.wait(2, 5000, 'FLUSHDB invalidation');
    assert.equal(invalidated.items[1], null);
    assert.equal(cache.size(), 0);
    // the caching client's own FLUSHALL
    await c.get('csc:f1');
    await c.flushAll();
    await invalidated.wait(3, 5000, 'own FLUSHALL invalidation');
    assert.equal(invalidated.items[2], null);
    assert.equal(cache.size(), 0);
  });

  it('caches MGET as one entry, invalidated by a write of any of its keys', T, async () => {
    const { c, cache, invalidated } = await mkCaching();
    const w = await mk();
    await w.mSet({ 'csc:m1': '1', 'csc:m2': '2' });
    assert.deepEqual(await c.mGet(['csc:m1', 'csc:m2', 'csc:m3']), ['1', '2', null]);
    assert.deepEqual(await c.mGet(['csc:m1', 'csc:m2', 'csc:m3']), ['1', '2', null]);
    assert.deepEqual(counts(cache), { hits: 1, misses: 1 });
    assert.equal(cache.size(), 1);
    await w.set('csc:m3', '3');
    assert.deepEqual(await invalidated.wait(1), ['csc:m3']);
    assert.equal(cache.size(), 0);
    assert.deepEqual(await c.mGet(['csc:m1', 'csc:m2', 'csc:m3']), ['1', '2', '3']);
    // one MSET touching two of the keys: one push per key
    await w.mSet({ 'csc:m1': 'x', 'csc:m2': 'y' });
    assert.deepEqual(await invalidated.wait(3), ['csc:m3', 'csc:m1', 'csc:m2']);
    assert.deepEqual(await c.mGet(['csc:m1', 'csc:m2', 'csc:m3']), ['x', 'y', '3']);
  });

  it('sees its own writes (the reply, then the invalidation)', T, async () => {
    const { c, cache, invalidated } = await mkCaching();
    assert.equal(await c.set('csc:own', '1'), 'OK');
    assert.equal(await c.get('csc:own'), '1');
    assert.equal(await c.incr('csc:own'), 2);
    await invalidated.wait(1, 5000, 'own-write invalidation');
    assert.equal(cache.size(), 0);
    assert.equal(await c.get('csc:own'), '2');
    // a transaction: EXEC's reply and then the push do not confuse the client
    const res = await c.multi().set('csc:own', '5').get('csc:own').exec();
    assert.deepEqual(res, ['OK', '5']);
    await invalidated.wait(2, 5000, 'invalidation after EXEC');
    assert.equal(await c.get('csc:own'), '5');
  });

  it('keeps several caching clients coherent', T, async () => {
    const a = await mkCaching();
    const b = await mkCaching();
    await a.c.set('csc:shared', '0');
    for (let i = 1; i <= 10; i++) {
      assert.equal(await a.c.get('csc:shared'), String(i - 1));
      assert.equal(await b.c.get('csc:shared'), String(i - 1));
      const [writer, other] = i % 2 ? [a, b] : [b, a];
      await writer.c.set('csc:shared', String(i));
      // the writer is told too (after its reply); wait for both
      await writer.invalidated.wait(i, 5000, `writer invalidation ${i}`);
      await other.invalidated.wait(i, 5000, `reader invalidation ${i}`);
    }
    assert.equal(await a.c.get('csc:shared'), '10');
    assert.equal(await b.c.get('csc:shared'), '10');
    await h.waitFor(async () => h.parseInfo(await a.c.info('clients')).tracking_clients === '2',
      'INFO tracking_clients:2');
  });
});

describe('string commands over RESP3', () => {
  it('SET options, GET, GETEX, GETDEL, INCRBYFLOAT, OBJECT ENCODING', T, async () => {
    const c = await mk({ RESP: 3 });
    assert.equal(await c.set('s3:k', 'v'), 'OK');
    assert.equal(await c.set('s3:k', 'w', { NX: true }), null);
    assert.equal(await c.set('s3:k', 'w', { XX: true, GET: true }), 'v');
    assert.equal(await c.set('s3:new', 'x', { XX: true }), null);
    assert.equal(await c.set('s3:k', 'e', { EX: 100 }), 'OK');
    const ttl = await c.ttl('s3:k');
    assert.ok(ttl >= 98 && ttl <= 100, `TTL ${ttl}`);
    assert.equal(await c.set('s3:k', 'f', { KEEPTTL: true }), 'OK');
    assert.ok((await c.pTTL('s3:k')) > 90000);
    assert.equal(await c.set('s3:k', 'g', { expiration: { type: 'PX', value: 60000 } }), 'OK');
    assert.ok((await c.pTTL('s3:k')) <= 60000);
    await assert.rejects(c.set('s3:k', 'h', { EX: 0 }), /invalid expire time/);
    await assert.rejects(c.sendCommand(['SET', 's3:k', 'h', 'NX', 'XX']), /syntax error/);

    assert.equal(await c.getEx('s3:k', { type: 'PERSIST' }), 'g');
    assert.equal(await c.ttl('s3:k'), -1);
    assert.equal(await c.getEx('s3:k', { EX: 50 }), 'g');
    const ttl2 = await c.ttl('s3:k');
    assert.ok(ttl2 >= 48 && ttl2 <= 50, `TTL ${ttl2}`);
    assert.equal(await c.getEx('s3:nosuch', { PX: 10 }), null);
    assert.equal(await c.getDel('s3:k'), 'g');
    assert.equal(await c.get('s3:k'), null);

    assert.equal(await c.incrByFloat('s3:f', 10.5), '10.5');
    assert.equal(await c.incrByFloat('s3:f', 0.1), '10.6');
    assert.equal(await c.incrByFloat('s3:f', -5), '5.6');
    // Redis computes in long double and prints 17 significant digits (%.17Lg)
    assert.equal(await c.sendCommand(['INCRBYFLOAT', 's3:f', '5.0e3']), '5005.60000000000000009');
    await assert.rejects(c.sendCommand(['INCRBYFLOAT', 's3:f', 'inf']),
      /increment would produce NaN or Infinity/);
    await assert.rejects(c.incrByFloat('s3:f', 'abc'), /value is not a valid float/);

    await c.set('s3:int', '12345');
    await c.set('s3:emb', 'short string');
    await c.set('s3:raw', 'x'.repeat(45));
    assert.equal(await c.objectEncoding('s3:int'), 'int');
    assert.equal(await c.objectEncoding('s3:emb'), 'embstr');
    assert.equal(await c.objectEncoding('s3:raw'), 'raw');
    await c.append('s3:emb', '!');
    assert.equal(await c.objectEncoding('s3:emb'), 'raw');
    assert.equal(await c.incr('s3:int'), 12346);
    assert.equal(await c.objectEncoding('s3:int'), 'int');
    assert.equal(await c.objectEncoding('s3:missing'), null);
    assert.equal(await c.strLen('s3:raw'), 45);
    assert.equal(await c.getRange('s3:raw', 0, 2), 'xxx');
    assert.equal(await c.exists(['s3:raw', 's3:int', 's3:missing']), 2);
    assert.equal(await c.type('s3:raw'), 'string');
  });

  it('MULTI/EXEC through client.multi(), with and without WATCH', T, async () => {
    const c = await mk({ RESP: 3 });
    const other = await mk({ RESP: 3 });
    const res = await c.multi()
      .set('s3:m', '1')
      .incr('s3:m')
      .get('s3:m')
      .mSet({ 's3:m2': 'a', 's3:m3': 'b' })
      .mGet(['s3:m', 's3:m2', 's3:m3', 's3:none'])
      .exec();
    assert.deepEqual(res, ['OK', 2, '2', 'OK', ['2', 'a', 'b', null]]);
    // a runtime error inside EXEC stays in its slot, the other commands run
    await assert.rejects(c.multi().set('s3:t', 'text').incr('s3:t').set('s3:t2', 'ran').exec(),
      (err) => {
        assert.equal(err.constructor.name, 'MultiErrorReply');
        assert.deepEqual(err.errorIndexes, [1]);
        assert.equal(err.replies[0], 'OK');
        assert.match(String(err.replies[1].message), /not an integer/);
        assert.equal(err.replies[2], 'OK');
        return true;
      });
    assert.equal(await c.get('s3:t2'), 'ran');
    // a command rejected while queueing aborts the whole transaction
    await assert.rejects(c.multi().set('s3:t3', 'x').addCommand(['NOSUCHCMD']).exec(),
      /EXECABORT|unknown command/);
    assert.equal(await c.get('s3:t3'), null);
    // the same commands as a plain pipeline
    const piped = await c.multi().set('s3:p', '1').incr('s3:p').get('s3:p').execAsPipeline();
    assert.deepEqual(piped, ['OK', 2, '2']);

    // WATCH: untouched -> commits; touched by another client -> aborted
    await c.watch('s3:w');
    await c.set('s3:w2', 'x');
    assert.deepEqual(await c.multi().set('s3:w', 'mine').exec(), ['OK']);
    await c.watch('s3:w');
    await other.set('s3:w', 'theirs');
    await assert.rejects(c.multi().set('s3:w', 'mine-again').exec(), (err) =>
      err.constructor.name === 'WatchError' || /watch/i.test(String(err)));
    assert.equal(await c.get('s3:w'), 'theirs');
  });
});
