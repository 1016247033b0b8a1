/**
 * A scratch applications folder with FMS-style applications written by a test (main.asc, Application.xml,
 * data files), served by a real ssas server on a free loopback port, and RTMP clients that connect to it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createServer, type CreateServerOptions } from '../../src/server/create';
import type { Server } from '../../src/server/server';
import { RtmpClient } from '../../src/net/rtmp-client';
import type { AmfValue } from '../../src/amf';
import { makeTempDir, removeDir } from './tmp';
import { until } from './wait';

export interface ScriptApps {
  root: string;
  apps: string;
  server: Server;
  url: string;
  /** Connects our RTMP client to an application (path: "app" or "app/instance"). */
  connect(app: string, ...args: AmfValue[]): Promise<RtmpClient>;
  /** Calls `method` until it returns something other than null/undefined (results that arrive later). */
  poll(client: RtmpClient, method: string, ms?: number, ...args: AmfValue[]): Promise<AmfValue>;
  close(): Promise<void>;
}

/** files: { "app/main.asc": "...", "app/Application.xml": "..." } (paths below the applications folder). */
export async function startScriptApps(files: Record<string, string | Buffer>, opts: CreateServerOptions = {}): Promise<ScriptApps> {
  const root = makeTempDir('apps');
  const apps = path.join(root, 'applications');
  for (const [rel, text] of Object.entries(files)) {
    const file = path.join(apps, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  }
  fs.mkdirSync(apps, { recursive: true });
  const server = createServer({ appsDir: apps, port: 0, host: '127.0.0.1', ...opts });
  const { url } = await server.listen();
  const clients: RtmpClient[] = [];
  return {
    root,
    apps,
    server,
    url,
    async connect(app, ...args) {
      const c = await RtmpClient.connect(`${url}/${app}`, { args });
      clients.push(c);
      return c;
    },
    async poll(client, method, ms = 10_000, ...args) {
      let value: AmfValue = null;
      await until(async () => {
        value = await client.call(method, ...args);
        return value !== null && value !== undefined;
      }, ms, `${method}() to answer`);
      return value;
    },
    async close() {
      for (const c of clients) c.close();
      await server.close();
      removeDir(root);
    },
  };
}
