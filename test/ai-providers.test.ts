/**
 * The model-provider compliance suite: every provider passes the same tests, each against a
 * loopback server on 127.0.0.1 that implements its documented API (src/ai/testing/loopback.ts).
 * The Ollama server is proved faithful by the official `ollama` npm client, in this same suite.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { Ollama } from 'ollama';
import { createOllamaProvider, createOpenAiProvider } from '../src/ai/index.ts';
import type { ChatEvent, ModelProvider } from '../src/ai/index.ts';
import { startOllamaServer, startOpenAiServer, vectorOf } from '../src/ai/testing/loopback.ts';
import type { LoopbackServer } from '../src/ai/testing/loopback.ts';
import { isElohimError } from '../src/errors.ts';
import type { ErrorCode } from '../src/errors.ts';

const implementations = [
  { name: 'Ollama', start: startOllamaServer, create: createOllamaProvider, model: 'tiny:latest' },
  { name: 'OpenAI-compatible', start: startOpenAiServer, create: createOpenAiProvider, model: 'tiny:latest' },
];

async function collect<T = ChatEvent>(events: AsyncIterable<T>, seen: T[] = []): Promise<T[]> {
  for await (const e of events) seen.push(e);
  return seen;
}

const code = (expected: ErrorCode) => (err: unknown) => {
  assert.ok(isElohimError(err, expected), `expected ${expected}, got ${String((err as Error)?.stack ?? err)}`);
  return true;
};

for (const impl of implementations) {
  describe(`${impl.name} provider (compliance)`, () => {
    let server: LoopbackServer;
    let provider: ModelProvider;
    before(async () => {
      server = await impl.start();
      provider = impl.create({ baseUrl: server.url });
    });
    after(() => server.close());

    test('is local on a loopback address; a remote address needs the opt-in', () => {
      assert.equal(provider.local, true);
      assert.throws(() => impl.create({ baseUrl: 'http://192.168.1.20:11434' }), code('INVALID_INPUT'));
      const remote = impl.create({ baseUrl: 'http://192.168.1.20:11434', allowRemote: true });
      assert.equal(remote.local, false);
      assert.throws(() => impl.create({ baseUrl: 'file:///etc/passwd' }), code('INVALID_INPUT'));
    });

    test('streams an answer: deltas in order, then exactly one done with token counts', async () => {
      const events = await collect(provider.chat({ model: impl.model, messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'the generator fails above forty' }], contextLength: 4096 }));
      const deltas = events.filter((e) => e.type === 'delta');
      assert.ok(deltas.length > 3);
      assert.equal(deltas.map((e) => e.content).join(''), 'echo: the generator fails above forty');
      assert.deepEqual(events.at(-1), { type: 'done', reason: 'stop', promptTokens: 7, completionTokens: 6 });
      assert.equal(events.filter((e) => e.type === 'done').length, 1);
    });

    test('a missing model is AI_MODEL_NOT_FOUND, for chat, show and embed', async () => {
      await assert.rejects(collect(provider.chat({ model: 'nope', messages: [{ role: 'user', content: 'hi' }] })), code('AI_MODEL_NOT_FOUND'));
      await assert.rejects(provider.showModel('nope'), code('AI_MODEL_NOT_FOUND'));
      await assert.rejects(provider.embed('nope', ['x']), code('AI_MODEL_NOT_FOUND'));
    });

    test('an error in the middle of a stream is AI_PROVIDER_FAILED, after the words that came', async () => {
      const seen: ChatEvent[] = [];
      await assert.rejects(collect(provider.chat({ model: 'broken:latest', messages: [{ role: 'user', content: 'one two three four' }] }), seen), code('AI_PROVIDER_FAILED'));
      assert.deepEqual(seen, [{ type: 'delta', content: 'echo:' }, { type: 'delta', content: ' one' }]);
      // the provider's own words reach the user
      await assert.rejects(collect(provider.chat({ model: 'broken:latest', messages: [{ role: 'user', content: 'a b' }] })), /unexpected EOF|the model crashed/);
    });

    test('a silent provider times out (AI_TIMEOUT) instead of hanging', async () => {
      const seen: ChatEvent[] = [];
      const t0 = Date.now();
      await assert.rejects(collect(provider.chat({ model: 'stall:latest', messages: [{ role: 'user', content: 'x y' }] }, { timeoutMs: 300 }), seen), code('AI_TIMEOUT'));
      assert.ok(Date.now() - t0 < 5000);
      assert.equal(seen.length, 1);
    });

    test('Stop: aborting the signal ends the stream with its reason and closes the connection', async () => {
      const stop = new AbortController();
      const reason = new Error('stopped by the user');
      const closedBefore = server.closedByClient;
      const seen: ChatEvent[] = [];
      const words = Array.from({ length: 3000 }, (_, i) => `w${i}`).join(' ');
      await assert.rejects(
        (async () => {
          for await (const e of provider.chat({ model: impl.model, messages: [{ role: 'user', content: words }] }, { signal: stop.signal })) {
            seen.push(e);
            if (seen.length === 3) stop.abort(reason);
          }
        })(),
        (err) => err === reason,
      );
      assert.ok(seen.length < 10, `${seen.length} events after Stop`);
      for (let i = 0; i < 100 && server.closedByClient === closedBefore; i++) await sleep(10);
      assert.equal(server.closedByClient, closedBefore + 1, 'the server saw the connection close');
      // a consumer that stops reading (breaks out of the loop) also closes the connection
      const own = await impl.start();
      try {
        for await (const e of impl.create({ baseUrl: own.url }).chat({ model: impl.model, messages: [{ role: 'user', content: words }] })) if (e.type === 'delta') break;
        for (let i = 0; i < 200 && own.closedByClient === 0; i++) await sleep(10);
        assert.equal(own.closedByClient, 1, 'breaking out closed the connection');
      } finally {
        await own.close();
      }
      // an already aborted signal sends nothing
      const requests = server.requests.length;
      await assert.rejects(collect(provider.chat({ model: impl.model, messages: [{ role: 'user', content: 'x' }] }, { signal: AbortSignal.abort(reason) })), (err) => err === reason);
      assert.equal(server.requests.length, requests);
    });

    test('a provider that is down is AI_PROVIDER_UNREACHABLE, for every call', async () => {
      const gone = await impl.start();
      await gone.close();
      const down = impl.create({ baseUrl: gone.url });
      await assert.rejects(collect(down.chat({ model: impl.model, messages: [{ role: 'user', content: 'x' }] })), code('AI_PROVIDER_UNREACHABLE'));
      await assert.rejects(down.listModels(), code('AI_PROVIDER_UNREACHABLE'));
      await assert.rejects(down.embed('embedder:latest', ['x']), code('AI_PROVIDER_UNREACHABLE'));
    });

    test('a server that is not a model provider: AI_PROVIDER_FAILED with what it said', async () => {
      const other = createServer((_req, res) => {
        res.writeHead(404, { 'content-type': 'text/html' });
        res.end('<h1>Not Found</h1>');
      });
      await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
      try {
        const wrong = impl.create({ baseUrl: `http://127.0.0.1:${(other.address() as AddressInfo).port}` });
        await assert.rejects(wrong.listModels(), (err) => isElohimError(err, 'AI_PROVIDER_FAILED') && /404: <h1>Not Found<\/h1>/.test(err.message));
      } finally {
        other.closeAllConnections();
        await new Promise((resolve) => other.close(resolve));
      }
    });

    test('embeds: one vector per input, in order', async () => {
      const vectors = await provider.embed('embedder:latest', ['alpha', 'beta', 'gamma']);
      assert.deepEqual(vectors, ['alpha', 'beta', 'gamma'].map(vectorOf));
    });

    test('lists models and shows one with its context length', async () => {
      const models = await provider.listModels();
      assert.ok(models.some((m) => m.name === 'tiny:latest' && m.size === 1_700_000));
      const details = await provider.showModel('tiny:latest');
      assert.equal(details.name, 'tiny:latest');
      assert.equal(details.contextLength, 2048);
      assert.ok(details.capabilities.includes('completion'));
    });

    test('pull and delete, where the provider can', async (t) => {
      if (!provider.pullModel || !provider.deleteModel) {
        t.skip(`${impl.name} servers cannot pull or delete models`);
        return;
      }
      const progress = [];
      for await (const p of provider.pullModel('fresh:7b')) progress.push(p);
      assert.equal(progress[0]!.status, 'pulling manifest');
      assert.equal(progress.at(-1)!.status, 'success');
      const sized = progress.filter((p) => p.total !== undefined);
      assert.ok(sized.length >= 2 && sized.at(-1)!.completed === sized.at(-1)!.total);
      assert.ok((await provider.listModels()).some((m) => m.name === 'fresh:7b'));
      await assert.rejects(collect(provider.pullModel('missing-model')), code('AI_MODEL_NOT_FOUND'));
      await provider.deleteModel('fresh:7b');
      assert.ok(!(await provider.listModels()).some((m) => m.name === 'fresh:7b'));
      await assert.rejects(provider.deleteModel('fresh:7b'), code('AI_MODEL_NOT_FOUND'));
    });
  });
}

describe('Ollama specifics', () => {
  let server: LoopbackServer;
  before(async () => (server = await startOllamaServer()));
  after(() => server.close());

  test('num_ctx is sent, so Ollama never runs a smaller window than we budgeted for', async () => {
    const provider = createOllamaProvider({ baseUrl: server.url });
    await collect(provider.chat({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], contextLength: 8192, maxTokens: 512 }));
    const last = server.requests.at(-1)!;
    assert.equal(last.path, '/api/chat');
    assert.deepEqual((last.body as { options: unknown }).options, { num_ctx: 8192, num_predict: 512 });
  });

  test('the loopback server is faithful: the official ollama client works against it', async () => {
    const client = new Ollama({ host: server.url });
    const list = await client.list();
    assert.ok(list.models.some((m) => m.name === 'tiny:latest' && m.details.family === 'llama' && m.details.quantization_level === 'F16'));
    const shown = await client.show({ model: 'tiny' });
    assert.equal(shown.model_info['llama.context_length' as keyof typeof shown.model_info], 2048);
    assert.deepEqual(shown.capabilities, ['completion']);
    const whole = await client.chat({ model: 'tiny', messages: [{ role: 'user', content: 'hello there' }], stream: false });
    assert.equal(whole.message.content, 'echo: hello there');
    let streamed = '';
    let done = false;
    for await (const part of await client.chat({ model: 'tiny', messages: [{ role: 'user', content: 'hello there' }], stream: true })) {
      streamed += part.message.content;
      done ||= part.done;
    }
    assert.equal(streamed, 'echo: hello there');
    assert.ok(done);
    await assert.rejects(async () => {
      for await (const part of await client.chat({ model: 'broken', messages: [{ role: 'user', content: 'a b c' }], stream: true })) void part;
    }, /unexpected EOF/);
    const embedded = await client.embed({ model: 'embedder', input: ['alpha', 'beta'] });
    assert.deepEqual(embedded.embeddings, [vectorOf('alpha'), vectorOf('beta')]);
    const statuses: string[] = [];
    for await (const p of await client.pull({ model: 'other:1b', stream: true })) statuses.push(p.status);
    assert.equal(statuses.at(-1), 'success');
    await client.delete({ model: 'other:1b' });
    await assert.rejects(client.delete({ model: 'other:1b' }), (err: Error & { status_code?: number }) => err.status_code === 404);
    await assert.rejects(client.chat({ model: 'nope', messages: [], stream: false }), (err: Error & { status_code?: number }) => err.status_code === 404);
  });
});
