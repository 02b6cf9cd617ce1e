/**
 * How the suites read a Server-Sent Events answer: through the web UI's own parser
 * (web/src/sse.ts, the WHATWG event-stream rules), each event's data parsed as JSON.
 * A line ends only at CR or LF. A regular expression's `.` and multiline `$` also stop at
 * U+2028 and U+2029, which JSON.stringify leaves unescaped and a model's noise can hold: a token
 * of llama-server's cut a `data:` line in two that way and failed CI.
 */
import { createSseParser, readSse } from '../web/src/sse.ts';

export interface JsonEvent {
  event: string;
  data: any;
}

/** The events of a streamed answer as they arrive; leaving the loop early closes the connection. */
export async function* jsonEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<JsonEvent> {
  for await (const e of readSse(body)) yield { event: e.event, data: JSON.parse(e.data) };
}

/** The events of an answer already read whole. */
export function jsonEventsOf(text: string): JsonEvent[] {
  const parser = createSseParser();
  return [...parser.push(text), ...parser.end()].map((e) => ({ event: e.event, data: JSON.parse(e.data) }));
}
