/**
 * The GGUF header parser on hostile bytes: built headers (checked field by field), then random
 * and mutated ones, which must only ever give a summary or MODEL_INVALID (or ask for more bytes
 * when told the bytes are not the whole file), never another exception or a huge allocation.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isElohimError } from '../../errors.ts';
import { formatParameters, NeedMoreBytes, parseGgufHeader } from './gguf.ts';

/** A GGUF v3 header: key/values ([key, type, value bytes]) and tensors ([name, dims]). */
function header(kvs: [string, number, Buffer][], tensors: [string, number[]][] = [['w', [4, 4]]], opts: { version?: number; magic?: string } = {}): Buffer {
  const u32 = (n: number) => Buffer.from(new Uint32Array([n]).buffer);
  const u64 = (n: number | bigint) => Buffer.from(new BigUint64Array([BigInt(n)]).buffer);
  const str = (s: string) => Buffer.concat([u64(Buffer.byteLength(s)), Buffer.from(s)]);
  return Buffer.concat([
    Buffer.from(opts.magic ?? 'GGUF', 'latin1'),
    u32(opts.version ?? 3),
    u64(tensors.length),
    u64(kvs.length),
    ...kvs.map(([k, type, v]) => Buffer.concat([str(k), u32(type), v])),
    ...tensors.map(([name, dims]) => Buffer.concat([str(name), u32(dims.length), ...dims.map(u64), u32(1), u64(0)])),
  ]);
}
const S = (s: string) => Buffer.concat([Buffer.from(new BigUint64Array([BigInt(Buffer.byteLength(s))]).buffer), Buffer.from(s)]);
const U32 = (n: number) => Buffer.from(new Uint32Array([n]).buffer);
const U64 = (n: number) => Buffer.from(new BigUint64Array([BigInt(n)]).buffer);
const stringArray = (items: string[]) => Buffer.concat([U32(8), Buffer.from(new BigUint64Array([BigInt(items.length)]).buffer), ...items.map(S)]);

const llama = (): [string, number, Buffer][] => [
  ['general.architecture', 8, S('llama')],
  ['general.name', 8, S('Tiny')],
  ['general.file_type', 4, U32(15)],
  ['llama.context_length', 4, U32(4096)],
  ['tokenizer.ggml.model', 8, S('llama')],
  ['tokenizer.ggml.tokens', 9, stringArray(Array.from({ length: 300 }, (_, i) => `t${i}`))],
];
const invalid = (err: unknown) => isElohimError(err, 'MODEL_INVALID');

test('a built header: family, title, quantisation, context, tokenizer, capabilities, weights', () => {
  const summary = parseGgufHeader(header(llama(), [['a', [32000, 8]], ['b', [8]]]));
  assert.deepEqual(summary, { version: 3, architecture: 'llama', title: 'Tiny', quantization: 'Q4_K_M', contextLength: 4096, tokenizer: 'llama', capabilities: ['completion'], parameters: 256_008 });
  assert.deepEqual(parseGgufHeader(header([['general.architecture', 8, S('bert')]])).capabilities, ['embedding']);
  assert.equal(formatParameters(256_008), '256K');
  assert.equal(formatParameters(7_241_732_096), '7.2B');
  assert.equal(formatParameters(137_000_000), '137M');
});

test('refusals, each with its reason', () => {
  const cases: [Buffer, RegExp][] = [
    [header(llama(), undefined, { magic: 'GGML' }), /no GGUF magic/],
    [header(llama(), undefined, { version: 1 }), /version 1/],
    [header([['general.name', 8, S('x')]]), /architecture is missing/],
    [header([['general.architecture', 8, S('../x')]]), /malformed/],
    [header([['general.architecture', 4, U32(1)]]), /not a string/],
    [header([...llama(), ['general.name', 8, S('again')]]), /appears twice/],
    [header(llama(), []), /no tensors/],
    [header(llama(), [['w', []]]), /0 dimensions/],
    [header([['general.architecture', 8, S('llama')], ['x', 99, Buffer.alloc(0)]]), /unknown value type 99/],
    [header([['general.architecture', 8, S('llama')], ['x', 9, Buffer.concat([U32(9), U64(1), U32(9), U64(1), U32(9), U64(1), U32(4), U64(0)])]]), /nested too deep/],
    [header([['general.architecture', 8, S('llama')], ['x', 9, Buffer.concat([U32(77), U64(1)])]]), /unknown array element type 77/],
    [header([['general.architecture', 8, Buffer.concat([Buffer.from(new BigUint64Array([2n]).buffer), Buffer.from([0xc3, 0x28])])]]), /not UTF-8/],
    [header(llama()).subarray(0, 100), /ends inside its header/],
  ];
  for (const [bytes, why] of cases) assert.throws(() => parseGgufHeader(bytes), (err) => invalid(err) && why.test((err as Error).message), String(why));
  // a count that claims more than the file holds is refused before anything is allocated
  const huge = header([['general.architecture', 8, S('llama')], ['v', 9, Buffer.concat([U32(4), Buffer.from(new BigUint64Array([2n ** 40n]).buffer)])]]);
  assert.throws(() => parseGgufHeader(huge), invalid);
  // not the whole file: ask for more instead of failing
  assert.throws(() => parseGgufHeader(header(llama()).subarray(0, 100), false), (err) => err instanceof NeedMoreBytes);
});

test('property: any bytes, or a real header with bytes changed, give a summary or MODEL_INVALID', () => {
  const base = header(llama(), [['a', [32000, 8]], ['b', [8]]]);
  const ok = (bytes: Uint8Array, complete: boolean) => {
    try {
      parseGgufHeader(bytes, complete);
    } catch (err) {
      if (!(invalid(err) || (!complete && err instanceof NeedMoreBytes))) throw err;
    }
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), fc.boolean(), (bytes, complete) => ok(bytes, complete)), { numRuns: 2000 });
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), fc.nat(base.length), fc.boolean(), (edits, cut, complete) => {
      const bytes = Buffer.from(base);
      for (const [at, v] of edits) bytes[at] = v;
      ok(bytes.subarray(0, Math.max(cut, 4)), complete);
    }),
    { numRuns: 3000 },
  );
});
