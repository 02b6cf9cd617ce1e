import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { isElohimError } from '../../errors.ts';
import {
  CHUNK_SIZE,
  createDecryptor,
  createDecryptStream,
  createEncryptor,
  createEncryptStream,
  createStreamEncryptor,
  encodeHeader,
  generateFileKey,
  generateHybridIdentity,
  generateX25519Identity,
  parseHeader,
  parseIdentity,
  parseRecipient,
  payloadKey,
  scryptIdentity,
  scryptRecipient,
} from './index.ts';
import type { Identity, Recipient, Stanza } from './index.ts';
import { runTransform } from './testing.ts';

async function encryptFile(recipients: Recipient[], plaintext: Buffer, armor = false): Promise<Buffer> {
  const { output, error } = await runTransform(createEncryptStream({ recipients, armor }), [plaintext]);
  assert.equal(error, null);
  return output;
}

async function decryptFile(identities: Identity[] | ((s: Stanza[]) => Promise<Identity[]>), file: Buffer, pieceSize = 1 << 20) {
  const pieces: Buffer[] = [];
  for (let i = 0; i < file.length; i += pieceSize) pieces.push(file.subarray(i, i + pieceSize));
  return runTransform(createDecryptStream({ identities }), pieces);
}

test('whole-file round trips: X25519, hybrid, passphrase, several recipients, armored or not', async () => {
  const a = generateX25519Identity();
  const b = generateX25519Identity();
  const pq = generateHybridIdentity();
  const plaintext = randomBytes(2 * CHUNK_SIZE + 7);
  const cases: [string, Recipient[], Identity[]][] = [
    ['x25519', [parseRecipient(a.recipient)], [parseIdentity(a.identity)]],
    ['two recipients, second identity', [parseRecipient(a.recipient), parseRecipient(b.recipient)], [parseIdentity(b.identity)]],
    ['hybrid', [parseRecipient(pq.recipient)], [parseIdentity(a.identity), parseIdentity(pq.identity)]],
    ['passphrase', [scryptRecipient('hunter2', 10)], [scryptIdentity('hunter2')]],
  ];
  for (const [name, recipients, identities] of cases) {
    for (const armor of [false, true]) {
      const file = await encryptFile(recipients, plaintext, armor);
      assert.equal(file.subarray(0, armor ? 10 : 21).toString(), armor ? '-----BEGIN' : 'age-encryption.org/v1', name);
      for (const pieceSize of [file.length, 1000, 7]) {
        const { output, error } = await decryptFile(identities, file, pieceSize);
        assert.equal(error, null, `${name}: ${String(error)}`);
        assert.deepEqual(output, plaintext, name);
      }
    }
  }
});

test('scrypt recipients use work factor 2^18 by default and refuse more than 2^22 when decrypting', () => {
  const fileKey = generateFileKey();
  const [stanza] = scryptRecipient('pw').wrapFileKey(fileKey);
  assert.equal(stanza?.args[1], '18');
  assert.throws(() => scryptRecipient('pw', 23), (e) => isElohimError(e, 'INVALID_RECIPIENT'));
  assert.throws(() => scryptRecipient(''), (e) => isElohimError(e, 'INVALID_RECIPIENT'));
  const [cheap] = scryptRecipient('pw', 10).wrapFileKey(fileKey);
  const tooHard = { ...(cheap as Stanza), args: [(cheap as Stanza).args[0] as string, '23'] };
  assert.throws(() => scryptIdentity('pw').unwrapFileKey([tooHard]), (e) => isElohimError(e, 'AGE_HEADER_INVALID'));
});

test('recipient combinations age refuses', () => {
  const x = parseRecipient(generateX25519Identity().recipient);
  const pq = parseRecipient(generateHybridIdentity().recipient);
  const pw = scryptRecipient('pw', 10);
  for (const recipients of [[], [pw, x], [pw, scryptRecipient('other', 10)], [pq, x]]) {
    assert.throws(() => createEncryptStream({ recipients }), (e) => isElohimError(e, 'INVALID_RECIPIENT'));
  }
});

