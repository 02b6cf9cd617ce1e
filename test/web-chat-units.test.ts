/**
 * The Chat screen's pure parts, run in Node: the event-stream reader its answers and pulls go
 * through, and the budget bar's words, which must say exactly what the assistant's own
 * describeReport says (src/ai/context/builder.ts) for any report the context builder makes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { buildContext, describeReport } from '../src/ai/index.ts';
import { describeBudget } from '../web/src/chat/budget.ts';
import { createSseParser, readSse } from '../web/src/sse.ts';
import type { SseEvent } from '../web/src/sse.ts';

const STREAM =
  ': a comment\r\n' +
  'event: context\r\ndata: {"a":1}\r\n\r\n' +
  'event: token\ndata: {"content":"caf\u00e9 \u{1F600}"}\n\n' +
  'data: line one\ndata: line two\r\r' +
  'event: done\nid: 7\nretry: 10\ndata:{"x":"no space after the colon"}\n\n' +
  'event: error\ndata: {"code":"AI_TIMEOUT"}';

const EXPECTED: SseEvent[] = [
  { event: 'context', data: '{"a":1}' },
  { event: 'token', data: '{"content":"caf\u00e9 \u{1F600}"}' },
  { event: 'message', data: 'line one\nline two' },
  { event: 'done', data: '{"x":"no space after the colon"}' },
  // the last event has no blank line after it: the end of the stream delivers it
  { event: 'error', data: '{"code":"AI_TIMEOUT"}' },
];

test('SSE: one chunk, and split at every position (a CRLF split too), read the same', () => {
  const whole = createSseParser();
  assert.deepEqual([...whole.push(STREAM), ...whole.end()], EXPECTED);
  for (let cut = 0; cut <= STREAM.length; cut++) {
    const p = createSseParser();
    const got = [...p.push(STREAM.slice(0, cut)), ...p.push(STREAM.slice(cut)), ...p.end()];
    assert.deepEqual(got, EXPECTED, `split at ${cut}`);
  }
});

test('SSE: bytes split inside a UTF-8 character and one byte at a time read the same', async () => {
  const bytes = new TextEncoder().encode(STREAM);
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const b of bytes) controller.enqueue(Uint8Array.of(b));
      controller.close();
    },
  });
  const got: SseEvent[] = [];
  for await (const ev of readSse(body)) got.push(ev);
  assert.deepEqual(got, EXPECTED);
});

test('SSE: leaving the loop early cancels the body (Stop closes the connection)', async () => {
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.enqueue(new TextEncoder().encode('event: token\ndata: {}\n\n'));
    },
    cancel() {
      cancelled = true;
    },
  });
  for await (const ev of readSse(body)) {
    assert.equal(ev.event, 'token');
    break;
  }
  assert.equal(cancelled, true);
});

// Reports made by the real context builder, from random conversations, memories, excerpts and
// summaries, with a word count as the tokenizer (the words are what matter here, not the BPE).
const words = (text: string) => (text.match(/\S+/g) ?? []).length;
const text = fc.array(fc.constantFrom('alpha', 'beta', 'gamma', 'delta'), { minLength: 1, maxLength: 40 }).map((w) => w.join(' '));

test('the budget bar says what describeReport says, for any report the builder makes', () => {
  fc.assert(
    fc.property(
      fc.record({
        window: fc.integer({ min: 64, max: 4000 }),
        reserve: fc.integer({ min: 0, max: 1200 }),
        memories: fc.array(text, { maxLength: 5 }),
        excerpts: fc.array(text, { maxLength: 5 }),
        turns: fc.array(text, { maxLength: 30 }),
        summaryThrough: fc.option(fc.nat(), { nil: undefined }),
        summary: text,
        user: text,
      }),
      (c) => {
        const turns = c.turns.map((content, i) => ({ id: `t${i}`, role: i % 2 === 0 ? ('user' as const) : ('assistant' as const), content }));
        const through = c.summaryThrough === undefined || turns.length === 0 ? undefined : turns[c.summaryThrough % turns.length]!.id;
        const { report } = buildContext({
          window: c.window,
          replyReserve: c.reserve,
          count: words,
          system: 'You are the assistant.',
          memories: c.memories.map((t, i) => ({ id: `m${i}`, text: t })),
          excerpts: c.excerpts.map((t, i) => ({ id: `e${i}`, source: 'a.txt', text: t })),
          summary: through === undefined ? undefined : { text: c.summary, through },
          turns,
          user: { id: 'u', content: c.user },
        });
        assert.equal(describeBudget(report), describeReport(report));
      },
    ),
    { numRuns: 300 },
  );
});

test('the budget bar, on the example of the issue', () => {
  const report = {
    window: 8192,
    replyReserve: 1024,
    budget: 7168,
    used: 4370,
    fits: true,
    parts: {
      system: { tokens: 310, preferences: false, included: true },
      memories: { included: 2, dropped: 0, tokens: 120 },
      excerpts: { included: 3, dropped: 1, tokens: 1480 },
      summary: { included: true, tokens: 410 },
      turns: { included: 13, dropped: 6, tokens: 1990, summarised: 6 },
      user: { tokens: 60 },
    },
    included: { memories: [], excerpts: [], turns: [] },
    dropped: { memories: [], excerpts: [], turns: [] },
  };
  assert.equal(
    describeBudget(report),
    'system 310 · memories 2 (120) · vault 3 excerpts (1,480) · summary 410 · 14 recent turns (2,050) · 6 older turns summarised · reply reserve 1,024',
  );
});
