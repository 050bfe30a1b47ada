'use strict';
// harness.js - shared helpers of the node integration tests (ioredis.test.js,
// node_redis.test.js, node_redis_cache.test.js), the node counterpart of
// tests/lib/servers.py.
//
// startServer() runs $HERALD_SERVER (default <repo>/build/herald-server) with
// `--port N --bind 127.0.0.1` on a free loopback port, in a private temporary
// working directory, and resolves once the server answers PING. stop() sends
// SIGTERM, then SIGKILL after 5 s. Every server still running when the process
// exits (test failure, uncaught exception, signal) is killed synchronously.
// Every wait has a deadline: nothing here can hang a test forever.
//
// clientSuite() / nodeRedisSuite() are the scaffolding of a test file whose
// tests share one server: its node:test hooks, and a client factory that
// collects every client and its 'error' events so each test ends with its
// clients closed and none of them having emitted an error.

const { before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const HOST = '127.0.0.1';
const running = new Set(); // child processes still alive
const workdirs = new Set(); // their temporary working directories

function killAll() {
  for (const child of running) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  running.clear();
  for (const dir of workdirs) fs.rmSync(dir, { recursive: true, force: true });
  workdirs.clear();
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    killAll();
    process.exit(128 + (os.constants.signals[sig] || 0));
  });
}

function serverBinary() {
  return process.env.HERALD_SERVER || path.resolve(__dirname, '..', '..', '..', 'build', 'herald-server');
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// One raw PING on a fresh connection; true when the answer starts with +PONG.
function pingOnce(port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: HOST, port });
    let buf = '';
    const done = (ok) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
    sock.on('error', () => done(false));
  });
}

async function startServer({ timeoutMs = 10000 } = {}) {
  const bin = serverBinary();
  if (!fs.existsSync(bin)) {
    throw new Error(`server binary ${bin} does not exist (set HERALD_SERVER)`);
  }
  let lastErr;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-node-'));
    workdirs.add(dir);
    const logPath = path.join(dir, 'server.log');
    const logFd = fs.openSync(logPath, 'w');
    const child = spawn(bin, ['--port', String(port), '--bind', HOST], {
      cwd: dir,
      stdio: ['ignore', logFd, logFd],
    });
    fs.closeSync(logFd);
    running.add(child);
    let exited = null;
    const exitPromise = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        exited = { code, signal };
        running.delete(child);
        resolve(exited);
      });
      child.on('error', (err) => {
        exited = { code: null, signal: null, err };
        running.delete(child);
        resolve(exited);
      });
    });
    const readLog = () => {
      try {
        return fs.readFileSync(logPath, 'utf8');
      } catch {
        return '';
      }
    };
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !exited) {
      if (await pingOnce(port)) {
        const server = {
          host: HOST,
          port,
          bin,
          log: readLog,
          // The ASan/LSan/UBSan report in the server's log, or '' (same markers as servers.py).
          // Read it after stop(): LeakSanitizer reports when the server exits.
          sanitizerReport() {
            const log = readLog();
            for (const marker of ['ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:']) {
              const i = log.indexOf(marker);
              if (i >= 0) return log.slice(Math.max(0, i - 200), i + 4000);
            }
            return '';
          },
          // SIGTERM (SIGKILL after 5 s); resolves to { code, signal, log, sanitizerReport }
          // and removes the working directory.
          async stop() {
            if (!exited) {
              child.kill('SIGTERM');
              const t = setTimeout(() => child.kill('SIGKILL'), 5000);
              await exitPromise;
              clearTimeout(t);
            }
            const result = { ...exited, log: readLog(), sanitizerReport: this.sanitizerReport() };
            fs.rmSync(dir, { recursive: true, force: true });
            workdirs.delete(dir);
            return result;
          },
          get exited() {
            return exited;
          },
        };
        return server;
      }
      await sleep(20);
    }
    if (!exited) {
      child.kill('SIGKILL');
      await exitPromise;
    }
    lastErr = new Error(
      `${bin} did not start on ${HOST}:${port} (attempt ${attempt}, exit ${JSON.stringify(exited)}):\n${readLog()}`,
    );
    fs.rmSync(dir, { recursive: true, force: true });
    workdirs.delete(dir);
  }
  throw lastErr;
}

// Resolves when pred() (sync or async) returns truthy; rejects after timeoutMs.
async function waitFor(pred, what = 'condition', timeoutMs = 5000, intervalMs = 10) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

