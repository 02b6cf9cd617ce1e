/**
 * An S3 bucket (AWS, or any S3-compatible store: MinIO, Garage, an office NAS) as a backup
 * target, through the AWS SDK v3. `endpoint` and `forcePathStyle` reach stores that are not
 * AWS; `prefix` lets several repositories share a bucket.
 *
 * The SDK's own retries are off (maxAttempts 1): every call retries in one place, withRetry,
 * with the same policy as every target, and a streamed body cannot be replayed by the SDK.
 * S3 PUTs are atomic, so `put` needs no temp name.
 *
 * The SDK is loaded on the first call, not at import: it costs most of a second of start-up,
 * and every CLI command imports the backup's face.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { checkName, checkPrefix, TargetError, withRetry } from '../target.ts';
import type { CallOptions, RetryPolicy, Target, TargetFailure } from '../target.ts';

export interface S3TargetConfig {
  bucket: string;
  /** e.g. "backups/laptop/" (ends with a slash, or empty) */
  prefix?: string;
  region?: string;
  /** an S3-compatible store's URL, e.g. http://127.0.0.1:9000 */
  endpoint?: string;
  forcePathStyle?: boolean;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  retry?: RetryPolicy;
  /** per-request timeout; a hung server is then a transient failure (default 60 s) */
  requestTimeoutMs?: number;
}

const AUTH = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'InvalidToken', 'ExpiredToken', 'AuthorizationHeaderMalformed']);
const MISSING_BUCKET = new Set(['NoSuchBucket', 'NotFound']);
const NET = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/** What an SDK failure means for us; `what` names the call for the message (never credentials). */
type Sdk = typeof import('@aws-sdk/client-s3');

function classify(sdk: Sdk, err: unknown, what: string): TargetError | null {
  const { S3ServiceException } = sdk;
  if (err instanceof TargetError) return err;
  if ((err as Error)?.name === 'AbortError') return null;
  const make = (reason: TargetFailure, message: string) => new TargetError(reason, message, { cause: err });
  if (err instanceof S3ServiceException) {
    const status = err.$metadata?.httpStatusCode ?? 0;
    if (AUTH.has(err.name) || status === 401 || status === 403) return make('auth', `the S3 store refused the credentials (${err.name}) on ${what}`);
    if (MISSING_BUCKET.has(err.name)) return make('missing', `the S3 bucket does not exist (${what})`);
    if (err.name === 'EntityTooLarge' || err.name === 'QuotaExceeded' || status === 507) return make('full', `the S3 store is full (${what})`);
    if (status >= 500 || status === 429 || err.name === 'SlowDown' || err.name === 'RequestTimeout') return make('transient', `the S3 store failed (${err.name}) on ${what}`);
    return null;
  }
  const code = (err as NodeJS.ErrnoException)?.code ?? (err as { cause?: NodeJS.ErrnoException })?.cause?.code;
  if (code && NET.has(code)) return make('unreachable', `the S3 store cannot be reached (${code}) on ${what}`);
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ETIMEDOUT' || (err as Error)?.name === 'TimeoutError') {
    return make('transient', `the connection to the S3 store failed (${code ?? 'timeout'}) on ${what}`);
  }
  return null;
}

