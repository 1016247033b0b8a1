/**
 * The command line: options parsed by util.parseArgs from each command's table, refusals with a stable code,
 * a non-zero exit status and the closest valid spelling, through the parser and through the real `ssas`
 * command.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs, suggest, type CommandSpec } from '../../src/cli/args';
import { serveSpec } from '../../src/cli/serve';
import { runSpec } from '../../src/cli/run';
import { isSsasError } from '../../src/errors';
import { SSAS_BIN, killAllTracked, makeTempDir, removeDir, runTracked } from '../support';

afterAll(async () => {
  await killAllTracked();
});

/** The coded error parseArgs throws, or a failure when it does not throw. */
function refusal(spec: CommandSpec, argv: string[]): { code: string; message: string } {
  try {
    parseArgs(spec, argv);
  } catch (err) {
    if (!isSsasError(err)) throw err;
    return { code: err.code, message: err.message };
  }
  throw new Error(`accepted: ${argv.join(' ')}`);
}

describe('parser', () => {
  it('parses the options of a command with defaults, numbers and positionals', () => {
    const a = parseArgs(serveSpec, ['--port', '0', '--log-level=debug', '--apps', 'x', 'extra']);
    expect(a.options).toMatchObject({ port: 0, 'log-level': 'debug', apps: 'x', host: '127.0.0.1', 'chunk-size': 4096 });
    expect(a.positionals).toEqual(['extra']);
    expect(a.help).toBe(false);
    expect(parseArgs(serveSpec, ['-h']).help).toBe(true);
    expect(parseArgs(serveSpec, ['--', '--port']).positionals).toEqual(['--port']);
  });

  it('takes --inspect bare or with a value, never eating the folder after it', () => {
    expect(parseArgs(runSpec, ['--inspect', './app'])).toMatchObject({ options: { inspect: true }, positionals: ['./app'] });
    expect(parseArgs(runSpec, ['./app', '--inspect=9230']).options.inspect).toBe('9230');
    expect(parseArgs(runSpec, ['./app']).options.inspect).toBeUndefined();
  });

  it('refuses unknown options, naming the closest one', () => {
    expect(refusal(serveSpec, ['--prot', '1'])).toEqual({ code: 'ERR_CLI_UNKNOWN_OPTION', message: expect.stringContaining('--prot') });
    expect(refusal(serveSpec, ['--prot', '1']).message).toMatch(/did you mean --port\?/);
    expect(refusal(serveSpec, ['--log-levle=debug']).message).toMatch(/did you mean --log-level\?/);
    // Nothing close: no suggestion.
    expect(refusal(serveSpec, ['--zzzzzzzz']).message).not.toMatch(/did you mean/);
  });

  it('refuses values that are not what the option takes', () => {
    expect(refusal(serveSpec, ['--log-level', 'verbose'])).toEqual({
      code: 'ERR_CLI_BAD_VALUE',
      message: '--log-level must be one of debug, info, warn, error, not "verbose"',
    });
    expect(refusal(serveSpec, ['--log-level', 'wran']).message).toMatch(/did you mean warn\?/);
    expect(refusal(serveSpec, ['--port', 'abc']).code).toBe('ERR_CLI_BAD_VALUE');
    expect(refusal(serveSpec, ['--port', '70000']).message).toMatch(/whole number from 0 to 65535/);
    expect(refusal(serveSpec, ['--port', '1.5']).code).toBe('ERR_CLI_BAD_VALUE');
    expect(refusal(serveSpec, ['--port'])).toEqual({ code: 'ERR_CLI_MISSING_VALUE', message: expect.stringMatching(/^--port needs a value/) });
  });

  it('suggests only near misses', () => {
    expect(suggest('serv', ['serve', 'repl', 'run', 'check', 'repair'])).toBe('serve');
    expect(suggest('reapir', ['serve', 'repl', 'run', 'check', 'repair'])).toBe('repair');
    expect(suggest('verbose', ['debug', 'info', 'warn', 'error'])).toBeNull();
  });
});

describe('the ssas command', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = makeTempDir('cli-args');
  });
  afterAll(() => removeDir(tmp));

  const ssas = (...args: string[]) => runTracked(process.execPath, ['--no-node-snapshot', SSAS_BIN, ...args], { cwd: tmp, timeoutMs: 20_000 });

  it('refuses an --apps folder that does not exist instead of serving nothing', async () => {
    const r = await ssas('serve', '--port', '0', '--apps', path.join(tmp, 'no', 'such', 'folder'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--apps .*no\/such\/folder: no such folder .*\[ERR_APPS_DIR_NOT_FOUND\]/);
    expect(r.stdout).not.toMatch(/listening/);
    fs.writeFileSync(path.join(tmp, 'file'), 'x');
    const f = await ssas('repl', '--port', '0', '--apps', path.join(tmp, 'file'), 'chat');
    expect(f.code).toBe(1);
    expect(f.stderr).toMatch(/is not a folder .*\[ERR_APPS_DIR_NOT_FOUND\]/);
  });

  it('refuses an unknown log level with status 2', async () => {
    const r = await ssas('serve', '--port', '0', '--log-level', 'verbose');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--log-level must be one of debug, info, warn, error, not "verbose" \[ERR_CLI_BAD_VALUE\]/);
    expect(r.stdout).not.toMatch(/listening/);
  });

  it('suggests the closest flag and command', async () => {
    const flag = await ssas('serve', '--prot', '1936');
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/unknown option --prot for "ssas serve" \(did you mean --port\?\)/);
    const cmd = await ssas('serv');
    expect(cmd.code).toBe(2);
    expect(cmd.stderr).toMatch(/unknown command "serv" \(did you mean .*ssas serve.*\?\) \[ERR_CLI_UNKNOWN_COMMAND\]/);
    const none = await ssas('frobnicate');
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/Usage:/);
  });
});
