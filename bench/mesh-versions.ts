/**
 * The index versions' signatures, per 10,000 versions: signed one by one (older builds) against
 * signed in batches (one Ed25519 signature per Merkle root of up to 128, shares/keys.ts), in one
 * run, rounds interleaved. Each round signs new versions (so no root is already verified) and
 * times, with the process's CPU (user + system, every thread: the libuv pool's too):
 *   sign     the sender's scan: sealVersion per version / sealVersions
 *   check    a receiver's check of a peer's batches of 500 (openVersions: signatures on the pool)
 *   checkMain the same, each version checked on the main thread (openVersion)
 *
 *   node bench/mesh-versions.ts          (VERSIONS_BENCH_N=10000, VERSIONS_BENCH_ROUNDS=3)
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { generateX25519Identity } from '../src/crypto/age/index.ts';
import { deviceSigner, newShareRecord, openVersion, openVersions, sealVersion, sealVersions } from '../src/mesh/shares/keys.ts';
import type { WireVersion } from '../src/mesh/shares/keys.ts';
import { median, printJsonLine, ratio } from './lib.ts';

const N = Number(process.env.VERSIONS_BENCH_N ?? '10000');
const ROUNDS = Math.max(1, Number(process.env.VERSIONS_BENCH_ROUNDS ?? '3'));
const BATCH = 500; // versions per `versions` message (sync/engine.ts)

const owner = deviceSigner(randomBytes(32));
const { record, key } = newShareRecord(owner, {
  share: randomBytes(16).toString('hex'),
  name: 'Bench',
  epoch: 1,
  rev: 1,
  members: [{ dev: owner.tag, peer: 'a', name: 'a', signPub: owner.publicKey, recipients: [generateX25519Identity().recipient], role: 'owner' }],
  former: [],
  previous: {},
});
const keys = { 1: key };
let seq = 0;
const versions = () =>
  Array.from({ length: N }, () => {
    seq++;
    const content = { path: ['Bench', `small-${seq}.bin`], size: 4096, sha256: randomBytes(32).toString('hex'), at: Date.now(), fileKey: randomBytes(16).toString('base64') };
    return { entry: randomBytes(16).toString('hex'), seq, vv: { [owner.tag]: seq }, deleted: false, obj: randomBytes(16).toString('hex'), content };
  });

/** Wall ms and CPU ms (all threads) of fn. */
async function timed<T>(fn: () => T | Promise<T>): Promise<{ wall: number; cpu: number; value: T }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000, value };
}

const forms = {
  alone: (list: ReturnType<typeof versions>) => list.map((v) => sealVersion(owner, record.share, 1, key, v)),
  batch: (list: ReturnType<typeof versions>) => sealVersions(owner, record.share, 1, key, list),
} as const;
type Form = keyof typeof forms;
const results: Record<Form, { sign: number[]; signCpu: number[]; check: number[]; checkCpu: number[]; main: number[]; mainCpu: number[]; bytes: number }> = {
  alone: { sign: [], signCpu: [], check: [], checkCpu: [], main: [], mainCpu: [], bytes: 0 },
  batch: { sign: [], signCpu: [], check: [], checkCpu: [], main: [], mainCpu: [], bytes: 0 },
};

for (let round = 0; round < ROUNDS; round++) {
  for (const form of (round % 2 === 0 ? ['alone', 'batch'] : ['batch', 'alone']) as Form[]) {
    const r = results[form];
    const signed = await timed(() => forms[form](versions()));
    r.sign.push(signed.wall);
    r.signCpu.push(signed.cpu);
    r.bytes = Buffer.byteLength(JSON.stringify(signed.value)) / N;
    const checked = await timed(async () => {
      for (let at = 0; at < N; at += BATCH) await openVersions(signed.value.slice(at, at + BATCH), record, keys);
    });
    r.check.push(checked.wall);
    r.checkCpu.push(checked.cpu);
    // Freshly signed again: the roots just verified would be found in the process's cache.
    const again: WireVersion[] = forms[form](versions());
    const main = await timed(() => {
      for (const w of again) openVersion(w, record, keys);
    });
    r.main.push(main.wall);
    r.mainCpu.push(main.cpu);
  }
}

const ms = (xs: number[]) => Math.round(median(xs));
for (const form of ['alone', 'batch'] as Form[]) {
  const r = results[form];
  process.stdout.write(
    `${form.padEnd(5)} per ${N} versions (median of ${ROUNDS}): sign ${ms(r.sign)} ms (cpu ${ms(r.signCpu)}), check on the pool ${ms(r.check)} ms (cpu ${ms(r.checkCpu)}), check on the main thread ${ms(r.main)} ms (cpu ${ms(r.mainCpu)}); ${Math.round(r.bytes)} bytes per version as JSON\n`,
  );
}
const a = results.alone;
const b = results.batch;
printJsonLine('mesh-versions', {
  n: N,
  rounds: ROUNDS,
  aloneSignMs: ms(a.sign),
  batchSignMs: ms(b.sign),
  aloneCheckMs: ms(a.check),
  aloneCheckCpuMs: ms(a.checkCpu),
  batchCheckMs: ms(b.check),
  batchCheckCpuMs: ms(b.checkCpu),
  aloneMainMs: ms(a.main),
  batchMainMs: ms(b.main),
  checkCpuRatio: ratio(median(b.checkCpu), median(a.checkCpu)),
  mainRatio: ratio(median(b.main), median(a.main)),
  aloneBytes: Math.round(a.bytes),
  batchBytes: Math.round(b.bytes),
  load: loadavg()[0],
});