test('decryption failures: wrong identity, wrong passphrase, tampered header', async () => {
  const a = generateX25519Identity();
  const plaintext = randomBytes(1000);
  const file = await encryptFile([parseRecipient(a.recipient)], plaintext);
  const wrong = await decryptFile([parseIdentity(generateX25519Identity().identity)], file);
  assert.ok(isElohimError(wrong.error, 'AGE_NO_MATCH'));
  assert.equal(wrong.output.length, 0);
  const pwFile = await encryptFile([scryptRecipient('right', 10)], plaintext);
  assert.ok(isElohimError((await decryptFile([scryptIdentity('wrong')], pwFile)).error, 'AGE_NO_MATCH'));
  // Swap the X25519 stanza's share for another valid one: the stanza no longer opens.
  const other = parseRecipient(generateX25519Identity().recipient).wrapFileKey(generateFileKey())[0] as Stanza;
  const { stanzas } = parseHeader(file);
  const text = file.toString('latin1').replace(stanzas[0]?.args[0] as string, other.args[0] as string);
  assert.ok(isElohimError((await decryptFile([parseIdentity(a.identity)], Buffer.from(text, 'latin1'))).error, 'AGE_NO_MATCH'));
});

test('export without re-encryption: a new header for the stored file key, then nonce and stored payload', async () => {
  // What the vault stores: nonce ‖ STREAM payload, the file key sealed elsewhere.
  const fileKey = generateFileKey();
  const nonce = randomBytes(16);
  const plaintext = randomBytes(3 * CHUNK_SIZE + 11);
  const stored = await runTransform(createStreamEncryptor(payloadKey(fileKey, nonce)), [plaintext]);
  for (const { identity, recipient } of [generateX25519Identity(), generateHybridIdentity()]) {
    const header = encodeHeader(parseRecipient(recipient).wrapFileKey(fileKey), fileKey);
    const exported = Buffer.concat([header, nonce, stored.output]);
    const { output, error } = await decryptFile([parseIdentity(identity)], exported);
    assert.equal(error, null);
    assert.deepEqual(output, plaintext);
  }
});

test('identities can be picked once the stanzas are known (how the CLI asks for a passphrase)', async () => {
  const plaintext = randomBytes(5000);
  const file = await encryptFile([scryptRecipient('pw', 10)], plaintext);
  const seen: string[][] = [];
  const { output, error } = await decryptFile(
    async (stanzas) => {
      seen.push(stanzas.map((s) => s.type));
      await new Promise((r) => setTimeout(r, 5));
      return [scryptIdentity('pw')];
    },
    file,
    100,
  );
  assert.equal(error, null);
  assert.deepEqual(output, plaintext);
  assert.deepEqual(seen, [['scrypt']]);
});

test('codecs consume each chunk before returning, so callers may reuse their buffers', async () => {
  const { identity, recipient } = generateX25519Identity();
  const plaintext = randomBytes(5 * CHUNK_SIZE + 3);
  const reused = Buffer.alloc(9999);
  const feed = async (codec: { write(c: Uint8Array): void | Promise<void>; end(): void | Promise<void> }, data: Buffer) => {
    for (let i = 0; i < data.length; i += reused.length) {
      const n = data.copy(reused, 0, i, i + reused.length);
      await codec.write(reused.subarray(0, n));
      reused.fill(0xee);
    }
    await codec.end();
  };
  const encrypted: Buffer[] = [];
  await feed(createEncryptor({ recipients: [parseRecipient(recipient)], armor: true }, (b) => encrypted.push(b)), plaintext);
  const decrypted: Buffer[] = [];
  // Small first pieces exercise the armor detection and the header buffering.
  const file = Buffer.concat(encrypted);
  const codec = createDecryptor({ identities: async () => [parseIdentity(identity)] }, (b) => decrypted.push(b));
  for (const piece of [file.subarray(0, 3), file.subarray(3, 40)]) {
    reused.set(piece);
    await codec.write(reused.subarray(0, piece.length));
    reused.fill(0xee);
  }
  await feed(codec, file.subarray(40));
  assert.deepEqual(Buffer.concat(decrypted), plaintext);
});

test('input that is neither age nor armor, or an empty file, fails with a clear code', async () => {
  assert.ok(isElohimError((await decryptFile([], Buffer.from('hello, this is not encrypted\n'))).error, 'AGE_ARMOR_INVALID'));
  assert.ok(isElohimError((await decryptFile([], Buffer.alloc(0))).error, 'AGE_HEADER_INVALID'));
  assert.ok(isElohimError((await decryptFile([], Buffer.from('age-encryption.org/v1\n'))).error, 'AGE_HEADER_INVALID'));
});
