/**
 * The dot-commands. One table drives dispatch, `.help` and completion of command names (as Node's REPL
 * command table does); each command acts on the shell through ShellContext.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Chalk } from 'chalk';
import { ConfigError } from '../errors';
import { parseRtmpUrl } from '../net/rtmp-client';
import { describeHostValue, formatValue, type EvalOutcome, type FormatOptions, type ValueNode } from './format';
import { describeError, type ShellEvent, type ShellSession } from './session';
import { ShellClient } from './test-client';
import { parseValues, splitWord } from './values';

/** What commands may do with the shell. */
export interface ShellContext {
  readonly session: ShellSession;
  readonly chalk: Chalk;
  readonly serverUrl: string;
  readonly cwd: string;
  readonly interactive: boolean;
  readonly formatOptions: FormatOptions;
  client: ShellClient | null;
  showTrace: boolean;
  print(text: string): void;
  printValue(node: ValueNode): void;
  printError(text: string): void;
  event(ev: ShellEvent): void;
  report(out: EvalOutcome): void;
  fail(): void;
  breakStatement(): void;
  finish(): void;
}

export interface DotCommand {
  name: string;
  /** Argument synopsis shown by .help. */
  args?: string;
  help: string;
  run(shell: ShellContext, rest: string): Promise<void> | void;
  /** Candidates for the argument being typed. */
  complete?(shell: ShellContext, partial: string): Promise<string[]> | string[];
}

/** Prints rows as a table, columns padded to their widest cell; `empty` when there are none. */
function printTable<T>(shell: ShellContext, empty: string, head: string[], items: T[], cells: (item: T) => string[]): void {
  if (items.length === 0) {
    shell.print(empty);
    return;
  }
  const rows = items.map(cells);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (row: string[]): string => row.map((s, i) => (i === row.length - 1 ? s : s.padEnd(widths[i]!))).join('  ').trimEnd();
  shell.print(shell.chalk.bold(line(head)));
  for (const r of rows) shell.print(line(r));
}

function requireClient(shell: ShellContext): ShellClient {
  const c = shell.client;
  if (!c || c.closed) throw new ConfigError('ERR_REPL_NO_CLIENT', 'no test client: .connect first');
  return c;
}

/** `.connect` target: a full rtmp:// URL, or app[/instance] on this server (the attached one by default). */
function connectUrl(shell: ShellContext, target: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
    parseRtmpUrl(target);
    return target;
  }
  const name = target || shell.session.name;
  if (!name) throw new ConfigError('ERR_REPL_NO_TARGET', 'give a URL or an application to connect to');
  return `${shell.serverUrl}/${name.replace(/^\/+/, '')}`;
}

function filesStartingWith(cwd: string, partial: string): string[] {
  const dir = path.resolve(cwd, partial.endsWith('/') ? partial : path.dirname(partial));
  const base = partial.endsWith('/') ? '' : path.basename(partial);
  const shownDir = partial.endsWith('/') ? partial : path.dirname(partial) === '.' && !partial.startsWith('./') ? '' : path.dirname(partial) + '/';
  try {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.name.startsWith(base) && !e.name.startsWith('.'))
      .map((e) => shownDir + e.name + (e.isDirectory() ? '/' : ''))
      .sort();
  } catch {
    return [];
  }
}

