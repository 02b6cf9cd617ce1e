// Server-Sent Events over fetch. EventSource can only GET and cannot be aborted by the page's
// own signal; a chat turn is a POST whose answer streams back, and Stop must close exactly that
// connection (the server aborts the generation when its client goes away).

export interface SseEvent {
  event: string;
  data: string;
}

/**
 * Splits an event stream into events (the WHATWG "event stream interpretation": fields per line,
 * a blank line ends an event, `data` lines joined by "\n", comments and unknown fields ignored).
 * Pure over its input, so a reply split anywhere, even inside a UTF-8 character or a CRLF, reads
 * the same as one delivered whole.
 */
export function createSseParser(): { push(chunk: string): SseEvent[]; end(): SseEvent[] } {
  let buffer = '';
  let event = '';
  let data: string[] = [];
  let pendingCR = false;

  function line(text: string, out: SseEvent[]): void {
    if (text === '') {
      if (data.length > 0) out.push({ event: event === '' ? 'message' : event, data: data.join('\n') });
      event = '';
      data = [];
      return;
    }
    if (text.startsWith(':')) return;
    const colon = text.indexOf(':');
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }

  return {
    push(chunk) {
      const out: SseEvent[] = [];
      let text = chunk;
      // A CR at the end of the last chunk already ended its line; an LF right after it belongs to it.
      if (pendingCR && text.startsWith('\n')) text = text.slice(1);
      pendingCR = false;
      buffer += text;
      for (;;) {
        const m = /\r\n|\r|\n/.exec(buffer);
        if (m === null) break;
        if (m[0] === '\r' && m.index === buffer.length - 1) pendingCR = true;
        line(buffer.slice(0, m.index), out);
        buffer = buffer.slice(m.index + m[0].length);
      }
      return out;
    },
    end() {
      const out: SseEvent[] = [];
      if (buffer !== '') line(buffer, out);
      buffer = '';
      // A stream that ends without its final blank line still delivers its last event.
      line('', out);
      return out;
    },
  };
}

/** Reads `body` as an event stream, yielding events as they arrive; ends with the stream. */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const parser = createSseParser();
  // stream: true keeps a character split between two chunks whole.
  const decoder = new TextDecoder();
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
    yield* parser.push(decoder.decode());
    yield* parser.end();
  } finally {
    // Leaving early (Stop, an error event) cancels the body: the connection closes.
    reader.cancel().catch(() => undefined);
  }
}
