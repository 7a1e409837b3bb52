import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';

/**
 * A Redis Cluster of this test's own (redis-server processes on loopback), for tests that
 * need real slot ownership, redirections or failovers. Every node is stopped by its PID.
 */
export interface ClusterNode {
  port: number;
  url: string;
  role: 'master' | 'replica';
  process: ChildProcess;
}

export interface PrivateCluster {
  nodes: ClusterNode[];
  masters: ClusterNode[];
  /** `redis://127.0.0.1:<port>` of every node, comma-separated: seed nodes for a cluster client. */
  seeds: string;
  /** Stops one node (SIGTERM, or SIGKILL to simulate a crash) and waits for its exit. */
  stopNode(port: number, signal?: NodeJS.Signals): Promise<void>;
  /**
   * Starts a stopped node again on its port and cluster config file, empty (nothing is
   * persisted): a master that was failed over rejoins as a replica of its successor.
   */
  restartNode(port: number): Promise<void>;
  /** Until every running node sees `cluster_state:ok` and every replica is in sync and listed. */
  waitHealthy(): Promise<void>;
  /** The ports of the running nodes that are masters now (after failovers). */
  currentMasters(): Promise<number[]>;
  /** The node replicating the master on `port` now, if any. */
  replicaOf(port: number): Promise<ClusterNode | null>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  masters?: number;
  replicasPerMaster?: number;
  /** Milliseconds before a silent master is failed over. */
  nodeTimeoutMs?: number;
}

export function clusterToolsAvailable(): boolean {
  return (
    spawnSync('redis-server', ['--version']).status === 0 &&
    spawnSync('redis-cli', ['--version']).status === 0
  );
}

/**
 * The cluster bus listens on port + 10000, so both must be free. Both stay below the
 * kernel's ephemeral range (32768 up): a port the OS hands to another test's outgoing
 * connection or `listen(0)` between our probe and the node's bind would kill the node.
 */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * 12_700);
    if (taken.has(port)) continue;
    if ((await canListen(port)) && (await canListen(port + 10_000))) {
      taken.add(port);
      return port;
    }
  }
  throw new Error('no free port pair for a cluster node');
}

export const isRunning = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function spawnNode(port: number, dir: string, nodeTimeoutMs: number): ChildProcess {
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    `nodes-${port}.conf`,
    '--cluster-node-timeout',
    String(nodeTimeoutMs),
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'no',
    '--logfile',
    `redis-${port}.log`,
    // Nothing on disk: a replica's full sync would otherwise leave an RDB file that a
    // restart loads, bringing back old data (the nodes share one directory).
    '--dbfilename',
    `dump-${port}.rdb`,
    '--repl-diskless-load',
    'on-empty-db',
  ];
  return spawn('redis-server', args, { stdio: 'ignore' });
}

/** CLUSTER NODES as the first node of `ports` that answers sees it. */
async function clusterNodes(
  ports: number[],
): Promise<{ id: string; port: number; flags: string[]; masterId: string }[]> {
  for (const port of ports) {
    const answer = await ask(port, 'CLUSTER', 'NODES');
    if (answer === null) continue;
    return answer
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => {
        const [id = '', address = '', flags = '', masterId = ''] = line.split(' ');
        return { id, port: Number(/:(\d+)@/.exec(address)?.[1]), flags: flags.split(','), masterId };
      });
  }
  return [];
}

/** `cluster_state:ok` on every node given, and `replicas` replicas in sync and listed by CLUSTER SLOTS. */
async function healthy(nodes: { port: number }[], replicas: number): Promise<void> {
  for (const node of nodes) {
    await until('cluster_state:ok on every node', async () =>
      Boolean((await ask(node.port, 'CLUSTER', 'INFO'))?.includes('cluster_state:ok')),
    );
  }
  // A replica is listed by CLUSTER SLOTS (and so known to a client) only once it is in sync.
  for (const node of nodes) {
    await until('every replica in sync and listed by CLUSTER SLOTS', async () => {
      const role = await ask(node.port, 'ROLE');
      if (role?.startsWith('slave') && !role.includes('connected')) return false;
      return (await replicasListed(node.port)) >= replicas;
    });
  }
}

/**
 * Spawns a node on `port` and waits for its PONG: the process, or null when it exited first
 * (its port taken, or still held after a SIGKILL). A node that never answers is killed.
 */
async function launchNode(port: number, dir: string, nodeTimeoutMs: number): Promise<ChildProcess | null> {
  const child = spawnNode(port, dir, nodeTimeoutMs);
  return until('a node answering PING', async () => {
    if (!isRunning(child)) return true;
    return (await ask(port, 'PING')) === 'PONG';
  }).then(
    () => (isRunning(child) ? child : null),
    async (err: unknown) => {
      await exited(child, 'SIGKILL');
      throw err instanceof Error ? new Error(`${err.message}; log:\n${logTail(dir, port)}`) : err;
    },
  );
}

