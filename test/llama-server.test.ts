/**
 * The OpenAI-compatible provider against a real llama.cpp `llama-server` (built from the source
 * node-llama-cpp ships, cached outside the checkout: test/helpers/llama-server.ts) serving the
 * tiny GGUF on 127.0.0.1: the compliance cases of test/ai-providers.test.ts that a real server
 * can show (streaming, token counts, Stop, a silent server, a server that is gone, embeddings,
 * list and show), and its /tokenize against the embedded provider's counter (both llama.cpp, one
 * vocabulary). What only the loopback server can stage (an error in the middle of a stream) stays
 * there; a single-model llama-server answers whatever model name it is sent, so "a missing model"
 * does not apply to it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createEmbeddedProvider, createModels, createOpenAiProvider } from '../src/ai/index.ts';
import type { ChatEvent, EmbeddedProvider, ModelProvider } from '../src/ai/index.ts';
import { isElohimError } from '../src/errors.ts';
import type { ErrorCode } from '../src/errors.ts';
import { TINY_GGUF, tinyMissing } from './helpers/llama-data.ts';
import { llamaServerMissing, startLlamaServer } from './helpers/llama-server.ts';
import type { LlamaServer } from './helpers/llama-server.ts';

const skip = tinyMissing || llamaServerMissing();

async function collect<T = ChatEvent>(events: AsyncIterable<T>, seen: T[] = []): Promise<T[]> {
  for await (const e of events) seen.push(e);
  return seen;
}
const code = (expected: ErrorCode) => (err: unknown) => {
  assert.ok(isElohimError(err, expected), `expected ${expected}, got ${String((err as Error)?.stack ?? err)}`);
  return true;
};
const post = async (server: LlamaServer, path: string, body: unknown) => (await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json();

describe('OpenAI-compatible provider against a real llama-server', { skip }, () => {
  let chatServer: LlamaServer;
  let embedServer: LlamaServer;
  let provider: ModelProvider;
  before(async () => {
    [chatServer, embedServer] = await Promise.all([startLlamaServer(TINY_GGUF), startLlamaServer(TINY_GGUF, { embeddings: true })]);
    provider = createOpenAiProvider({ baseUrl: chatServer.url });
  });
  after(async () => {
    await chatServer?.close();
    await embedServer?.close();
  });

  test('streams an answer: deltas, then one done with the prompt and completion counts llama.cpp reports', async () => {
    const messages = [{ role: 'system' as const, content: 'be brief' }, { role: 'user' as const, content: 'the generator fails above forty' }];
    const events = await collect(provider.chat({ model: chatServer.alias, messages, maxTokens: 12, temperature: 0 }));
    assert.ok(events.filter((e) => e.type === 'delta').length >= 3);
    assert.equal(events.filter((e) => e.type === 'done').length, 1);
    const done = events.at(-1)!;
    assert.equal(done.type, 'done');
    if (done.type !== 'done') return;
    assert.equal(done.reason, 'length');
    assert.equal(done.completionTokens, 12);
    // the prompt count is the server's template rendered and tokenized (with BOS)
    const { prompt } = (await post(chatServer, '/apply-template', { messages })) as { prompt: string };
    const { tokens } = (await post(chatServer, '/tokenize', { content: prompt, add_special: true, parse_special: true })) as { tokens: number[] };
    assert.equal(done.promptTokens, tokens.length);
  });

  test('Stop: aborting ends the stream with its reason, and the server stops generating', async () => {
    const predicted = async () => Number(/^llamacpp:tokens_predicted_total (\d+)/m.exec(await (await fetch(`${chatServer.url}/metrics`)).text())?.[1]);
    const before = await predicted();
    const stop = new AbortController();
    const reason = new Error('stopped by the user');
    const seen: ChatEvent[] = [];
    await assert.rejects(
      (async () => {
        for await (const e of provider.chat({ model: chatServer.alias, messages: [{ role: 'user', content: 'go on' }], maxTokens: 1900 }, { signal: stop.signal })) {
          seen.push(e);
          if (seen.length === 3) stop.abort(reason);
        }
      })(),
      (err) => err === reason,
    );
    // events already in the last network chunk may still come (llama-server writes tokens 0.5 ms
    // apart, many per chunk); what matters is that generation stops, counted below
    assert.ok(seen.length < 100, `${seen.length} events`);
    // llama-server notices the closed connection, frees its slot and counts far fewer than 1,900 tokens
    let slots: { is_processing: boolean }[] = [];
    for (let i = 0; i < 100; i++) {
      slots = (await (await fetch(`${chatServer.url}/slots`)).json()) as typeof slots;
      if (slots.every((s) => !s.is_processing)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(slots.every((s) => !s.is_processing), 'the slot is idle again');
    const generated = (await predicted()) - before;
    assert.ok(generated < 1000, `${generated} tokens generated after Stop`);
  });

  test('a server that goes silent (SIGSTOP) times out with AI_TIMEOUT, and answers again after SIGCONT', async () => {
    process.kill(chatServer.pid, 'SIGSTOP');
    try {
      const t0 = Date.now();
      await assert.rejects(collect(provider.chat({ model: chatServer.alias, messages: [{ role: 'user', content: 'x' }], maxTokens: 4 }, { timeoutMs: 500 })), code('AI_TIMEOUT'));
      assert.ok(Date.now() - t0 < 10_000);
      await assert.rejects(provider.listModels({ timeoutMs: 500 }), code('AI_TIMEOUT'));
    } finally {
      process.kill(chatServer.pid, 'SIGCONT');
    }
    // temperature 0: random weights sampled at random sometimes write what llama-server's chat
    // parser refuses at the end of an answer ("does not match the expected peg-native format"),
    // which failed this test once in CI; greedy decoding of this prompt is one fixed answer
    const events = await collect(provider.chat({ model: chatServer.alias, messages: [{ role: 'user', content: 'x' }], maxTokens: 4, temperature: 0 }));
    assert.equal(events.at(-1)!.type, 'done');
  });

  test('a server that is gone is AI_PROVIDER_UNREACHABLE, for every call', async () => {
    const gone = await startLlamaServer(TINY_GGUF);
    await gone.close();
    const down = createOpenAiProvider({ baseUrl: gone.url });
    await assert.rejects(collect(down.chat({ model: 'tiny', messages: [{ role: 'user', content: 'x' }] })), code('AI_PROVIDER_UNREACHABLE'));
    await assert.rejects(down.listModels(), code('AI_PROVIDER_UNREACHABLE'));
    await assert.rejects(down.embed('tiny', ['x']), code('AI_PROVIDER_UNREACHABLE'));
  });

  test('embeds: one vector per input, in order (a server started with --embeddings)', async () => {
    const embedder = createOpenAiProvider({ baseUrl: embedServer.url });
    const vectors = await embedder.embed(embedServer.alias, ['alpha', 'beta', 'alpha']);
    assert.equal(vectors.length, 3);
    assert.ok(vectors.every((v) => v.length === 8 && v.every(Number.isFinite)));
    assert.deepEqual(vectors[0], vectors[2]);
    assert.notDeepEqual(vectors[0], vectors[1]);
    // the chat server refuses embeddings: its own words reach the user
    await assert.rejects(provider.embed(chatServer.alias, ['x']), (err) => isElohimError(err, 'AI_PROVIDER_FAILED') && /--embeddings/.test((err as Error).message));
  });

  test('lists the model and shows the window the server runs with (-c 2048), not the trained 4096', async () => {
    const models = await provider.listModels();
    assert.deepEqual(models.map((m) => m.name), ['tiny']);
    const details = await provider.showModel('tiny');
    assert.equal(details.contextLength, 2048);
    await assert.rejects(provider.showModel('nope'), code('AI_MODEL_NOT_FOUND'));
  });

  describe("token counts: llama-server's /tokenize and the embedded provider's counter agree", () => {
    let home: string;
    let embedded: EmbeddedProvider;
    before(async () => {
      home = await mkdtemp(join(tmpdir(), 'elohim-llama-server-'));
      const models = createModels({ dir: join(home, 'models') });
      await models.importFile(TINY_GGUF, { name: 'tiny' });
      embedded = createEmbeddedProvider({ models, threads: 1 });
    });
    after(async () => {
      await embedded?.dispose();
      await rm(home, { recursive: true, force: true });
    });

    test('on English, accents, CJK, emoji, code and whitespace', async () => {
      const count = await embedded.tokenCounter('tiny');
      const texts = ['Hello world, this is a test.', 'Äpfel, Birnen und Müsli — 4½ Stück', '発電機は40度を超えると故障する', 'the 🦙 ate 🍎🍎', 'for (let i = 0; i < n; i++) {\n\treturn x;\n}', '   leading and trailing   ', ''];
      for (const text of texts) {
        const { tokens } = (await post(chatServer, '/tokenize', { content: text, add_special: false })) as { tokens: number[] };
        assert.equal(count(text), tokens.length, JSON.stringify(text));
      }
    });
  });
});
