import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * WEBHOOK_ALLOWED_HOSTS: where webhooks may point. A name rule matches the URL's host name
 * (`*.example.com`: any name below example.com, not example.com itself); a network rule
 * matches an IP literal, or every address a name resolves to. No rule: any host.
 */
export type HostRule =
  | { kind: 'name'; name: string }
  | { kind: 'suffix'; suffix: string }
  | { kind: 'network'; address: string; prefix: number; family: 'ipv4' | 'ipv6' };

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
const isHostName = (s: string) => s.length <= 253 && s.split('.').every((label) => LABEL.test(label));

/** Lower case, no IPv6 brackets, no trailing dot: the form rules and URLs are compared in. */
export const canonicalHost = (host: string) =>
  host
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');

function parseNetwork(entry: string): HostRule | null {
  const [address = '', prefixText, ...rest] = entry.split('/');
  const version = isIP(canonicalHost(address));
  if (version === 0 || rest.length > 0) return null;
  const bits = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText ?? '0') || prefix > bits) return null;
  return {
    kind: 'network',
    address: canonicalHost(address),
    prefix,
    family: version === 4 ? 'ipv4' : 'ipv6',
  };
}

function parseEntry(entry: string): HostRule | null {
  const network = parseNetwork(entry);
  if (network) return network;
  if (entry.startsWith('*.')) {
    const suffix = entry.slice(2);
    return isHostName(suffix) ? { kind: 'suffix', suffix } : null;
  }
  return isHostName(entry) ? { kind: 'name', name: entry } : null;
}

/** Comma-separated entries (empty: no rule); a message naming the first bad entry. */
export function parseAllowedHosts(raw: string): HostRule[] | string {
  const rules: HostRule[] = [];
  for (const part of raw.split(',')) {
    const entry = canonicalHost(part.trim());
    if (entry === '') continue;
    const rule = parseEntry(entry);
    if (!rule) return `"${part.trim()}" is not a host name, *.domain, IP address or CIDR`;
    rules.push(rule);
  }
  return rules;
}

export type Resolve = (host: string) => Promise<string[]>;

const resolveAll: Resolve = async (host) => (await lookup(host, { all: true })).map((a) => a.address);

export class HostPolicy {
  private readonly names = new Set<string>();
  private readonly suffixes: string[] = [];
  private readonly networks = new BlockList();
  private readonly hasNetworks: boolean;

  constructor(
    private readonly rules: readonly HostRule[],
    private readonly resolve: Resolve = resolveAll,
  ) {
    for (const rule of rules) {
      if (rule.kind === 'name') this.names.add(rule.name);
      else if (rule.kind === 'suffix') this.suffixes.push(`.${rule.suffix}`);
      else this.networks.addSubnet(rule.address, rule.prefix, rule.family);
    }
    this.hasNetworks = rules.some((r) => r.kind === 'network');
  }

  /**
   * Why a request to `url` must not be sent, or null when it may. A name is resolved only
   * when no name rule matches it, and then every address it has must be on the list (one
   * outside is enough for a receiver to be reached there).
   */
  async refusal(url: URL): Promise<string | null> {
    if (this.rules.length === 0) return null;
    const host = canonicalHost(url.hostname);
    const literal = isIP(host) !== 0;
    if (!literal && this.matchesName(host)) return null;
    if (!literal && !this.hasNetworks) return `host ${host} is not in WEBHOOK_ALLOWED_HOSTS`;
    let addresses: string[];
    try {
      addresses = literal ? [host] : await this.resolve(host);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'lookup failed';
      return `host ${host} is not in WEBHOOK_ALLOWED_HOSTS by name and does not resolve (${code})`;
    }
    const outside = addresses.find((a) => !this.allowsAddress(a));
    if (outside === undefined && addresses.length > 0) return null;
    return literal
      ? `address ${host} is not in WEBHOOK_ALLOWED_HOSTS`
      : `host ${host} resolves to ${outside ?? 'no address'}, which is not in WEBHOOK_ALLOWED_HOSTS`;
  }

  private matchesName(host: string): boolean {
    return this.names.has(host) || this.suffixes.some((s) => host.endsWith(s));
  }

  private allowsAddress(address: string): boolean {
    const family = isIP(address);
    return family !== 0 && this.networks.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }
}
