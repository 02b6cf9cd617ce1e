import type { TokenCount } from './tokens.ts';

/**
 * The context builder: what the model sees on one turn, assembled to fit its real window minus a
 * reply reserve. Pure and deterministic (same input, same output), so it is tested on its own
 * and its report can be shown as the chat's budget bar.
 *
 * Policy, in priority order:
 * 1. the new user message, always (if it alone does not fit, nothing is built: `fits: false`,
 *    and the caller refuses the turn instead of sending a cut message);
 * 2. the system prompt with the user's preferences (preferences dropped first, then the prompt);
 * 3. memories, then vault excerpts (most relevant first, as given), each within a share of the
 *    budget (MEMORY_SHARE, EXCERPT_SHARE) so that the conversation itself keeps room;
 * 4. the running summary of older turns (whole or not at all), within SUMMARY_SHARE;
 * 5. recent turns, newest first, contiguous: the first turn that does not fit ends the run, since
 *    a gap in the middle of a conversation misleads the model more than a shorter memory;
 * 6. what is left goes to more memories and excerpts past their shares.
 * A summary whose turns are all present verbatim is left out and its room given to turns.
 * Nothing is ever cut inside: a message, memory, excerpt or summary is in whole or out.
 *
 * Every item costs count(text) plus PER_ITEM tokens (a chat template's role markers, or the
 * separator and label of a section inside the system message). Then the assembled messages are
 * counted as sent, and while they exceed the budget (a BPE can merge across a join) the
 * lowest-priority item still in is dropped: the result is never over budget under `count`.
 */

export const MEMORY_SHARE = 0.1;
export const EXCERPT_SHARE = 0.35;
export const SUMMARY_SHARE = 0.15;
/** Tokens a chat template adds around a message (Llama-3 and ChatML add 4–5), or a section's label. */
export const PER_ITEM = 6;

export interface ContextTurn {
  id: string;
  role: 'user' | 'assistant';
  content: string;
}

export interface ContextMemory {
  id: string;
  text: string;
}

export interface ContextExcerpt {
  id: string;
  /** what the citation points at (a vault item id, a file name) */
  source: string;
  text: string;
}

