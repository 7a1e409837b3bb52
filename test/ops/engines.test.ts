import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

interface LockedPackage {
  version?: string;
  engines?: { node?: string } | string[];
}

const read = (file: string) => JSON.parse(readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8'));
const manifest = read('package.json') as { engines: { node: string } };
const lock = read('package-lock.json') as { packages: Record<string, LockedPackage> };

/** The oldest Node quotagate says it runs on, e.g. 20.19.0 for `>=20.19`. */
const floor = semver.minVersion(manifest.engines.node)?.version ?? '';

describe('the Node version package.json declares', () => {
  it('is accepted by every locked package, so npm install prints no EBADENGINE on it', () => {
    expect(floor).toMatch(/^20\./);
    const refusing = Object.entries(lock.packages)
      .filter(([name]) => name !== '')
      .map(([name, pkg]) => [name, Array.isArray(pkg.engines) ? undefined : pkg.engines?.node] as const)
      .filter(([, range]) => range !== undefined && !semver.satisfies(floor, range))
      .map(([name, range]) => `${name.replace(/^.*node_modules\//, '')} wants node ${range}`);
    expect(refusing).toEqual([]);
  });

  it('is the client package’s floor too', () => {
    const client = read('src/client/package.json') as { engines: { node: string } };
    expect(client.engines.node).toBe(manifest.engines.node);
  });
});
