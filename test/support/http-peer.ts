/**
 * A real HTTP server on loopback for the script classes that reach out (XML, LoadVars, WebService, Flash
 * Remoting): routes written by the test, plus the misbehaviours a server can have (slow, huge, cut off,
 * redirect loops). Every request is recorded (method, path, headers, body) for the test to check.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export type Route = (req: RecordedRequest, res: http.ServerResponse) => void | Promise<void>;

export interface HttpPeer {
  url: string;
  port: number;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/** Routes by path (without the query string). Unknown paths answer 404. */
export async function startHttpPeer(routes: Record<string, Route>): Promise<HttpPeer> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<import('net').Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      requests.push(rec);
      const route = routes[(req.url ?? '').split('?')[0]!];
      if (!route) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      Promise.resolve(route(rec, res)).catch((err) => {
        if (!res.headersSent) res.writeHead(500);
        res.end(String(err));
      });
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Standard misbehaving routes, shared by the XML, LoadVars and WebService tests. */
export const misbehaving: Record<string, Route> = {
  /** Headers at once, body after 5 s. */
  '/slow': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/xml' });
    res.write('<slow>');
    const t = setTimeout(() => res.end('</slow>'), 5000);
    res.on('close', () => clearTimeout(t));
  },
  /** A body without end: 64 KB chunks until the client gives up. */
  '/huge': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/xml' });
    const chunk = Buffer.alloc(64 * 1024, 'a');
    res.write('<a>');
    const pump = (): void => {
      while (!res.destroyed && res.write(chunk));
      if (!res.destroyed) res.once('drain', pump);
    };
    pump();
  },
  /** Content-Length says more than the limit. */
  '/huge-declared': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/xml', 'content-length': String(1024 * 1024 * 1024) });
    res.write('<a>');
    setTimeout(() => res.destroy(), 200);
  },
  /** The connection is cut in the middle of the body. */
  '/cut': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/xml', 'content-length': '1000' });
    res.write('<cut>');
    setTimeout(() => res.socket?.destroy(), 50);
  },
  '/fail': (_req, res) => {
    res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error');
  },
  '/loop': (_req, res) => {
    res.writeHead(302, { location: '/loop' }).end();
  },
};
