/**
 * The shell core: reads statements from an input stream, evaluates them in the attached instance, prints
 * results and the instance's events to an output stream. No process streams in here: the terminal file
 * (terminal.ts) or a test hands them in, like Node's REPL takes `input`/`output`.
 *
 * Two modes:
 *  - interactive (a terminal): line editing, history, tab completion, multi-line continuation, colour;
 *    events print above the prompt and the line being typed is drawn again below them.
 *  - piped (a file or a pipe): one result per line, no colour, top-level strings without quotes, events on
 *    the error stream (trace output on the output stream), exit status 1 when any statement threw.
 */
import * as readline from 'node:readline';
import chalk, { type Chalk } from 'chalk';
import { formatThrown, formatValue, type EvalOutcome, type FormatOptions, type ValueNode } from './format';
import { prepareInput, scriptSyntaxError } from './recoverable';
import { describeError, type ShellEvent, type ShellSession } from './session';
import { completionTarget, KEYWORDS } from './complete';
import { DEFAULT_HISTORY_SIZE, loadHistory, saveHistory } from './history';
import { findCommand, completeCommand, type ShellContext } from './commands';
import type { ShellClient } from './test-client';

export interface ShellOptions {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** Where events and notices go in piped mode (stderr); `output` when absent. */
  errorOutput?: NodeJS.WritableStream;
  /** A person at a terminal (line editing, prompt, colour allowed) or statements from a pipe/file. */
  interactive: boolean;
  colors: boolean;
  session: ShellSession;
  /** The server's URL (rtmp://host:port), for `.connect APP` and the banner. */
  serverUrl: string;
  /** History file (interactive mode); null for none. */
  historyFile?: string | null;
  historySize?: number;
  /** Folder relative file names (`.load`, `.publish`) are resolved against. */
  cwd: string;
  /** Terminal width when the output is not a TTY stream that knows its own. */
  columns?: number;
}

export class Shell implements ShellContext {
  readonly session: ShellSession;
  readonly interactive: boolean;
  readonly chalk: Chalk;
  readonly serverUrl: string;
  readonly cwd: string;
  client: ShellClient | null = null;
  showTrace = true;
  #input: NodeJS.ReadableStream;
  #output: NodeJS.WritableStream;
  #errors: NodeJS.WritableStream;
  #rl: readline.Interface | null = null;
  #historyFile: string | null;
  #historySize: number;
  #queue: string[] = [];
  #busy = false;
  #prompting = false;
  #buffer = '';
  #count = 0;
  #failed = false;
  #inputClosed = false;
  #finished = false;
  #sigint = false;
  #resolve: ((code: number) => void) | null = null;

