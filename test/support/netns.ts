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

/**
 * For IP multicast: a veth pair inside the namespace (va 10.77.0.1 / fd77::1, vb 10.77.0.2 / fd77::2),
 * with the multicast routes on va; IPv6 multicast does not loop over lo, a veth does.
 */
export const MULTICAST_IFACE = { name: 'va', v4: '10.77.0.1', v6: 'fd77::1' };

function create(withMulticast = false): string {
  const name = `ssas-test-${process.pid}-${++counter}`;
  execFileSync('ip', ['netns', 'add', name], { stdio: 'pipe' });
  const run = (...args: string[]): void => void execFileSync('ip', ['netns', 'exec', name, ...args], { stdio: 'pipe' });
  try {
    run('ip', 'link', 'set', 'lo', 'up');
    if (withMulticast) {
      run('ip', 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb');
      run('ip', 'link', 'set', 'va', 'up');
      run('ip', 'link', 'set', 'vb', 'up');
      run('ip', 'addr', 'add', '10.77.0.1/24', 'dev', 'va');
      run('ip', 'addr', 'add', '10.77.0.2/24', 'dev', 'vb');
      run('ip', '-6', 'addr', 'add', 'fd77::1/64', 'dev', 'va', 'nodad');
      run('ip', '-6', 'addr', 'add', 'fd77::2/64', 'dev', 'vb', 'nodad');
      run('ip', 'route', 'add', '224.0.0.0/4', 'dev', 'va');
      run('ip', '-6', 'route', 'add', 'ff00::/8', 'dev', 'va', 'table', 'main');
    }
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

/**
 * A fresh namespace with `lo` up (and a veth pair for IP multicast with `multicast`). Throws when
 * namespaces are refused (check netnsUnavailable() first).
 */
export function createNetns(opts: { multicast?: boolean } = {}): Netns {
  const name = create(opts.multicast === true);
  return {
    name,
    spawn: (command, args, opts = {}) => spawnTracked('ip', ['netns', 'exec', name, command, ...args], { name: opts.name ?? command.split('/').pop(), ...opts }),
    run: (command, args) => execFileSync('ip', ['netns', 'exec', name, command, ...args], { encoding: 'utf8' }),
    delete: () => remove(name),
  };
}
