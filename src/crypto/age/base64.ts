/**
 * The unpadded ("raw") standard base64 that age uses in headers. The spec requires decoders to
 * reject non-canonical encodings and `=` padding (age spec, "Conventions"), which Node's lenient
 * decoder accepts, so every decode is checked by re-encoding.
 */

const ALPHABET = /^[A-Za-z0-9+/]*$/;

export function encodeBase64NoPad(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64').replace(/=+$/, '');
}

/** Returns the decoded bytes, or null if `s` is not canonical unpadded base64. */
export function decodeBase64NoPad(s: string): Buffer | null {
  if (!ALPHABET.test(s) || s.length % 4 === 1) return null;
  const bytes = Buffer.from(s, 'base64');
  // Re-encoding catches non-zero trailing bits, the only non-canonical form left.
  return encodeBase64NoPad(bytes) === s ? bytes : null;
}