/** A node again on its own port (its config file names its cluster). */
async function startNodeOn(port: number, dir: string, nodeTimeoutMs: number): Promise<ChildProcess> {
  for (let attempt = 1; ; attempt++) {
    const child = await launchNode(port, dir, nodeTimeoutMs);
    if (child) return child;
    if (attempt === 5) throw new Error(`redis-server exited 5 times on ${port}; log:\n${logTail(dir, port)}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

/**
 * Starts one node and waits for its PONG; a node that exits first (its port was taken
 * after the probe, by another test's server) is started again on another port.
 */
async function startNode(
  dir: string,
  nodeTimeoutMs: number,
  taken: Set<number>,
): Promise<{ port: number; process: ChildProcess }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freeClusterPort(taken);
    const child = await launchNode(port, dir, nodeTimeoutMs);
    if (child) return { port, process: child };
    if (attempt === 5) throw new Error(`redis-server exited 5 times; last log:\n${logTail(dir, port)}`);
  }
}

function logTail(dir: string, port: number): string {
  try {
    return readFileSync(path.join(dir, `redis-${port}.log`), 'utf8')
      .split('\n')
      .slice(-15)
      .join('\n');
  } catch {
    return '(no log)';
  }
}

async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`private cluster: ${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function ask(port: number, ...command: [string, ...string[]]): Promise<string | null> {
  const probe = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return String(await probe.call(...command));
  } catch {
    return null;
  } finally {
    probe.disconnect();
  }
}

/** How many replica entries the node's CLUSTER SLOTS reply holds, over all slot ranges. */
async function replicasListed(port: number): Promise<number> {
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    const ranges = (await probe.call('CLUSTER', 'SLOTS')) as unknown[][];
    return ranges.reduce((sum, range) => sum + Math.max(0, range.length - 3), 0);
  } catch {
    return 0;
  } finally {
    probe.disconnect();
  }
}

function exited(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (!isRunning(child)) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

/** Starts `masters` masters with `replicasPerMaster` replicas each and waits for `cluster_state:ok`. */
export async function startPrivateCluster(options: ClusterOptions = {}): Promise<PrivateCluster> {
  const { masters = 3, replicasPerMaster = 0, nodeTimeoutMs = 2_000 } = options;
  if (masters < 3) throw new Error('redis-cli --cluster create needs at least 3 masters');
  const dir = mkdtempSync(path.join(tmpdir(), 'qg-cluster-'));
  const taken = new Set<number>();
  const started: { port: number; process: ChildProcess }[] = [];
  const stopAll = async () => {
    await Promise.all(started.map((n) => exited(n.process, 'SIGTERM')));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters * (1 + replicasPerMaster); i++)
      started.push(await startNode(dir, nodeTimeoutMs, taken));
    const create = spawnSync(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...started.map((n) => `127.0.0.1:${n.port}`),
        '--cluster-replicas',
        String(replicasPerMaster),
        '--cluster-yes',
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    if (create.status !== 0)
      throw new Error(`redis-cli --cluster create failed:\n${create.stdout}\n${create.stderr}`);
    const running = () => started.filter((n) => isRunning(n.process));
    const waitHealthy = () => healthy(running(), masters * replicasPerMaster);
    await waitHealthy();
    // The started entries themselves, so a restart's new process is seen by both.
    const nodes: ClusterNode[] = [];
    for (const node of started) {
      const role: ClusterNode['role'] = (await ask(node.port, 'ROLE'))?.startsWith('master')
        ? 'master'
        : 'replica';
      nodes.push(Object.assign(node, { url: `redis://127.0.0.1:${node.port}`, role }));
    }
    return {
      nodes,
      masters: nodes.filter((n) => n.role === 'master'),
      seeds: nodes.map((n) => n.url).join(','),
      stopNode: async (port, signal = 'SIGTERM') => {
        const node = nodes.find((n) => n.port === port);
        if (node) await exited(node.process, signal);
      },
      restartNode: async (port) => {
        const node = nodes.find((n) => n.port === port);
        if (node && !isRunning(node.process)) node.process = await startNodeOn(port, dir, nodeTimeoutMs);
      },
      waitHealthy,
      currentMasters: async () => {
        const live = running().map((n) => n.port);
        return (await clusterNodes(live))
          .filter((n) => n.flags.includes('master') && !n.flags.some((f) => f.startsWith('fail')))
          .map((n) => n.port)
          .filter((port) => live.includes(port));
      },
      replicaOf: async (port) => {
        const table = await clusterNodes(running().map((n) => n.port));
        const master = table.find((n) => n.port === port);
        const replica = table.find((n) => master !== undefined && n.masterId === master.id);
        return nodes.find((n) => n.port === replica?.port) ?? null;
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
