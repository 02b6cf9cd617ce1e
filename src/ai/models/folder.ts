/**
 * The models folder ($ELOHIM_HOME/models): one `<name>.gguf` per model, `tmp/` for imports being
 * copied, `partial/` for pulls in progress (`<pull id>.part` and its `.json`). Device-wide: every
 * vault of the folder sees the same models (ARCHITECTURE.md, "Models").
 *
 * A model reaches its final name only whole, checked and probed (models.ts), by a hard link from
 * its temp file, which fails if the name is taken: two imports of one name never overwrite.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, mkdir, open, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ElohimError } from '../../errors.ts';
import { MAX_HEADER_BYTES, NeedMoreBytes, parseGgufHeader } from './gguf.ts';
import type { GgufSummary } from './gguf.ts';

/** 1–64 of letters, digits, '.', '_' and '-', not starting with '.' (no path can be formed). */
const NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/;

/** Throws INVALID_INPUT unless `name` is a valid model name. */
export function checkModelName(name: string): string {
  if (!NAME.test(name)) throw new ElohimError('INVALID_INPUT', 'a model name is 1–64 letters, digits, ".", "_" or "-", not starting with "."');
  return name;
}

/** A name from a file name or URL path: its last part without `.gguf`, other characters as '-'. */
export function modelNameFrom(fileName: string): string {
  const base = fileName.split(/[\\/]/).pop() ?? '';
  const stem = base.replace(/\.gguf$/i, '').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[.-]+/, '').slice(0, 64);
  return stem === '' ? 'model' : stem;
}

/**
 * The header of the GGUF file at `path`, read a MiB at first and more only while the header goes
 * on (a vocabulary of 256 K tokens is ~10 MiB), never over MAX_HEADER_BYTES. Throws MODEL_INVALID.
 */
export async function readGgufSummary(path: string): Promise<GgufSummary> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    for (let want = 1 << 20; ; want *= 4) {
      const length = Math.min(want, size, MAX_HEADER_BYTES);
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, 0);
      try {
        return parseGgufHeader(buf.subarray(0, bytesRead), bytesRead >= size || bytesRead >= MAX_HEADER_BYTES);
      } catch (err) {
        if (!(err instanceof NeedMoreBytes)) throw err;
      }
    }
  } finally {
    await fh.close();
  }
}

/** The SHA-256 of a file, hex. */
export async function sha256File(path: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20, signal })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export interface ModelFile {
  name: string;
  path: string;
  size: number;
  mtimeMs: number;
  summary: GgufSummary;
}

export function createModelFolder(dir: string) {
  const tmp = join(dir, 'tmp');
  const partial = join(dir, 'partial');
  const pathOf = (name: string) => join(dir, `${checkModelName(name)}.gguf`);
  // Headers are parsed once per file version, not on every list.
  const summaries = new Map<string, { size: number; mtimeMs: number; summary: GgufSummary | ElohimError }>();

  async function describe(name: string): Promise<ModelFile | null> {
    const path = pathOf(name);
    let st;
    try {
      st = await stat(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    if (!st.isFile()) return null;
    let cached = summaries.get(name);
    if (cached === undefined || cached.size !== st.size || cached.mtimeMs !== st.mtimeMs) {
      let summary: GgufSummary | ElohimError;
      try {
        summary = await readGgufSummary(path);
      } catch (err) {
        if (!(err instanceof ElohimError)) throw err;
        summary = err;
      }
      cached = { size: st.size, mtimeMs: st.mtimeMs, summary };
      summaries.set(name, cached);
    }
    // A file put in the folder by hand that is not a model is not listed (and never loaded).
    if (cached.summary instanceof ElohimError) return null;
    return { name, path, size: st.size, mtimeMs: st.mtimeMs, summary: cached.summary };
  }

  return {
    dir,
    tmp,
    partial,
    pathOf,
    /** Creates the folder and its temp folders (mode 0700). */
    async ensure(): Promise<void> {
      await mkdir(tmp, { recursive: true, mode: 0o700 });
      await mkdir(partial, { recursive: true, mode: 0o700 });
    },
    /** Every model in the folder, by name. */
    async list(): Promise<ModelFile[]> {
      let entries: string[];
      try {
        entries = await readdir(dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw err;
      }
      const names = entries.filter((e) => e.endsWith('.gguf')).map((e) => e.slice(0, -5)).filter((n) => NAME.test(n)).sort();
      const found = await Promise.all(names.map(describe));
      return found.filter((m): m is ModelFile => m !== null);
    },
    /** The model of that name, or null. Throws INVALID_INPUT for a malformed name. */
    find: (name: string) => describe(checkModelName(name)),
    /** Moves a finished temp file to `name`. Throws MODEL_EXISTS when the name is taken. */
    async place(tempPath: string, name: string): Promise<void> {
      try {
        await link(tempPath, pathOf(name));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new ElohimError('MODEL_EXISTS', `a model named ${name} already exists`);
        throw err;
      }
      await unlink(tempPath);
    },
    /** Throws AI_MODEL_NOT_FOUND. */
    async remove(name: string): Promise<void> {
      try {
        await unlink(pathOf(name));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ElohimError('AI_MODEL_NOT_FOUND', `no model named ${name}`);
        throw err;
      }
      summaries.delete(name);
    },
  };
}

export type ModelFolder = ReturnType<typeof createModelFolder>;
