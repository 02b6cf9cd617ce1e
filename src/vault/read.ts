import { pipeline, Readable, Transform } from 'node:stream';
import { createArmorEncoder, encodeHeader, wrapFileKeyForRecipients } from '../crypto/age/index.ts';
import { ElohimError, isElohimError } from '../errors.ts';
import type { Item } from './tree.ts';
import type { VaultCore } from './core.ts';
import type { Damage, Vault } from './index.ts';
import { abortable, reasonOf } from './abort.ts';

/**
 * Reading files back. Every read relies on age STREAM authentication alone: each 64 KiB chunk
 * is verified under its counter, and the last under the final flag, before any of its bytes
 * are passed on, so a damaged, reordered or truncated object fails. The SHA-256 recorded at
 * put is of the same plaintext the cipher sealed; recomputing it on every read catches nothing
 * more, for 0.6 CPU-s per GiB, so only `verify` checks it (it reports a file whose ciphertext
 * authenticates but whose hash differs: a bug, or a record and an object that do not belong).
 */
export function createReader(core: VaultCore): Pick<Vault, 'read' | 'sha256Of' | 'verify' | 'export'> {
  const { tree, objects } = core;

  async function plaintext(item: Item, range?: { start: number; end: number }): Promise<Readable> {
    const size = item.size!;
    if (range !== undefined && !(Number.isSafeInteger(range.start) && Number.isSafeInteger(range.end) && 0 <= range.start && range.start <= range.end && range.end <= size)) {
      throw new ElohimError('INVALID_INPUT', `range ${range.start}-${range.end} is outside 0-${size}`);
    }
    return objects.read(item.object!, core.fileKeyOf(item), size, range);
  }

  /** The whole plaintext, failing with OBJECT_DAMAGED at the end if it differs from the recorded SHA-256. */
  async function hashChecked(item: Item): Promise<Readable> {
    const plain = await plaintext(item);
    const hash = core.hashers.create(item.size!);
    const expected = item.sha256!;
    const check = new Transform({
      transform(chunk: Buffer, _enc, done) {
        Promise.resolve(hash.update(chunk)).then(() => done(null, chunk), done);
      },
      flush(done) {
        hash.digest().then((actual) => {
          if (actual !== expected) return done(new ElohimError('OBJECT_DAMAGED', 'the file does not match its recorded SHA-256'));
          done();
        }, done);
      },
      destroy(err, done) {
        hash.destroy();
        done(err);
      },
    });
    plain.on('error', (err) => check.destroy(err));
    return plain.pipe(check);
  }

  return {
    async read(id, opts = {}) {
      opts.signal?.throwIfAborted();
      const item = core.fileById(id);
      const stream = abortable(await plaintext(item, opts.range), opts.signal);
      // A ranged read is usually a media player seeking: log whole downloads only.
      if (opts.range === undefined) core.onEvent('download', { path: core.pathOf(item), size: item.size! });
      return { info: core.info(item), stream };
    },

    sha256Of(id) {
      return core.fileById(id).sha256!;
    },

    async verify(opts = {}) {
      const filesToCheck = [...tree.all()].filter((i) => i.kind === 'file');
      const totalBytes = filesToCheck.reduce((n, i) => n + i.size!, 0);
      const damaged: Damage[] = [];
      let files = 0;
      let bytes = 0;
      for (const item of filesToCheck) {
        opts.signal?.throwIfAborted();
        try {
          const stream = abortable(await hashChecked(item), opts.signal);
          for await (const chunk of stream) {
            bytes += (chunk as Buffer).length;
            opts.onProgress?.({ files, bytes, totalFiles: filesToCheck.length, totalBytes });
          }
        } catch (err) {
          // Stopped, not damaged: the reason may itself be an ElohimError (a lock).
          if (opts.signal?.aborted) throw reasonOf(opts.signal);
          if (!isElohimError(err) && (err as NodeJS.ErrnoException).code === undefined) throw err;
          damaged.push({
            path: core.pathOf(item) + (tree.isLive(item.id) ? '' : ' (in trash)'),
            id: item.id,
            code: isElohimError(err) ? err.code : 'HOST_IO',
            message: err instanceof Error ? err.message : String(err),
          });
        }
        files++;
        opts.onProgress?.({ files, bytes, totalFiles: filesToCheck.length, totalBytes });
      }
      // The records themselves (item 2 of issue 8): a row that no longer opens was left out
      // when the vault opened, and the record set's seal says whether rows went missing.
      const rows = core.records.load();
      for (const r of rows.damaged) damaged.push({ path: `(record ${r.id})`, id: r.id, code: 'VAULT_CORRUPT', message: `a vault record fails authentication (${r.reason})` });
      if (rows.seal !== 'ok') {
        const message = rows.seal === 'mismatch' ? 'the vault records are not the set last written: a record was deleted, added or an older copy put back' : 'the vault records have no seal (an older build, or the seal was deleted)';
        damaged.push({ path: '(records)', id: '' as Damage['id'], code: 'VAULT_CORRUPT', message });
      }
      return { files: filesToCheck.length, bytes: totalBytes, damaged };
    },

    async export(id, recipients, opts = {}) {
      opts.signal?.throwIfAborted();
      const item = core.fileById(id);
      const fileKey = core.fileKeyOf(item);
      // Opening a range checks the object exists and has the right size before any output.
      (await objects.read(item.object!, fileKey, item.size!, { start: 0, end: 0 })).destroy();
      const header = encodeHeader(wrapFileKeyForRecipients(recipients, fileKey), fileKey);
      const raw = await objects.ciphertext.read(item.object!);
      core.onEvent('download', { path: core.pathOf(item), size: item.size!, export: 'age' });
      const joined = Readable.from((async function* () {
        yield header;
        yield* raw;
      })());
      // pipeline, not pipe: an error or an abort on either side destroys both (and closes the object).
      const out = opts.armor ? pipeline(joined, createArmorEncoder(), () => {}) : joined;
      return { info: core.info(item), stream: abortable(out, opts.signal) };
    },
  };
}
