import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { buildContext, describeReport, messagesTokens, PER_ITEM } from './builder.ts';
import type { ContextInput, ContextTurn } from './builder.ts';
import { loadBpeCounter, tokenCounter } from './tokens.ts';

/** A counter cheap enough for property tests: one token per 4 characters, rounded up. */
const chars4 = (t: string) => Math.ceil(t.length / 4);

const turnsOf = (n: number, size = 40): ContextTurn[] =>
  Array.from({ length: n }, (_, i) => ({ id: `t${i}`, role: i % 2 === 0 ? 'user' : 'assistant', content: `turn ${i} ${'x'.repeat(size)}` }));

const base = (over: Partial<ContextInput> = {}): ContextInput => ({
  window: 400,
  replyReserve: 100,
  count: chars4,
  system: 'You are helpful.',
  preferences: 'Be brief.',
  memories: [{ id: 'm1', text: 'The generator fails above 40 °C.' }],
  excerpts: [{ id: 'e1', source: 'manual.pdf', text: 'Generators need shade.' }],
  summary: { text: 'Earlier we talked about heat.', through: 't3' },
  turns: turnsOf(20),
  user: { id: 'u', content: 'What about today?' },
  ...over,
});

test('a small window: the newest turns in order, the summary for the rest, a report that adds up', () => {
  const { messages, report } = buildContext(base());
  assert.ok(report.fits);
  assert.equal(report.budget, 300);
  assert.equal(messages.at(-1)!.content, 'What about today?');
  assert.equal(messages[0]!.role, 'system');
  assert.match(messages[0]!.content, /You are helpful\.\n\nBe brief\./);
  assert.match(messages[0]!.content, /- The generator fails above 40 °C\./);
  assert.match(messages[0]!.content, /\[1\] \(manual\.pdf\)\nGenerators need shade\./);
  assert.match(messages[0]!.content, /Summary of the earlier conversation:\nEarlier we talked about heat\./);
  const turnIds = report.included.turns;
  assert.ok(turnIds.length > 0 && turnIds.length < 20);
  assert.deepEqual(turnIds, turnsOf(20).slice(20 - turnIds.length).map((t) => t.id));
  assert.deepEqual(messages.slice(1, -1).map((m) => m.content), turnsOf(20).slice(20 - turnIds.length).map((t) => t.content));
  assert.equal(report.parts.turns.dropped, 20 - turnIds.length);
  assert.equal(report.parts.turns.summarised, 4);
  assert.ok(report.used <= report.budget);
  assert.equal(report.used, messagesTokens(messages, chars4));
  const p = report.parts;
  // the parts account for what was sent, give or take the joins inside the system message
  const parts = p.system.tokens + p.memories.tokens + p.excerpts.tokens + p.summary.tokens + p.turns.tokens + p.user.tokens;
  assert.ok(Math.abs(parts - report.used) <= 4 * PER_ITEM, `${parts} vs ${report.used}`);
});

test('the budget bar says what went in, what was summarised and what was left out', () => {
  const { report } = buildContext(base());
  const p = report.parts;
  assert.equal(
    describeReport(report),
    `system ${p.system.tokens} · memories 1 (${p.memories.tokens}) · vault 1 excerpt (${p.excerpts.tokens}) · summary ${p.summary.tokens} · ${p.turns.included + 1} recent turns (${p.turns.tokens + p.user.tokens}) · 4 older turns summarised · ${p.turns.dropped - 4} older turns left out · reply reserve 100`,
  );
  const big = buildContext(base({ window: 100_000, replyReserve: 1024, memories: [], excerpts: [] })).report;
  assert.equal(describeReport(big), `system ${big.parts.system.tokens} · 21 recent turns (${(big.parts.turns.tokens + big.parts.user.tokens).toLocaleString('en-US')}) · reply reserve 1,024`);
});

test('a window that holds everything: every turn in, and the summary left out (it would repeat them)', () => {
  const { report, messages } = buildContext(base({ window: 100_000 }));
  assert.equal(report.parts.turns.included, 20);
  assert.equal(report.parts.summary.included, false);
  assert.doesNotMatch(messages[0]!.content, /Summary/);
  assert.equal(messages.length, 22);
});

test('a message larger than the window: nothing is built, the report says so', () => {
  const { messages, report } = buildContext(base({ user: { id: 'u', content: 'y'.repeat(2000) } }));
  assert.equal(report.fits, false);
  assert.deepEqual(messages, []);
  assert.equal(report.parts.user.tokens, 500 + PER_ITEM);
});

test('a tight window keeps the new message and drops preferences before the system prompt', () => {
  const user = { id: 'u', content: 'q'.repeat(4 * 60) };
  const tight = buildContext(base({ window: 60 + PER_ITEM + chars4('You are helpful.') + PER_ITEM, replyReserve: 0, user }));
  assert.equal(tight.report.parts.system.included, true);
  assert.equal(tight.report.parts.system.preferences, false);
  assert.equal(tight.messages.length, 2);
  const tighter = buildContext(base({ window: 60 + PER_ITEM, replyReserve: 0, user }));
  assert.deepEqual(tighter.messages, [{ role: 'user', content: user.content }]);
});

