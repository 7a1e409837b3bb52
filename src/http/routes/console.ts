import { readFile, stat } from 'node:fs/promises';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply } from 'fastify';
import { AppError } from '../../domain/errors.js';
import { sendProblem } from '../problem.js';
import { setSecurityHeaders } from '../security-headers.js';
import type { ZodApp } from '../types.js';

export interface ConsoleDeps {
  /** The built console (vite output); default `<package root>/dist/console`. */
  dir?: string;
}

// src/http/routes/ and dist/http/routes/ both sit three levels below the package root.
const DEFAULT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../dist/console');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

/**
 * The operator console's static files (SPEC 7.3), unauthenticated like /docs (its data
 * still needs an admin token, which the browser sends to /admin itself). A dozen lines of
 * file serving instead of @fastify/static: a flat, hashed vite output needs no ranges,
 * directory listings or etags, and no dependency.
 */
export async function consoleRoutes(app: ZodApp, deps: ConsoleDeps): Promise<void> {
  const root = resolve(deps.dir ?? DEFAULT_DIR);

  const notFound = (reply: FastifyReply, relative: string) =>
    sendProblem(reply, new AppError('not_found', `no console file ${relative}`));

  const send = async (reply: FastifyReply, relative: string) => {
    const file = normalize(join(root, relative));
    if (!file.startsWith(root + sep)) return notFound(reply, relative);
    let body: Buffer;
    try {
      if (!(await stat(file)).isFile()) return notFound(reply, relative);
      body = await readFile(file);
    } catch {
      if (relative !== 'index.html') return notFound(reply, relative);
      return reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .header('cache-control', 'no-store')
        .send('console not built: npm run build');
    }
    const isAsset = relative.startsWith('assets/');
    return setSecurityHeaders(reply)
      .type(TYPES[extname(file)] ?? 'application/octet-stream')
      .header('cache-control', isAsset ? 'public, max-age=31536000, immutable' : 'no-cache')
      .send(body);
  };

  const hide = { schema: { hide: true } };
  app.get('/console', hide, (_request, reply) => send(reply, 'index.html'));
  app.get('/console/', hide, (_request, reply) => send(reply, 'index.html'));
  app.get<{ Params: { '*': string } }>('/console/*', hide, (request, reply) =>
    send(reply, request.params['*'] || 'index.html'),
  );
  // Browsers ask every origin for /favicon.ico (on /docs, on a JSON answer): the console's
  // SVG icon, or an empty 204 before the console is built; never a 404.
  app.get('/favicon.ico', hide, async (_request, reply) => {
    const built = await stat(join(root, 'favicon.svg')).then(
      (s) => s.isFile(),
      () => false,
    );
    return built ? send(reply, 'favicon.svg') : reply.code(204).header('cache-control', 'no-cache').send();
  });
}
