/**
 * Builds a Server with every feature ssas has, as the CLI and the integration tests use it: application
 * folders with a script get the script runtime, folders without one behave as FMS does with no main.asc.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { Server, type ServerOptions } from './server';
import { DefaultLogic } from './app-logic';
import { loadAppConfig } from '../script/app-config';
import { findAppScripts, readScriptSource } from '../script/discovery';
import { ScriptLogic, checkSyntax, type ScriptExtension } from '../script/script-logic';
import { getLogger } from '../logger';
import { StreamFeature } from './stream-feature';
import { StreamExtension } from '../script/stream-extension';
import { NetExtension } from '../script/net-extension';
import { GroupExtension } from '../script/group-extension';
import { SharedObjectFeature } from './so-feature';
import { SharedObjectExtension } from '../script/so-extension';
import { HttpExtension } from '../script/http-extension';
import { FileExtension } from '../script/file-extension';
import { CodecExtension } from '../script/codec-extension';
import { SocketExtension } from '../script/socket-extension';
import { RemotingExtension } from '../script/remoting-extension';
import { isSsasError } from '../errors';

const log = getLogger('server');

export interface CreateServerOptions extends ServerOptions {
  /**
   * Server-wide script libraries (FMS's scriptlib folder, `ssas serve --scriptlib`), searched by load()
   * after an application's own `JSEngine/ScriptLibPath`.
   */
  scriptLibDirs?: string[];
  /** Enables the V8 inspector on script isolates (ssas run --inspect). */
  inspector?: boolean;
  /** Shell statements in script isolates can be stopped (Ctrl-C) without losing the instance (ssas repl). */
  interruptibleStatements?: boolean;
  /** Called with each new ScriptLogic (the REPL attaches here). */
  onScriptLogic?: (logic: ScriptLogic) => void;
}

export function createServer(opts: CreateServerOptions = {}): Server {
  const streams = new StreamExtension();
  const net = new NetExtension(streams);
  const sharedObjects = new SharedObjectFeature();
  const http = new HttpExtension();
  // Remoting goes before the NetConnection feature: it takes the ops of http:// and https:// connections.
  const extensions: ScriptExtension[] = [streams, new RemotingExtension(http, net), net, new SharedObjectExtension(sharedObjects, net), new GroupExtension(net), http, new FileExtension(), new CodecExtension(), new SocketExtension()];
  const { inspector, interruptibleStatements, onScriptLogic, scriptLibDirs = [], ...serverOpts } = opts;
  const server: Server = new Server({
    ...serverOpts,
    logicFactory: async (instance) => {
      const config = await loadAppConfig(instance.app.dir, { defaults: instance.vhost.appDefaults });
      instance.appConfig = config;
      const files = await findAppScripts(instance.app.dir, instance.app.name);
      if (!files.main && !files.secure) return new DefaultLogic();
      const logic = new ScriptLogic({
        instance,
        files,
        config,
        serverVersion: server.config.fmsVersion,
        hostname: os.hostname(),
        scriptLibDirs,
        extensions,
        inspector: inspector === true,
        interruptible: interruptibleStatements === true,
      });
      onScriptLogic?.(logic);
      return logic;
    },
  });
  server.features.push(new StreamFeature(), sharedObjects);
  return server;
}

/**
 * What `ssas serve` does after it listens: checks every application's scripts (a syntax error is reported
 * with file and line at once, as FMS logged it) and loads the instances marked LoadOnStartup.
 */
export async function startApplications(server: Server): Promise<{ app: string; error: string }[]> {
  const problems: { app: string; error: string }[] = [];
  for (const app of await server.listApplications()) {
    try {
      const files = await findAppScripts(app.dir, app.name);
      for (const file of [files.secure, files.main]) {
        if (!file) continue;
        const err = checkSyntax(await readScriptSource(file), path.relative(app.dir, file));
        if (err) throw err;
      }
      const config = await loadAppConfig(app.dir, { defaults: server.vhost.appDefaults });
      if (config.loadOnStartup) {
        const instance = await server.getInstance(app, '_definst_');
        await instance.load();
        log.info(`${instance.name} loaded on startup`);
      }
    } catch (err) {
      // Reported once, by the caller (ssas serve / repl print each problem).
      problems.push({ app: app.name, error: isSsasError(err) ? `${err.message} [${err.code}]` : String(err) });
    }
  }
  return problems;
}
