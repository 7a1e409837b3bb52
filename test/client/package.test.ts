import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICE_TOKEN } from '../support/app.js';
import { describeWithServers } from '../support/services.js';
import { uid, useQuotagate } from './support.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const bin = (name: string) => path.join(ROOT, 'node_modules', '.bin', name);
const npm = (args: string[], cwd: string) => run('npm', [...args, '--no-audit', '--no-fund'], { cwd });

/**
 * The client as a gateway gets it: `npm pack` of the workspace (src/client, built by its
 * prepack), the tarball installed offline into an empty project, imported from plain Node ESM.
 */
describeWithServers('the @quotagate/client package, packed and installed in a gateway project', () => {
  const quotagate = useQuotagate();
  let dir = '';
  let tarball = '';
  let gateway = '';
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'quotagate-client-'));
    const { stdout } = await npm(['pack', '-w', '@quotagate/client', '--pack-destination', dir], ROOT);
    tarball = path.join(dir, stdout.trim().split('\n').at(-1) ?? '');
    gateway = path.join(dir, 'gateway');
    await run('mkdir', [gateway]);
    await writeFile(
      path.join(gateway, 'package.json'),
      '{ "name": "gateway", "private": true, "type": "module" }',
    );
    // The package has no dependencies: nothing to fetch, so the install works offline.
    await npm(['install', '--offline', tarball], gateway);
  }, 180_000);
  afterAll(() => (dir ? rm(dir, { recursive: true, force: true }) : undefined));

  it('ships the compiled client and its types only, with no dependency', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const files = stdout.trim().split('\n').sort();
    expect(files).toContain('package/dist/index.js');
    expect(files).toContain('package/dist/index.d.ts');
    expect(
      files.filter((f) => !/^package\/(dist\/.+\.(js|d\.ts)|package\.json|README\.md)$/.test(f)),
    ).toEqual([]);
    const manifest = JSON.parse(
      await readFile(path.join(gateway, 'node_modules/@quotagate/client/package.json'), 'utf8'),
    ) as Record<string, unknown>;
    expect(manifest.dependencies).toBeUndefined();
    expect(manifest.private).toBeUndefined();
    expect(await readdir(path.join(gateway, 'node_modules'))).toEqual(['.package-lock.json', '@quotagate']);
  });

  it('imports from plain Node ESM and decides against a running quotagate', async () => {
    const q = quotagate();
    const userId = uid('u');
    const model = uid('m');
    await q.userLimits(userId, [model], [{ metric: 'cost', window: 'daily', limit: 1 }]);
    const script = `import * as client from '@quotagate/client';
      const quota = new client.QuotaClient({ baseUrl: ${JSON.stringify(q.url)}, token: ${JSON.stringify(SERVICE_TOKEN)}, failMode: 'closed' });
      const admitted = await quota.check({ userId: '${userId}', model: '${model}', estimatedCostUsd: 0.5 });
      const refused = await quota.check({ userId: '${userId}', model: '${model}', estimatedCostUsd: 2 });
      console.log(JSON.stringify({
        names: Object.keys(client).sort(),
        resolved: import.meta.resolve('@quotagate/client'),
        allowed: [admitted.allowed, refused.allowed],
      }));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: gateway });
    expect(JSON.parse(stdout)).toEqual({
      names: ['QuotaClient', 'QuotaError', 'QuotaRequestError', 'QuotaUnavailableError', 'retryAfterSeconds'],
      resolved: `file://${path.join(gateway, 'node_modules/@quotagate/client/dist/index.js')}`,
      allowed: [true, false],
    });
  });

  it('types a consumer through its exports map (NodeNext resolution, strict)', async () => {
    await writeFile(
      path.join(gateway, 'consumer.ts'),
      `import { QuotaClient, type Decision, type GuardOutcome } from '@quotagate/client';
const client = new QuotaClient({ baseUrl: 'http://localhost:8080', token: 't', failMode: 'closed' });
export const decision: Promise<Decision> = client.check({ userId: 'u', model: 'm', estimatedInputTokens: 1 });
export const outcome: Promise<GuardOutcome<string>> = client.guard({ userId: 'u', model: 'm' }, async () => ({
  result: 'x', usage: { costUsd: 0.01, inputTokens: 1, outputTokens: 2 },
}));
// @ts-expect-error settle takes the settle fields, not the reserve estimates
client.settle({ requestId: 'r', costUsd: 1, estimatedInputTokens: 1 });
`,
    );
    const args = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext'];
    const types = [
      '--target',
      'es2022',
      '--types',
      'node',
      '--typeRoots',
      path.join(ROOT, 'node_modules/@types'),
    ];
    await run(bin('tsc'), [...args, ...types, 'consumer.ts'], { cwd: gateway });
  }, 60_000);
});

describe('the client generated types', () => {
  it('keep in step with openapi/openapi.json', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'quotagate-types-'));
    try {
      const fresh = path.join(dir, 'quotagate.ts');
      await run(bin('openapi-typescript'), [path.join(ROOT, 'openapi/openapi.json'), '-o', fresh], {
        cwd: ROOT,
      });
      const committed = await readFile(path.join(ROOT, 'src/client/generated/quotagate.ts'), 'utf8');
      expect(committed === (await readFile(fresh, 'utf8')), 'run `npm run client:types`').toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
