/**
 * What the model writes for the assistant besides answers: the running summary of a
 * conversation's older turns, and memories it proposes after a turn.
 *
 * The summary is incremental: each update gives the model the summary so far and only the turns
 * after its `through`, never the whole conversation again (which would grow without end and
 * cost a full pass every turn). Turns are folded only once they are older than the newest
 * `keep`, which the context builder sends verbatim anyway.
 */
import type { RecordId } from '../db/index.ts';
import type { ChatMessage } from './context/builder.ts';
import type { TokenCount } from './context/tokens.ts';
import type { CallOptions, ModelProvider } from './providers/provider.ts';
import type { AssistantStore, Memory, Message, Summary } from './store/store.ts';

export const SUMMARY_PROMPT =
  'You keep a running summary of a conversation between a user and an assistant. Rewrite the summary so far to include the new turns. Keep facts, decisions, names, numbers and open questions; drop small talk. At most 200 words. Answer with the summary only.';

export const MEMORY_PROMPT =
  'From the exchange below, list facts about the user or their work that would help in later, unrelated conversations (preferences, equipment, places, people, constraints). One per line, each starting with "- ". If there is nothing worth keeping, answer NONE.';

/** Most memories one turn may propose: a model that lists everything is not remembering. */
const MAX_PROPOSALS = 3;

export interface UpkeepDeps {
  store: AssistantStore;
  provider: ModelProvider;
  count: TokenCount;
}

export interface UpkeepOptions extends CallOptions {
  model: string;
  /** the window the model runs with */
  contextLength: number;
}

async function complete(provider: ModelProvider, messages: ChatMessage[], opts: UpkeepOptions, maxTokens: number): Promise<string> {
  let text = '';
  for await (const e of provider.chat({ model: opts.model, messages, contextLength: opts.contextLength, maxTokens, temperature: 0 }, opts)) {
    if (e.type === 'delta') text += e.content;
  }
  return text.trim();
}

const transcript = (turns: readonly Message[]) => turns.map((m) => `${m.role === 'user' ? 'User' : 'Assistant'}: ${m.content}`).join('\n\n');

/**
 * Folds into the summary the turns after its `through` and older than the newest `keep`, as
 * many as fit half the window. Returns the new summary, or null when there is nothing to fold.
 */
export async function updateSummary(deps: UpkeepDeps, conversation: RecordId, opts: UpkeepOptions & { keep?: number }): Promise<Summary | null> {
  const messages = deps.store.messages(conversation);
  const old = deps.store.summary(conversation);
  const from = old === null ? 0 : messages.findIndex((m) => m.id === old.through) + 1;
  const until = messages.length - (opts.keep ?? 8);
  if (until <= from) return null;
  const budget = Math.floor(opts.contextLength / 2) - deps.count(SUMMARY_PROMPT) - (old ? deps.count(old.text) : 0);
  const fold: Message[] = [];
  let used = 0;
  for (const m of messages.slice(from, until)) {
    const c = deps.count(m.content) + 8;
    // a single turn larger than the room is still folded alone: the model sees its start
    if (fold.length > 0 && used + c > budget) break;
    fold.push(m);
    used += c;
  }
  const input = `${old ? `Summary so far:\n${old.text}` : 'Summary so far: (none yet)'}\n\nNew turns:\n${transcript(fold)}`;
  const text = await complete(deps.provider, [{ role: 'system', content: SUMMARY_PROMPT }, { role: 'user', content: input }], opts, 400);
  if (text === '') return null;
  return deps.store.setSummary(conversation, text, fold.at(-1)!.id);
}

/**
 * Asks the model what of the last exchange is worth remembering; stores each as a memory
 * ('proposed' for the user to approve, edit or reject, or 'approved' with `autoApprove`), with
 * the user's message as its provenance. Returns the new memories.
 */
export async function proposeMemories(deps: UpkeepDeps, conversation: RecordId, opts: UpkeepOptions & { autoApprove?: boolean }): Promise<Memory[]> {
  const messages = deps.store.messages(conversation);
  const lastUser = messages.findLastIndex((m) => m.role === 'user');
  if (lastUser < 0) return [];
  const exchange = messages.slice(lastUser, lastUser + 2);
  const known = new Set(deps.store.listMemories({ expired: true }).map((m) => m.text.trim().toLowerCase()));
  const text = await complete(deps.provider, [{ role: 'system', content: MEMORY_PROMPT }, { role: 'user', content: transcript(exchange) }], opts, 200);
  const facts = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('- '))
    .map((l) => l.slice(2).trim())
    .filter((l) => l !== '' && !known.has(l.toLowerCase()))
    .slice(0, MAX_PROPOSALS);
  return facts.map((fact) =>
    deps.store.addMemory({ text: fact, status: opts.autoApprove ? 'approved' : 'proposed', source: { conversation, message: exchange[0]!.id } }),
  );
}
