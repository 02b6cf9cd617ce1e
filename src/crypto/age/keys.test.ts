import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bech32 } from '@scure/base';
import { isElohimError } from '../../errors.ts';
import type { ErrorCode } from '../../errors.ts';
import {
  generateFileKey,
  generateHybridIdentity,
  generateX25519Identity,
  identityLines,
  parseIdentity,
  parseIdentityFile,
  parseRecipient,
  recipientOfIdentity,
  x25519IdentityFromSecret,
} from './index.ts';

/** Examples from the age specification (c2sp.org/age), for X25519 and for the hybrid type. */
const SPEC_X25519 = {
  identity: 'AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX',
  recipient: 'age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj',
};
const SPEC_HYBRID = {
  identity: 'AGE-SECRET-KEY-PQ-1XX76JRALNLXDMEW0CRK45QMCCH4X06SE84UN3VPM33W6HWDX0H3SK3ZQFR',
  recipient:
    'age1pq1x34nzsvr0rxjsgdn8zgyhfe8j7ceq5r9rdelkjuh3y235jzxshfg87pzf5zrqtzdxz95paef6caq5aapdmwjjqpjfdyxnzr2zampc3uxy0dg4z2n2gm9su72p0pc3u0jvev55l694v78snxg3yzvcl7yda0eyytqj6a0ec477lnhcy5hzpz4zq3pxanve4cn62gqj3pjy5lqj9c6kyj4v2z8alktn8zh99970x79gjkv7522hv9kfz35zsnxhsx8wwtmu9cy3ftzjgwcp4sshn3llnylnpdsyz5jm72vefv4x5vfwytrefxg4wq3mv42wcrvkj742479zrxzpvp2p3e9fed9f0739vcu80r7ma28qfhnvlv4gfzel9q654dj3zmuvvz893azhxdvs9fxd0r7jzchzcfcs5mkyyjxhw0n2z6dvp9yn9qfdp29h0azxqyjw6v7fhyuzj7zel0uq6j9rd7wgrpz7mf5dnj43jwsgvrc8qcnhy7tu6dkdujuxzkp9xj43xe8h92ktre2a3u3s8mm5mrp9nr9pwkgtz4mdlq9hgn4fps4k57ff6wddn2fy23t47sm20r8km8sd2pcyyafnet8f0dajsrlyjeah4n3mssr6aseevuuskdvq5lzguyvpgwpta742c6698vgutzqgny8usfg0w2he7kq5vyxjd0f9hqg8xk26y9e4th0gezq92q4cpp5p2y9hf5f2cje5l0c3sa3a2qxmm38pxxvhxh99yzmfz0zk7r2s64nnwjhkfgfr3gf8xnmppcgmaykvh5sh6g7vk9790rf8ws0axmr2t7z8aae5fq2029uvcn2ghgt4fu4wgwdc0k0cz52qkvwmuzj8p8k5jgf3xzk5zmrkavjekjrpeq408xz3zxazwkc6tyfmhayrkfpjhwtz5mp8j8guqe43k2q6m2kte03vrw27y3wmqyu5etmt9dnkwcnnpmu9gz9dekfhdevf42ucshphnrk38ra6hx8w5f8q5ru0xdhrjxmwqf6cused7zc5xvq43r0zscjglpwlptpwydhqw64xz7ptjdyeyzpq2zkxtmzg29gzjpvzva4d3l0cenn9xs297wf4y4ukwrunf57xj6pm7nvrkwvtrt8hwcmgv8x7ajw7258ugf9wvkmk4052ekg87tw5vnx8nq2swyzv77v8yqlwsenvamr0zssknwts8rrhfuwj7ykysnq9jxy0uv3kuyt22djszjdtvpz6d0s0kwh8ryynddzud92emeyvvyqktd0jtj7rvvg5gch25v8smlvny3kvn5gagyz475ze2y6q466xqmz2n3hs77lddeqyta2nch5k2u5yacuk9ywnwfdzvyejnucz724hj77hrrmakm7pr3kxsrxq22ejexlud9fy2kdqmkg5yncz7jm5wv2qjk5w5kvcpqsry2yqffh2la52dxfjkjq5rzhjzeyn6dupn0qwtyv7s4lwg3xdarsdlwe2y3tujy480y7z39q259fzx6jhd2j0f5hagqpcpees7hzc2yrk5cy788uk3s7qvp5cpepx24gvws3m2g433exgwppnkjscec8qu4y9z9r7vccexjcjaen42245lmgmxmuavg9alej92322gvvyy2t6267v09ch64y0m53jff0vjj96s0ypk60hr3jw4myd6m5hpn3xjstx7tl2szhpr5qe8jj08ydjc4wy2rch2fhuy3pdfjax5awe9j99ly5hkntzz9fe5zatgjvzdd0kgtxs25njnajyf6ssekp7gelxquusn4pt25czh3scj68kq79wdn5tgm6yvm9nzavrg043x3msnygf8dweknw5jmqd0uvny6ttsn09508k0c55zfnegrm9efhxpfqdkmhh6gjtqmwze9pyyzk3tlhl53k2ykx3qheyty7saeq0d3fzv49zc0k',
};

