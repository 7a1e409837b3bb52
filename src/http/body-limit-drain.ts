import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';

/**
 * An oversized body is read (and dropped) up to 8× the body limit, at least 16 MiB: the
 * mistakes a gateway makes (a prompt with inlined images or documents, megabytes, under the
 * LLM APIs' own request limits) still read their 413. Dropping costs bandwidth, never memory.
 * On loopback the race starts near 4 MB, past the socket buffers; over a network, sooner.
 */
const DRAIN_FACTOR = 8;
export const DRAIN_FLOOR_BYTES = 16 * 1_048_576;
/** A client that trickles its excess gets the 413 on a closing connection after this long. */
const DRAIN_MAX_MS = 5_000;

/**
 * Fastify answers 413 as soon as the declared (or counted) length passes the body limit and
 * closes the connection with the body unread; a client still writing then gets EPIPE or a
 * reset instead of the answer. Before a 413 goes out, the rest of the body is read and
 * dropped as it arrives (nothing is kept), up to a cap: a gateway that sent a prompt a few
 * times too big reads why, while a body larger than the cap is refused without reading it.
 */
export function registerBodyLimitDrain(app: FastifyInstance, bodyLimit: number): void {
  const cap = Math.max(DRAIN_FACTOR * bodyLimit, DRAIN_FLOOR_BYTES);
  app.addHook('onSend', async (request, reply, payload) => {
    if (reply.statusCode !== 413 || request.raw.complete) return payload;
    const declared = Number(request.headers['content-length']);
    if (!(declared > cap)) await drain(request.raw, cap);
    return payload;
  });
}

/** Resolves once the request has ended, or `cap` more bytes, an error or DRAIN_MAX_MS came first. */
function drain(raw: IncomingMessage, cap: number): Promise<void> {
  return new Promise((resolve) => {
    let read = 0;
    const done = () => {
      clearTimeout(timer);
      raw.off('data', onData).off('end', done).off('error', done).off('close', done);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      read += chunk.length;
      if (read > cap) done();
    };
    const timer = setTimeout(done, DRAIN_MAX_MS);
    raw.on('data', onData).once('end', done).once('error', done).once('close', done);
    raw.resume();
  });
}
