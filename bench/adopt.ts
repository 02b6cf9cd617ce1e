/**
 * What a shared file costs on each device, the way before vault.adopt and now, in one run
 * (rounds interleaved), on a real vault in a temp folder: wall time and CPU time (the whole
 * process, hasher threads included).
 *
 * - receiving: the file that travelled is stored as an object; it enters the vault by
 *   re-sealing (decrypt it, encrypt again under a new key, write and fsync a second object:
 *   putMany, as materialize did) against adopting it (authenticate and hash it: no write);
 * - sharing: the vault's file becomes a share object by copying its ciphertext (export to a
 *   one-time recipient, unwrap the key, write the stored bytes as a new object, authenticated)
 *   against naming the vault's own object (objectOf: no I/O).
 *
 *   ADOPT_BENCH_SCALE=1      1,000 files of 1–8 KiB and 4 of 16 MiB (default); 0.1 a tenth
 *   ADOPT_BENCH_ROUNDS=3     rounds (the best of each way is reported)
 */
import { randomBytes, randomInt } from 'node:crypto';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { generateX25519Identity, HeaderParser, parseIdentity, parseRecipient, unwrapHeader } from '../src/crypto/age/index.ts';
import { createHasherPool } from '../src/crypto/index.ts';
import { createObjectStore, newObjectId } from '../src/vault/index.ts';
import type { ObjectId, StoredFile, Vault } from '../src/vault/index.ts';
import { openTestVault } from '../src/vault/testing.ts';
import { best, fmtS, printJsonLine, ratio } from './lib.ts';

const SCALE = Number(process.env.ADOPT_BENCH_SCALE ?? '1');
const ROUNDS = Math.max(1, Number(process.env.ADOPT_BENCH_ROUNDS ?? '3'));
const SMALL = Math.max(1, Math.round(1000 * SCALE));
const BIG = Math.max(1, Math.round(4 * SCALE));

const tv = await openTestVault();
const hashers = createHasherPool({ maxWorkers: 2 });
const objects = createObjectStore({ root: join(tv.dir, 'objects'), hashers });
try {
  const v = tv.vault;
  const sizes = [...Array.from({ length: SMALL }, () => randomInt(1024, 8193)), ...Array.from({ length: BIG }, () => 16 << 20)];
  const src = v.mkdir(null, 'src');
  await v.putMany(src.id, sizes.map((size, i) => ({ names: [`f${i}.bin`], size, read: async () => randomBytes(size) })));
  const files: (StoredFile & { name: string })[] = v.children(src.id).map((e) => ({ name: e.name, ...v.objectOf(e.id) }));
  const mib = sizes.reduce((a, b) => a + b, 0) / 2 ** 20;
  console.log(`data: ${files.length} files, ${mib.toFixed(0)} MiB; load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);

  const measure = async (fn: () => Promise<unknown>) => {
    const cpu = process.cpuUsage();
    const t0 = performance.now();
    await fn();
    const wall = performance.now() - t0;
    const used = process.cpuUsage(cpu);
    return { wall, cpu: (used.user + used.system) / 1000 };
  };

  /** The receiving side before adopt: the share object re-sealed into the vault (putMany). */
  const reseal = (vault: Vault, folder: string) =>
    vault.putMany(folder, files.map((f) => ({ names: [f.name], size: f.size, read: () => objects.read(f.object, f.fileKey, f.size) })));
  const adopt = (vault: Vault, folder: string) => vault.adopt(folder, files.map((f) => ({ names: [f.name], object: f.object, fileKey: f.fileKey, size: f.size, sha256: f.sha256 })));

  /** The sharing side before objectOf: the vault's ciphertext copied as a new object (bridge.ts as it was). */
  async function copyOut(id: string): Promise<ObjectId> {
    const once = generateX25519Identity();
    const { info, stream } = await v.export(id, [parseRecipient(once.recipient)]);
    const parser = new HeaderParser();
    let fileKey: Buffer | null = null;
    const stored = (async function* () {
      for await (const piece of stream as AsyncIterable<Buffer>) {
        if (fileKey !== null) {
          yield piece;
          continue;
        }
        const done = parser.push(piece);
        if (done === null) continue;
        fileKey = unwrapHeader(done.header, [parseIdentity(once.identity)]);
        if (done.rest.length > 0) yield done.rest;
      }
    })();
    const first = await stored.next();
    const obj = newObjectId();
    await objects.ciphertext.write(obj, Readable.from((async function* () {
      if (!first.done) yield first.value;
      yield* stored;
    })()), { fileKey: fileKey as never, size: info.size });
    return obj;
  }
  const ids = v.children(src.id).map((e) => e.id);
  const copyAll = async () => {
    const queue = [...ids];
    await Promise.all(Array.from({ length: 8 }, async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) await copyOut(id);
    }));
  };
  const nameAll = async () => {
    for (const id of ids) v.objectOf(id);
  };

  const rounds = { reseal: [] as { wall: number; cpu: number }[], adopt: [] as { wall: number; cpu: number }[], copy: [] as { wall: number; cpu: number }[], name: [] as { wall: number; cpu: number }[] };
  for (let r = 0; r < ROUNDS; r++) {
    rounds.reseal.push(await measure(() => reseal(v, v.mkdir(null, `reseal${r}`).id)));
    rounds.adopt.push(await measure(() => adopt(v, v.mkdir(null, `adopt${r}`).id)));
    rounds.copy.push(await measure(copyAll));
    rounds.name.push(await measure(nameAll));
    const last = (k: keyof typeof rounds) => `${fmtS(rounds[k].at(-1)!.wall)} (CPU ${fmtS(rounds[k].at(-1)!.cpu)})`;
    console.log(`round ${r + 1}: receive re-seal ${last('reseal')}, adopt ${last('adopt')}; share copy ${last('copy')}, objectOf ${last('name')}; load ${loadavg()[0]!.toFixed(2)}`);
  }
  const b = (k: keyof typeof rounds, f: 'wall' | 'cpu') => best(rounds[k].map((x) => x[f]));
  console.log(`receiving: adopt ${fmtS(b('adopt', 'wall'))} against re-seal ${fmtS(b('reseal', 'wall'))} (ratio ${ratio(b('adopt', 'wall'), b('reseal', 'wall'))}), CPU ${fmtS(b('adopt', 'cpu'))} against ${fmtS(b('reseal', 'cpu'))} (ratio ${ratio(b('adopt', 'cpu'), b('reseal', 'cpu'))}); objects written: 0 against ${files.length}`);
  console.log(`sharing: objectOf ${fmtS(b('name', 'wall'))} against copy ${fmtS(b('copy', 'wall'))}; objects written: 0 against ${files.length}`);
  printJsonLine('adopt', {
    files: files.length,
    mib: Math.round(mib),
    rounds: ROUNDS,
    receiveResealS: b('reseal', 'wall') / 1000,
    receiveAdoptS: b('adopt', 'wall') / 1000,
    receiveRatio: ratio(b('adopt', 'wall'), b('reseal', 'wall')),
    receiveResealCpuS: b('reseal', 'cpu') / 1000,
    receiveAdoptCpuS: b('adopt', 'cpu') / 1000,
    receiveCpuRatio: ratio(b('adopt', 'cpu'), b('reseal', 'cpu')),
    shareCopyS: b('copy', 'wall') / 1000,
    shareObjectOfS: b('name', 'wall') / 1000,
    loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
  });
} finally {
  await tv.close();
}
