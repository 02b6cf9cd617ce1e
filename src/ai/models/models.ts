/**
 * The device's GGUF models: import from a path (a USB drive), pull from a URL (resumable, with
 * progress, pause and cancel), list, show, delete. Built once per data folder by app.ts; the
 * embedded provider runs what it holds.
 *
 * A file gets its model name only once it is whole, its SHA-256 checked (when one was given),
 * its header parsed and llama.cpp has loaded it in a child process (probe.ts). Until then it is a
 * temp file (`tmp/`) or a partial pull (`partial/`), and a failed check removes it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { ElohimError } from '../../errors.ts';
import { checkPullUrl, download, pullIdOf, readPartialState, removePartial } from './download.ts';
import { alive, claimPartial } from './claims.ts';
import { checkModelName, createModelFolder, modelNameFrom, readGgufSummary, sha256File } from './folder.ts';
import type { ModelFile } from './folder.ts';
import { formatParameters } from './gguf.ts';
import { probeModel } from './probe.ts';
import type { ProbeOptions, ProbeResult } from './probe.ts';

export interface LocalModel {
  name: string;
  size: number;
  family: string;
  /** general.name in the file */
  title?: string;
  quantization?: string;
  parameterSize?: string;
  contextLength?: number;
  capabilities: string[];
}

export interface ModelProgress {
  status: 'copying' | 'downloading' | 'verifying' | 'checking';
  completed?: number;
  total?: number;
}

export interface AddOptions {
  /** default: the file's (or URL's) base name without .gguf */
  name?: string;
  /** expected SHA-256 (hex); a mismatch removes the file (MODEL_CHECKSUM_MISMATCH) */
  sha256?: string;
  signal?: AbortSignal;
  onProgress?: (p: ModelProgress) => void;
}

export interface PullState {
  /** the pull's id (from its URL), to cancel it */
  pull: string;
  name: string;
  completed: number;
  total?: number;
  /** running in this process now, rather than paused */
  active: boolean;
}

export interface ModelsDeps {
  /** the models folder, $ELOHIM_HOME/models */
  dir: string;
  /** default probeModel; tests pass their own to count calls, never to skip the check */
  probe?: (path: string, opts: ProbeOptions) => Promise<ProbeResult>;
  /** llama.cpp threads for the probe */
  threads?: number;
  /** longest silence of a pull, default 60 s */
  idleMs?: number;
}

const SHA256 = /^[0-9a-f]{64}$/;

const checkSha = (sha?: string): string | undefined => {
  if (sha === undefined) return undefined;
  const lower = sha.trim().toLowerCase();
  if (!SHA256.test(lower)) throw new ElohimError('INVALID_INPUT', 'a SHA-256 is 64 hexadecimal digits');
  return lower;
};


