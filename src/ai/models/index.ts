/**
 * The device's GGUF models (issue 10, "Model management"), its public face:
 * - models.ts: `createModels({ dir })`, the service app.ts builds once per data folder: import
 *   from a path, pull from a URL (resumable, SHA-256 checked), list, show, delete;
 * - folder.ts: the models folder and its names; gguf.ts: the GGUF header, parsed with bounds;
 * - download.ts: a resumable HTTP download (Range, If-Range);
 * - probe.ts: does llama.cpp load the file? asked in a child process (probe-child.ts), since
 *   llama.cpp can abort the process on a malformed file.
 */
export { checkPullUrl, createModels, pullIdOf } from './models.ts';
export type { AddOptions, LocalModel, ModelProgress, Models, ModelsDeps, PullState } from './models.ts';
export { checkModelName, modelNameFrom, readGgufSummary, sha256File } from './folder.ts';
export { formatParameters, MAX_HEADER_BYTES, parseGgufHeader } from './gguf.ts';
export type { GgufSummary } from './gguf.ts';
export { probeModel } from './probe.ts';
export type { ProbeOptions, ProbeResult } from './probe.ts';
