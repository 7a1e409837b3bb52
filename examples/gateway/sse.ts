/** One server-sent event as received (`raw`, forwarded verbatim) and its joined `data:` lines. */
export interface SseEvent {
  raw: string;
  data: string | null;
}

/** Splits a byte stream into SSE events (blank-line separated, LF or CRLF). */
export async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  let buffer = '';
  for await (const text of body.pipeThrough(new TextDecoderStream())) {
    buffer += text.replace(/\r\n/g, '\n');
    let end: number;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const raw = buffer.slice(0, end + 2);
      buffer = buffer.slice(end + 2);
      yield { raw, data: dataOf(raw) };
    }
  }
  if (buffer.trim() !== '') yield { raw: `${buffer}\n\n`, data: dataOf(buffer) };
}

function dataOf(raw: string): string | null {
  const lines = raw
    .split('\n')
    .filter((line) => line.startsWith('data:'))
    .map((line) => line.slice(5).replace(/^ /, ''));
  return lines.length === 0 ? null : lines.join('\n');
}
