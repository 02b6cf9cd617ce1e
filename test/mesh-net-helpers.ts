/**
 * Real `elohim serve` processes for the MagnetarMesh tests: each its own ELOHIM_HOME and port,
 * unlocked over HTTP, mesh on TCP 127.0.0.1 with mDNS off (nothing leaves loopback), plus a TCP
 * relay that records every byte two devices exchange.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';
import { API, apiPath, CSRF_HEADER } from '../src/server/protocol.ts';
import type { ApiRoute } from '../src/server/protocol.ts';
import { CLI, cliEnv, initHome, NODE, PASSPHRASE } from './helpers.ts';
import type { TestHome } from './helpers.ts';

export interface Device {
  name: string;
  t: TestHome;
  child: ChildProcess;
  url: string;
  /** JSON call on the unlocked session: returns status and parsed body */
  call(method: string, route: ApiRoute, body?: unknown, id?: string): Promise<{ status: number; body: any }>;
  deviceId: string;
  stop(): Promise<void>;
  stderr(): string;
}

/** Starts `elohim serve` on a new vault, unlocks it and turns the mesh on (loopback, no mDNS). */
export async function startDevice(name: string, opts: { env?: Record<string, string>; listen?: string[]; mdns?: boolean; home?: TestHome; passphrase?: string; turnOn?: boolean } = {}): Promise<Device> {
  const t = opts.home ?? (await initHome());
  const child = spawn(NODE, [CLI, 'serve', '--port', '0', '--log-level', 'error'], { env: cliEnv({ ELOHIM_HOME: t.home, ...opts.env }), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
      const m = /serving (http:\/\/\S+)/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    void exited.then(() => reject(new Error(`serve exited before serving: ${stderr}`)));
  });
  const unlock = await fetch(url + API.session, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [CSRF_HEADER]: 'test' },
    body: JSON.stringify({ passphrase: opts.passphrase ?? PASSPHRASE }),
  });
  assert.equal(unlock.status, 201, await unlock.clone().text());
  const cookie = unlock.headers.get('set-cookie')!.split(';')[0]!;
  const csrf = ((await unlock.json()) as { csrfToken: string }).csrfToken;
  const call = async (method: string, route: ApiRoute, body?: unknown, id?: string) => {
    const res = await fetch(url + apiPath(route, id), {
      method,
      headers: { cookie, [CSRF_HEADER]: csrf, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text.length > 0 ? JSON.parse(text) : null };
  };
  // turnOn: false leaves the mesh as the vault has it (a restart: the server starts it at unlock)
  // A name long and distinct enough that finding it in ciphertext by chance is out of the
  // question (the host's name, "vm" on CI, turns up in a few hundred KiB of random bytes).
  const deviceName = `test device ${name} ${randomBytes(6).toString('hex')}`;
  const on = opts.turnOn === false ? await call('GET', API.mesh) : await call('POST', API.meshOn, { name: deviceName, listen: opts.listen ?? ['/ip4/127.0.0.1/tcp/0'], mdns: opts.mdns ?? false });
  assert.equal(on.status, 200, JSON.stringify(on.body));
  if (opts.turnOn !== false) assert.equal(on.body.running, true, JSON.stringify(on.body));
  return {
    name,
    t,
    child,
    url,
    call,
    deviceId: on.body.deviceId,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      // a server that does not stop within 20 s is a failure the test reports; it must not hang the run
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** Polls `fn` until it returns a truthy value (bounded: 15 s), for state that settles over the network. */
export async function eventually<T>(fn: () => Promise<T | null | undefined | false>, what: string, limitMs = 15_000): Promise<T> {
  const until = Date.now() + limitMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A TCP relay on 127.0.0.1 to `target` that keeps every byte passed in either direction. */
export async function recordingRelay(targetPort: number): Promise<{ port: number; bytes(): Buffer; close(): Promise<void> }> {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    const outbound = connect(targetPort, '127.0.0.1');
    inbound.unref();
    outbound.unref();
    sockets.add(inbound).add(outbound);
    inbound.on('data', (d: Buffer) => chunks.push(Buffer.from(d)));
    outbound.on('data', (d: Buffer) => chunks.push(Buffer.from(d)));
    inbound.pipe(outbound).pipe(inbound);
    const end = () => {
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('error', end).on('close', end);
    outbound.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // A relay left open by a failed test must not keep the test process alive (it once held a CI
  // run until its time limit); the test closes it, and this is the backstop.
  server.unref();
  return {
    port: (server.address() as { port: number }).port,
    bytes: () => Buffer.concat(chunks),
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
