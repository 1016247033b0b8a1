/**
 * Each command declares its options once, and the same table drives parsing (Node's util.parseArgs, strict),
 * validation (numbers, choices) and `--help`. Mistakes are refused with a coded ConfigError that names the
 * closest valid spelling ("did you mean --port?").
 */
import { parseArgs as nodeParseArgs } from 'node:util';
import chalk from 'chalk';
import { closest, distance } from 'fastest-levenshtein';
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
  /** The only values accepted (strings). */
  choices?: readonly string[];
  /** Numbers must be integers within [min, max]. */
  integer?: { min: number; max: number };
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

/** The closest of `candidates` to `input` when it is close enough to be a slip of the fingers, else null. */
export function suggest(input: string, candidates: readonly string[]): string | null {
  if (candidates.length === 0 || input === '') return null;
  const best = closest(input, candidates as string[]);
  const d = distance(input, best);
  // A transposition costs 2; allow about a third of the word besides.
  return d <= Math.max(2, Math.floor(best.length / 3)) ? best : null;
}

const didYouMean = (s: string | null, prefix = ''): string => (s === null ? '' : ` (did you mean ${prefix}${s}?)`);

type NodeOptions = Record<string, { type: 'string' | 'boolean'; short?: string }>;

export function parseArgs(spec: CommandSpec, argv: string[]): ParsedArgs {
  const config: NodeOptions = { help: { type: 'boolean', short: 'h' } };
  for (const o of spec.options) config[o.name] = { type: o.type === 'boolean' ? 'boolean' : 'string' };
  // util.parseArgs has no optional values: a bare `--inspect` becomes `--inspect=` (empty: "yes, at the default").
  const optional = new Set(spec.options.filter((o) => o.optionalValue).map((o) => `--${o.name}`));
  const end = argv.indexOf('--');
  const args = argv.map((a, i) => (optional.has(a) && (end < 0 || i < end) ? `${a}=` : a));
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = nodeParseArgs({ args, options: config, strict: true, allowPositionals: true }) as typeof parsed;
  } catch (err) {
    throw usageError(spec, args, config, err as Error & { code?: string });
  }
  const options: ParsedArgs['options'] = {};
  for (const o of spec.options) {
    const raw = parsed.values[o.name];
    if (raw === undefined) {
      if (o.default !== undefined) options[o.name] = o.default;
      continue;
    }
    options[o.name] = convert(spec, o, raw);
  }
  return { options, positionals: parsed.positionals, help: parsed.values.help === true };
}

function convert(spec: CommandSpec, o: OptionSpec, raw: string | boolean): string | number | boolean {
  if (o.type === 'boolean' || typeof raw === 'boolean') return raw;
  if (o.optionalValue && raw === '') return true;
  if (o.type === 'number') {
    const n = raw.trim() === '' ? NaN : Number(raw);
    if (!Number.isFinite(n)) throw new ConfigError('ERR_CLI_BAD_VALUE', `--${o.name} expects a number, got "${raw}" (ssas ${spec.name} --help)`, { option: o.name, value: raw });
    if (o.integer && (!Number.isInteger(n) || n < o.integer.min || n > o.integer.max)) {
      throw new ConfigError('ERR_CLI_BAD_VALUE', `--${o.name} expects a whole number from ${o.integer.min} to ${o.integer.max}, got "${raw}"`, { option: o.name, value: raw });
    }
    return n;
  }
  if (o.choices && !o.choices.includes(raw)) {
    throw new ConfigError(
      'ERR_CLI_BAD_VALUE',
      `--${o.name} must be one of ${o.choices.join(', ')}, not "${raw}"${didYouMean(suggest(raw, o.choices))}`,
      { option: o.name, value: raw },
    );
  }
  return raw;
}

/** Turns util.parseArgs's TypeError into a coded error in our words. */
function usageError(spec: CommandSpec, args: string[], config: NodeOptions, err: Error & { code?: string }): ConfigError {
  const help = `(see ssas ${spec.name} --help)`;
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    // Which one: the lenient pass names every option token.
    const { tokens = [] } = nodeParseArgs({ args, options: config, strict: false, allowPositionals: true, tokens: true });
    const unknown = tokens.find((t) => t.kind === 'option' && !(t.name in config));
    const given = unknown && unknown.kind === 'option' ? unknown.rawName.replace(/=.*$/, '') : '';
    const name = given.replace(/^-+/, '');
    const s = suggest(name, Object.keys(config));
    return new ConfigError('ERR_CLI_UNKNOWN_OPTION', `unknown option ${given || '?'} for "ssas ${spec.name}"${didYouMean(s, '--')} ${help}`, { option: given });
  }
  const m = /'(--[\w-]+)/.exec(err.message);
  const opt = m?.[1] ?? '';
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const o = spec.options.find((x) => `--${x.name}` === opt);
    if (o && o.type === 'boolean') return new ConfigError('ERR_CLI_BAD_VALUE', `${opt} takes no value ${help}`, { option: opt });
    return new ConfigError('ERR_CLI_MISSING_VALUE', `${opt || 'an option'} needs a value${o?.arg ? ` (${o.arg})` : ''} ${help}`, { option: opt });
  }
  return new ConfigError('ERR_CLI_USAGE', `${err.message} ${help}`);
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
