/**
 * The probe's child process (probe.ts): loads one GGUF with llama.cpp, checks its tensors, runs
 * one token through it (or one embedding for an encoder) and prints one JSON line. llama.cpp
 * calls abort() on some malformed files (GGML_ASSERT), which ends the process it runs in; here
 * that is this child, never the server.
 *
 * Usage: node probe-child.ts <path> <threads>. Exit 0 and `{"ok":true,…}` when the model works.
 */
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';

const [path, threadsArg] = process.argv.slice(2);
const threads = Math.max(1, Number(threadsArg) || 1);
// llama.cpp's own error lines, passed back (without the path) as the reason a file was refused.
const errors: string[] = [];
const llama = await getLlama({
  gpu: false,
  build: 'never',
  maxThreads: threads,
  progressLogs: false,
  logLevel: LlamaLogLevel.error,
  logger: (_level, message) => {
    errors.push(message.trim());
    process.stderr.write(`${message.trim()}\n`);
  },
});
try {
  const model = await llama.loadModel({ modelPath: path!, gpuLayers: 0, checkTensors: true });
  const tokens = model.tokenize('Hello');
  const encoder = model.fileInfo.metadata.general.architecture.includes('bert');
  if (encoder) {
    const context = await model.createEmbeddingContext({ contextSize: 64, threads });
    await context.getEmbeddingFor('Hello');
  } else {
    const context = await model.createContext({ contextSize: 64, threads });
    const sequence = context.getSequence();
    const first = tokens.length > 0 ? tokens : model.tokenize('a');
    for await (const token of sequence.evaluate(first.slice(0, 8))) {
      void token;
      break;
    }
  }
  process.stdout.write(`${JSON.stringify({ ok: true, trainContextSize: model.trainContextSize, vocabularyType: model.vocabularyType })}\n`);
  await llama.dispose();
  process.exit(0);
} catch (err) {
  const message = (err instanceof Error ? err.message : String(err)).split(path!).join('<file>');
  process.stdout.write(`${JSON.stringify({ ok: false, message, llama: errors.slice(-3) })}\n`);
  process.exit(1);
}
