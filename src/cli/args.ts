/**
 * A small declarative option parser: each command declares its options once, and the same table drives
 * parsing, validation and `--help`.
 */
import chalk from 'chalk';
import { ConfigError } from '../errors';

export interface OptionSpec {
  name: string;
  type: 'string' | 'number' | 'boolean';
  description: string;
  /** Shown in help; also the value when the option is absent. */
  default?: string | number | boolean;
  /** Placeholder in help, e.g. DIR. */
  arg?: string;
  /** `--inspect` may be given bare or with `=value`. */
  optionalValue?: boolean;
}

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  options: OptionSpec[];
  /** Extra help text (examples). */
  details?: string;
}

export interface ParsedArgs {
  options: Record<string, string | number | boolean | undefined>;
  positionals: string[];
  help: boolean;
}

export function parseArgs(spec: CommandSpec, argv: string[]): ParsedArgs {
  const options: ParsedArgs['options'] = {};
  for (const o of spec.options) if (o.default !== undefined) options[o.name] = o.default;
  const positionals: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') {
      help = true;
      continue;
    }
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('--')) {
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
    const o = spec.options.find((x) => x.name === name);
    if (!o) throw new ConfigError('ERR_CLI_UNKNOWN_OPTION', `unknown option --${name} for "ssas ${spec.name}" (see ssas ${spec.name} --help)`);
    let value: string | undefined = eq >= 0 ? a.slice(eq + 1) : undefined;
    if (o.type === 'boolean') {
      options[o.name] = value === undefined ? true : !/^(0|false|no|off)$/i.test(value);
      continue;
    }
    if (value === undefined) {
      if (o.optionalValue) {
        options[o.name] = true;
        continue;
      }
      value = argv[++i];
      if (value === undefined) throw new ConfigError('ERR_CLI_MISSING_VALUE', `--${name} needs a value`);
    }
    if (o.type === 'number') {
      const n = Number(value);
      if (!Number.isFinite(n)) throw new ConfigError('ERR_CLI_BAD_VALUE', `--${name} expects a number, got "${value}"`);
      options[o.name] = n;
    } else {
      options[o.name] = value;
    }
  }
  return { options, positionals, help };
}

export function formatHelp(spec: CommandSpec): string {
  const lines = [`${chalk.bold('Usage:')} ${spec.usage}`, '', spec.summary, ''];
  if (spec.options.length > 0) {
    lines.push(chalk.bold('Options:'));
    const rows = spec.options.map((o) => {
      const left = `--${o.name}${o.type === 'boolean' ? '' : o.optionalValue ? `[=${o.arg ?? 'VALUE'}]` : ` ${o.arg ?? 'VALUE'}`}`;
      const dflt = o.default !== undefined && o.default !== false ? chalk.dim(` (default: ${o.default})`) : '';
      return [left, o.description + dflt] as const;
    });
    rows.push(['--help', 'Show this help.']);
    const w = Math.max(...rows.map((r) => r[0].length)) + 2;
    for (const [l, r] of rows) lines.push(`  ${chalk.cyan(l.padEnd(w))}${r}`);
  }
  if (spec.details) lines.push('', spec.details);
  return lines.join('\n');
}
