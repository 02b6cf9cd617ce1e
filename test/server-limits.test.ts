/**
 * Two limits of the local server that face the network: the per-client unlock limiter (429
 * with Retry-After, keyed by the client's address), and the Host names a server answers to when
 * `elohim serve --host 0.0.0.0` exposes it to the LAN. The first runs through `inject()` with a
 * fake clock and a chosen remote address; the second starts the real CLI and talks to it over
 * 127.0.0.1 only, varying the Host header. Nothing of ours is mocked.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { createServer, CSRF_HEADER } from '../src/server/index.ts';
import { createApp } from '../src/app.ts';
import { CLI, cliEnv, makeTempDir, NODE, PASSPHRASE, removeTempDirs } from './helpers.ts';
import { assertError, CHEAP_ARGON2, HOST, rawRequest, sessionCookie } from './http-helpers.ts';
import type { SimpleResponse } from './http-helpers.ts';

after(removeTempDirs);

describe('the per-client unlock limiter', () => {
  const A = '203.0.113.10';
  const B = '203.0.113.20';
  const C = '2001:db8::7';

  test('one client’s failures earn it 429 with growing Retry-After; other clients are not held; a success starts it over', async () => {
    const dir = join(await makeTempDir('elohim-limits-'), 'home');
    // The vault's own throttle is shared by every client (and tested elsewhere): its clock is
    // moved an hour on before each attempt, so it never holds one and only the limiter can.
    let homeNow = Date.UTC(2026, 0, 1);
    const home = createApp({ home: dir }, { clock: () => homeNow });
    await home.init({ passphrase: PASSPHRASE, argon2: CHEAP_ARGON2 });
    let now = Date.UTC(2026, 0, 1);
    const server = await createServer({ app: home, version: 'test', clock: () => now });
    try {
      const attempt = async (client: string, passphrase: string, headers: Record<string, string> = {}) => {
        homeNow += 3600_000;
        const res = await server.app.inject({
          method: 'POST',
          url: '/api/v1/session',
          remoteAddress: client,
          headers: { host: HOST, [CSRF_HEADER]: '1', ...headers },
          payload: { passphrase },
        });
        return { status: res.statusCode, retryAfter: res.headers['retry-after'], cookie: sessionCookie(res), res };
      };
      /** Asserts a 429 in the one error format, with no session; returns Retry-After in seconds. */
      const limited = async (client: string, passphrase: string, headers: Record<string, string> = {}) => {
        const r = await attempt(client, passphrase, headers);
        assertError({ status: r.status, headers: r.res.headers as SimpleResponse['headers'], body: r.res.body }, 429, 'VAULT_RATE_LIMITED');
        assert.equal(r.cookie, null);
        return Number(r.retryAfter);
      };

      // The limiter keys on the connection's address, not on a header the client writes: a
      // client that sends a new X-Forwarded-For with every guess is still one client.
      for (let i = 0; i < 3; i++) assert.equal((await attempt(A, `wrong ${i}`, { 'x-forwarded-for': `198.51.100.${i}` })).status, 401);
      const waits = [await limited(A, PASSPHRASE)];
      assert.equal(await limited(A, 'wrong again'), 1, 'a held attempt is not evaluated, and earns no longer wait');
      assert.equal(await limited(A, PASSPHRASE, { 'x-forwarded-for': B, 'x-real-ip': B }), 1);

      // Another client, meanwhile, is not held: its right passphrase opens, its wrong one is a plain 401.
      const other = await attempt(B, PASSPHRASE);
      assert.equal(other.status, 201, other.res.body);
      assert.ok(other.cookie);
      assert.equal((await attempt(B, 'wrong b')).status, 401);
      assert.equal((await attempt(C, 'wrong c')).status, 401);
      assert.equal(await limited(A, PASSPHRASE), 1, 'another client’s success does not free this one');

      // The wait runs out on the clock, and each further failure doubles it: 1 s, 2 s, 4 s.
      now += 999;
      assert.equal(await limited(A, PASSPHRASE), 1);
      now += 1;
      assert.equal((await attempt(A, 'wrong 3')).status, 401);
      waits.push(await limited(A, PASSPHRASE));
      now += waits.at(-1)! * 1000;
      assert.equal((await attempt(A, 'wrong 4')).status, 401);
      waits.push(await limited(A, PASSPHRASE));
      assert.deepEqual(waits, [1, 2, 4]);

      // A success clears the client's count: three free failures again before the first wait.
      now += 4000;
      const ok = await attempt(A, PASSPHRASE);
      assert.equal(ok.status, 201, ok.res.body);
      for (let i = 0; i < 3; i++) assert.equal((await attempt(A, `wrong after ${i}`)).status, 401, `failure ${i + 1} after the success`);
      assert.equal(await limited(A, PASSPHRASE), 1);
    } finally {
      await server.stop();
      home.close();
    }
  });
});

