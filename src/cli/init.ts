/**
 * `ssas init [DIR]`: copies the bundled sample applications (live, vod, chat) into DIR (./applications by
 * default, the folder `ssas serve` then serves), so they can be changed and can record: the bundled copies
 * live inside the installed package and are read-only for the server.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import chalk from 'chalk';
import { ConfigError } from '../errors';
import { formatHelp, parseArgs, type CommandSpec } from './args';
import { printLine } from './output';
import { bundledAppsDir } from './paths';

export const initSpec: CommandSpec = {
  name: 'init',
  summary: 'Copy the sample applications (live, vod, chat) into an applications folder of your own.',
  usage: 'ssas init [DIR]',
  options: [],
  details: [
    'DIR defaults to ./applications, which `ssas serve` serves when it exists. Applications already',
    'there are left as they are. Recordings and persistent shared objects are written inside DIR.',
  ].join('\n'),
};

/** Why the bundled samples are read-only, as clients and the log are told. */
export const BUNDLED_READ_ONLY = 'the bundled sample applications are read-only: `ssas init` copies them into ./applications, where ssas serve records';

export async function initCommand(argv: string[]): Promise<number> {
  const args = parseArgs(initSpec, argv);
  if (args.help) {
    printLine(formatHelp(initSpec));
    return 0;
  }
  if (args.positionals.length > 1) throw new ConfigError('ERR_CLI_USAGE', `usage: ${initSpec.usage}`);
  const dir = path.resolve(args.positionals[0] ?? 'applications');
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) throw new ConfigError('ERR_APPS_DIR_NOT_FOUND', `${dir} exists and is not a folder`);
  fs.mkdirSync(dir, { recursive: true });
  const samples = fs
    .readdirSync(bundledAppsDir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  for (const name of samples) {
    const to = path.join(dir, name);
    if (fs.existsSync(to)) {
      printLine(`${chalk.yellow('kept')}    ${to} (already there)`);
      continue;
    }
    fs.cpSync(path.join(bundledAppsDir, name), to, { recursive: true });
    // Files copied from a read-only installation stay writable for their new owner.
    for (const f of fs.readdirSync(to, { recursive: true, withFileTypes: true })) {
      const p = path.join(f.parentPath ?? (f as unknown as { path: string }).path, f.name);
      fs.chmodSync(p, f.isDirectory() ? 0o755 : 0o644);
    }
    printLine(`${chalk.green('created')} ${to}`);
  }
  const rel = path.relative(process.cwd(), dir) || '.';
  printLine('');
  printLine(`Serve them with ${chalk.cyan(rel === 'applications' ? 'ssas serve' : `ssas serve --apps ${rel}`)}.`);
  return 0;
}