  constructor(opts: ShellOptions) {
    this.session = opts.session;
    this.interactive = opts.interactive;
    this.serverUrl = opts.serverUrl;
    this.cwd = opts.cwd;
    this.#input = opts.input;
    this.#output = opts.output;
    this.#errors = opts.errorOutput ?? opts.output;
    this.#historyFile = opts.interactive ? (opts.historyFile ?? null) : null;
    this.#historySize = opts.historySize ?? DEFAULT_HISTORY_SIZE;
    // Piped output is for files and other programs: never coloured.
    this.chalk = new chalk.Instance({ level: opts.colors && opts.interactive ? (chalk.level > 0 ? chalk.level : 1) : 0 });
    if (opts.columns !== undefined && (this.#output as { columns?: number }).columns === undefined) {
      (this.#output as { columns?: number }).columns = opts.columns;
    }
    this.session.onEvent = (ev) => this.event(ev);
  }

  get formatOptions(): FormatOptions {
    return { chalk: this.chalk, rawStrings: !this.interactive };
  }

  get prompt(): string {
    if (this.#buffer !== '') return this.chalk.gray('... ');
    return this.chalk.cyan(`${this.session.name ?? 'ssas'}> `);
  }

  /** Runs until the input ends, `.exit` or Ctrl-D; resolves with the exit status. */
  run(): Promise<number> {
    return new Promise<number>((resolve) => {
      this.#resolve = resolve;
      const rl = this.interactive
        ? readline.createInterface({
            input: this.#input,
            output: this.#output,
            terminal: true,
            prompt: this.prompt,
            completer: (line: string, cb: (err: Error | null, r: [string[], string]) => void) => {
              this.complete(line).then(
                (r) => cb(null, r),
                () => cb(null, [[], line]),
              );
            },
            history: loadHistory(this.#historyFile, this.#historySize),
            historySize: this.#historySize,
            removeHistoryDuplicates: true,
            tabSize: 2,
          })
        : readline.createInterface({ input: this.#input, terminal: false, crlfDelay: Infinity });
      this.#rl = rl;
      rl.on('line', (line: string) => {
        this.#prompting = false;
        this.#sigint = false;
        this.#queue.push(line);
        void this.#drain();
      });
      rl.on('close', () => {
        this.#inputClosed = true;
        if (this.interactive && !this.#finished) this.#output.write('\n');
        void this.#drain();
      });
      if (this.interactive) {
        rl.on('history', (h: string[]) => saveHistory(this.#historyFile, h, this.#historySize));
        rl.on('SIGINT', () => this.#onInterrupt());
        this.#showPrompt();
      }
    });
  }

  // ----- output -------------------------------------------------------------------------------------------

  /** A line of the shell's own output (results, command listings). */
  print(text: string): void {
    this.#output.write(text + '\n');
  }

  printValue(node: ValueNode): void {
    this.print(formatValue(node, this.formatOptions));
  }

  printError(text: string): void {
    this.print(this.chalk.red(text));
  }

  /** An event of the instance or of the test client, printed without disturbing the line being typed. */
  event(ev: ShellEvent): void {
    if (this.#finished) return;
    if (ev.kind === 'trace' && !this.showTrace) return;
    const c = this.chalk;
    if (!this.interactive) {
      if (ev.kind === 'trace') this.#output.write(ev.text + '\n');
      else this.#errors.write(`${ev.kind === 'error' ? '! ' : '* '}${ev.text}\n`);
      return;
    }
    const text = ev.kind === 'trace' ? c.cyan('trace ') + ev.text : ev.kind === 'error' ? c.red(`! ${ev.text}`) : c.gray(`* ${ev.text}`);
    this.#printAbove(text);
  }

  /** A notice about the shell itself (banner, hints): the error stream in piped mode. */
  notice(text: string): void {
    if (this.interactive) this.#printAbove(this.chalk.gray(text));
    else this.#errors.write(text + '\n');
  }

  #printAbove(text: string): void {
    const rl = this.#rl;
    const out = this.#output;
    if (!rl || !this.#prompting) {
      out.write(text + '\n');
      return;
    }
    // Clear the prompt and the typed line (which may span rows), print, then let readline draw them again.
    // readline moves up as many rows as the cursor was below the prompt's first row before redrawing, so
    // the same number of line feeds follow the text.
    const rows = rl.getCursorPos().rows;
    if (rows > 0) readline.moveCursor(out, 0, -rows);
    readline.cursorTo(out, 0);
    readline.clearScreenDown(out);
    out.write(text + '\n' + '\n'.repeat(rows));
    rl.prompt(true);
  }

  #showPrompt(): void {
    const rl = this.#rl;
    if (!rl || !this.interactive || this.#finished) return;
    rl.setPrompt(this.prompt);
    this.#prompting = true;
    rl.prompt(true);
  }

  // ----- input --------------------------------------------------------------------------------------------

  async #drain(): Promise<void> {
    if (this.#busy || this.#finished) return;
    this.#busy = true;
    try {
      while (this.#queue.length > 0 && !this.#finished) await this.#handle(this.#queue.shift()!);
      if (this.#inputClosed && !this.#finished) {
        if (this.#buffer !== '') await this.#unfinished();
        this.finish();
        return;
      }
    } finally {
      this.#busy = false;
    }
    this.#showPrompt();
  }

  async #handle(line: string): Promise<void> {
    if (this.#buffer === '' && isDotCommand(line)) {
      await this.#command(line.trim());
      return;
    }
    const code = this.#buffer === '' ? line : `${this.#buffer}\n${line}`;
    if (code.trim() === '') {
      this.#buffer = '';
      return;
    }
    const filename = `REPL${this.#count + 1}`;
    const prep = prepareInput(code, filename);
    if (prep.kind === 'incomplete') {
      this.#buffer = code;
      return;
    }
    this.#buffer = '';
    this.#count++;
    if (prep.kind === 'syntax') {
      this.#failed = true;
      this.print(formatThrown({ error: prep.error }, this.formatOptions));
      return;
    }
    await this.evaluate(prep.code, filename);
  }

  /** Input ended inside a statement: report it as the syntax error it is. */
  async #unfinished(): Promise<void> {
    const filename = `REPL${++this.#count}`;
    const error = scriptSyntaxError(this.#buffer, filename) ?? { description: 'SyntaxError: Unexpected end of input', filename, lineno: 1 };
    this.#buffer = '';
    this.#failed = true;
    this.print(formatThrown({ error }, this.formatOptions));
  }

  /** Evaluates code in the instance and prints the outcome. Returns it (undefined when the host failed). */
  async evaluate(code: string, filename: string): Promise<EvalOutcome | undefined> {
    this.#warnIfUninterruptible();
    let out: EvalOutcome;
    try {
      out = await this.session.evaluate(code, filename);
    } catch (err) {
      this.#failed = true;
      this.printError(`Error: ${describeError(err)}`);
      return undefined;
    }
    this.report(out);
    return out;
  }

  report(out: EvalOutcome): void {
    if (out.ok) {
      this.printValue(out.value);
    } else {
      this.#failed = true;
      this.print(formatThrown(out, this.formatOptions));
    }
  }

  async #command(line: string): Promise<void> {
    const m = /^\.(\S*)\s*([\s\S]*)$/.exec(line)!;
    const cmd = findCommand(m[1]!);
    if (!cmd) {
      this.#failed = true;
      this.printError(`Invalid shell command: .${m[1]} (see .help)`);
      return;
    }
    try {
      await cmd.run(this, m[2]!.trim());
    } catch (err) {
      this.#failed = true;
      this.printError(`.${cmd.name}: ${describeError(err)}`);
    }
  }

  #warnedUninterruptible = false;

  /**
   * Before anything that can block runs in an instance whose statements Ctrl-C cannot stop (its isolate was
   * not made interruptible), say so once, with the limit that does stop them.
   */
  #warnIfUninterruptible(): void {
    if (!this.interactive || this.#warnedUninterruptible || this.session.interruptible !== false) return;
    this.#warnedUninterruptible = true;
    const limit = this.session.statementTimeoutSec;
    this.notice(
      `(Ctrl-C cannot stop a statement in ${this.session.name}: ` +
        (limit > 0 ? `one that runs longer than ${limit} s is stopped (--statement-timeout))` : 'statements have no time limit here (--statement-timeout 0))'),
    );
  }

  /** Marks the session as failed (piped mode exits with 1). */
  fail(): void {
    this.#failed = true;
  }

  /** Drops a statement being continued over several lines (`.break`). */
  breakStatement(): void {
    this.#buffer = '';
  }

  #onInterrupt(): void {
    const rl = this.#rl!;
    if (this.#busy) {
      // A statement (or .load) being evaluated stops; a dot-command waiting for the network ends by itself.
      if (this.session.interrupt()) this.#printAbove(this.chalk.yellow('(interrupting the statement)'));
      else this.#printAbove(this.chalk.yellow('(still running: this command cannot be interrupted; it ends by itself)'));
      return;
    }
    const typed = (rl as unknown as { line: string }).line;
    if (this.#buffer !== '' || typed !== '') {
      this.#buffer = '';
      this.#sigint = false;
      clearLine(rl, this.#output);
      this.#showPrompt();
      return;
    }
    if (this.#sigint) {
      rl.close();
      return;
    }
    this.#sigint = true;
    clearLine(rl, this.#output);
    this.#output.write(this.chalk.gray('(To exit, press Ctrl+C again or Ctrl+D or type .exit)') + '\n');
    this.#showPrompt();
  }

  // ----- completion ---------------------------------------------------------------------------------------

  async complete(line: string): Promise<[string[], string]> {
    if (this.#buffer === '' && /^\s*\./.test(line)) return completeCommand(this, line);
    const target = completionTarget(line);
    if (!target) return [[], line];
    let names = await this.session.complete(target.path, target.prefix);
    if (target.path.length === 0) names = Array.from(new Set([...names, ...KEYWORDS.filter((k) => k.startsWith(target.prefix))])).sort();
    return [names, target.prefix];
  }

  // ----- end ----------------------------------------------------------------------------------------------

  /** Ends the shell (`.exit`, end of input, Ctrl-D). */
  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#prompting = false;
    this.client?.close();
    this.client = null;
    const rl = this.#rl;
    if (rl && !this.#inputClosed) {
      this.#inputClosed = true;
      rl.close();
    }
    this.#resolve?.(this.interactive ? 0 : this.#failed ? 1 : 0);
  }
}

/** `.help` but not `.5` or `..`: Node's REPL rule. */
function isDotCommand(line: string): boolean {
  const t = line.trim();
  return t.startsWith('.') && t[1] !== '.' && Number.isNaN(Number.parseFloat(t));
}

function clearLine(rl: readline.Interface, out: NodeJS.WritableStream): void {
  // Interface#clearLine (moves to the end, new line, empties the buffer) is what Node's REPL uses on Ctrl-C.
  const r = rl as unknown as { clearLine?: () => void };
  if (typeof r.clearLine === 'function') r.clearLine();
  else out.write('\n');
}
