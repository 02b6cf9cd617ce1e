/**
 * The assistant on the command line: `elohim chat [MESSAGE]` (one turn, or a REPL without a
 * message), `elohim chats ls|export|rm`, `elohim memory ls|add|approve|rm`, `elohim ai index
 * status|rebuild` and `elohim ai provider` (which model provider this vault uses).
 *
 * An answer streams to stdout as it comes; the budget line (what the context held) and the
 * citations go to stderr, so `elohim chat "…" > answer.txt` keeps only the answer. Text from the
 * model or from files is shown with control characters escaped on a terminal: a model (or a
 * document it quotes) must not be able to move the cursor or rewrite what the user sees.
 *
 * Just over 300 lines: four small commands of one domain sharing the unlock helper and the
 * terminal rule above.
 */
import { writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { Command, Option } from 'commander';
import type { AssistantService, Citation, TurnEvent } from '../../ai/index.ts';
import type { RecordId } from '../../db/index.ts';
import { ElohimError } from '../../errors.ts';
import { withVault } from '../context.ts';
import type { UnlockFlags } from '../context.ts';
import type { Workspace } from '../../workspace/index.ts';

const globals = (cmd: Command): UnlockFlags => cmd.optsWithGlobals() as UnlockFlags;
// the assistant is the only workspace service these commands build
const withAssistant = <T>(cmd: Command, fn: (assistant: AssistantService, workspace: Workspace) => Promise<T>) => withVault(globals(cmd), (ws) => fn(ws.assistant, ws), ['assistant']);

/**
 * Control and format characters escaped, for a terminal; newlines, tabs and the zero-width
 * joiner (which emoji sequences need, and which moves nothing) are kept.
 */
export function terminalSafe(text: string): string {
  return text.replace(/[\p{Cc}\p{Cf}]/gu, (c) => (c === '\n' || c === '\t' || c === '\u200d' ? c : `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`));
}
const show = (text: string) => (process.stdout.isTTY ? terminalSafe(text) : text);
const note = (text: string) => process.stderr.write(`${terminalSafe(text)}\n`);

const idArg = (what: string) => (v: string) => {
  if (!/^[0-9a-f]{32}$/.test(v)) throw new ElohimError('INVALID_INPUT', `${what} ids are 32 hex digits (see \`elohim ${what === 'conversation' ? 'chats' : 'memory'} ls\`)`);
  return v;
};
const showTime = (at: number) => `${new Date(at).toISOString().slice(0, 16).replace('T', ' ')}Z`;
const citationLine = (c: Citation) => `[${c.n}] ${c.path ?? `${c.name} (no longer in the vault)`}  ${c.item}`;

/** Runs one turn, printing it; Ctrl-C stops the answer (what came is kept, marked partial). */
async function turn(assistant: AssistantService, conversation: RecordId, text: string, opts: { model?: string; regenerate?: boolean }): Promise<void> {
  const stop = new AbortController();
  const onInt = () => stop.abort(new DOMException('stopped', 'AbortError'));
  process.once('SIGINT', onInt);
  let citations: Citation[] = [];
  try {
    for await (const e of assistant.ask(conversation, text, { signal: stop.signal, regenerate: opts.regenerate === true, ...(opts.model ? { model: opts.model } : {}) }) as AsyncGenerator<TurnEvent>) {
      if (e.type === 'context') {
        citations = e.citations;
        note(`budget: ${e.budget}`);
      } else if (e.type === 'token') process.stdout.write(show(e.content));
      else if (e.type === 'done') {
        process.stdout.write('\n');
        const used = e.promptTokens !== undefined ? ` (prompt ${e.promptTokens}, answer ${e.completionTokens ?? '?'} tokens)` : '';
        const cited = citations.filter((c) => e.message.content.includes(`[${c.n}]`));
        for (const c of cited.length > 0 ? cited : citations) note(citationLine(c));
        if (used) note(`done${used}`);
      } else if (e.type === 'memories') {
        for (const m of e.proposed) note(`${m.status === 'approved' ? 'remembered' : 'proposed memory'} ${m.id}: ${m.text}${m.status === 'proposed' ? `  (elohim memory approve ${m.id})` : ''}`);
      }
    }
  } catch (err) {
    if (stop.signal.aborted) {
      process.stdout.write('\n');
      note('stopped: the partial answer is kept');
      return;
    }
    throw err;
  } finally {
    process.off('SIGINT', onInt);
  }
}

/** A title from the first message: its first line, at most 60 characters. */
const titleOf = (text: string) => {
  const line = text.trim().split('\n')[0]!.trim();
  return line.length > 60 ? `${line.slice(0, 59)}…` : line || 'New conversation';
};

interface ChatFlags {
  conversation?: string;
  model?: string;
  regenerate?: boolean;
}

export function chatCommand(): Command {
  return new Command('chat')
    .description('ask the assistant (streams the answer); without MESSAGE, a conversation on the terminal (Ctrl-C stops an answer, Ctrl-D ends)')
    .argument('[message]', 'what to ask; "-" reads it from standard input')
    .option('-c, --conversation <id>', 'continue this conversation (default: a new one)', idArg('conversation'))
    .option('-m, --model <name>', 'the model to use (default: the vault\'s chat model, see `elohim ai provider`)')
    .option('--regenerate', 'answer the conversation\'s last message again (needs --conversation)')
    .action(async (message: string | undefined, flags: ChatFlags, cmd: Command) => {
      if (flags.regenerate && flags.conversation === undefined) throw new ElohimError('INVALID_INPUT', '--regenerate needs --conversation');
      let text = message;
      if (text === '-') {
        const parts: Buffer[] = [];
        for await (const p of process.stdin) parts.push(p as Buffer);
        text = Buffer.concat(parts).toString('utf8');
      }
      if (text !== undefined && text.trim() === '' && !flags.regenerate) throw new ElohimError('INVALID_INPUT', 'a message cannot be empty');
      await withAssistant(cmd, async (assistant) => {
        // files put since the last unlock are indexed before the question is asked
        await waitForIndex(assistant);
        const conversation = (flags.conversation ?? null) as RecordId | null;
        if (flags.regenerate) return turn(assistant, conversation!, '', { model: flags.model, regenerate: true });
        if (text !== undefined) {
          const id = conversation ?? assistant.store.createConversation(titleOf(text)).id;
          if (conversation === null) note(`conversation ${id}`);
          return turn(assistant, id, text, { model: flags.model });
        }
        await repl(assistant, conversation, flags.model);
      });
    });
}

async function repl(assistant: AssistantService, existing: RecordId | null, model: string | undefined): Promise<void> {
  let conversation = existing;
  const lines = createInterface({ input: process.stdin, output: process.stdin.isTTY ? process.stderr : undefined, prompt: '> ', terminal: process.stdin.isTTY === true });
  // a prompt only on a terminal (a piped script gets answers alone), and never after stdin ended
  const prompt = () => {
    if (process.stdin.isTTY && !closed) lines.prompt();
  };
  let closed = false;
  lines.once('close', () => (closed = true));
  note('type a message and Enter; /new starts another conversation; Ctrl-D ends');
  prompt();
  for await (const line of lines) {
    const text = line.trim();
    if (text === '/quit' || text === '/exit') break;
    if (text === '/new') conversation = null;
    else if (text !== '') {
      if (conversation === null) {
        conversation = assistant.store.createConversation(titleOf(text)).id;
        note(`conversation ${conversation}`);
      }
      // one failed turn (provider down) is said, and the conversation goes on
      try {
        await turn(assistant, conversation, text, { model });
      } catch (err) {
        if (!(err instanceof ElohimError)) throw err;
        note(`elohim: ${err.message}`);
      }
    }
    prompt();
  }
  lines.close();
}

async function waitForIndex(assistant: AssistantService): Promise<void> {
  const first = assistant.index.status();
  if (first.state === 'idle') return;
  const timer = setInterval(() => {
    const s = assistant.index.status();
    if (process.stderr.isTTY) process.stderr.write(`\rindexing the vault: ${s.done}/${s.total} files`);
  }, 500);
  try {
    await assistant.index.idle();
  } finally {
    clearInterval(timer);
    if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  }
}

export function chatsCommand(): Command {
  const chats = new Command('chats').description('the assistant\'s conversations');
  chats
    .command('ls')
    .description('list conversations, newest activity first')
    .option('--trashed', 'the ones in the trash')
    .option('-s, --search <text>', 'only those whose title or messages contain TEXT')
    .option('--json', 'as JSON')
    .action(async (flags: { trashed?: boolean; search?: string; json?: boolean }, cmd: Command) => {
      await withAssistant(cmd, async (a) => {
        const list = flags.search !== undefined ? a.store.searchConversations(flags.search) : a.store.listConversations({ trashed: flags.trashed === true });
        if (flags.json) return void process.stdout.write(`${JSON.stringify(list)}\n`);
        for (const c of list) process.stdout.write(`${c.id}  ${showTime(c.updated)}  ${show(c.title)}\n`);
      });
    });
  chats
    .command('export')
    .description('a conversation as Markdown')
    .argument('<id>', 'conversation id', idArg('conversation'))
    .option('-o, --output <file>', 'write to FILE (a file on this device, in plaintext) instead of standard output')
    .action(async (id: string, flags: { output?: string }, cmd: Command) => {
      await withAssistant(cmd, async (a) => {
        const md = a.store.exportMarkdown(id as RecordId);
        if (flags.output === undefined) process.stdout.write(md);
        else await writeFile(flags.output, md, { mode: 0o600, flag: 'wx' });
      });
    });
  chats
    .command('rm')
    .description('move a conversation to the trash')
    .argument('<id>', 'conversation id', idArg('conversation'))
    .option('--forever', 'delete it for good, with its messages and summary')
    .option('--restore', 'take it back out of the trash')
    .action(async (id: string, flags: { forever?: boolean; restore?: boolean }, cmd: Command) => {
      await withAssistant(cmd, async (a) => {
        if (flags.forever) a.store.deleteConversation(id as RecordId);
        else a.store.trashConversation(id as RecordId, flags.restore !== true);
      });
    });
  return chats;
}

export function memoryCommand(): Command {
  const memory = new Command('memory').description('what the assistant remembers across conversations');
  memory
    .command('ls')
    .description('list memories (proposed ones wait for your approval)')
    .option('--proposed', 'only those waiting for approval')
    .option('--json', 'as JSON')
    .action(async (flags: { proposed?: boolean; json?: boolean }, cmd: Command) => {
      await withAssistant(cmd, async (a) => {
        const list = a.store.listMemories(flags.proposed ? { status: 'proposed' } : {});
        if (flags.json) return void process.stdout.write(`${JSON.stringify(list)}\n`);
        for (const m of list) process.stdout.write(`${m.id}  ${m.status === 'proposed' ? 'proposed' : 'approved'}  ${show(m.text)}\n`);
      });
    });
  memory
    .command('add')
    .description('remember something (approved at once)')
    .argument('<text>')
    .option('--expires <date>', 'forget it after this ISO date')
    .action(async (text: string, flags: { expires?: string }, cmd: Command) => {
      const expires = flags.expires === undefined ? undefined : Date.parse(flags.expires);
      if (expires !== undefined && Number.isNaN(expires)) throw new ElohimError('INVALID_INPUT', '--expires must be an ISO date, e.g. 2027-01-31');
      await withAssistant(cmd, async (a) => {
        const m = a.store.addMemory({ text, ...(expires !== undefined ? { expires } : {}) });
        process.stdout.write(`${m.id}\n`);
      });
    });
  memory
    .command('approve')
    .description('approve a proposed memory (optionally with new text)')
    .argument('<id>', 'memory id', idArg('memory'))
    .option('--text <text>', 'approve it with this text instead')
    .action(async (id: string, flags: { text?: string }, cmd: Command) => {
      await withAssistant(cmd, async (a) => void a.store.updateMemory(id as RecordId, { status: 'approved', ...(flags.text !== undefined ? { text: flags.text } : {}) }));
    });
  memory
    .command('rm')
    .description('forget a memory (or reject a proposed one)')
    .argument('<id>', 'memory id', idArg('memory'))
    .action(async (id: string, _flags: unknown, cmd: Command) => {
      await withAssistant(cmd, async (a) => a.store.removeMemory(id as RecordId));
    });
  return memory;
}

interface ProviderFlags {
  ollama?: string;
  openai?: string;
  embedded?: boolean;
  none?: boolean;
  allowRemote?: boolean;
  apiKey?: string;
  chatModel?: string;
  embeddingModel?: string;
}

export function aiCommand(): Command {
  const ai = new Command('ai').description('the assistant\'s index of the vault and its model provider');
  const index = ai.command('index').description('the index of the vault\'s text');
  index
    .command('status')
    .description('how much of the vault is indexed')
    .option('--json', 'as JSON')
    .action(async (flags: { json?: boolean }, cmd: Command) => {
      await withAssistant(cmd, async (a) => {
        await a.index.idle();
        const s = a.index.status();
        if (flags.json) return void process.stdout.write(`${JSON.stringify(s)}\n`);
        process.stdout.write(`${s.documents} files indexed, ${s.chunks} chunks, ${s.vectors} vectors; ${s.skipped} skipped\n`);
        for (const f of s.failed) process.stdout.write(`not indexed: ${show(f.name)} (${f.item}): ${f.reason}\n`);
      });
    });
  index
    .command('rebuild')
    .description('index the whole vault again')
    .action(async (_flags: unknown, cmd: Command) => {
      await withAssistant(cmd, async (a) => {
        a.index.rebuild();
        await waitForIndex(a);
        const s = a.index.status();
        process.stdout.write(`${s.documents} files indexed, ${s.chunks} chunks\n`);
      });
    });
  ai.command('provider')
    .description('show or choose the model provider of this vault (a provider on another machine needs --allow-remote)')
    .addOption(new Option('--ollama <url>', 'an Ollama server, e.g. http://127.0.0.1:11434').conflicts(['openai', 'embedded', 'none']))
    .addOption(new Option('--openai <url>', 'an OpenAI-compatible server (llama-server, LM Studio, vLLM)').conflicts(['embedded', 'none']))
    .addOption(new Option('--embedded', 'the embedded model (see `elohim models`)').conflicts(['none']))
    .option('--none', 'no provider')
    .option('--allow-remote', 'agree that conversations go to a provider on another machine, in the clear')
    .option('--api-key <key>', 'a bearer token the server wants (kept sealed in the vault)')
    .option('--chat-model <name>', 'the default chat model')
    .option('--embedding-model <name>', 'the embedding model for dense retrieval ("" for none)')
    .action(async (flags: ProviderFlags, cmd: Command) => {
      await withAssistant(cmd, async (a, ws) => {
        const kind = flags.ollama !== undefined ? 'ollama' : flags.openai !== undefined ? 'openai' : flags.embedded ? 'embedded' : undefined;
        const change: Parameters<AssistantService['configure']>[0] = {};
        if (flags.none) change.provider = null;
        else if (kind !== undefined) change.provider = { kind, ...(kind !== 'embedded' ? { baseUrl: flags.ollama ?? flags.openai! } : {}), allowRemote: flags.allowRemote === true, ...(flags.apiKey ? { apiKey: flags.apiKey } : {}) };
        if (flags.chatModel !== undefined) change.chatModel = flags.chatModel === '' ? null : flags.chatModel;
        if (flags.embeddingModel !== undefined) change.embeddingModel = flags.embeddingModel === '' ? null : flags.embeddingModel;
        const changing = Object.keys(change).length > 0;
        const s = changing ? a.configure(change) : a.providerSettings();
        if (changing) ws.audit.append('settings-change', { setting: 'assistant' });
        const p = s.provider;
        process.stdout.write(
          p === null
            ? 'provider    none (no model yet: import a GGUF or point to your Ollama)\n'
            : `provider    ${p.kind}${p.baseUrl ? ` ${p.baseUrl}` : ''}${p.local ? '' : '  REMOTE: conversations leave this device'}\n`,
        );
        process.stdout.write(`chat model  ${s.chatModel ?? '(none)'}\nembeddings  ${s.embeddingModel ?? '(none: BM25 only)'}\n`);
      });
    });
  return ai;
}
