/**
 * The embedded provider on the tiny real GGUF (../shared/data/models/llama-2-tiny-random):
 * generation speed at 1, 2 and 4 llama.cpp threads (the library's default of max(4, cores) on a
 * 2-core machine is what this guards against), the first answer (llama.cpp and the model loaded),
 * the probe of a new file in a child process, and an import. Prints ratios; ends with one JSON line.
 *
 *   node bench/models.ts   (ELOHIM_TEST_DATA to point at the shared data)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEmbeddedProvider, createModels, probeModel } from '../src/ai/index.ts';
import { median, printJsonLine, ratio } from './lib.ts';

const shared = process.env.ELOHIM_TEST_DATA ?? join(import.meta.dirname, '..', '..', 'shared', 'data');
const gguf = join(shared, 'models', 'llama-2-tiny-random', 'llama-2-tiny-random.gguf');
const home = await mkdtemp(join(tmpdir(), 'elohim-bench-models-'));
const TOKENS = 64;
try {
  const models = createModels({ dir: join(home, 'models') });
  let t = performance.now();
  await models.importFile(gguf, { name: 'tiny' });
  const importMs = performance.now() - t;
  t = performance.now();
  await probeModel(gguf);
  const probeMs = performance.now() - t;

  const perThreads: Record<string, number> = {};
  let firstAnswerMs = 0;
  for (const threads of [1, 2, 4]) {
    const provider = createEmbeddedProvider({ models, threads });
    const runs: number[] = [];
    for (let i = 0; i < 4; i++) {
      const start = performance.now();
      let n = 0;
      for await (const e of provider.chat({ model: 'tiny', messages: [{ role: 'user', content: `tell me about pumps ${i}` }], contextLength: 512, maxTokens: TOKENS, temperature: 0 })) {
        if (e.type === 'done') n = e.completionTokens ?? 0;
      }
      const ms = performance.now() - start;
      if (i === 0 && threads === 1) firstAnswerMs = ms;
      if (i > 0) runs.push(ms / n);
    }
    await provider.dispose();
    perThreads[threads] = median(runs);
    console.log(`${threads} thread(s): ${median(runs).toFixed(2)} ms per token (median of 3 answers of ${TOKENS} tokens)`);
  }
  console.log(`first answer (llama.cpp and the model loaded, 1 thread): ${Math.round(firstAnswerMs)} ms`);
  console.log(`probe of a new file in a child process: ${Math.round(probeMs)} ms; import (copy, SHA-256, header, probe): ${Math.round(importMs)} ms`);
  console.log(`4 threads vs 1 on ${availableParallelism()} cores: ${ratio(perThreads[4]!, perThreads[1]!)}× the time per token`);
  printJsonLine('models', { cores: availableParallelism(), msPerToken1: Math.round(perThreads[1]! * 100) / 100, msPerToken2: Math.round(perThreads[2]! * 100) / 100, msPerToken4: Math.round(perThreads[4]! * 100) / 100, fourVsOne: ratio(perThreads[4]!, perThreads[1]!), firstAnswerMs: Math.round(firstAnswerMs), probeMs: Math.round(probeMs), importMs: Math.round(importMs) });
} finally {
  await rm(home, { recursive: true, force: true });
}
