/**
 * Token counts against llama.cpp's own tokenizer vectors (models/ggml-vocab-*.gguf with their
 * .inp/.out, from the llama.cpp source node-llama-cpp ships): the embedded provider's counter is
 * the model's tokenizer, and these are the ids llama.cpp's tests expect of it (tokenized without
 * BOS, special tokens not parsed: test-tokenizer-0.cpp). The Llama SPM vocabulary is the one the
 * tiny test model uses; the BPE ones (Llama 3, Qwen 2, GPT-2, …) are checked too. The SPM
 * reference in src/ai/testing/spm.ts, which measured the cl100k margin, is held to the same
 * vectors.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Llama } from 'node-llama-cpp';
import { spmTokenizerFromGguf } from '../src/ai/testing/spm.ts';
import { llamaSourceFile } from './helpers/llama-server.ts';

/** The vectors of one vocabulary: [input, expected ids] (test-tokenizer-0.cpp's format). */
function vectors(name: string): [string, number[]][] {
  const inp = readFileSync(llamaSourceFile(`models/ggml-vocab-${name}.gguf.inp`), 'utf8');
  const out = readFileSync(llamaSourceFile(`models/ggml-vocab-${name}.gguf.out`), 'utf8').split('\n');
  const sep = '\n__ggml_vocab_test__\n';
  const inputs: string[] = [];
  for (let pos = 0; pos < inp.length; ) {
    const next = inp.indexOf(sep, pos);
    if (next < 0) {
      inputs.push(inp.slice(pos));
      break;
    }
    inputs.push(inp.slice(pos, next));
    pos = next + sep.length;
  }
  assert.equal(inputs.length, out.filter((_, i) => i < inputs.length).length);
  return inputs.map((text, i) => [text, out[i]!.trim() === '' ? [] : out[i]!.trim().split(/\s+/).map(Number)]);
}

const VOCABS = ['llama-spm', 'llama-bpe', 'qwen2', 'gpt-2', 'phi-3', 'deepseek-llm'];

describe("llama.cpp's tokenizer vectors", () => {
  let llama: Llama;
  before(async () => {
    const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
    // a vocabulary-only file has no tensors, which llama.cpp logs as an error while loading it fine
    llama = await getLlama({ gpu: false, build: 'never', maxThreads: 1, logLevel: LlamaLogLevel.error, logger: () => {}, progressLogs: false });
  });
  after(() => llama?.dispose());

  for (const name of VOCABS) {
    test(`${name}: node-llama-cpp (the embedded provider's counter) gives llama.cpp's ids`, async () => {
      const model = await llama.loadModel({ modelPath: llamaSourceFile(`models/ggml-vocab-${name}.gguf`), vocabOnly: true });
      try {
        const cases = vectors(name);
        assert.ok(cases.length >= 30, `${cases.length} cases`);
        for (const [text, ids] of cases) assert.deepEqual(Array.from(model.tokenize(text)), ids, JSON.stringify(text));
      } finally {
        await model.dispose();
      }
    });
  }

  test('llama-spm: the SPM reference (src/ai/testing/spm.ts) gives the same ids', () => {
    const spm = spmTokenizerFromGguf(llamaSourceFile('models/ggml-vocab-llama-spm.gguf'));
    const wrong = vectors('llama-spm').filter(([text, ids]) => JSON.stringify(spm.encode(text)) !== JSON.stringify(ids));
    assert.deepEqual(wrong.map(([text]) => text), []);
  });
});
