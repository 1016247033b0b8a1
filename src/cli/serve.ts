/** `ssas serve`: host every application folder on a real RTMP port until Ctrl-C / SIGTERM. */
import chalk from 'chalk';
import { createServer, startApplications } from '../server/create';
import { formatHelp, parseArgs, type CommandSpec } from './args';
import { logToStream, printLine, untilSignal } from './output';
import { logsOption, resolveAppsDir, dirListOption } from './paths';
import { setLogLevel, type LogLevel } from '../logger';
import { BUNDLED_READ_ONLY } from './init';

export const serveSpec: CommandSpec = {
  name: 'serve',
  summary: 'Run the RTMP server, hosting every sub-folder of the apps folder as an FMS application.',
  usage: 'ssas serve [--apps DIR] [--host H] [--port N] [options]',
  options: [
    { name: 'apps', type: 'string', arg: 'DIR', description: 'Applications folder (default ./applications, else the bundled samples).' },
    { name: 'host', type: 'string', arg: 'H', default: '127.0.0.1', description: 'Address to listen on (0.0.0.0 for every interface).' },
    { name: 'port', type: 'number', arg: 'N', default: 1935, integer: { min: 0, max: 65535 }, description: 'RTMP port; 0 picks a free port.' },
    {
      name: 'rtmfp-port',
      type: 'number',
      arg: 'N',
      integer: { min: 0, max: 65535 },
      description: 'UDP port for RTMFP clients (Flash/AIR rtmfp://, RTMFP tools); default: the RTMP port number; 0 turns RTMFP off.',
    },
    { name: 'chunk-size', type: 'number', arg: 'BYTES', default: 4096, integer: { min: 128, max: 0xffffff }, description: 'Outgoing RTMP chunk size.' },
    { name: 'idle-timeout', type: 'number', arg: 'SEC', default: 60, description: 'Seconds an idle instance stays loaded unless Application.xml sets MaxAppIdleTime.' },
    { name: 'write-batch-ms', type: 'number', arg: 'MS', default: 20, integer: { min: 0, max: 1000 }, description: 'With many players written at once, gather socket writes this long (0 = write every turn).' },
    {
      name: 'trace-rate',
      type: 'number',
      arg: 'N',
      default: 1000,
      integer: { min: 1, max: 10_000_000 },
      description: 'trace() lines an application instance may log per second; the rest are dropped and counted.',
    },
    {
      name: 'virtual-path-roots',
      type: 'string',
      arg: 'DIRS',
      description: "Folders (';'-separated) Stream.setVirtualPath may map to, besides the application's own and those Vhost.xml or Application.xml map.",
    },
    {
      name: 'max-connections',
      type: 'number',
      arg: 'N',
      default: 10000,
      integer: { min: 1, max: 10_000_000 },
      description: 'Client connections at once, RTMP and RTMFP (Vhost.xml ResourceLimits/MaxConnections overrides it); more are closed as they arrive.',
    },
    {
      name: 'max-connections-per-ip',
      type: 'number',
      arg: 'N',
      default: 0,
      integer: { min: 0, max: 10_000_000 },
      description: 'Client connections from one IP address at once (0 = no limit).',
    },
    {
      name: 'max-instances',
      type: 'number',
      arg: 'N',
      default: 250,
      integer: { min: 1, max: 1_000_000 },
      description: 'Application instances loaded at once (Vhost.xml ResourceLimits/MaxAppInstances overrides it); a connect that would load one more is rejected.',
    },
    {
      name: 'max-pending-calls',
      type: 'number',
      arg: 'N',
      default: 256,
      integer: { min: 1, max: 1_000_000 },
      description: "Calls from one client waiting for its application: at N, that client's input waits until half are answered.",
    },
    { name: 'log-level', type: 'string', arg: 'LEVEL', default: 'info', choices: ['debug', 'info', 'warn', 'error'], description: 'debug, info, warn or error.' },
    {
      name: 'logs',
      type: 'string',
      arg: 'DIR',
      description:
        "Write the logs FMS kept: the access log (connects, publishes, plays...) DIR/access.00.log, and each instance's application log (trace output, script errors) DIR/_defaultVHost_/APP/INSTANCE/application.00.log.",
    },
    {
      name: 'scriptlib',
      type: 'string',
      arg: 'DIRS',
      description: "FMS's scriptlib folder(s), ';'-separated: load() looks there after an application's own ScriptLibPath.",
    },
  ],
  details: [
    chalk.bold('Examples:'),
    '  ssas serve --apps ./applications --port 1935',
    '  ffmpeg -re -i clip.flv -c copy -f flv rtmp://127.0.0.1/live/mystream',
    '  ffplay rtmp://127.0.0.1/live/mystream',
  ].join('\n'),
};

/** --rtmfp-port: absent = the RTMP port number (null), 0 = off, else that UDP port. */
export function rtmfpPortOption(v: unknown): number | null {
  return v === undefined || v === null || v === '' ? null : Number(v);
}

export async function serveCommand(argv: string[]): Promise<number> {
  const args = parseArgs(serveSpec, argv);
  if (args.help) {
    printLine(formatHelp(serveSpec));
    return 0;
  }
  setLogLevel(String(args.options['log-level']) as LogLevel);
  logToStream();
  const apps = resolveAppsDir(args.options.apps as string | undefined);
  const server = createServer({
    appsDir: apps.dir,
    host: String(args.options.host),
    port: Number(args.options.port),
    rtmfpPort: rtmfpPortOption(args.options['rtmfp-port']),
    chunkSize: Number(args.options['chunk-size']),
    defaultIdleTimeoutSec: Number(args.options['idle-timeout']),
    writeBatchMs: Number(args.options['write-batch-ms']),
    limits: { maxPendingCalls: Number(args.options['max-pending-calls']) },
    maxAppInstances: Number(args.options['max-instances']),
    maxConnections: Number(args.options['max-connections']),
    maxConnectionsPerAddress: Number(args.options['max-connections-per-ip']),
    virtualPathRoots: dirListOption(args.options['virtual-path-roots']),
    traceLinesPerSecond: Number(args.options['trace-rate']),
    scriptLibDirs: dirListOption(args.options.scriptlib),
    // The samples inside the installed package: nothing is written there.
    appsReadOnly: apps.bundled ? BUNDLED_READ_ONLY : undefined,
  });
  const appLogs = logsOption(args.options.logs, server);
  // Signals are watched from here on: one that arrives while the server still starts (a launcher that
  // stops it at once) waits for the start, then shuts down; it is never lost to Node's default handling.
  let started: Promise<void> = Promise.resolve();
  const stopped = untilSignal(async () => {
    await started.catch(() => undefined);
    await server.close();
    await appLogs?.close();
  });
  started = (async () => {
    const { url, rtmfpUrl } = await server.listen().catch(async (err: unknown) => {
      await appLogs?.close();
      throw err;
    });
    const list = (await server.listApplications()).map((a) => a.name);
    printLine(`ssas listening on ${url}`);
    if (rtmfpUrl) printLine(`ssas listening on ${rtmfpUrl} (RTMFP, UDP)`);
    printLine(chalk.dim(`applications (${apps.bundled ? 'bundled samples' : apps.dir}): ${list.join(', ') || 'none'}`));
    // Scripts that cannot compile are reported now, with file and line; LoadOnStartup instances load now.
    const problems = await startApplications(server);
    for (const p of problems) printLine(chalk.red(`application ${p.app} cannot start: ${p.error}`));
  })();
  await started;
  return stopped;
}
