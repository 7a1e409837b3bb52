import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const bin = (name: string) => path.join(ROOT, 'node_modules', '.bin', name);

/** The client as a gateway consumes it: `quotagate/client`, built JS and types, types from the document. */
describe('the quotagate/client package entry', () => {
  let dir = '';
  beforeAll(async () => {
    // A copy of the package (its package.json and the client compiled by the build's own
    // tsconfig) so the check never races a build of the working tree's dist/.
    dir = await mkdtemp(path.join(tmpdir(), 'quotagate-client-'));
    await cp(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
    const config = {
      extends: path.join(ROOT, 'tsconfig.build.json'),
      compilerOptions: {
        rootDir: path.join(ROOT, 'src'),
        outDir: path.join(dir, 'dist'),
        sourceMap: false,
        typeRoots: [path.join(ROOT, 'node_modules/@types')],
      },
      include: [path.join(ROOT, 'src/client')],
      exclude: [],
    };
    await writeFile(path.join(dir, 'tsconfig.client.json'), JSON.stringify(config));
    await run(bin('tsc'), ['-p', path.join(dir, 'tsconfig.client.json')], { cwd: ROOT });
  }, 120_000);
  afterAll(() => (dir ? rm(dir, { recursive: true, force: true }) : undefined));

  it('resolves from the package root to the built client', async () => {
    const script = `const m = await import('quotagate/client');
      console.log(JSON.stringify(Object.keys(m).sort()), import.meta.resolve('quotagate/client'));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: dir });
    const [names, resolved] = stdout.trim().split(' ');
    expect(JSON.parse(names ?? '[]')).toEqual([
      'QuotaClient',
      'QuotaError',
      'QuotaRequestError',
      'QuotaUnavailableError',
      'retryAfterSeconds',
    ]);
    expect(resolved).toBe(`file://${path.join(dir, 'dist/client/index.js')}`);
  });

  it('types a consumer through the exports map (NodeNext resolution, strict)', async () => {
    await writeFile(
      path.join(dir, 'consumer.ts'),
      `import { QuotaClient, type Decision, type GuardOutcome } from 'quotagate/client';
const client = new QuotaClient({ baseUrl: 'http://localhost:8080', token: 't', failMode: 'closed' });
export const decision: Promise<Decision> = client.check({ userId: 'u', model: 'm', estimatedInputTokens: 1 });
export const outcome: Promise<GuardOutcome<string>> = client.guard({ userId: 'u', model: 'm' }, async () => ({
  result: 'x', usage: { costUsd: 0.01, inputTokens: 1, outputTokens: 2 },
}));
// @ts-expect-error settle takes the settle fields, not the reserve estimates
client.settle({ requestId: 'r', costUsd: 1, estimatedInputTokens: 1 });
`,
    );
    const args = [
      '--noEmit',
      '--strict',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--target',
      'es2022',
    ];
    await run(
      bin('tsc'),
      [...args, '--types', 'node', '--typeRoots', path.join(ROOT, 'node_modules/@types'), 'consumer.ts'],
      {
        cwd: dir,
      },
    );
  }, 60_000);

  it('keeps its committed generated types in step with openapi/openapi.json', async () => {
    const fresh = path.join(dir, 'quotagate.ts');
    await run(bin('openapi-typescript'), [path.join(ROOT, 'openapi/openapi.json'), '-o', fresh], {
      cwd: ROOT,
    });
    const committed = await readFile(path.join(ROOT, 'src/client/generated/quotagate.ts'), 'utf8');
    expect(committed === (await readFile(fresh, 'utf8')), 'run `npm run client:types`').toBe(true);
  }, 60_000);
});