function throwsCode(fn: () => unknown, code: ErrorCode, message?: string): void {
  assert.throws(fn, (e) => isElohimError(e, code), message);
}

test('the specification examples derive the specified recipients', () => {
  assert.equal(recipientOfIdentity(SPEC_X25519.identity), SPEC_X25519.recipient);
  assert.equal(recipientOfIdentity(SPEC_HYBRID.identity), SPEC_HYBRID.recipient);
  // The X25519 example's scalar is 32 bytes of 0x42.
  assert.equal(x25519IdentityFromSecret(Buffer.alloc(32, 0x42)), SPEC_X25519.identity);
});

test('generated identities wrap and unwrap file keys through their recipients, both types', () => {
  for (const generate of [generateX25519Identity, generateHybridIdentity]) {
    const { identity, recipient } = generate();
    assert.equal(recipientOfIdentity(identity), recipient);
    const fileKey = generateFileKey();
    const stanzas = parseRecipient(recipient).wrapFileKey(fileKey);
    assert.deepEqual(parseIdentity(identity).unwrapFileKey(stanzas), fileKey);
    assert.equal(parseIdentity(generate().identity).unwrapFileKey(stanzas), null, 'another identity: not for me');
  }
  assert.match(generateX25519Identity().identity, /^AGE-SECRET-KEY-1[0-9A-Z]{58}$/);
  assert.match(generateHybridIdentity().recipient, /^age1pq1[0-9a-z]+$/);
});

test('malformed keys are INVALID_RECIPIENT / INVALID_IDENTITY', () => {
  const { identity, recipient } = generateX25519Identity();
  for (const bad of ['', 'age1', recipient.toUpperCase(), recipient.slice(0, -1) + (recipient.endsWith('q') ? 'p' : 'q'), recipient + 'q', identity, 'ssh-ed25519 AAAA', 'age1yubikey1qfoo']) {
    throwsCode(() => parseRecipient(bad), 'INVALID_RECIPIENT', bad);
  }
  // Valid Bech32, but the ML-KEM-768 key fails the FIPS 203 modulus check (coefficients ≥ q).
  throwsCode(() => parseRecipient(bech32.encode('age1pq', bech32.toWords(Buffer.alloc(1216, 0xff)), false)), 'INVALID_RECIPIENT');
  throwsCode(() => parseRecipient(bech32.encode('age1pq', bech32.toWords(Buffer.alloc(1215, 1)), false)), 'INVALID_RECIPIENT');
  // One changed character always fails Bech32's checksum, but it must be a change: a random
  // identity ends in 'Q' one time in 32, so writing 'Q' there sometimes changed nothing. One that
  // ends in 'Q' is always among the cases, so both branches run every time.
  const changeLast = (s: string) => s.slice(0, -1) + (s.endsWith('Q') ? 'P' : 'Q');
  let endsInQ = identity;
  while (!endsInQ.endsWith('Q')) endsInQ = generateX25519Identity().identity;
  for (const bad of ['', identity.toLowerCase(), changeLast(identity), changeLast(endsInQ), recipient, 'AGE-PLUGIN-YUBIKEY-1QQQQQQ']) {
    throwsCode(() => parseIdentity(bad), 'INVALID_IDENTITY', bad);
  }
  throwsCode(() => x25519IdentityFromSecret(Buffer.alloc(31)), 'INVALID_IDENTITY');
});

test('identity files as age-keygen writes them: comments, blank lines and CRLF', () => {
  const a = generateX25519Identity();
  const b = generateHybridIdentity();
  const text = `# created: 2025-01-01T00:00:00Z\r\n# public key: ${a.recipient}\r\n${a.identity}\r\n\n${b.identity}\n`;
  assert.deepEqual(identityLines(text), [a.identity, b.identity]);
  const identities = parseIdentityFile(text);
  assert.equal(identities.length, 2);
  const fileKey = generateFileKey();
  assert.deepEqual(identities[1]?.unwrapFileKey(parseRecipient(b.recipient).wrapFileKey(fileKey)), fileKey);
  throwsCode(() => parseIdentityFile('# only a comment\n'), 'INVALID_IDENTITY');
  assert.throws(
    () => parseIdentityFile(`${a.identity}\nAGE-SECRET-KEY-1NOTVALID\n`),
    (e) => isElohimError(e, 'INVALID_IDENTITY') && e.message.includes('line 2') && !e.message.includes('NOTVALID'),
    'the error names the line, never its (secret) content',
  );
});