export function createModels(deps: ModelsDeps) {
  const folder = createModelFolder(deps.dir);
  const probe = deps.probe ?? probeModel;
  /** Files this process has seen load in a child: path → "size:mtime". */
  const probed = new Map<string, string>();
  const active = new Map<string, { controller: AbortController; done: Promise<unknown>; name?: string }>();
  /** temp files of imports running in this process */
  const importing = new Set<string>();

  /**
   * Removes temp files of imports that are over: a temp file is named after the process writing
   * it (`<pid>-<random>.gguf`), since the CLI may import while the server runs, and one whose
   * process is gone (killed mid-import) or is this one but not importing it any more is removed.
   */
  async function sweepTemp(): Promise<void> {
    const entries = await readdir(folder.tmp).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[];
      throw err;
    });
    for (const e of entries) {
      const path = join(folder.tmp, e);
      const pid = Number(/^(\d+)-/.exec(e)?.[1] ?? 0);
      const ours = pid === process.pid;
      if (ours ? importing.has(path) : pid > 0 && alive(pid)) continue;
      await rm(path, { force: true });
    }
  }

  const view = (m: ModelFile): LocalModel => {
    const s = m.summary;
    const model: LocalModel = { name: m.name, size: m.size, family: s.architecture, capabilities: s.capabilities };
    if (s.title !== undefined) model.title = s.title;
    if (s.quantization !== undefined) model.quantization = s.quantization;
    if (s.parameters !== undefined) model.parameterSize = formatParameters(s.parameters);
    if (s.contextLength !== undefined) model.contextLength = s.contextLength;
    return model;
  };

  async function found(name: string): Promise<ModelFile> {
    const m = await folder.find(name);
    if (m === null) throw new ElohimError('AI_MODEL_NOT_FOUND', `no model named ${name}`);
    return m;
  }

  async function unused(name: string): Promise<void> {
    if ((await folder.find(name)) !== null) throw new ElohimError('MODEL_EXISTS', `a model named ${name} already exists`);
  }

  /** Checks a whole temp file (hash, header, probe) and gives it its name; removes it on failure. */
  async function admit(temp: string, name: string, sha: { expected?: string; actual: string }, opts: AddOptions): Promise<LocalModel> {
    if (sha.expected !== undefined && sha.expected !== sha.actual) {
      throw new ElohimError('MODEL_CHECKSUM_MISMATCH', `the file's SHA-256 is ${sha.actual}, not the expected ${sha.expected}; it was not kept`);
    }
    opts.onProgress?.({ status: 'checking' });
    await readGgufSummary(temp);
    await probe(temp, { ...(opts.signal ? { signal: opts.signal } : {}), ...(deps.threads ? { threads: deps.threads } : {}) });
    await folder.place(temp, name);
    const m = await found(name);
    probed.set(m.path, `${m.size}:${m.mtimeMs}`);
    return view(m);
  }

  return {
    dir: deps.dir,

    async list(): Promise<LocalModel[]> {
      return (await folder.list()).map(view);
    },

    /** Throws AI_MODEL_NOT_FOUND. */
    async show(name: string): Promise<LocalModel & { sha256: string }> {
      const m = await found(name);
      return { ...view(m), sha256: await sha256File(m.path) };
    },

    /**
     * The path of a model that llama.cpp has loaded in a child process (probing it now if this
     * process has not seen this version of the file probed), for the embedded provider to load
     * in-process. Throws AI_MODEL_NOT_FOUND, MODEL_INVALID.
     */
    async loadablePath(name: string, opts: ProbeOptions = {}): Promise<{ path: string; model: LocalModel }> {
      const m = await found(name);
      const version = `${m.size}:${m.mtimeMs}`;
      if (probed.get(m.path) !== version) {
        await probe(m.path, { ...opts, ...(deps.threads ? { threads: deps.threads } : {}) });
        probed.set(m.path, version);
      }
      return { path: m.path, model: view(m) };
    },

    /**
     * Copies a GGUF file from this device (a USB drive) into the models folder. Throws
     * HOST_FILE_NOT_FOUND, INVALID_INPUT, MODEL_EXISTS, MODEL_INVALID, MODEL_CHECKSUM_MISMATCH,
     * DISK_FULL; nothing is kept on failure.
     */
    async importFile(source: string, opts: AddOptions = {}): Promise<LocalModel> {
      const name = checkModelName(opts.name ?? modelNameFrom(source));
      const expected = checkSha(opts.sha256);
      let st;
      try {
        st = await stat(source);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ElohimError('HOST_FILE_NOT_FOUND', 'no file at that path');
        throw err;
      }
      if (!st.isFile()) throw new ElohimError('INVALID_INPUT', 'that path is not a file');
      await unused(name);
      // The header first: a file that is not a GGUF is refused before gigabytes are copied.
      await readGgufSummary(source);
      await folder.ensure();
      await sweepTemp();
      const temp = join(folder.tmp, `${process.pid}-${randomBytes(12).toString('hex')}.gguf`);
      importing.add(temp);
      try {
        const hash = createHash('sha256');
        let completed = 0;
        let last = 0;
        await pipeline(
          createReadStream(source, { highWaterMark: 1 << 20, ...(opts.signal ? { signal: opts.signal } : {}) }),
          new Transform({
            transform(chunk: Buffer, _enc, cb) {
              hash.update(chunk);
              completed += chunk.byteLength;
              const now = Date.now();
              if (now - last >= 100 || completed === st.size) {
                last = now;
                opts.onProgress?.({ status: 'copying', completed, total: st.size });
              }
              cb(null, chunk);
            },
          }),
          // flush: fsync before close, so the model is durable before it gets its name
          createWriteStream(temp, { flags: 'wx', mode: 0o600, flush: true }),
        );
        return await admit(temp, name, { ...(expected ? { expected } : {}), actual: hash.digest('hex') }, opts);
      } finally {
        importing.delete(temp);
        await rm(temp, { force: true });
      }
    },

    /**
     * Downloads a GGUF file. Stopping it by `signal` pauses it: the partial stays and the same
     * call resumes it (HTTP Range). Throws INVALID_INPUT, MODEL_EXISTS, MODEL_BUSY (already
     * running), MODEL_CHECKSUM_MISMATCH and MODEL_INVALID (the download is removed), the
     * download's errors (download.ts), or the signal's reason.
     */
    async pull(rawUrl: string, opts: AddOptions & { onStart?: (pull: string) => void } = {}): Promise<LocalModel> {
      const url = checkPullUrl(rawUrl);
      const id = pullIdOf(url);
      const partPath = join(folder.partial, `${id}.part`);
      opts.signal?.throwIfAborted();
      // Claimed before the first await, so two pulls of one URL cannot both start.
      if (active.has(id)) throw new ElohimError('MODEL_BUSY', 'that model is being pulled already');
      const controller = new AbortController();
      let settle!: () => void;
      active.set(id, { controller, done: new Promise<void>((resolve) => (settle = resolve)) });
      const onAbort = () => controller.abort(opts.signal!.reason);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      let name: string | null = null;
      let placed = false;
      let releaseClaim: (() => Promise<void>) | null = null;
      try {
        const previous = await readPartialState(partPath);
        name = checkModelName(opts.name ?? previous?.extra?.name ?? modelNameFrom(decodeURIComponent(url.pathname)));
        active.get(id)!.name = name;
        const expected = checkSha(opts.sha256 ?? previous?.extra?.sha256);
        await unused(name);
        await folder.ensure();
        releaseClaim = await claimPartial(join(folder.partial, `${id}.lock`));
        opts.onStart?.(id);
        let last = 0;
        const result = await download({
          url,
          partPath,
          signal: controller.signal,
          ...(deps.idleMs ? { idleMs: deps.idleMs } : {}),
          extra: { name, ...(expected ? { sha256: expected } : {}) },
          onProgress: (p) => {
            const now = Date.now();
            if (now - last >= 100 || p.completed === p.total || p.resumed) {
              last = now;
              opts.onProgress?.({ status: 'downloading', completed: p.completed, ...(p.total !== undefined ? { total: p.total } : {}) });
            }
          },
        });
        opts.onProgress?.({ status: 'verifying', completed: result.size, total: result.size });
        try {
          const model = await admit(partPath, name, { ...(expected ? { expected } : {}), actual: result.sha256 }, { ...opts, signal: controller.signal });
          placed = true;
          return model;
        } catch (err) {
          // A whole download that fails its checks is not worth resuming: start over next time.
          if (!controller.signal.aborted) await removePartial(partPath);
          throw err;
        }
      } finally {
        opts.signal?.removeEventListener('abort', onAbort);
        active.delete(id);
        // the partial's .json once the model has its name (place() moved the .part)
        if (placed) await removePartial(partPath);
        await releaseClaim?.();
        settle();
      }
    },

    /** Pulls paused (a partial on disk) or running. */
    async pulls(): Promise<PullState[]> {
      let entries: string[] = [];
      try {
        entries = await readdir(folder.partial);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      const out: PullState[] = [];
      for (const e of entries.filter((f) => /^[0-9a-f]{32}\.part$/.test(f)).sort()) {
        const partPath = join(folder.partial, e);
        const state = await readPartialState(partPath);
        const size = await stat(partPath).then((s) => s.size, () => 0);
        const pull = e.slice(0, 32);
        out.push({ pull, name: state?.extra?.name ?? 'model', completed: size, ...(state?.total !== undefined ? { total: state.total } : {}), active: active.has(pull) });
      }
      // running pulls whose first bytes have not arrived yet
      for (const [pull, a] of active) if (a.name !== undefined && !out.some((p) => p.pull === pull)) out.push({ pull, name: a.name, completed: 0, active: true });
      return out;
    },

    /** Stops a pull if it runs and removes its partial. Throws AI_MODEL_NOT_FOUND for an unknown id. */
    async cancelPull(pull: string): Promise<void> {
      if (!/^[0-9a-f]{32}$/.test(pull)) throw new ElohimError('INVALID_INPUT', 'not a pull id');
      const partPath = join(folder.partial, `${pull}.part`);
      const running = active.get(pull);
      if (running) {
        running.controller.abort(new ElohimError('INVALID_INPUT', 'the pull was cancelled'));
        await running.done;
      } else {
        if ((await readPartialState(partPath)) === null && !(await stat(partPath).then(() => true, () => false))) throw new ElohimError('AI_MODEL_NOT_FOUND', 'no such pull');
        const holder = Number(await readFile(join(folder.partial, `${pull}.lock`), 'utf8').catch(() => '0'));
        if (holder > 0 && holder !== process.pid && alive(holder)) throw new ElohimError('MODEL_BUSY', 'another ElohimOS process (the server?) is pulling it: stop it there');
      }
      await removePartial(partPath);
    },

    /** Throws AI_MODEL_NOT_FOUND. */
    async remove(name: string): Promise<void> {
      const m = await found(name);
      await folder.remove(name);
      probed.delete(m.path);
    },

    /** Temp files of imports a crash interrupted (never partial pulls, which resume). */
    cleanTemp: sweepTemp,
  };
}

export type Models = ReturnType<typeof createModels>;
export { checkPullUrl, pullIdOf };
