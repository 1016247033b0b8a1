/** Builds a Server with every feature ssas has, as the CLI and the integration tests use it. */
import { Server, type ServerOptions } from './server';

export function createServer(opts: ServerOptions = {}): Server {
  const server = new Server(opts);
  return server;
}