export interface ContextInput {
  /** the model's context window, in tokens */
  window: number;
  /** tokens kept free for the answer */
  replyReserve: number;
  count: TokenCount;
  system: string;
  preferences?: string;
  /** most relevant first */
  memories?: readonly ContextMemory[];
  /** most relevant first */
  excerpts?: readonly ContextExcerpt[];
  /** the running summary, and the id of the last turn it covers */
  summary?: { text: string; through: string };
  /** the conversation so far, oldest first, without the new message */
  turns: readonly ContextTurn[];
  /** the new user message */
  user: { id: string; content: string };
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface PartReport {
  included: number;
  dropped: number;
  tokens: number;
}

export interface ContextReport {
  window: number;
  replyReserve: number;
  /** window − replyReserve */
  budget: number;
  /** tokens of the messages as sent (≤ budget when `fits`) */
  used: number;
  /** false when the new message alone exceeds the budget: nothing is sent */
  fits: boolean;
  parts: {
    system: { tokens: number; preferences: boolean; included: boolean };
    memories: PartReport;
    excerpts: PartReport;
    summary: { included: boolean; tokens: number };
    /** `summarised`: dropped turns the included summary covers; `dropped` counts them too */
    turns: PartReport & { summarised: number };
    user: { tokens: number };
  };
  /** ids of what was sent and what was left out, by kind */
  included: { memories: string[]; excerpts: string[]; turns: string[] };
  dropped: { memories: string[]; excerpts: string[]; turns: string[] };
}

export interface BuiltContext {
  messages: ChatMessage[];
  report: ContextReport;
}

/** One selected set, before assembly. */
interface Selection {
  preferences: boolean;
  system: boolean;
  memories: number;
  excerpts: number;
  summary: boolean;
  /** how many of the newest turns */
  turns: number;
}

function assemble(input: ContextInput, sel: Selection): ChatMessage[] {
  const sections: string[] = [];
  if (sel.system) sections.push(sel.preferences && input.preferences ? `${input.system}\n\n${input.preferences}` : input.system);
  const memories = (input.memories ?? []).slice(0, sel.memories);
  if (memories.length > 0) sections.push(`What you remember about the user:\n${memories.map((m) => `- ${m.text}`).join('\n')}`);
  const excerpts = (input.excerpts ?? []).slice(0, sel.excerpts);
  if (excerpts.length > 0) {
    sections.push(`Excerpts from the user's files (cite as [n]):\n${excerpts.map((e, i) => `[${i + 1}] (${e.source})\n${e.text}`).join('\n\n')}`);
  }
  if (sel.summary && input.summary) sections.push(`Summary of the earlier conversation:\n${input.summary.text}`);
  const messages: ChatMessage[] = sections.length > 0 ? [{ role: 'system', content: sections.join('\n\n') }] : [];
  for (const t of input.turns.slice(input.turns.length - sel.turns)) messages.push({ role: t.role, content: t.content });
  messages.push({ role: 'user', content: input.user.content });
  return messages;
}

/** Tokens of messages as sent: each message's text plus PER_ITEM. */
export function messagesTokens(messages: readonly ChatMessage[], count: TokenCount): number {
  return messages.reduce((sum, m) => sum + count(m.content) + PER_ITEM, 0);
}

/** Builds one turn's context. Throws RangeError for a window or reserve that is not a count. */
export function buildContext(input: ContextInput): BuiltContext {
  const { count } = input;
  if (!Number.isSafeInteger(input.window) || !Number.isSafeInteger(input.replyReserve) || input.window <= 0 || input.replyReserve < 0) {
    throw new RangeError('window and replyReserve are token counts');
  }
  const budget = Math.max(0, input.window - input.replyReserve);
  const cost = (text: string) => count(text) + PER_ITEM;
  const memories = input.memories ?? [];
  const excerpts = input.excerpts ?? [];
  const turns = input.turns;
  const userTokens = cost(input.user.content);
  const sel: Selection = { preferences: false, system: false, memories: 0, excerpts: 0, summary: false, turns: 0 };

  if (userTokens > budget) return { messages: [], report: reportOf(input, sel, budget, 0, false, userTokens) };
  let left = budget - userTokens;

  const systemFull = input.preferences ? cost(`${input.system}\n\n${input.preferences}`) : cost(input.system);
  const systemOnly = cost(input.system);
  if (systemFull <= left) {
    sel.system = true;
    sel.preferences = Boolean(input.preferences);
    left -= systemFull;
  } else if (systemOnly <= left) {
    sel.system = true;
    left -= systemOnly;
  }

  /** Takes items in order while each fits `cap` (and what is left); returns tokens taken. */
  const take = (items: readonly { text: string }[], from: number, cap: number, set: (n: number) => void): number => {
    let used = 0;
    let n = from;
    while (n < items.length) {
      const c = cost(items[n]!.text);
      if (used + c > cap || used + c > left) break;
      used += c;
      n++;
    }
    set(n);
    left -= used;
    return used;
  };
  take(memories, 0, Math.floor(budget * MEMORY_SHARE), (n) => (sel.memories = n));
  take(excerpts, 0, Math.floor(budget * EXCERPT_SHARE), (n) => (sel.excerpts = n));

  const summaryCost = input.summary ? cost(input.summary.text) : 0;
  const through = input.summary ? turns.findIndex((t) => t.id === input.summary!.through) : -1;
  if (input.summary && through >= 0 && summaryCost <= Math.floor(budget * SUMMARY_SHARE) && summaryCost <= left) {
    sel.summary = true;
    left -= summaryCost;
  }
  const fillTurns = () => {
    while (sel.turns < turns.length) {
      const c = cost(turns[turns.length - 1 - sel.turns]!.content);
      if (c > left) break;
      left -= c;
      sel.turns++;
    }
  };
  fillTurns();
  // Every turn the summary covers is here verbatim: the summary only repeats them.
  if (sel.summary && turns.length - sel.turns <= through) {
    sel.summary = false;
    left += summaryCost;
    fillTurns();
  }
  if (sel.turns === turns.length) {
    take(memories, sel.memories, Infinity, (n) => (sel.memories = n));
    take(excerpts, sel.excerpts, Infinity, (n) => (sel.excerpts = n));
  }

  // Count what is sent; drop the lowest-priority item while over (joins can merge tokens).
  let messages = assemble(input, sel);
  let used = messagesTokens(messages, count);
  while (used > budget) {
    if (sel.excerpts > 0 && sel.turns === turns.length) sel.excerpts--;
    else if (sel.turns > 0) sel.turns--;
    else if (sel.excerpts > 0) sel.excerpts--;
    else if (sel.summary) sel.summary = false;
    else if (sel.memories > 0) sel.memories--;
    else if (sel.preferences) sel.preferences = false;
    else if (sel.system) sel.system = false;
    else break; // the user message alone, which was checked to fit
    messages = assemble(input, sel);
    used = messagesTokens(messages, count);
  }
  return { messages, report: reportOf(input, sel, budget, used, true, userTokens) };
}

function reportOf(input: ContextInput, sel: Selection, budget: number, used: number, fits: boolean, userTokens: number): ContextReport {
  const cost = (text: string) => input.count(text) + PER_ITEM;
  const sum = (items: readonly { text: string }[]) => items.reduce((s, i) => s + cost(i.text), 0);
  const memories = input.memories ?? [];
  const excerpts = input.excerpts ?? [];
  const keptTurns = input.turns.slice(input.turns.length - sel.turns);
  const droppedTurns = input.turns.slice(0, input.turns.length - sel.turns);
  const through = input.summary ? input.turns.findIndex((t) => t.id === input.summary!.through) : -1;
  const systemText = sel.preferences && input.preferences ? `${input.system}\n\n${input.preferences}` : input.system;
  return {
    window: input.window,
    replyReserve: input.replyReserve,
    budget,
    used,
    fits,
    parts: {
      system: { tokens: sel.system ? cost(systemText) : 0, preferences: sel.preferences, included: sel.system },
      memories: { included: sel.memories, dropped: memories.length - sel.memories, tokens: sum(memories.slice(0, sel.memories)) },
      excerpts: { included: sel.excerpts, dropped: excerpts.length - sel.excerpts, tokens: sum(excerpts.slice(0, sel.excerpts)) },
      summary: { included: sel.summary, tokens: sel.summary ? cost(input.summary!.text) : 0 },
      turns: {
        included: sel.turns,
        dropped: droppedTurns.length,
        tokens: keptTurns.reduce((s, t) => s + cost(t.content), 0),
        summarised: sel.summary ? Math.min(droppedTurns.length, through + 1) : 0,
      },
      user: { tokens: userTokens },
    },
    included: {
      memories: memories.slice(0, sel.memories).map((m) => m.id),
      excerpts: excerpts.slice(0, sel.excerpts).map((e) => e.id),
      turns: keptTurns.map((t) => t.id),
    },
    dropped: {
      memories: memories.slice(sel.memories).map((m) => m.id),
      excerpts: excerpts.slice(sel.excerpts).map((e) => e.id),
      turns: droppedTurns.map((t) => t.id),
    },
  };
}

/**
 * The report as the chat's budget bar under an answer, e.g. "system 310 · memories 2 (120) ·
 * vault 3 excerpts (1,480) · summary 410 · 14 recent turns (2,050) · 6 older turns summarised ·
 * reply reserve 1,024". Parts with nothing in them are left out; turns dropped without a summary
 * to cover them are said so ("4 older turns left out").
 */
export function describeReport(report: ContextReport): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;
  const p = report.parts;
  const out: string[] = [];
  if (p.system.included) out.push(`system ${n(p.system.tokens)}`);
  if (p.memories.included > 0) out.push(`memories ${p.memories.included} (${n(p.memories.tokens)})`);
  if (p.excerpts.included > 0) out.push(`vault ${plural(p.excerpts.included, 'excerpt')} (${n(p.excerpts.tokens)})`);
  if (p.summary.included) out.push(`summary ${n(p.summary.tokens)}`);
  out.push(`${plural(p.turns.included + 1, 'recent turn')} (${n(p.turns.tokens + p.user.tokens)})`);
  if (p.turns.summarised > 0) out.push(`${plural(p.turns.summarised, 'older turn')} summarised`);
  const lost = p.turns.dropped - p.turns.summarised;
  if (lost > 0) out.push(`${plural(lost, 'older turn')} left out`);
  out.push(`reply reserve ${n(report.replyReserve)}`);
  return out.join(' · ');
}
