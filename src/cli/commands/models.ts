import { Command } from 'commander';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { LocalModel, ModelProgress, Models } from '../../ai/index.ts';
import { ElohimError } from '../../errors.ts';
import { withApp, withVault } from '../context.ts';
import type { UnlockFlags } from '../context.ts';
import { formatBytes, progressBar } from '../progress.ts';
import type { Progress } from '../progress.ts';

/**
 * `elohim models ls|show|import|pull|rm|default`: the device's GGUF models. They are shared by
 * every vault of the data folder, so managing them needs no passphrase (and leaves no trace in
 * any vault); only `default` does, since each vault chooses its own default models.
 */
export function modelsCommand(): Command {
  const models = new Command('models').description("the device's GGUF models for the embedded assistant (shared by every vault)");

  models
    .command('ls')
    .description('list the models: name, size, family, quantisation, context length')
    .option('--json', 'one JSON array')
    .action(async (flags: { json?: boolean }) => {
      await withApp(async (app) => {
        const list = await app.models.list();
        if (flags.json) return void process.stdout.write(`${JSON.stringify(list)}\n`);
        if (list.length === 0) process.stderr.write('no models yet: elohim models import <file.gguf> or elohim models pull <url>\n');
        const rows = list.map((m) => [m.name, formatBytes(m.size), m.family, m.parameterSize ?? '', m.quantization ?? '', m.contextLength ? `${m.contextLength} ctx` : '', m.capabilities.join(',')]);
        if (list.length > 0) printTable([['NAME', 'SIZE', 'FAMILY', 'PARAMS', 'QUANT', 'CONTEXT', 'CAN'], ...rows]);
        const pulls = await app.models.pulls();
        for (const p of pulls) process.stderr.write(`paused pull: ${p.name} (${formatBytes(p.completed)}${p.total ? ` of ${formatBytes(p.total)}` : ''}); run the same pull again to resume\n`);
      });
    });

  models
    .command('show')
    .argument('<name>', 'a model name')
    .description("a model's details and SHA-256")
    .option('--json', 'as JSON')
    .action(async (name: string, flags: { json?: boolean }) => {
      await withApp(async (app) => {
        const m = await app.models.show(name);
        if (flags.json) return void process.stdout.write(`${JSON.stringify(m)}\n`);
        describe(m);
        process.stdout.write(`sha256        ${m.sha256}\n`);
      });
    });

  models
    .command('import')
    .argument('<file>', 'a .gguf file on this device (a USB drive…)')
    .description('copy a GGUF model into the data folder; it is checked by llama.cpp before it is listed')
    .option('--name <name>', "the model's name (default: the file's name without .gguf)")
    .option('--sha256 <hex>', 'refuse the file unless it has this SHA-256')
    .action(async (file: string, flags: { name?: string; sha256?: string }) => {
      await withApp(async (app) => {
        const model = await withProgress('import', (onProgress, signal) => app.models.importFile(resolve(file), { ...pick(flags), onProgress, signal }));
        process.stderr.write(`imported ${model.name}\n`);
        describe(model);
      });
    });

  models
    .command('pull')
    .argument('<url>', 'the http(s) address of a .gguf file')
    .description('download a GGUF model; Ctrl-C pauses (the same command resumes), --cancel drops a paused one')
    .option('--name <name>', "the model's name (default: the file's name in the URL)")
    .option('--sha256 <hex>', 'refuse the file unless it has this SHA-256')
    .option('--cancel', 'cancel this URL\'s paused pull and delete what was downloaded')
    .action(async (url: string, flags: { name?: string; sha256?: string; cancel?: boolean }) => {
      await withApp(async (app) => {
        if (flags.cancel) {
          // the models' own face, not the assistant's: imported when used, as app.ts does
          const { checkPullUrl, pullIdOf } = await import('../../ai/models/index.ts');
          await app.models.cancelPull(pullIdOf(checkPullUrl(url)));
          return void process.stderr.write('cancelled; the partial download is deleted\n');
        }
        const model = await pullWithPause(app.models, url, flags);
        process.stderr.write(`pulled ${model.name}\n`);
        describe(model);
      });
    });

  models
    .command('rm')
    .argument('<name>', 'a model name')
    .description('delete a model (asks to type its name, unless --yes)')
    .option('--yes', 'do not ask')
    .action(async (name: string, flags: { yes?: boolean }) => {
      await withApp(async (app) => {
        if (!(await app.models.list()).some((m) => m.name === name)) throw new ElohimError('AI_MODEL_NOT_FOUND', `no model named ${name}`);
        if (!flags.yes) {
          if (!process.stdin.isTTY) throw new ElohimError('INVALID_INPUT', 'not a terminal: add --yes to delete without being asked');
          const rl = createInterface({ input: process.stdin, output: process.stderr });
          const typed = await rl.question(`type the model's name (${name}) to delete it: `).finally(() => rl.close());
          if (typed.trim() !== name) throw new ElohimError('INVALID_INPUT', 'not confirmed: nothing deleted');
        }
        await app.models.remove(name);
        process.stderr.write(`deleted ${name}\n`);
      });
    });

  models
    .command('default')
    .description("show or set this vault's default chat and embedding models (needs the passphrase)")
    .option('--chat <id>', 'e.g. embedded/llama-2-tiny-random or ollama/llama3:8b ("none" to clear)')
    .option('--embedding <id>', 'e.g. embedded/nomic-embed ("none" to clear)')
    .action(async (flags: { chat?: string; embedding?: string }, cmd: Command) => {
      await withVault(cmd.optsWithGlobals() as UnlockFlags, async (workspace, app) => {
        const assistant = workspace.assistant;
        const current = () => {
          const s = assistant.providerSettings();
          const kind = s.provider?.kind;
          return { chat: kind && s.chatModel ? `${kind}/${s.chatModel}` : null, embedding: kind && s.embeddingModel ? `${kind}/${s.embeddingModel}` : null };
        };
        if (flags.chat !== undefined || flags.embedding !== undefined) {
          const wanted = { ...current() };
          if (flags.chat !== undefined) wanted.chat = flags.chat === 'none' ? null : flags.chat;
          if (flags.embedding !== undefined) wanted.embedding = flags.embedding === 'none' ? null : flags.embedding;
          const kinds = new Set<string>();
          const names: { chat: string | null; embedding: string | null } = { chat: null, embedding: null };
          for (const key of ['chat', 'embedding'] as const) {
            const id = wanted[key];
            if (id === null) continue;
            const m = /^(embedded|ollama|openai)\/(.+)$/.exec(id);
            if (!m) throw new ElohimError('INVALID_INPUT', `--${key}: a model id is <provider>/<name>, the provider one of embedded, ollama, openai`);
            kinds.add(m[1]!);
            names[key] = m[2]!;
            if (m[1] === 'embedded' && !(await app.models.list()).some((x) => x.name === m[2])) throw new ElohimError('AI_MODEL_NOT_FOUND', `no model named ${m[2]}: see elohim models ls`);
          }
          if (kinds.size > 1) throw new ElohimError('INVALID_INPUT', 'the chat and embedding models must be on the same provider');
          const kind = [...kinds][0];
          const settings = assistant.providerSettings();
          // another provider's model names what that provider has; the vault must point at it first
          if (kind !== undefined && kind !== 'embedded' && settings.provider?.kind !== kind) {
            throw new ElohimError('INVALID_INPUT', `this vault's provider is not ${kind}: set its address first (elohim chat settings or the web UI)`);
          }
          assistant.configure({ chatModel: names.chat, embeddingModel: names.embedding, ...(kind === 'embedded' && settings.provider?.kind !== 'embedded' ? { provider: { kind: 'embedded' } } : {}) });
        }
        const d = current();
        process.stdout.write(`chat        ${d.chat ?? '(none)'}\nembedding   ${d.embedding ?? '(none)'}\n`);
      }, ['assistant']); // the only workspace service it uses
    });

  return models;
}

