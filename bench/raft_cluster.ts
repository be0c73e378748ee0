/**
 * Starts the `examples/raft-kv.ts` cluster as three real processes (fsync on, loopback) for the
 * Raft benchmarks, and talks to it over HTTP.
 */
export interface NodeStatus {
  id: number;
  pid: number;
  role: string;
  leader: number;
  term: number;
  commit: number;
  applied: number;
}

export interface BenchNode {
  id: number;
  httpPort: number;
  respPort: number;
  child: Deno.ChildProcess | undefined;
}

const EXAMPLE = new URL("../examples/raft-kv.ts", import.meta.url).pathname;

export class BenchCluster {
  readonly nodes: BenchNode[];
  private readonly cluster: string;

  constructor(readonly dir: string, basePort: number) {
    this.nodes = [1, 2, 3].map((id) => ({
      id,
      httpPort: basePort + 100 + id,
      respPort: basePort + 200 + id,
      child: undefined,
    }));
    this.cluster = [1, 2, 3].map((id) => `${id}=127.0.0.1:${basePort + id}`).join(",");
  }

  start(id: number): void {
    const node = this.nodes[id - 1];
    node.child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        EXAMPLE,
        "node",
        "--id",
        String(id),
        "--cluster",
        this.cluster,
        "--dir",
        `${this.dir}/${id}`,
        "--http",
        String(node.httpPort),
        "--resp",
        String(node.respPort),
      ],
      stdout: "null",
      stderr: "inherit",
    }).spawn();
  }

  startAll(): void {
    for (const node of this.nodes) this.start(node.id);
  }

  /** kill -9 */
  kill(id: number): void {
    const node = this.nodes[id - 1];
    node.child?.kill("SIGKILL");
    node.child = undefined;
  }

  async stopAll(): Promise<void> {
    for (const node of this.nodes) {
      node.child?.kill("SIGKILL");
      await node.child?.status;
      node.child = undefined;
    }
  }

  async status(id: number): Promise<NodeStatus | undefined> {
    try {
      const response = await fetch(`http://127.0.0.1:${this.nodes[id - 1].httpPort}/status`, {
        signal: AbortSignal.timeout(200),
      });
      return await response.json();
    } catch {
      return undefined;
    }
  }

  /** The node every live node agrees leads, once they agree. */
  async waitForLeader(timeoutMs = 10_000, among = [1, 2, 3]): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const statuses = await Promise.all(among.map((id) => this.status(id)));
      const leaders = statuses.filter((s) => s?.role === "leader").map((s) => s!.id);
      if (leaders.length === 1 && statuses.every((s) => s && s.leader === leaders[0])) {
        return leaders[0];
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error("no leader");
  }

  url(id: number, path: string): string {
    return `http://127.0.0.1:${this.nodes[id - 1].httpPort}${path}`;
  }
}

export function percentile(sortedMs: number[], p: number): number {
  return sortedMs[Math.min(sortedMs.length - 1, Math.floor(sortedMs.length * p))];
}
