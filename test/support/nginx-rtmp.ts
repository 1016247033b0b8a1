/**
 * A private nginx with the RTMP module (Debian libnginx-mod-rtmp) as a reference server. It runs in the
 * foreground as a single process with its config, pid file and logs in its own temp dir, so nothing
 * touches /etc/nginx or /var/log/nginx.
 */
import * as fs from 'fs';
import * as path from 'path';
import { SsasError } from '../../src/errors';
import { requirePeer } from './peers';
import { freePort, LOOPBACK, waitForPort } from './ports';
import { spawnTracked, type TrackedProcess } from './processes';
import { makeTempDir, removeDir } from './tmp';

export interface NginxRtmpOptions {
  /**
   * Raw config lines placed inside `rtmp { server { ... } }` after the default
   * `application live { live on; record off; }`. When they define `application live` themselves the
   * default is left out.
   */
  applications?: string;
  /** Directory for `record_path` in your applications; created if missing, never deleted by stop(). */
  recordDir?: string;
  /** chunk_size directive (default 4096). */
  chunkSize?: number;
  /** Raw lines for the main context (e.g. 'worker_rlimit_nofile 8192;'). */
  mainExtra?: string;
  startTimeoutMs?: number;
  /** Keep the temp dir (config and error.log) after stop, for debugging. */
  keepDir?: boolean;
}

export interface NginxRtmp {
  port: number;
  /** rtmp://127.0.0.1:<port>/<app>[/<stream>] */
  url(app?: string, stream?: string): string;
  /** Temp dir holding nginx.conf, error.log and nginx.pid. */
  dir: string;
  confFile: string;
  recordDir: string | undefined;
  process: TrackedProcess;
  /** Current error.log contents (info level: connects, publishes, plays). */
  errorLog(): string;
  /** Stops nginx (SIGTERM, SIGKILL after a grace period) and removes the temp dir. */
  stop(): Promise<void>;
  /** Milliseconds from spawn until the port accepted a connection. */
  startupMs: number;
}

function buildConfig(o: {
  dir: string;
  port: number;
  modulePath: string;
  applications: string;
  chunkSize: number;
  mainExtra: string;
}): string {
  const defaultLive = /application\s+live\s*\{/.test(o.applications) ? '' : '      application live { live on; record off; }\n';
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  return [
    `load_module ${o.modulePath};`,
    'daemon off;',
    'master_process off;',
    // Without it nginx running as root drops workers to nobody, which cannot write record_path dirs.
    isRoot ? 'user root;' : '',
    'worker_processes 1;',
    `pid ${path.join(o.dir, 'nginx.pid')};`,
    `error_log ${path.join(o.dir, 'error.log')} info;`,
    o.mainExtra,
    'events { worker_connections 4096; }',
    'rtmp {',
    '  server {',
    `    listen ${LOOPBACK}:${o.port};`,
    `    chunk_size ${o.chunkSize};`,
    defaultLive + o.applications,
    '  }',
    '}',
    '',
  ]
    .filter((line) => line !== '')
    .join('\n');
}

/** Starts nginx-rtmp on a free loopback port and waits until it accepts connections. */
export async function startNginxRtmp(options: NginxRtmpOptions = {}): Promise<NginxRtmp> {
  const nginx = requirePeer('nginx');
  const modulePath = requirePeer('nginxRtmpModule');
  if (options.recordDir) fs.mkdirSync(options.recordDir, { recursive: true });
  let lastError: unknown;
  // The port is free when chosen but another process can grab it before nginx binds; retry then.
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = makeTempDir('nginx');
    const port = await freePort();
    const confFile = path.join(dir, 'nginx.conf');
    fs.writeFileSync(
      confFile,
      buildConfig({
        dir,
        port,
        modulePath,
        applications: options.applications ?? '',
        chunkSize: options.chunkSize ?? 4096,
        mainExtra: options.mainExtra ?? '',
      }),
    );
    const errorLogFile = path.join(dir, 'error.log');
    const started = Date.now();
    // -e keeps even pre-config startup messages out of /var/log/nginx (Debian's default error log).
    const proc = spawnTracked(nginx, ['-p', `${dir}/`, '-e', errorLogFile, '-c', confFile], {
      name: 'nginx-rtmp',
      onExit: () => {
        if (!options.keepDir) removeDir(dir);
      },
    });
    const died = proc.exited.then((info) => {
      throw new SsasError('ERR_TEST_PEER_START', `nginx exited during startup (${JSON.stringify(info)})`, {
        log: safeRead(errorLogFile) + proc.output(),
      });
    });
    died.catch(() => undefined);
    try {
      await waitForPort(port, { timeoutMs: options.startTimeoutMs ?? 10_000, abort: died });
    } catch (e) {
      const log = safeRead(errorLogFile) + proc.output();
      await proc.kill(500);
      lastError = new SsasError('ERR_TEST_PEER_START', `nginx-rtmp did not start on port ${port}: ${(e as Error).message}\n${log}`);
      if (/Address already in use/.test(log)) continue;
      throw lastError;
    }
    const startupMs = Date.now() - started;
    return {
      port,
      url: (app = 'live', stream?: string) => `rtmp://${LOOPBACK}:${port}/${app}${stream !== undefined ? `/${stream}` : ''}`,
      dir,
      confFile,
      recordDir: options.recordDir,
      process: proc,
      errorLog: () => safeRead(errorLogFile),
      stop: async () => {
        await proc.kill(3000);
      },
      startupMs,
    };
  }
  throw lastError;
}

function safeRead(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
