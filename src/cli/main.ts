/** Entry point of the `ssas` command: dispatches to sub-commands. */
import chalk from 'chalk';
import { isSsasError } from '../errors';
import { suggest } from './args';
import { printError, printLine } from './output';
import { serveCommand, serveSpec } from './serve';
import { replCommand, replSpec } from './repl';
import { runCommand, runSpec } from './run';
import { checkCommand, checkSpec } from './check';
import { repairCommand, repairSpec } from './repair';
import { initCommand, initSpec } from './init';

interface SubCommand {
  name: string;
  summary: string;
  run(argv: string[]): Promise<number>;
}

const commands: SubCommand[] = [
  { name: 'serve', summary: serveSpec.summary, run: serveCommand },
  { name: 'repl', summary: replSpec.summary, run: (argv) => replCommand(argv) },
  { name: 'run', summary: runSpec.summary, run: runCommand },
  { name: 'check', summary: checkSpec.summary, run: checkCommand },
  { name: 'repair', summary: repairSpec.summary, run: repairCommand },
  { name: 'init', summary: initSpec.summary, run: initCommand },
];

function usage(): string {
  const w = Math.max(...commands.map((c) => c.name.length)) + 2;
  return [
    `${chalk.bold('ssas')} — run legacy Flash Media Server applications (Server-Side ActionScript) on a real RTMP server`,
    '',
    `${chalk.bold('Usage:')} ssas <command> [options]`,
    '',
    chalk.bold('Commands:'),
    ...commands.map((c) => `  ${chalk.cyan(c.name.padEnd(w))}${c.summary}`),
    '',
    `Run ${chalk.cyan('ssas <command> --help')} for the options of a command.`,
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    printLine(usage());
    return name === undefined ? 1 : 0;
  }
  if (name === '--version' || name === '-v') {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    printLine(require('../../package.json').version);
    return 0;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    const s = suggest(name, commands.map((c) => c.name));
    printError(`unknown command "${name}"${s ? ` (did you mean ${chalk.cyan(`ssas ${s}`)}?)` : ''} [ERR_CLI_UNKNOWN_COMMAND]`);
    if (!s) process.stderr.write(usage() + '\n');
    return 2;
  }
  try {
    return await cmd.run(rest);
  } catch (err) {
    printError(isSsasError(err) ? `${err.message} [${err.code}]` : String((err as Error)?.stack ?? err));
    // A command line that cannot be understood is a usage error (2), as for the unknown command above.
    return isSsasError(err) && err.code.startsWith('ERR_CLI_') ? 2 : 1;
  }
}
