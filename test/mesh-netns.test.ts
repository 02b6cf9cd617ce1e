/**
 * Real local discovery: two devices in two network namespaces joined by a veth pair (nothing
 * else on that link, no route anywhere), each running the real `elohim` CLI inside its namespace.
 * B finds A by mDNS (`mesh nearby`), then pairs with A's code stripped of every address, so the
 * only way B can reach A is the address mDNS found. Needs root (`ip netns`); CI runs as root.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { after, test } from 'node:test';
import { decodeCode, encodeCode } from '../src/mesh/index.ts';
import { base58 } from '@scure/base';
import { CLI, cliEnv, initHome, NODE, PASSPHRASE, removeTempDirs, which } from './helpers.ts';

const isRoot = process.getuid?.() === 0;
const ip = which('ip');
const skip = !isRoot ? 'needs root to make network namespaces (CI runs as root)' : ip === null ? 'needs the ip tool (iproute2)' : false;

const tag = randomBytes(3).toString('hex');
const NS_A = `elo-a-${tag}`;
const NS_B = `elo-b-${tag}`;
// Addresses that exist only on the veth link between the two namespaces this test makes.
const ADDR_A = '10.231.77.1';
const ADDR_B = '10.231.77.2';

function sh(...args: string[]) {
  execFileSync(ip!, args, { stdio: 'pipe' });
}

after(async () => {
  if (!skip) {
    for (const ns of [NS_A, NS_B]) {
      try {
        sh('netns', 'del', ns);
      } catch {
        // not made (an earlier step failed)
      }
    }
  }
  await removeTempDirs();
});

/** The CLI in a namespace (ip netns exec … node bin/elohim.js …), run to its end. */
function inNs(ns: string, home: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(ip!, ['netns', 'exec', ns, NODE, CLI, ...args], { env: cliEnv({ ELOHIM_HOME: home, ELOHIM_PASSPHRASE: PASSPHRASE }), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const describe = (r: { code: number | null; stdout: string; stderr: string }) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

test('two namespaces on a veth link: mDNS finds the other device, and pairing works with no address given', { skip, timeout: 180_000 }, async () => {
  sh('netns', 'add', NS_A);
  sh('netns', 'add', NS_B);
  sh('link', 'add', `va-${tag}`, 'netns', NS_A, 'type', 'veth', 'peer', 'name', `vb-${tag}`, 'netns', NS_B);
  for (const [ns, dev, addr] of [[NS_A, `va-${tag}`, ADDR_A], [NS_B, `vb-${tag}`, ADDR_B]] as const) {
    sh('-n', ns, 'link', 'set', 'lo', 'up');
    sh('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev);
    sh('-n', ns, 'link', 'set', dev, 'up', 'multicast', 'on');
    // mDNS (224.0.0.251) goes out on the link: the only interface besides loopback
    sh('-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', dev);
  }
  const [a, b] = await Promise.all([initHome(), initHome()]);
  for (const [ns, t, addr] of [[NS_A, a, ADDR_A], [NS_B, b, ADDR_B]] as const) {
    const on = await inNs(ns, t.home, ['mesh', 'on', '--listen', `/ip4/${addr}/tcp/0`]);
    assert.equal(on.code, 0, describe(on));
    assert.match(on.stdout, /discovery\s+local network \(mDNS\)/);
  }

  // A shows its code and waits (its node announces itself by mDNS meanwhile)
  const shower = spawn(ip!, ['netns', 'exec', NS_A, NODE, CLI, 'mesh', 'pair', '--wait', '120'], {
    env: cliEnv({ ELOHIM_HOME: a.home, ELOHIM_PASSPHRASE: PASSPHRASE }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let showerOut = '';
  const showerDone = new Promise<number | null>((resolve) => shower.on('exit', resolve));
  const code = await new Promise<string>((resolve, reject) => {
    createInterface({ input: shower.stdout! }).on('line', (line) => {
      showerOut += `${line}\n`;
      const m = /^\s+(EM1-\S+)/.exec(line);
      if (m) resolve(m[1]!);
    });
    void showerDone.then(() => reject(new Error(`mesh pair exited early: ${showerOut}`)));
  });
  const aId = base58.encode(decodeCode(code).peerId);

  // B sees A by mDNS
  const nearby = await inNs(NS_B, b.home, ['mesh', 'nearby', '--wait', '8', '--json']);
  assert.equal(nearby.code, 0, describe(nearby));
  const seen = JSON.parse(nearby.stdout) as { deviceId: string; addrs: string[] }[];
  const found = seen.find((d) => d.deviceId === aId);
  assert.ok(found, `B found A by mDNS: ${nearby.stdout}`);
  assert.ok(found.addrs.some((x) => x.includes(`/ip4/${ADDR_A}/tcp/`)), `at A's veth address: ${found.addrs.join(' ')}`);

  // B pairs with A's code, every address removed from it: only mDNS can say where A is
  const bare = encodeCode({ ...decodeCode(code), addrs: [] });
  const paired = await inNs(NS_B, b.home, ['mesh', 'pair', bare]);
  assert.equal(paired.code, 0, describe(paired));
  const exit = await showerDone;
  assert.equal(exit, 0, showerOut);
  const safety = (out: string) => /safety number:\n\s+([\d ]+)\n/.exec(out)?.[1];
  assert.ok(safety(paired.stdout));
  assert.equal(safety(paired.stdout), safety(showerOut), 'both devices show one safety number');

  const peersOfB = await inNs(NS_B, b.home, ['mesh', 'peers', '--json']);
  assert.deepEqual((JSON.parse(peersOfB.stdout) as { deviceId: string }[]).map((p) => p.deviceId), [aId]);

  // later, both run again on new ports: B finds A by mDNS, reconnects, and sees it online with a latency
  const aAgain = inNs(NS_A, a.home, ['mesh', 'nearby', '--wait', '20']);
  const online = await inNs(NS_B, b.home, ['mesh', 'peers', '--wait', '12', '--json']);
  assert.equal(online.code, 0, describe(online));
  const [seenA] = JSON.parse(online.stdout) as { deviceId: string; online: boolean; latencyMs: number | null }[];
  assert.equal(seenA?.deviceId, aId);
  assert.equal(seenA?.online, true, `A online at B: ${online.stdout}`);
  assert.equal(typeof seenA?.latencyMs, 'number');
  assert.equal((await aAgain).code, 0);
});
