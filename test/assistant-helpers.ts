/**
 * Helpers of the assistant's end-to-end suites: a real server on a fresh data folder (unlocked,
 * its model provider pointed at a loopback server of src/ai/testing), and a reader of the
 * answer stream's Server-Sent Events.
 */
import assert from 'node:assert/strict';
import { startOllamaServer, startOpenAiServer } from '../src/ai/testing/loopback.ts';
import type { LoopbackServer, Reply } from '../src/ai/testing/loopback.ts';
import { start } from './server-helpers.ts';
import { jsonEvents } from './sse.ts';

export type Api = (path: string, init?: RequestInit) => Promise<Response>;

export interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

/** Every event of an SSE body, in order (the body is read to its end). */
export async function readEvents(res: Response, onEvent?: (e: SseEvent) => void): Promise<SseEvent[]> {
  assert.equal(res.status, 200, `expected a stream, got ${res.status}: ${res.status === 200 ? '' : await res.clone().text()}`);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const events: SseEvent[] = [];
  for await (const e of jsonEvents(res.body!)) {
    events.push(e);
    onEvent?.(e);
  }
  return events;
}

export const json = (body: unknown): RequestInit => ({ body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

/** A server on a fresh vault with the assistant pointed at a loopback Ollama (or OpenAI-compatible) server. */
export async function startAssistant(opts: { reply?: Reply; kind?: 'ollama' | 'openai'; home?: string } = {}) {
  const model: LoopbackServer = opts.kind === 'openai' ? await startOpenAiServer({ reply: opts.reply }) : await startOllamaServer({ reply: opts.reply });
  const s = await start(opts.home);
  let stopped: Promise<void> | undefined;
  const chatModel = opts.kind === 'openai' ? 'tiny:latest' : 'tiny';
  const res = await s.api('/api/v1/assistant/provider', { method: 'PATCH', ...json({ provider: { kind: opts.kind ?? 'ollama', baseUrl: model.url }, chatModel }) });
  assert.equal(res.status, 200, await res.clone().text());
  return {
    ...s,
    model,
    async conversation(title = 'Test'): Promise<string> {
      const r = await s.api('/api/v1/assistant/conversations', { method: 'POST', ...json({ title }) });
      assert.equal(r.status, 201);
      return ((await r.json()) as { conversation: { id: string } }).conversation.id;
    },
    ask(conversation: string, text: string, init: RequestInit = {}) {
      return s.api(`/api/v1/assistant/conversations/${conversation}/messages`, { method: 'POST', ...json({ text }), ...init, headers: { 'content-type': 'application/json', ...(init.headers as Record<string, string>) } });
    },
    /** Stops the server (once, however often it is called). */
    stop: () => (stopped ??= s.server.stop()),
    async close() {
      await (stopped ??= s.server.stop());
      await model.close();
    },
  };
}

/** Puts a file into the vault's root over HTTP; returns its item id. */
export async function putFile(api: Api, name: string, body: Uint8Array | string): Promise<string> {
  const res = await api(`/api/v1/files?name=${encodeURIComponent(name)}`, { method: 'PUT', body: typeof body === 'string' ? Buffer.from(body) : body, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(res.status, 201, await res.clone().text());
  return ((await res.json()) as { item: { id: string } }).item.id;
}

/** Waits until the index is idle and holds at least `documents` documents. */
export async function indexed(api: Api, documents: number, ms = 20_000): Promise<Record<string, unknown>> {
  const until = Date.now() + ms;
  for (;;) {
    const status = (await (await api('/api/v1/assistant/index')).json()) as { state: string; documents: number };
    if (status.state === 'idle' && status.documents >= documents) return status;
    if (Date.now() > until) assert.fail(`the index did not reach ${documents} documents: ${JSON.stringify(status)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
