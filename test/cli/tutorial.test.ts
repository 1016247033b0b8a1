/**
 * The README's "Your first FMS application", run as written: the commands and shell lines are read from the
 * README (not copied here), so the tutorial cannot rot. The only change is the port: 1935 becomes a free one.
 *
 * Blocks follow a marker comment: `<!-- tutorial: run -->` is a console block whose `$ ` lines run in a shell
 * (a heredoc runs to its end marker) and whose other lines are expected in their output; `terminal` starts
 * its command in a real terminal (tmux) and waits for the lines shown; `shell` types each `app/inst> ` line
 * into that terminal and waits for the lines under it. `ssas` is found on the PATH, as the README says.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { canConnect, freePort, killAllTracked, makeTempDir, removeDir, runTracked, until } from '../support';

const root = path.join(__dirname, '..', '..');
const TMUX = '/usr/bin/tmux';
const socket = `ssas-tutorial-${process.pid}`;

interface Block {
  kind: 'run' | 'terminal' | 'shell';
  text: string;
}

/** The marked blocks of the README's tutorial section, in order. */
function tutorialBlocks(readme: string): Block[] {
  const start = readme.indexOf('\n## Your first FMS application\n');
  expect(start).toBeGreaterThan(0);
  const end = readme.indexOf('\n## ', start + 5);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const blocks: Block[] = [];
  const re = /<!-- tutorial: (run|terminal|shell) -->\n```[a-z]*\n([\s\S]*?)\n```/g;
  for (let m = re.exec(section); m; m = re.exec(section)) blocks.push({ kind: m[1] as Block['kind'], text: m[2]! });
  return blocks;
}

/** `$ ` commands of a console block (heredocs whole) with the output lines shown under each. */
function consoleSteps(text: string): { command: string; expect: string[] }[] {
  const lines = text.split('\n');
  const steps: { command: string; expect: string[] }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('$ ')) {
      let command = line.slice(2);
      const here = /<<'?(\w+)'?\s*$/.exec(command);
      if (here) {
        while (++i < lines.length && lines[i] !== here[1]) command += `\n${lines[i]}`;
        command += `\n${here[1]}`;
      }
      steps.push({ command, expect: [] });
    } else if (line.trim() !== '') {
      expect(steps.length).toBeGreaterThan(0);
      steps[steps.length - 1]!.expect.push(line);
    }
  }
  return steps;
}

let tmp: string;
let bin: string;
let port: number;

beforeAll(async () => {
  tmp = makeTempDir('tutorial');
  bin = makeTempDir('tutorial-bin');
  // `ssas` on the PATH, as `npm link` puts it (test/cli/install.test.ts runs npm link itself).
  fs.symlinkSync(path.join(root, 'scripts', 'ssas.js'), path.join(bin, 'ssas'));
  port = await freePort();
});

afterAll(async () => {
  try {
    execFileSync(TMUX, ['-L', socket, 'kill-server'], { stdio: 'ignore' });
  } catch {
    // already gone
  }
  fs.rmSync(path.join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid!()}`, socket), { force: true });
  await killAllTracked();
  removeDir(tmp);
  removeDir(bin);
});

/** A person's environment: ssas on the PATH, Debian's python3 (python3-librtmp) before others, no npm variables. */
function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'NODE_OPTIONS' && k !== 'INIT_CWD') e[k] = v;
  e.PATH = [bin, '/usr/bin', path.dirname(process.execPath), process.env.PATH].join(path.delimiter);
  e.SSAS_REPL_HISTORY = '';
  return e;
}

it('runs the tutorial of the README as written', async () => {
  const blocks = tutorialBlocks(fs.readFileSync(path.join(root, 'README.md'), 'utf8')).map((b) => ({ ...b, text: b.text.replace(/1935/g, String(port)) }));
  expect(blocks.map((b) => b.kind)).toEqual(['run', 'terminal', 'shell', 'run', 'run', 'shell']);

  const tmux = (...args: string[]): string => execFileSync(TMUX, ['-L', socket, ...args], { encoding: 'utf8', env: env() });
  // The whole pane with its history, wrapped lines joined.
  const screen = (): string => tmux('capture-pane', '-p', '-J', '-S', '-', '-t', 'tutorial');
  const exitFile = path.join(tmp, '.exit-status');

  for (const block of blocks) {
    if (block.kind === 'run') {
      for (const step of consoleSteps(block.text)) {
        const r = await runTracked('bash', ['-e', '-c', step.command], { cwd: tmp, env: env(), timeoutMs: 60_000 });
        expect({ command: step.command, code: r.code, stderr: r.stderr }).toEqual({ command: step.command, code: 0, stderr: expect.any(String) });
        for (const line of step.expect) expect(r.stdout).toContain(line);
      }
    } else if (block.kind === 'terminal') {
      const [step] = consoleSteps(block.text);
      const e = env();
      const cmd = `cd ${JSON.stringify(tmp)} && env PATH=${JSON.stringify(e.PATH)} SSAS_REPL_HISTORY= ${step!.command}; echo $? > ${JSON.stringify(exitFile)}`;
      tmux('new-session', '-d', '-s', 'tutorial', '-x', '200', '-y', '50', cmd);
      let s = '';
      await until(() => step!.expect.every((l) => (s = screen()).includes(l)) && /hello\/_definst_> ?$/m.test(s), 30_000, 'the shell', () => s);
    } else {
      const lines = block.text.split('\n');
      for (let i = 0; i < lines.length; i++) {
        const m = /^([\w-]+\/[\w/-]+)> (.*)$/.exec(lines[i]!);
        if (!m) continue;
        const wanted: string[] = [];
        for (let j = i + 1; j < lines.length && !/^[\w-]+\/[\w/-]+> /.test(lines[j]!); j++) wanted.push(lines[j]!);
        const before = screen().length;
        tmux('send-keys', '-t', 'tutorial', '-l', m[2]!);
        tmux('send-keys', '-t', 'tutorial', 'Enter');
        let s = '';
        // What the line printed: after it was typed, before the prompt comes back.
        await until(
          () => {
            s = screen();
            const at = s.lastIndexOf(`${m[1]}> ${m[2]}`);
            if (at < 0 || s.length < before) return false;
            const after = s.slice(at + m[2]!.length + m[1]!.length + 2);
            return wanted.every((w) => after.split('\n').includes(w)) && new RegExp(`\\n${m[1]!.replace('/', '\\/')}> ?$`).test(after.trimEnd() + ' ');
          },
          20_000,
          `output of ${m[2]}`,
          () => s.slice(-2000),
        );
      }
    }
  }
  // What the prose says the second terminal's clients show in the shell.
  const all = screen();
  expect(all).toContain('trace alice connected from 127.0.0.1');
  expect(all).toContain('trace carol connected from 127.0.0.1');

  // Ctrl-D leaves the shell and stops the server.
  tmux('send-keys', '-t', 'tutorial', 'C-d');
  await until(() => fs.existsSync(exitFile) && fs.readFileSync(exitFile, 'utf8').endsWith('\n'), 15_000, 'exit', () => screen());
  expect(fs.readFileSync(exitFile, 'utf8')).toBe('0\n');
  expect(await canConnect(port)).toBe(false);
}, 120_000);