test('excerpts keep to their share while turns need the room', () => {
  const excerpts = Array.from({ length: 10 }, (_, i) => ({ id: `e${i}`, source: `f${i}`, text: 'z'.repeat(200) }));
  const { report } = buildContext(base({ window: 1000, replyReserve: 0, excerpts, turns: turnsOf(200) }));
  assert.ok(report.parts.excerpts.tokens <= 350, String(report.parts.excerpts.tokens));
  assert.ok(report.parts.excerpts.dropped > 0);
  assert.deepEqual(report.dropped.excerpts, excerpts.slice(report.parts.excerpts.included).map((e) => e.id));
});

const arbInput = fc.record({
  window: fc.integer({ min: 1, max: 3000 }),
  replyReserve: fc.integer({ min: 0, max: 500 }),
  system: fc.string({ maxLength: 200 }),
  preferences: fc.option(fc.string({ maxLength: 100 }), { nil: undefined }),
  memories: fc.array(fc.string({ maxLength: 120 }), { maxLength: 6 }),
  excerpts: fc.array(fc.string({ maxLength: 600 }), { maxLength: 8 }),
  turns: fc.array(fc.string({ maxLength: 400 }), { maxLength: 60 }),
  summary: fc.option(fc.tuple(fc.string({ maxLength: 300 }), fc.nat()), { nil: undefined }),
  user: fc.string({ maxLength: 800 }),
});

function inputOf(a: typeof arbInput extends fc.Arbitrary<infer T> ? T : never): ContextInput {
  const turns = a.turns.map((content, i): ContextTurn => ({ id: `t${i}`, role: i % 2 ? 'assistant' : 'user', content }));
  return {
    window: a.window,
    replyReserve: a.replyReserve,
    count: chars4,
    system: a.system,
    preferences: a.preferences,
    memories: a.memories.map((text, i) => ({ id: `m${i}`, text })),
    excerpts: a.excerpts.map((text, i) => ({ id: `e${i}`, source: `s${i}`, text })),
    summary: a.summary && turns.length > 0 ? { text: a.summary[0], through: `t${a.summary[1] % turns.length}` } : undefined,
    turns,
    user: { id: 'new', content: a.user },
  };
}

test('properties: never over budget, never a cut message, the new message always last, deterministic', () => {
  fc.assert(
    fc.property(arbInput, (a) => {
      const input = inputOf(a);
      const built = buildContext(input);
      const again = buildContext(inputOf(a));
      assert.deepEqual(again, built, 'deterministic');
      const { messages, report } = built;
      const budget = Math.max(0, input.window - input.replyReserve);
      if (chars4(input.user.content) + PER_ITEM > budget) {
        assert.equal(report.fits, false);
        assert.equal(messages.length, 0);
        return;
      }
      assert.ok(report.fits);
      assert.ok(messagesTokens(messages, chars4) <= budget, 'within budget');
      assert.equal(report.used, messagesTokens(messages, chars4));
      assert.deepEqual(messages.at(-1), { role: 'user', content: input.user.content });
      // turns: whole, in order, the newest ones, contiguous
      const sent = messages.filter((m) => m.role !== 'system').slice(0, -1);
      const newest = input.turns.slice(input.turns.length - sent.length);
      assert.deepEqual(sent, newest.map((t) => ({ role: t.role, content: t.content })));
      assert.deepEqual(report.included.turns, newest.map((t) => t.id));
      assert.equal(report.included.turns.length + report.dropped.turns.length, input.turns.length);
      // as many turns as fit: the newest turn left out would not have fitted in what is left
      // (give or take a few tokens of section labels, which items are not charged for)
      const next = input.turns[input.turns.length - sent.length - 1];
      if (next !== undefined) assert.ok(budget - report.used < chars4(next.content) + PER_ITEM + 16, 'turns fill the budget');
      // memories and excerpts: whole, and a prefix of the ranked list
      const system = messages.find((m) => m.role === 'system')?.content ?? '';
      for (const id of report.included.memories) assert.ok(system.includes(`- ${input.memories!.find((m) => m.id === id)!.text}`));
      report.included.excerpts.forEach((id, i) => {
        const e = input.excerpts!.find((x) => x.id === id)!;
        assert.ok(system.includes(`[${i + 1}] (${e.source})\n${e.text}`));
      });
      assert.deepEqual(report.included.excerpts, input.excerpts!.slice(0, report.included.excerpts.length).map((e) => e.id));
      assert.deepEqual(report.included.memories, input.memories!.slice(0, report.included.memories.length).map((m) => m.id));
    }),
    { numRuns: 400 },
  );
});

test('with a real BPE (cl100k) and its margin: within budget, counts remembered', async () => {
  const bpe = await loadBpeCounter();
  assert.equal(bpe('hello world'), 2);
  let calls = 0;
  const count = tokenCounter((t) => (calls++, bpe(t)), { margin: 1.25 });
  assert.equal(count('hello world'), 3);
  const input = base({ count, window: 2048, replyReserve: 512, turns: turnsOf(300, 200) });
  const { messages, report } = buildContext(input);
  assert.ok(report.fits && report.used <= 1536 && messagesTokens(messages, count) === report.used);
  const before = calls;
  buildContext(input);
  // the second build counts only the assembled system message again (every turn is remembered)
  assert.ok(calls - before <= 2, `${calls - before} new counts`);
});