const pick = (flags: { name?: string; sha256?: string }) => ({ ...(flags.name ? { name: flags.name } : {}), ...(flags.sha256 ? { sha256: flags.sha256 } : {}) });

/** Runs an import or pull with a progress bar on stderr and Ctrl-C as its signal. */
async function withProgress<T>(label: string, run: (onProgress: (p: ModelProgress) => void, signal: AbortSignal) => Promise<T>): Promise<T> {
  const stop = new AbortController();
  // Ctrl-C: the import stops and leaves nothing; a pull pauses with what it has
  const onInt = () => stop.abort(new DOMException('interrupted', 'AbortError'));
  process.once('SIGINT', onInt);
  let bar: Progress | null = null;
  let barTotal = 0;
  let status = '';
  try {
    return await run((p) => {
      if (p.status !== status) {
        bar?.stop();
        bar = null;
        status = p.status;
        if (!process.stderr.isTTY) process.stderr.write(`${label}: ${p.status}…\n`);
      }
      if (p.completed !== undefined) {
        if (bar === null || barTotal !== (p.total ?? 0)) {
          bar?.stop();
          barTotal = p.total ?? 0;
          bar = progressBar(p.status, barTotal, 'bytes');
        }
        bar.update(p.completed);
      }
    }, stop.signal);
  } finally {
    (bar as Progress | null)?.stop();
    process.off('SIGINT', onInt);
  }
}

async function pullWithPause(models: Models, url: string, flags: { name?: string; sha256?: string }): Promise<LocalModel> {
  try {
    return await withProgress('pull', (onProgress, signal) => models.pull(url, { ...pick(flags), onProgress, signal }));
  } catch (err) {
    const paused = (await models.pulls()).find((p) => !p.active && p.completed > 0);
    if (paused) process.stderr.write(`paused with ${formatBytes(paused.completed)} kept: run the same command to resume, or add --cancel to drop it\n`);
    throw err;
  }
}

function describe(m: LocalModel): void {
  const lines = [
    ['name', m.name],
    ['size', `${formatBytes(m.size)} (${m.size} bytes)`],
    ['family', m.family],
    ['title', m.title],
    ['parameters', m.parameterSize],
    ['quantisation', m.quantization],
    ['context', m.contextLength?.toString()],
    ['can', m.capabilities.join(', ')],
  ].filter((l): l is [string, string] => l[1] !== undefined && l[1] !== '');
  process.stdout.write(lines.map(([k, v]) => `${k.padEnd(13)} ${v}\n`).join(''));
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  process.stdout.write(rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n');
}