export function createS3Target(config: S3TargetConfig): Target {
  const prefix = config.prefix ?? '';
  let loading: Promise<{ sdk: Sdk; client: S3Client }> | null = null;
  const load = () => (loading ??= import('@aws-sdk/client-s3').then((sdk) => ({ sdk, client: makeClient(sdk) })));
  const makeClient = (sdk: Sdk) => new sdk.S3Client({
    region: config.region ?? 'us-east-1',
    endpoint: config.endpoint,
    forcePathStyle: config.forcePathStyle ?? false,
    credentials: config.credentials,
    maxAttempts: 1,
    // Flexible checksums would send streamed bodies as aws-chunked with a trailing CRC, which
    // S3-compatible stores (and s3rver) do not all decode; SigV4 still signs every request.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { requestTimeout: config.requestTimeoutMs ?? 60_000, connectionTimeout: 10_000 },
  });
  const Bucket = config.bucket;
  const keyOf = (name: string) => {
    checkName(name);
    return prefix + name;
  };

  function call<T>(what: string, o: CallOptions, fn: (sdk: Sdk, client: S3Client) => Promise<T>): Promise<T> {
    return withRetry(
      async () => {
        const { sdk, client } = await load();
        try {
          return await fn(sdk, client);
        } catch (err) {
          throw classify(sdk, err, what) ?? err;
        }
      },
      { signal: o.signal, policy: config.retry },
    );
  }

  const rangeHeader = (r?: { start: number; end: number }) => (r ? (r.end > r.start ? `bytes=${r.start}-${r.end - 1}` : undefined) : undefined);

  const target: Target = {
    description: `s3 ${config.endpoint ?? 'aws'} bucket ${Bucket}${prefix ? ` prefix ${prefix}` : ''}`,

    check(o = {}) {
      return call('check', o, async (sdk, client) => {
        await client.send(new sdk.HeadBucketCommand({ Bucket }), { abortSignal: o.signal });
      });
    },

    async put(name, body, o = {}) {
      const Key = keyOf(name);
      return call(`put ${name}`, o, async (sdk, client) => {
        const Body = body instanceof Uint8Array ? body : await body.open();
        const ContentLength = body instanceof Uint8Array ? body.length : body.size;
        try {
          await client.send(new sdk.PutObjectCommand({ Bucket, Key, Body, ContentLength }), { abortSignal: o.signal });
        } finally {
          if (Body instanceof Readable) Body.destroy();
        }
      });
    },

    async get(name, o = {}) {
      if (o.range && o.range.end <= o.range.start) return Buffer.alloc(0);
      const Key = keyOf(name);
      return call(`get ${name}`, o, async (sdk, client) => {
        try {
          const out = await client.send(new sdk.GetObjectCommand({ Bucket, Key, Range: rangeHeader(o.range) }), { abortSignal: o.signal });
          return Buffer.from(await out.Body!.transformToByteArray());
        } catch (err) {
          if (err instanceof sdk.S3ServiceException && err.name === 'NoSuchKey') return null;
          throw err;
        }
      });
    },

    async read(name, o = {}) {
      if (o.range && o.range.end <= o.range.start) return Readable.from([]);
      const Key = keyOf(name);
      return call(`read ${name}`, o, async (sdk, client) => {
        try {
          const out = await client.send(new sdk.GetObjectCommand({ Bucket, Key, Range: rangeHeader(o.range) }), { abortSignal: o.signal });
          return out.Body as Readable;
        } catch (err) {
          if (err instanceof sdk.S3ServiceException && err.name === 'NoSuchKey') throw new TargetError('missing', `${name} is not in the backup`, { cause: err });
          throw err;
        }
      });
    },

    async list(p, o = {}) {
      checkPrefix(p);
      return call(`list ${p}`, o, async (sdk, client) => {
        const out: { name: string; size: number }[] = [];
        let ContinuationToken: string | undefined;
        do {
          const page = await client.send(new sdk.ListObjectsV2Command({ Bucket, Prefix: prefix + p, ContinuationToken }), { abortSignal: o.signal });
          for (const obj of page.Contents ?? []) out.push({ name: obj.Key!.slice(prefix.length), size: obj.Size ?? 0 });
          ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (ContinuationToken);
        return out;
      });
    },

    async delete(name, o = {}) {
      const Key = keyOf(name);
      return call(`delete ${name}`, o, async (sdk, client) => {
        await client.send(new sdk.DeleteObjectCommand({ Bucket, Key }), { abortSignal: o.signal });
      });
    },
  };
  return target;
}
