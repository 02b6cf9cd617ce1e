/**
 * The embedded provider (llama.cpp in-process through node-llama-cpp) against the provider
 * contract the HTTP providers pass in test/ai-providers.test.ts, on a real GGUF: the tiny
 * random-weights Llama-2 in ../shared/data (its output is gibberish; its tokenizer is Llama-2's).
 * What the loopback servers fake with special model names (a stalled or crashing model) is done
 * here with real conditions: a timeout shorter than a load, a file that is not a model.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createModels } from '../src/ai/models/index.ts';
import type { Models } from '../src/ai/models/index.ts';
import { createEmbeddedProvider, defaultThreads } from '../src/ai/providers/embedded.ts';
import type { EmbeddedProvider } from '../src/ai/providers/embedded.ts';
import type { ChatEvent } from '../src/ai/index.ts';
import { isElohimError } from '../src/errors.ts';
import type { ErrorCode } from '../src/errors.ts';
import { TINY_GGUF, TINY_SIZE, tinyMissing } from './helpers/llama-data.ts';

async function collect<T = ChatEvent>(events: AsyncIterable<T>, seen: T[] = []): Promise<T[]> {
  for await (const e of events) seen.push(e);
  return seen;
}

const code = (expected: ErrorCode) => (err: unknown) => {
  assert.ok(isElohimError(err, expected), `expected ${expected}, got ${String((err as Error)?.stack ?? err)}`);
  return true;
};

const ask = (content: string, extra: object = {}) => ({ model: 'tiny', messages: [{ role: 'system' as const, content: 'be brief' }, { role: 'user' as const, content }], contextLength: 512, maxTokens: 24, temperature: 0, ...extra });

describe('embedded provider (compliance, real llama.cpp)', { skip: tinyMissing }, () => {
  let home: string;
  let models: Models;
  let provider: EmbeddedProvider;
  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'elohim-embedded-'));
    models = createModels({ dir: join(home, 'models') });
    await models.importFile(TINY_GGUF, { name: 'tiny' });
    provider = createEmbeddedProvider({ models, threads: 1 });
  });
  after(async () => {
    await provider?.dispose();
    await rm(home, { recursive: true, force: true });
  });

  test('is local, kind embedded, with threads chosen for the machine', () => {
    assert.equal(provider.kind, 'embedded');
    assert.equal(provider.local, true);
    assert.equal(provider.threads, 1);
    // one core left for the server and the UI; never the library's 4 on a 2-core machine
    assert.equal(defaultThreads(2), 1);
    assert.equal(defaultThreads(1), 1);
    assert.equal(defaultThreads(8), 7);
    assert.equal(defaultThreads(64), 8);
  });

  test('streams an answer: deltas in order, then exactly one done with the exact token counts', async () => {
    const events = await collect(provider.chat(ask('the generator fails above forty')));
    const deltas = events.filter((e) => e.type === 'delta');
    assert.ok(deltas.length >= 3, `${deltas.length} deltas`);
    const done = events.at(-1)!;
    assert.equal(done.type, 'done');
    assert.equal(events.filter((e) => e.type === 'done').length, 1);
    if (done.type !== 'done') return;
    assert.equal(done.reason, 'length'); // random weights never say EOS within 24 tokens
    assert.equal(done.completionTokens, 24);
    // the prompt as the model's template renders it: more than the two messages' own tokens
    const count = await provider.tokenCounter('tiny');
    assert.ok(done.promptTokens! > count('be brief') + count('the generator fails above forty'), `${done.promptTokens}`);
    // the same request counts the same (temperature 0 is deterministic too)
    const again = await collect(provider.chat(ask('the generator fails above forty')));
    assert.deepEqual(again.at(-1), done);
    assert.equal(again.filter((e) => e.type === 'delta').map((e) => (e as { content: string }).content).join(''), deltas.map((e) => (e as { content: string }).content).join(''));
  });

  test('a missing model is AI_MODEL_NOT_FOUND, for chat, show, embed and the token counter', async () => {
    await assert.rejects(collect(provider.chat({ model: 'nope', messages: [{ role: 'user', content: 'hi' }] })), code('AI_MODEL_NOT_FOUND'));
    await assert.rejects(provider.showModel('nope'), code('AI_MODEL_NOT_FOUND'));
    await assert.rejects(provider.embed('nope', ['x']), code('AI_MODEL_NOT_FOUND'));
    await assert.rejects(provider.tokenCounter('nope'), code('AI_MODEL_NOT_FOUND'));
    // a name that could reach outside the models folder is refused as input, not looked up
    await assert.rejects(collect(provider.chat({ model: '../../etc/passwd', messages: [{ role: 'user', content: 'hi' }] })), code('INVALID_INPUT'));
  });

  test('a prompt larger than the window is AI_CONTEXT_TOO_LARGE, never silently shortened', async () => {
    const long = Array.from({ length: 400 }, (_, i) => `word${i}`).join(' ');
    await assert.rejects(collect(provider.chat(ask(long, { contextLength: 256 }))), code('AI_CONTEXT_TOO_LARGE'));
    // and the provider still answers afterwards
    const events = await collect(provider.chat(ask('still there?')));
    assert.equal(events.at(-1)!.type, 'done');
  });

  test('a call that gets nothing within its timeout is AI_TIMEOUT (the load counts), and the next call works', async () => {
    const fresh = createEmbeddedProvider({ models, threads: 1 });
    try {
      // 1 ms: loading the model (and probing nothing: this process saw it probed) takes longer
      await assert.rejects(collect(fresh.chat(ask('x y'), { timeoutMs: 1 })), code('AI_TIMEOUT'));
      const events = await collect(fresh.chat(ask('x y')));
      assert.equal(events.at(-1)!.type, 'done');
    } finally {
      await fresh.dispose();
    }
  });

  test('Stop: aborting the signal ends the stream with its reason, within a token; the model is free after', async () => {
    const stop = new AbortController();
    const reason = new Error('stopped by the user');
    const seen: ChatEvent[] = [];
    await assert.rejects(
      (async () => {
        for await (const e of provider.chat(ask('tell me everything', { maxTokens: 400 }), { signal: stop.signal })) {
          seen.push(e);
          if (seen.length === 3) stop.abort(reason);
        }
      })(),
      (err) => err === reason,
    );
    assert.ok(seen.length < 10, `${seen.length} events after Stop`);
    assert.ok(seen.every((e) => e.type === 'delta'));
    // a consumer that breaks out of the loop stops generation too, and the next call runs
    let n = 0;
    for await (const e of provider.chat(ask('tell me everything', { maxTokens: 400 }))) if (e.type === 'delta' && ++n === 2) break;
    const events = await collect(provider.chat(ask('and now?')));
    assert.equal(events.at(-1)!.type, 'done');
    // an already aborted signal does nothing
    await assert.rejects(collect(provider.chat(ask('x'), { signal: AbortSignal.abort(reason) })), (err) => err === reason);
  });

  test('two calls at once take turns on the model and both finish', async () => {
    const [a, b] = await Promise.all([collect(provider.chat(ask('first'))), collect(provider.chat(ask('second')))]);
    assert.equal(a.at(-1)!.type, 'done');
    assert.equal(b.at(-1)!.type, 'done');
  });

  test('embeds: one vector per input, in order, each the model\'s width', async () => {
    const vectors = await provider.embed('tiny', ['alpha', 'beta', 'alpha']);
    assert.equal(vectors.length, 3);
    assert.ok(vectors.every((v) => v.length === 8 && v.every(Number.isFinite)));
    assert.deepEqual(vectors[0], vectors[2]);
    assert.notDeepEqual(vectors[0], vectors[1]);
  });

  test('lists models and shows one with its family, quantisation and context length', async () => {
    const list = await provider.listModels();
    assert.deepEqual(list, [{ name: 'tiny', size: TINY_SIZE, family: 'llama', parameterSize: '513K', quantization: 'F16' }]);
    const details = await provider.showModel('tiny');
    assert.equal(details.contextLength, 4096);
    assert.deepEqual(details.capabilities, ['completion']);
    assert.equal(details.quantization, 'F16');
  });

  test("counts tokens with the model's own tokenizer (Llama-2 ids, no BOS)", async () => {
    const count = await provider.tokenCounter('tiny');
    assert.equal(count('Hello world, this is a test.'), 8);
    assert.equal(count(''), 0);
    assert.equal(count('I believe the meaning of life is'), 7);
  });

  test('a file put in the folder by hand is probed in a child before this process loads it', async () => {
    // not a GGUF at all: not even listed
    await writeFile(join(home, 'models', 'junk.gguf'), 'GGUF but not really');
    assert.ok(!(await provider.listModels()).some((m) => m.name === 'junk'));
    await assert.rejects(collect(provider.chat({ model: 'junk', messages: [{ role: 'user', content: 'x' }] })), code('AI_MODEL_NOT_FOUND'));
  });

  test('delete: the model is gone for every call', async () => {
    await models.importFile(TINY_GGUF, { name: 'doomed' });
    assert.equal((await collect(provider.chat({ ...ask('x'), model: 'doomed' }))).at(-1)!.type, 'done');
    await provider.deleteModel!('doomed');
    await assert.rejects(collect(provider.chat({ ...ask('x'), model: 'doomed' })), code('AI_MODEL_NOT_FOUND'));
    await assert.rejects(provider.deleteModel!('doomed'), code('AI_MODEL_NOT_FOUND'));
  });
});