export const COMMANDS: DotCommand[] = [
  {
    name: 'help',
    help: 'Show the shell commands',
    run(shell) {
      const c = shell.chalk;
      const left = COMMANDS.map((cmd) => `.${cmd.name}${cmd.args ? ` ${cmd.args}` : ''}`);
      const w = Math.max(...left.map((l) => l.length)) + 2;
      COMMANDS.forEach((cmd, i) => shell.print(`${c.cyan(left[i]!.padEnd(w))}${cmd.help}`));
      shell.print('');
      shell.print('Anything else is Server-Side ActionScript, evaluated at global scope in the instance.');
      shell.print('Unfinished statements continue on the next line; Tab completes names; Ctrl+C cancels the line.');
    },
  },
  {
    name: 'apps',
    help: 'List applications and running instances',
    async run(shell) {
      const c = shell.chalk;
      const apps = await shell.session.listApps();
      if (apps.length === 0) {
        shell.print('no applications');
        return;
      }
      for (const app of apps) {
        const inst = app.instances.map((i) => `${i.attached ? c.cyan('*') : ''}${i.name} (${i.state}, ${i.clients} client${i.clients === 1 ? '' : 's'})`);
        shell.print(`${c.bold(app.name)}${inst.length > 0 ? `  ${inst.join(', ')}` : c.gray('  not loaded')}`);
      }
    },
  },
  {
    name: 'use',
    args: 'APP[/INSTANCE]',
    help: 'Switch to another instance (loaded if needed)',
    async run(shell, rest) {
      if (!rest) throw new ConfigError('ERR_REPL_USAGE', 'usage: .use APP[/INSTANCE]');
      const inst = await shell.session.attach(rest);
      shell.print(shell.chalk.gray(`now in ${inst.name} (${inst.state})`));
    },
    async complete(shell, partial) {
      const out: string[] = [];
      for (const app of await shell.session.listApps()) {
        out.push(app.name);
        for (const i of app.instances) out.push(i.name);
      }
      return out.filter((n) => n.startsWith(partial));
    },
  },
  {
    name: 'clients',
    help: 'List the clients of the instance',
    run(shell) {
      printTable(shell, 'no clients', ['id', 'state', 'ip', 'agent', 'bytes in/out'], shell.session.clients(), (r) => [r.id, r.state, r.ip, r.agent, `${r.bytesIn}/${r.bytesOut}`]);
    },
  },
  {
    name: 'streams',
    help: 'List the live streams of the instance',
    run(shell) {
      printTable(shell, 'no streams', ['name', 'state', 'publisher', 'subscribers', 'time', 'messages'], shell.session.streams(), (r) => [
        r.name,
        r.state,
        r.publisher,
        String(r.subscribers),
        `${r.time.toFixed(1)}s`,
        String(r.messages),
      ]);
    },
  },
  {
    name: 'so',
    help: 'List the shared objects of the instance',
    run(shell) {
      const rows = shell.session.sharedObjects();
      if (rows === null) {
        shell.print('none: this server has no shared-object support');
        return;
      }
      printTable(shell, 'none: no shared objects in this instance', ['name', 'persistent', 'version', 'slots', 'subscribers'], rows, (r) => [
        r.name,
        r.persistent ? 'yes' : 'no',
        String(r.version),
        String(r.slots),
        String(r.subscribers),
      ]);
    },
  },
  {
    name: 'load',
    args: 'FILE',
    help: 'Run a script file in the instance',
    async run(shell, rest) {
      if (!rest) throw new ConfigError('ERR_REPL_USAGE', 'usage: .load FILE');
      shell.report(await shell.session.loadFile(rest, shell.cwd));
    },
    complete: (shell, partial) => filesStartingWith(shell.cwd, partial),
  },
  {
    name: 'reload',
    help: 'Restart the instance with its script from disk',
    async run(shell) {
      const inst = await shell.session.reload();
      shell.print(shell.chalk.gray(`${inst.name} reloaded`));
    },
  },
  {
    name: 'connect',
    args: '[URL|APP] [ARGS]',
    help: 'Connect a test client (ARGS: JSON-ish values)',
    async run(shell, rest) {
      const [target, argText] = splitWord(rest);
      const looksLikeTarget = target !== '' && (/:\/\//.test(target) || /^[\w.-]+(\/[\w.-]+)*$/.test(target));
      const url = connectUrl(shell, looksLikeTarget ? target : '');
      const args = parseValues(looksLikeTarget ? argText : rest);
      shell.client?.close();
      shell.client = null;
      shell.client = await ShellClient.connect(url, args, (ev) => shell.event(ev), shell.formatOptions);
      shell.print(shell.chalk.gray(`test client connected to ${url}`));
    },
  },
  {
    name: 'call',
    args: 'METHOD [ARGS]',
    help: 'Call a server method as the test client',
    async run(shell, rest) {
      const [method, argText] = splitWord(rest);
      if (!method) throw new ConfigError('ERR_REPL_USAGE', 'usage: .call METHOD [ARGS...]');
      const client = requireClient(shell);
      let result;
      try {
        result = await client.call(method, parseValues(argText));
      } catch (err) {
        const info = (err as { info?: unknown }).info;
        shell.fail();
        if (info !== undefined) shell.print(shell.chalk.red('call failed: ') + formatHost(shell, info));
        else shell.printError(`call failed: ${describeError(err)}`);
        return;
      }
      shell.printValue(describeHostValue(result));
    },
  },
  {
    name: 'publish',
    args: 'FILE [NAME]',
    help: 'Publish an FLV/MP4 file live, in real time',
    async run(shell, rest) {
      const client = requireClient(shell);
      const [file, nameArg] = splitWord(rest);
      if (!file) {
        const s = client.publishStats;
        shell.print(s ? `${s.name} from ${s.file}: ${s.video} video, ${s.audio} audio messages${s.done ? ' (ended)' : ''}` : 'not publishing');
        return;
      }
      const name = nameArg || path.basename(file).replace(/\.[^.]*$/, '');
      await client.publish(path.resolve(shell.cwd, file), name);
      shell.print(shell.chalk.gray(`publishing ${file} as ${name}`));
    },
    complete: (shell, partial) => filesStartingWith(shell.cwd, partial),
  },
  {
    name: 'play',
    args: '[NAME]',
    help: 'Play a stream; without NAME: counts so far',
    async run(shell, rest) {
      const client = requireClient(shell);
      if (!rest) {
        const s = client.playStats;
        shell.print(s ? `${s.name}: ${s.video} video, ${s.audio} audio, ${s.data} data messages; ${s.statuses.join(', ') || 'no status'}` : 'not playing');
        return;
      }
      const { info } = await client.play(rest);
      if (info.code !== 'NetStream.Play.Start') shell.fail();
    },
  },
  {
    name: 'stop',
    help: 'Stop publishing and playing',
    run(shell) {
      requireClient(shell).stop();
    },
  },
  {
    name: 'disconnect',
    help: 'Close the test client',
    run(shell) {
      requireClient(shell).close();
      shell.client = null;
    },
  },
  {
    name: 'trace',
    args: 'on|off',
    help: 'Show or hide trace() output',
    run(shell, rest) {
      if (rest === 'on' || rest === 'off') shell.showTrace = rest === 'on';
      else if (rest !== '') throw new ConfigError('ERR_REPL_USAGE', 'usage: .trace on|off');
      shell.print(shell.chalk.gray(`trace output ${shell.showTrace ? 'on' : 'off'}`));
    },
    complete: (_shell, partial) => ['on', 'off'].filter((w) => w.startsWith(partial)),
  },
  {
    name: 'break',
    help: 'Drop an unfinished multi-line statement',
    run(shell) {
      shell.breakStatement();
    },
  },
  {
    name: 'exit',
    help: 'Stop the server and leave',
    run(shell) {
      shell.finish();
    },
  },
];

function formatHost(shell: ShellContext, v: unknown): string {
  return formatValue(describeHostValue(v), { ...shell.formatOptions, rawStrings: false });
}

export function findCommand(name: string): DotCommand | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** Completion of `.name` and of a command's argument. */
export async function completeCommand(shell: ShellContext, line: string): Promise<[string[], string]> {
  const m = /^\s*\.(\S*)(\s+)?([\s\S]*)$/.exec(line);
  if (!m) return [[], line];
  if (m[2] === undefined) {
    return [COMMANDS.filter((c) => c.name.startsWith(m[1]!)).map((c) => `.${c.name}`), `.${m[1]}`];
  }
  const cmd = findCommand(m[1]!);
  if (!cmd?.complete) return [[], m[3]!];
  const partial = m[3]!;
  return [await cmd.complete(shell, partial), partial];
}