/** `elohim serve` on a fresh (empty) home in a child process; the port it picked. */
async function serve(hostArg: string) {
  const home = join(await makeTempDir('elohim-serve-'), 'home');
  const child = spawn(NODE, [CLI, 'serve', '--host', hostArg, '--port', '0', '--log-level', 'error'], {
    env: cliEnv({ ELOHIM_HOME: home }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 30_000);
    child.stderr.on('data', (d: string) => {
      stderr += d;
      const m = /ElohimOS is serving http:\/\/[^\s]+:(\d+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${stderr}`));
    });
  });
  return {
    port,
    /** GET /api/v1/health on 127.0.0.1 with this Host header. */
    health(host: string): Promise<SimpleResponse> {
      return rawRequest(port, `GET /api/v1/health HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    },
    async stop() {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0, stderr);
    },
  };
}

/** Every address of this machine as a Host header would carry it (IPv6 in brackets). */
function machineAddresses(opts: { external?: boolean } = {}): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (opts.external && a.internal) continue;
      out.push(a.family === 'IPv6' ? `[${a.address}]` : a.address);
    }
  }
  return out;
}

function assertAnswered(res: SimpleResponse, host: string): void {
  assert.equal(res.status, 200, `Host ${host}: ${res.body}`);
  assert.equal((JSON.parse(res.body) as { ok: boolean }).ok, true);
}

function assertRefused(res: SimpleResponse, host: string): void {
  assert.equal(res.status, 403, `Host ${host} was answered: ${res.status} ${res.body.slice(0, 200)}`);
  assertError(res, 403, 'CSRF_REJECTED');
}

describe('the Host names `elohim serve` answers to', () => {
  test('--host 0.0.0.0: this machine’s addresses and the loopback names, with or without the port; any other name is 403', async () => {
    const s = await serve('0.0.0.0');
    try {
      const mine = machineAddresses();
      assert.ok(mine.includes('127.0.0.1'));
      for (const name of [...mine, 'localhost', 'LocalHost', '127.0.0.1', '[::1]', '0.0.0.0']) {
        for (const host of [name, `${name}:${s.port}`]) assertAnswered(await s.health(host), host);
      }
      // Names a DNS-rebinding page would send, and addresses that are not this machine's.
      const foreignV4 = ['198.51.100.77', '203.0.113.99', '10.255.255.254'].find((a) => !mine.includes(a))!;
      const foreignV6 = ['[2001:db8::dead]', '[fd12:3456::1]'].find((a) => !mine.includes(a))!;
      for (const host of [
        'evil.example',
        `evil.example:${s.port}`,
        'localhost.evil.example',
        '127.0.0.1.evil.example',
        'evil.example:80@127.0.0.1',
        foreignV4,
        `${foreignV4}:${s.port}`,
        foreignV6,
        '',
      ]) {
        assertRefused(await s.health(host), host);
      }
    } finally {
      await s.stop();
    }
  });

  test('the default --host 127.0.0.1 answers to loopback names only: this machine’s other addresses are 403', async () => {
    const s = await serve('127.0.0.1');
    try {
      for (const host of ['localhost', `127.0.0.1:${s.port}`, '[::1]']) assertAnswered(await s.health(host), host);
      for (const host of [...machineAddresses({ external: true }), '0.0.0.0', 'evil.example']) assertRefused(await s.health(host), host);
    } finally {
      await s.stop();
    }
  });
});
