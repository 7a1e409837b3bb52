import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../support/server-process.js';

/**
 * Real reverse proxies in front of a recording upstream, with quotagate's /authz as their
 * forward auth. The proxies run the configs of examples/forward-auth/ (the ones the README
 * shows), each from a temporary directory of its own, on loopback ports, stopped by PID.
 */
const EXAMPLES = fileURLToPath(new URL('../../examples/forward-auth/', import.meta.url));

export const example = (name: 'Caddyfile' | 'nginx.conf') => readFileSync(path.join(EXAMPLES, name), 'utf8');

export function onPath(binary: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' }).status === 0;
}

export interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface Upstream {
  address: string;
  seen: Seen[];
  close(): Promise<void>;
}

/** The app behind the proxy: records every request and echoes the quota request id it got. */
export async function startUpstream(): Promise<Upstream> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const id = req.headers['x-quota-request-id'];
      res.writeHead(200, { 'content-type': 'application/json', 'x-echo-quota-request-id': String(id ?? '') });
      res.end(JSON.stringify({ upstream: true, quotaRequestId: id ?? null }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    seen,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export interface Proxy {
  url: string;
  output(): string;
  stop(): Promise<void>;
}

export interface ProxyTargets {
  /** quotagate's host:port. */
  quotagate: string;
  /** The upstream's host:port. */
  app: string;
  serviceToken: string;
}

/** Caddy running examples/forward-auth/Caddyfile (its env placeholders filled in). */
export async function startCaddy(targets: ProxyTargets): Promise<Proxy> {
  const dir = mkdtempSync(path.join(tmpdir(), 'qg-caddy-'));
  const port = await freePort();
  // Only what a test run needs around the example: no admin endpoint, no TLS, loopback only.
  const config = path.join(dir, 'Caddyfile');
  writeFileSync(
    config,
    [
      '{',
      '\tadmin off',
      '\tauto_https off',
      '\tdefault_bind 127.0.0.1',
      `\tstorage file_system ${path.join(dir, 'data')}`,
      '}',
      `import ${path.join(EXAMPLES, 'Caddyfile')}`,
      '',
    ].join('\n'),
  );
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: dir,
    XDG_DATA_HOME: dir,
    XDG_CONFIG_HOME: dir,
    PORT: String(port),
    QUOTAGATE: targets.quotagate,
    QUOTAGATE_SERVICE_TOKEN: targets.serviceToken,
    APP: targets.app,
  };
  const child = spawn('caddy', ['run', '--config', config, '--adapter', 'caddyfile'], { env, cwd: dir });
  return started(child, `http://127.0.0.1:${port}`, dir);
}

/** nginx running examples/forward-auth/nginx.conf (its addresses and token replaced). */
export async function startNginx(targets: ProxyTargets): Promise<Proxy> {
  const dir = mkdtempSync(path.join(tmpdir(), 'qg-nginx-'));
  const port = await freePort();
  const site = example('nginx.conf')
    .replace('server 127.0.0.1:8080;', `server ${targets.quotagate};`)
    .replace('server 127.0.0.1:3000;', `server ${targets.app};`)
    .replace('listen 8000;', `listen 127.0.0.1:${port};`)
    .replace('replace-with-a-service-token', targets.serviceToken);
  writeFileSync(path.join(dir, 'site.conf'), site);
  const temp = (name: string) => `${name}_temp_path ${path.join(dir, name)};`;
  const config = path.join(dir, 'nginx.conf');
  writeFileSync(
    config,
    [
      // As root the workers would otherwise run as nobody, who cannot use this directory.
      process.getuid?.() === 0 ? 'user root;' : '',
      'worker_processes 1;',
      `pid ${path.join(dir, 'nginx.pid')};`,
      'error_log stderr warn;',
      'events { worker_connections 64; }',
      'http {',
      '  access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((n) => `  ${temp(n)}`),
      `  include ${path.join(dir, 'site.conf')};`,
      '}',
      '',
    ].join('\n'),
  );
  const args = ['-c', config, '-p', dir, '-e', 'stderr', '-g', 'daemon off;'];
  return started(spawn('nginx', args, { cwd: dir }), `http://127.0.0.1:${port}`, dir);
}

/** Resolves once the proxy answers HTTP; its stop() ends exactly this process and removes `dir`. */
async function started(child: ChildProcess, url: string, dir: string): Promise<Proxy> {
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    const up = await fetch(`${url}/__ready`, { signal: AbortSignal.timeout(1_000) }).then(
      () => true,
      () => false,
    );
    if (up) return { url, output: () => output, stop };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await stop();
  throw new Error(`proxy at ${url} did not start:\n${output}`);
}