// Rejects if promise does not settle within ms.
function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// A collector of events: push() items, then `await c.wait(n)` for the first n.
function collector() {
  const items = [];
  const waiters = [];
  return {
    items,
    push(item) {
      items.push(item);
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (items.length >= waiters[i].n) {
          waiters[i].resolve(items.slice(0, waiters[i].n));
          waiters.splice(i, 1);
        }
      }
    },
    wait(n, ms = 5000, what = 'messages') {
      if (items.length >= n) return Promise.resolve(items.slice(0, n));
      const p = new Promise((resolve) => waiters.push({ n, resolve }));
      return withTimeout(p, ms, `${what}: ${n} expected, ${items.length} received`);
    },
  };
}

// "7.2.4" -> [7, 2]
function parseVersion(v) {
  const m = /^(\d+)\.(\d+)/.exec(String(v));
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}
function atLeast(v, major, minor) {
  const [a, b] = parseVersion(v);
  return a > major || (a === major && b >= minor);
}
// "a=1 b=2\n" (CLIENT INFO / one CLIENT LIST line) -> { a: '1', b: '2' }
function parseClientLine(line) {
  const out = {};
  for (const kv of String(line).trim().split(' ')) {
    const i = kv.indexOf('=');
    if (i > 0) out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}
// INFO text -> { field: value }
function parseInfo(text) {
  const out = {};
  for (const line of String(text).split('\r\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

const HOOK = { timeout: 30000 }; // a hook that hangs fails instead of the whole run

// clientSuite(spec) installs the hooks of a test file whose tests share one
// server, all clients of one library. spec:
//   name, version    the library, for messages ("ioredis 6.0.0, server ...")
//   create(port, opts)  a new client of the server on port, with the test's opts
//   connect(c)       optional: resolves once c is connected; mk() then waits
//                    for it (5 s deadline) and resolves to c; without it mk()
//                    returns the client as created
//   close(c)         closes c (may return a promise)
//   probe(mk)        resolves to a connected client for before() to read
//                    INFO server from
//   setup(probe)     optional: more work for before(), on the probe client
// before() starts the server and logs
// "<name> <version>, server <binary> <redis_version> on 127.0.0.1:<port>";
// afterEach() closes the test's clients and asserts none emitted an 'error'
// event; after() closes what is left and stops the server, asserting a clean
// exit and no sanitizer report. Returns { mk, server, serverVersion } (the
// last two are getters, set once before() has run).
function clientSuite(spec) {
  let server;
  let serverVersion = '0.0';
  let clients = [];
  let errors = [];

  function mk(opts = {}) {
    const c = spec.create(server.port, opts);
    c.on('error', (err) => errors.push(err));
    clients.push(c);
    if (!spec.connect) return c;
    return withTimeout(spec.connect(c), 5000, `${spec.name} connect`).then(() => c);
  }

  async function closeAll() {
    const cs = clients;
    clients = [];
    await Promise.all(cs.map((c) => spec.close(c)));
  }

  before(async () => {
    server = await startServer();
    const probe = await spec.probe(mk);
    serverVersion = parseInfo(await probe.info('server')).redis_version;
    console.log(`${spec.name} ${spec.version}, server ${server.bin} ${serverVersion} on ${HOST}:${server.port}`);
    if (spec.setup) await spec.setup(probe);
  }, HOOK);

  afterEach(async () => {
    await closeAll();
    const seen = errors;
    errors = [];
    assert.deepEqual(seen.map(String), [], `${spec.name} emitted no error events`);
  });

  after(async () => {
    await closeAll();
    if (server) {
      const exit = await server.stop();
      assert.equal(exit.sanitizerReport, '', 'no sanitizer report in the server log');
      assert.ok(exit.code === 0 || exit.signal === 'SIGTERM',
        `server exits cleanly on SIGTERM (code ${exit.code}, signal ${exit.signal}):\n${exit.log.slice(-2000)}`);
    }
  }, HOOK);

  return {
    mk,
    get server() {
      return server;
    },
    get serverVersion() {
      return serverVersion;
    },
  };
}

// clientSuite() for node-redis (the `redis` package): `await mk(opts)` is a
// connected client, opts going to createClient(); no reconnects, 5 s connect
// timeout. setup(probe) as in clientSuite().
function nodeRedisSuite({ setup } = {}) {
  const { createClient } = require('redis');
  return clientSuite({
    name: 'node-redis',
    version: require('@redis/client/package.json').version,
    create: (port, opts) =>
      createClient({ socket: { host: HOST, port, connectTimeout: 5000, reconnectStrategy: false }, ...opts }),
    connect: (c) => c.connect(),
    close: (c) => (c.isOpen ? c.destroy() : undefined),
    probe: (make) => make(),
    setup,
  });
}

module.exports = {
  HOST,
  clientSuite,
  nodeRedisSuite,
  startServer,
  serverBinary,
  freePort,
  sleep,
  waitFor,
  withTimeout,
  collector,
  parseVersion,
  atLeast,
  parseClientLine,
  parseInfo,
};
