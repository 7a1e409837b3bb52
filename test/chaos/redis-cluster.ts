import { isRunning, startPrivateCluster, type PrivateCluster } from '../support/private-cluster.js';
import { oneCommand } from './processes.js';
import type { Prng } from './prng.js';

/**
 * The checker's Redis: one private redis-server (processes.ts PrivateRedis) or, with
 * `--redis-cluster`, a private Redis Cluster of 3 masters and 3 replicas. The faults use
 * only this: a command on every master, SIGKILL of everything, a start of whatever is down,
 * and — a Cluster only — the failover of one master.
 */
export interface ChaosRedis {
  /** REDIS_URL for the instances (a Cluster's seed nodes). */
  readonly url: string;
  readonly clustered: boolean;
  /** Every node is running. */
  readonly running: boolean;
  /** Starts whatever is down and waits until it serves again. */
  launch(): Promise<void>;
  /** SIGKILL of every node this object started. */
  kill(): Promise<void>;
  /** One command on the server (a Cluster: on every master). */
  command(...args: (string | number)[]): Promise<unknown>;
  /** A Cluster only: SIGKILL one master and wait until its replica has taken over. */
  failover?(prng: Prng): Promise<string>;
  /** One server only: SAVE, `aliveMs` more, SIGKILL, a start that loads the snapshot. */
  rollback?(aliveMs: number): Promise<void>;
  stop(): Promise<void>;
  stopSync(): void;
}

const NODE_TIMEOUT_MS = 2_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class ChaosRedisCluster implements ChaosRedis {
  readonly clustered = true;

  private constructor(private readonly cluster: PrivateCluster) {}

  static async start(): Promise<ChaosRedisCluster> {
    const cluster = await startPrivateCluster({
      masters: 3,
      replicasPerMaster: 1,
      nodeTimeoutMs: NODE_TIMEOUT_MS,
    });
    return new ChaosRedisCluster(cluster);
  }

  get url(): string {
    return this.cluster.seeds;
  }

  get running(): boolean {
    return this.cluster.nodes.every((n) => isRunning(n.process));
  }

  async launch(): Promise<void> {
    for (const node of this.cluster.nodes) await this.cluster.restartNode(node.port);
    await this.cluster.waitHealthy();
  }

  async kill(): Promise<void> {
    await Promise.all(this.cluster.nodes.map((n) => this.cluster.stopNode(n.port, 'SIGKILL')));
  }

  async command(...args: (string | number)[]): Promise<unknown> {
    const answers = [];
    for (const port of await this.cluster.currentMasters()) answers.push(await ask(port, args));
    return answers;
  }

  /**
   * Half the time the master first runs on alone for a while: its replica stopped (SIGSTOP)
   * and its replication link cut, so what it acknowledges then — settles included — is never
   * replicated and dies with it (the case WAIT after a settle exists for).
   */
  async failover(prng: Prng): Promise<string> {
    const masters = await this.cluster.currentMasters();
    const victim = prng.pick(masters);
    if (victim === undefined) return 'master-failover: no master';
    const aloneMs = prng.chance(0.5) ? prng.int(300, 1_500) : 0;
    const replica = aloneMs > 0 ? await this.cluster.replicaOf(victim) : null;
    const started = Date.now();
    if (replica?.process.pid) {
      process.kill(replica.process.pid, 'SIGSTOP');
      try {
        await ask(victim, ['CLIENT', 'KILL', 'TYPE', 'replica']);
        await sleep(aloneMs);
        await this.cluster.stopNode(victim, 'SIGKILL');
      } finally {
        process.kill(replica.process.pid, 'SIGCONT');
      }
    } else await this.cluster.stopNode(victim, 'SIGKILL');
    // Its replica is promoted once the others agree it failed (cluster-node-timeout + election).
    const deadline = started + 30_000;
    while ((await this.cluster.currentMasters()).length < masters.length) {
      if (Date.now() > deadline) throw new Error(`no replica took over from ${victim} within 30 s`);
      await sleep(100);
    }
    const alone = replica ? `, alone for ${aloneMs} ms (replica :${replica.port} stopped)` : '';
    return `SIGKILL master :${victim}${alone}, a replica took over after ${Date.now() - started} ms`;
  }

  stop(): Promise<void> {
    return this.cluster.stop();
  }

  stopSync(): void {
    for (const node of this.cluster.nodes)
      if (isRunning(node.process) && node.process.pid) process.kill(node.process.pid, 'SIGKILL');
  }
}

const ask = (port: number, args: (string | number)[]) => oneCommand(`redis://127.0.0.1:${port}`, args);
