import { describe, expect, it } from 'vitest';
import { HostPolicy, parseAllowedHosts, type HostRule } from '../../src/alerts/allowed-hosts.js';
import { loadConfig } from '../../src/config.js';

function rules(raw: string): HostRule[] {
  const parsed = parseAllowedHosts(raw);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
}

/** A policy whose DNS is a table (no real lookups); `asked` records the names resolved. */
function policy(raw: string, dns: Record<string, string[]> = {}) {
  const asked: string[] = [];
  const resolve = async (host: string) => {
    asked.push(host);
    const addresses = dns[host];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return addresses;
  };
  const p = new HostPolicy(rules(raw), resolve);
  return { asked, check: (url: string) => p.refusal(new URL(url)) };
}

describe('WEBHOOK_ALLOWED_HOSTS parsing', () => {
  it('reads names, *.domains, addresses and CIDRs of both families, ignoring case, spaces and empty entries', () => {
    expect(
      rules(' Alerts.Example.com , *.hooks.example.net,,10.0.0.0/8, 192.168.1.7, fd00::/8, [::1] '),
    ).toEqual([
      { kind: 'name', name: 'alerts.example.com' },
      { kind: 'suffix', suffix: 'hooks.example.net' },
      { kind: 'network', address: '10.0.0.0', prefix: 8, family: 'ipv4' },
      { kind: 'network', address: '192.168.1.7', prefix: 32, family: 'ipv4' },
      { kind: 'network', address: 'fd00::', prefix: 8, family: 'ipv6' },
      { kind: 'network', address: '::1', prefix: 128, family: 'ipv6' },
    ]);
    expect(rules('')).toEqual([]);
  });

  it.each([
    '10.0.0.0/33',
    'fd00::/129',
    '10.0.0.0/x',
    '10.0.0.0/8/8',
    'exa mple.com',
    '*.',
    'http://a.example',
    '*',
  ])('refuses %s, naming the entry', (entry) => {
    expect(parseAllowedHosts(`alerts.example.com,${entry}`)).toBe(
      `"${entry}" is not a host name, *.domain, IP address or CIDR`,
    );
  });

  it('is a setting: a bad entry stops the start naming WEBHOOK_ALLOWED_HOSTS; unset allows any host', () => {
    expect(() => loadConfig({ WEBHOOK_ALLOWED_HOSTS: '10.0.0.0/99' })).toThrow(
      /WEBHOOK_ALLOWED_HOSTS: "10.0.0.0\/99"/,
    );
    expect(loadConfig({}).WEBHOOK_ALLOWED_HOSTS).toEqual([]);
    expect(loadConfig({}).WEBHOOK_RETENTION_DAYS).toBe(30);
    expect(() => loadConfig({ WEBHOOK_RETENTION_DAYS: '0' })).toThrow(/WEBHOOK_RETENTION_DAYS/);
  });
});

describe('HostPolicy', () => {
  it('allows any host, without resolving it, when the list is empty', async () => {
    const p = policy('');
    expect(await p.check('https://anything.example/q')).toBeNull();
    expect(await p.check('http://10.1.2.3/q')).toBeNull();
    expect(p.asked).toEqual([]);
  });

  it('matches a name by name alone, without resolving it', async () => {
    const p = policy('alerts.example.com,*.hooks.example.net,10.0.0.0/8');
    expect(await p.check('https://alerts.example.com/q')).toBeNull();
    expect(await p.check('https://x.y.hooks.example.net/q')).toBeNull();
    expect(p.asked).toEqual([]);
  });

  it('allows a name not on the list by name only when every address it resolves to is in the CIDRs', async () => {
    const p = policy('10.0.0.0/8,fd00::/8', {
      'inside.example': ['10.1.1.1', 'fd00::5'],
      'split.example': ['10.1.1.1', '203.0.113.9'],
      'empty.example': [],
    });
    expect(await p.check('https://inside.example/q')).toBeNull();
    expect(await p.check('https://split.example/q')).toBe(
      'host split.example resolves to 203.0.113.9, which is not in WEBHOOK_ALLOWED_HOSTS',
    );
    expect(await p.check('https://empty.example/q')).toBe(
      'host empty.example resolves to no address, which is not in WEBHOOK_ALLOWED_HOSTS',
    );
    expect(await p.check('https://unknown.example/q')).toBe(
      'host unknown.example is not in WEBHOOK_ALLOWED_HOSTS by name and does not resolve (ENOTFOUND)',
    );
  });

  it('refuses a name without resolving it when the list has no CIDR', async () => {
    const p = policy('alerts.example.com', { 'other.example': ['10.0.0.1'] });
    expect(await p.check('https://other.example/q')).toBe(
      'host other.example is not in WEBHOOK_ALLOWED_HOSTS',
    );
    expect(p.asked).toEqual([]);
  });

  it('checks address literals against the CIDRs, IPv4-mapped IPv6 as IPv4', async () => {
    const p = policy('127.0.0.0/8,fd00::/8');
    expect(await p.check('http://127.0.0.1:8080/q')).toBeNull();
    expect(await p.check('http://[::ffff:127.0.0.1]/q')).toBeNull();
    expect(await p.check('http://[fd00::1]/q')).toBeNull();
    expect(await p.check('http://10.0.0.1/q')).toBe('address 10.0.0.1 is not in WEBHOOK_ALLOWED_HOSTS');
    expect(await p.check('http://[::1]/q')).toBe('address ::1 is not in WEBHOOK_ALLOWED_HOSTS');
    expect(p.asked).toEqual([]);
  });
});
