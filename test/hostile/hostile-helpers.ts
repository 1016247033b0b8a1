/** Shared set-up for the hostile-script tests: one abusive app next to a healthy live stream. */
import * as fs from 'fs';
import * as path from 'path';
import { createServer } from '../../src/server/create';
import type { Server } from '../../src/server/server';
import { RtmpClient, type ClientStream } from '../../src/net/rtmp-client';
import { makeTempDir, removeDir } from '../support';

export interface Bed {
  server: Server;
  base: string;
  apps: string;
  close(): Promise<void>;
}

/** Starts a server with the given applications ({ name: { 'main.asc': text, 'Application.xml': text } }). */
export async function startBed(appFiles: Record<string, Record<string, string>>): Promise<Bed> {
  const apps = makeTempDir('hostile');
  for (const [name, files] of Object.entries(appFiles)) {
    fs.mkdirSync(path.join(apps, name), { recursive: true });
    for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(apps, name, f), text);
  }
  fs.mkdirSync(path.join(apps, 'live'), { recursive: true });
  const server = createServer({ appsDir: apps, port: 0 });
  const { url } = await server.listen();
  return {
    server,
    base: url,
    apps,
    async close() {
      await server.close();
      removeDir(apps);
    },
  };
}

/**
 * A live stream in the script-less `live` app with a publisher sending a data message every 5 ms and a
 * player timing their arrival: proves media keeps flowing while another instance misbehaves.
 */
export async function liveProbe(base: string): Promise<{ gaps: () => number[]; received: () => number; stop: () => void }> {
  const pub = await RtmpClient.connect(`${base}/live`);
  const ps = await pub.createStream();
  await ps.publish('heartbeat');
  const player = await RtmpClient.connect(`${base}/live`);
  const pl: ClientStream = await player.createStream();
  const arrivals: number[] = [];
  pl.onEvent = (ev) => {
    if (ev.kind === 'media') arrivals.push(performance.now());
  };
  await pl.play('heartbeat');
  let n = 0;
  const timer = setInterval(() => ps.sendMedia(8, n++ * 5, Buffer.from([0xaf, 0x01, n & 0xff])), 5);
  return {
    received: () => arrivals.length,
    gaps: () => arrivals.slice(1).map((t, i) => t - arrivals[i]!),
    stop: () => {
      clearInterval(timer);
      pub.close();
      player.close();
    },
  };
}

export { until } from '../support';
