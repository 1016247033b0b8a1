/**
 * Network namespaces for tests whose peers would otherwise reach beyond loopback: librtmfp's TestClient
 * announces the machine's interface addresses to its peers (setPeerInfo, NetGroup) whatever it binds, and
 * peer-to-peer clients then send to them. Inside a namespace the test creates, only `lo` exists, so
 * nothing can leave it. `ip netns` needs root (CI runs as root); where namespaces are refused the tests
 * that need one skip with the reason (netnsUnavailable()).
 */
import { execFileSync } from 'child_process';
import { spawnTracked, type SpawnTrackedOptions, type TrackedProcess } from './processes';

let counter = 0;
let probed: string | null | undefined;

/** Why namespaces cannot be used here, or null when they can. */
export function netnsUnavailable(): string | null {
  if (probed !== undefined) return probed;
  try {
    const ns = create();
    remove(ns);
    probed = null;
  } catch (err) {
    probed = `network namespaces are refused here (${(err as Error).message.split('\n')[0]}): run the tests as root`;
  }
  return probed;
}

function create(): string {
  const name = `ssas-test-${process.pid}-${++counter}`;
  execFileSync('ip', ['netns', 'add', name], { stdio: 'pipe' });
  try {
    execFileSync('ip', ['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up'], { stdio: 'pipe' });
  } catch (err) {
    remove(name);
    throw err;
  }
  return name;
}

function remove(name: string): void {
  try {
    execFileSync('ip', ['netns', 'delete', name], { stdio: 'pipe' });
  } catch {
    // already gone
  }
}

export interface Netns {
  readonly name: string;
  /** Starts `command` inside the namespace, tracked like any test process (`ip netns exec` execs it: same pid). */
  spawn(command: string, args: readonly string[], opts?: SpawnTrackedOptions): TrackedProcess;
  /** Runs a command inside the namespace and returns its stdout. */
  run(command: string, args: readonly string[]): string;
  /** Deletes the namespace (its processes must have exited). */
  delete(): void;
}

/** A fresh namespace with `lo` up. Throws when namespaces are refused (check netnsUnavailable() first). */
export function createNetns(): Netns {
  const name = create();
  return {
    name,
    spawn: (command, args, opts = {}) => spawnTracked('ip', ['netns', 'exec', name, command, ...args], { name: opts.name ?? command.split('/').pop(), ...opts }),
    run: (command, args) => execFileSync('ip', ['netns', 'exec', name, command, ...args], { encoding: 'utf8' }),
    delete: () => remove(name),
  };
}
