import type { AnswerEvent, Memory, Message } from './client.ts';
import { isAbort } from './errors.ts';
import type { AnswerInfo } from './Thread.tsx';

/** The answer being streamed, shown under the messages until its stored copy replaces it. */
export interface Live {
  conversation: string;
  /** the user's message as typed (null for Regenerate) */
  userText: string | null;
  text: string;
  info: AnswerInfo;
  /** Stop was pressed: the text is what came before it */
  stopped: boolean;
}

/** How an answer's stream ended. */
export interface Outcome {
  /** the stored answer's id, when the stream said `done` */
  answerId: string | null;
  /** what streamed in */
  text: string;
  info: AnswerInfo;
  /** ended by our own abort (Stop, another conversation, leaving the screen) */
  stopped: boolean;
  /** what ended it otherwise (a failed provider, a refused message), or null */
  error: unknown;
}

/** Reads an answer's events to the end, passing the context, tokens and proposed memories on. */
export async function readAnswer(
  events: AsyncGenerator<AnswerEvent>,
  on: { onInfo: (info: AnswerInfo) => void; onToken: (text: string) => void; onMemories: (proposed: Memory[]) => void },
): Promise<Outcome> {
  const outcome: Outcome = { answerId: null, text: '', info: {}, stopped: false, error: null };
  try {
    for await (const ev of events) {
      if (ev.type === 'context') {
        outcome.info = { ...outcome.info, report: ev.report, budget: ev.budget, citations: ev.citations };
        on.onInfo(outcome.info);
      } else if (ev.type === 'token') {
        outcome.text += ev.content;
        on.onToken(ev.content);
      } else if (ev.type === 'done') {
        outcome.answerId = ev.message.id;
        outcome.info = { ...outcome.info, promptTokens: ev.promptTokens, completionTokens: ev.completionTokens };
      } else if (ev.type === 'memories') on.onMemories(ev.proposed);
    }
  } catch (err) {
    if (isAbort(err)) outcome.stopped = true;
    else outcome.error = err;
  }
  return outcome;
}

export const isPartialAnswer = (m: Message | undefined): m is Message => m !== undefined && m.role === 'assistant' && m.partial === true;

/**
 * The messages once a stopped answer is stored. The server keeps it when its call to the model
 * has ended, a moment after the connection closed: asked again briefly (up to 2 s) until there.
 */
export async function storedPartial(load: () => Promise<Message[] | null>): Promise<Message[] | null> {
  let list = await load();
  for (let i = 0; i < 20 && list !== null && !isPartialAnswer(list.at(-1)); i++) {
    await new Promise((r) => setTimeout(r, 100));
    list = await load();
  }
  return list;
}
