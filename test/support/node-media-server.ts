/**
 * node-media-server 4.x as a second reference server. It runs in a child process (it logs to stdout
 * and keeps timers and a JSON store open, which would hold a jest worker alive) from a config copy in
 * its own temp dir: on first start bin/app.js writes generated secrets back into the config file.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { SsasError } from '../../src/errors';
import { requirePeer } from './peers';
import { freePort, LOOPBACK, waitForPort } from './ports';
import { spawnTracked, type TrackedProcess } from './processes';
import { makeTempDir, removeDir } from './tmp';

export interface NodeMediaServerOptions {
  /** Also serve HTTP-FLV/WebSocket on a free port (default false: RTMP only). */
  http?: boolean;
  /** Require signed URLs (NMS auth.play / auth.publish with `authSecret`). Default false. */
  authPlay?: boolean;
  authPublish?: boolean;
  /** Merged over the generated config last (escape hatch for other NMS options). */
  configOverrides?: Record<string, unknown>;
  startTimeoutMs?: number;
  keepDir?: boolean;
  echo?: boolean;
}

export interface NodeMediaServer {
  port: number;
  httpPort: number | undefined;
  url(app?: string, stream?: string): string;
  dir: string;
  configFile: string;
  /** auth.secret written into the config (for signed-URL tests). */
  authSecret: string;
  process: TrackedProcess;
  /** NMS log lines so far (stdout). */
  log(): string;
  stop(): Promise<void>;
  startupMs: number;
  version: string;
}

type Json = Record<string, unknown>;

function buildConfig(template: Json, o: { port: number; httpPort?: number; secret: string; opts: NodeMediaServerOptions }): Json {
  const config: Json = JSON.parse(JSON.stringify(template)) as Json;
  config.bind = LOOPBACK;
  config.rtmp = { port: o.port };
  delete config.rtmps;
  delete config.https;
  if (o.httpPort !== undefined) config.http = { port: o.httpPort };
  else delete config.http;
  config.webadmin = { enable: false };
  config.notify = { url: '' };
  config.store = { ...((config.store as Json | undefined) ?? {}), path: './data' };
  config.record = { auto: false, path: './record' };
  // A non-empty secret and no jwt section mean bin/app.js has nothing to generate and write back.
  config.auth = { play: o.opts.authPlay ?? false, publish: o.opts.authPublish ?? false, secret: o.secret };
  return { ...config, ...(o.opts.configOverrides ?? {}) };
}

/** Starts node-media-server in a child process on a free loopback port. */
export async function startNodeMediaServer(options: NodeMediaServerOptions = {}): Promise<NodeMediaServer> {
  const bin = requirePeer('nodeMediaServer');
  const pkgDir = path.dirname(path.dirname(bin));
  const version = (JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { version: string }).version;
  const template = JSON.parse(fs.readFileSync(path.join(path.dirname(bin), 'config.json'), 'utf8')) as Json;
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = makeTempDir('nms');
    const port = await freePort();
    const httpPort = options.http ? await freePort() : undefined;
    const secret = crypto.randomBytes(16).toString('hex');
    const configFile = path.join(dir, 'config.json');
    fs.writeFileSync(configFile, JSON.stringify(buildConfig(template, { port, httpPort, secret, opts: options }), null, 2));
    const started = Date.now();
    const proc = spawnTracked(process.execPath, [bin, '-c', configFile], {
      name: 'node-media-server',
      cwd: dir,
      echo: options.echo,
      onExit: () => {
        if (!options.keepDir) removeDir(dir);
      },
    });
    const died = proc.exited.then((info) => {
      throw new SsasError('ERR_TEST_PEER_START', `node-media-server exited during startup (${JSON.stringify(info)})`);
    });
    died.catch(() => undefined);
    try {
      await waitForPort(port, { timeoutMs: options.startTimeoutMs ?? 15_000, abort: died });
      if (httpPort !== undefined) await waitForPort(httpPort, { timeoutMs: 5000, abort: died });
    } catch (e) {
      const log = proc.output();
      await proc.kill(500);
      lastError = new SsasError('ERR_TEST_PEER_START', `node-media-server did not start on port ${port}: ${(e as Error).message}\n${log}`);
      if (/already in use|EADDRINUSE/.test(log)) continue;
      throw lastError;
    }
    return {
      port,
      httpPort,
      url: (app = 'live', stream?: string) => `rtmp://${LOOPBACK}:${port}/${app}${stream !== undefined ? `/${stream}` : ''}`,
      dir,
      configFile,
      authSecret: secret,
      process: proc,
      log: () => proc.stdout(),
      // NMS flushes its store and exits on SIGTERM.
      stop: async () => {
        await proc.kill(3000);
      },
      startupMs: Date.now() - started,
      version,
    };
  }
  throw lastError;
}
