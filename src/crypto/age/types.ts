/** A 128-bit age file key (age-encryption.org/v1, "File key"). Branded so raw bytes are never passed by mistake. */
export type FileKey = Buffer & { readonly __brand: 'FileKey' };

/**
 * One recipient stanza of an age header: `-> type args…` and its body (age spec, "Recipient stanza").
 * `type` is the first argument and `args` the rest, so `-> X25519 share` is
 * `{ type: 'X25519', args: ['share'], body }`.
 */
export interface Stanza {
  type: string;
  args: string[];
  body: Buffer;
}

/** Wraps a file key into the stanzas that let its identity unwrap it. */
export interface Recipient {
  wrapFileKey(fileKey: FileKey): Stanza[];
}

/**
 * Unwraps a file key from the stanzas of a header. Returns null when no stanza is addressed to
 * this identity (an expected outcome); throws AGE_HEADER_INVALID when a stanza of its own type is
 * malformed, as the spec requires rejecting those rather than skipping them.
 */
export interface Identity {
  unwrapFileKey(stanzas: Stanza[]): FileKey | null;
}
