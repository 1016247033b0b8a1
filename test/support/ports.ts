/**
 * Loopback ports for tests. Ports are always chosen by the kernel (listen on port 0) so parallel jest
 * workers and leftover servers never collide on a fixed number.
 */
import * as dgram from 'dgram';
import * as net from 'net';
import { SsasError } from '../../src/errors';

export const LOOPBACK = '127.0.0.1';

/** Asks the kernel for an unused TCP port on 127.0.0.1 and releases it again. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: LOOPBACK, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

/**
 * Asks the kernel for an unused UDP port on 127.0.0.1 (binds a dgram socket to port 0, reads the port,
 * closes it). Another process can take the port before the caller binds it; a peer that accepts port 0
 * and reports what it bound (tcserver, MonaTiny) avoids that race entirely.
 */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    socket.unref();
    socket.once('error', (err) => {
      socket.close();
      reject(err);
    });
    socket.bind({ address: LOOPBACK, port: 0, exclusive: true }, () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

/** One connection attempt; resolves true when something accepted it. */
export function canConnect(port: number, host = LOOPBACK, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export interface WaitForPortOptions {
  host?: string;
  timeoutMs?: number;
  intervalMs?: number;
  /** Stop waiting early (e.g. the server process died); its rejection is passed through. */
  abort?: Promise<unknown>;
}

/** Polls until a TCP connect to the port succeeds. */
export async function waitForPort(port: number, options: WaitForPortOptions = {}): Promise<void> {
  const host = options.host ?? LOOPBACK;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  let aborted: unknown;
  let isAborted = false;
  options.abort?.then(
    (value) => {
      isAborted = true;
      aborted = value;
    },
    (err: unknown) => {
      isAborted = true;
      aborted = err;
    },
  );
  for (;;) {
    if (isAborted) {
      throw aborted instanceof Error
        ? aborted
        : new SsasError('ERR_TEST_PORT_ABORTED', `gave up waiting for ${host}:${port}`, { reason: String(aborted) });
    }
    if (await canConnect(port, host, Math.min(500, Math.max(50, deadline - Date.now())))) return;
    if (Date.now() >= deadline) {
      throw new SsasError('ERR_TEST_PORT_TIMEOUT', `nothing accepted connections on ${host}:${port} within ${timeoutMs} ms`, {
        port,
        host,
      });
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
