import assert from 'node:assert/strict';
import { test } from 'node:test';
import { extractText } from './extract.ts';

const utf8 = (s: string) => new TextEncoder().encode(s);

test('text, Markdown and CSV are read as UTF-8 (a BOM dropped); CSV cells become words', () => {
  assert.deepEqual(extractText('notes.TXT', utf8('\uFEFFthe generator — 40 °C')), { text: 'the generator — 40 °C', format: 'text' });
  assert.equal(extractText('a/b/readme.md', utf8('# Title\n\nbody'))!.format, 'markdown');
  assert.equal(extractText('t.csv', utf8('name,temp\ngenerator,41'))!.text, 'name temp\ngenerator 41');
});

test('JSON: its strings with their keys; a file that does not parse is indexed as it is', () => {
  assert.equal(extractText('c.json', utf8('{"device":{"name":"generator","limits":[40,"shade"]},"ok":true,"x":null}'))!.text, 'name: generator\nlimits: 40\nlimits: shade\nok: true');
  assert.equal(extractText('c.json', utf8('{"broken": '))!.text, '{"broken": ');
});

test('HTML: visible text only, blocks apart, entities decoded', () => {
  const html = '<html><head><style>p{}</style><script>var secret = 1;</script></head><body><!-- hidden --><h1>Generator&nbsp;care</h1><p>Keep it &lt;40&deg;C &amp; dry&#8230;</p><p>Call &#x41;nna</p></body></html>';
  assert.equal(extractText('page.html', utf8(html))!.text, 'Generator care\n\nKeep it <40°C & dry…\n\nCall Anna');
});

test('not for this reader: unknown formats, binary, invalid UTF-8, a PDF that is not a PDF', () => {
  assert.equal(extractText('photo.jpg', utf8('text')), null);
  assert.equal(extractText('no-extension', utf8('text')), null);
  assert.equal(extractText('data.txt', new Uint8Array([0x68, 0x00, 0x69])), null);
  assert.equal(extractText('latin1.txt', new Uint8Array([0x63, 0x61, 0x66, 0xe9])), null);
  assert.equal(extractText('fake.pdf', utf8('not a pdf')), null);
});
