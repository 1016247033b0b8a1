/**
 * The shell core driven through in-memory streams against a real server: evaluation and printing,
 * multi-line statements, completion from the sandbox, history across sessions, the dot-commands with the
 * shell's own test client, events printed above the line being typed, a statement stopped by the time
 * limit, Ctrl-C, Ctrl-D, and piped mode.
 */
import * as fs from 'fs';
import * as path from 'path';
import { PassThrough } from 'stream';
import { RtmpClient } from '../../src/net/rtmp-client';
import { replCommand } from '../../src/cli/repl';
import { makeTempDir, removeDir, until } from '../support';
import { fixtureApps, openShell, sampleFlv, startBed, Term, type Bed, type OpenShell } from './repl-helpers';

let bed: Bed;
let tmp: string;
const open: OpenShell[] = [];
const clients: RtmpClient[] = [];

beforeAll(async () => {
  bed = await startBed();
  tmp = makeTempDir('repl-shell');
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of open.splice(0)) await s.close();
});

afterAll(async () => {
  await bed.close();
  removeDir(tmp);
});

async function shell(opts: Parameters<typeof openShell>[1] = {}): Promise<OpenShell> {
  const s = await openShell(bed, opts);
  open.push(s);
  return s;
}

async function client(args: unknown[] = ['tester'], app = 'shell'): Promise<RtmpClient> {
  const c = await RtmpClient.connect(`${bed.url}/${app}`, { args: args as never[] });
  clients.push(c);
  return c;
}

describe('evaluation', () => {
  it('prints values, host objects and errors with file and line', async () => {
    const { term } = await shell();
    await term.expect(/shell\/_definst_> $/);
    expect(await term.run('double(21)')).toBe('42\n');
    expect(await term.run('greeting')).toBe("'hello'\n");
    expect(await term.run('({ list: [1, "two", null], when: new Date(0) })')).toBe("{ list: [ 1, 'two', null ], when: 1970-01-01T00:00:00.000Z }\n");
    expect(await term.run('fail("why")')).toBe('Uncaught Error: failed in main: why\n    at main.asc:10  throw new Error("failed in main: " + why);\n');
    expect(await term.run('nope')).toMatch(/^Uncaught ReferenceError: nope is not defined\n {4}at REPL\d+:1 {2}nope\n$/);
    expect(await term.run('1 +* 2')).toMatch(/^Uncaught SyntaxError: Unexpected token '\*'\n {4}at REPL\d+:1/);
    expect(await term.run('Stream.get("cam")')).toBe("Stream { name: 'cam', bufferTime: 2, state: 'idle' }\n");
    expect(await term.run('double')).toBe('[Function: double]\n');
    term.mark();
    await client(['alice']);
    await term.expect(/client \w+ connected/);
    expect(await term.run('application.clients[0]')).toMatch(/^Client \{\n {2}id: '\w+',\n {2}ip: '127\.0\.0\.1',\n {2}agent: 'WIN 10,0,32,18',\n {2}nick: 'alice'\n\}\n$/);
    expect(await term.run('application.clients[0].ip')).toBe("'127.0.0.1'\n");
    // Values that fight inspection: nothing runs getters, throwing traps do not break the answer.
    expect(await term.run('({ get spin() { for (;;) {} }, n: 1 })')).toBe('{ spin: [Getter], n: 1 }\n');
    expect(await term.run('new Proxy({}, { ownKeys: function () { throw 1; }, getPrototypeOf: function () { throw 2; }, get: function () { throw 3; } })')).toBe(
      '[uninspectable value]\n',
    );
    expect(await term.run('let kept = 5')).toBe('undefined\n');
    expect(await term.run('kept')).toBe('5\n');
  });

  it('continues unfinished statements on the next lines; .break drops one', async () => {
    const { term } = await shell();
    await term.expect(/> $/);
    term.mark();
    term.type('function tri(x) {\r');
    await term.expect(/\.\.\. $/);
    term.type('  return x * 3;\r');
    await term.expect(/\.\.\. \s*return x \* 3;\n\.\.\. $/);
    term.type('}\r');
    await term.expect(/shell\/_definst_> $/);
    expect(await term.run('tri(3)')).toBe('9\n');
    term.type('var half = [1,\r');
    await term.expect(/\.\.\. $/);
    await term.run('.break');
    expect(await term.run('typeof half')).toBe("'undefined'\n");
  });

  it('completes globals, properties and host-object members from the sandbox', async () => {
    const { term, shell: sh } = await shell();
    await term.expect(/> $/);
    await client(['bob']);
    expect(await sh.complete('gree')).toEqual([['greeting'], 'gree']);
    const [props] = await sh.complete('application.cl');
    expect(props).toEqual(['clearSharedObjects', 'clearStreams', 'clients']);
    const [members] = await sh.complete('application.clients[0].');
    expect(members).toEqual(expect.arrayContaining(['agent', 'call', 'id', 'ip', 'nick', 'ping', 'readAccess', 'hello', 'add']));
    expect(members.some((n) => n.startsWith('__ssas'))).toBe(false);
    expect((await sh.complete('Stream.g'))[0]).toEqual(['get', 'getOnMetaData']);
    // Completion never runs a getter (this one would spin until the time limit).
    await term.run('var trap = { get spin() { for (;;) {} }, inner: { deep: 1 } }');
    expect((await sh.complete('trap.spin.'))[0]).toEqual([]);
    expect((await sh.complete('trap.inner.d'))[0]).toEqual(['deep']);
    expect((await sh.complete('greeting.toUpp'))[0]).toEqual(['toUpperCase']);
    expect((await sh.complete('.cl'))[0]).toEqual(['.clients']);
    expect((await sh.complete('.use sh'))[0]).toEqual(expect.arrayContaining(['shell', 'shell/_definst_']));
    // Through the keyboard: one Tab completes the unique name.
    term.mark();
    term.type('applic\t');
    await term.expect('application');
    term.type('.name\r');
    await term.expect(/'shell\/_definst_'\n/);
  });
});

describe('history', () => {
  it('is saved to the history file and recalled with the Up key in the next session', async () => {
    const file = path.join(tmp, 'history');
    const first = await shell({ historyFile: file });
    await first.term.expect(/> $/);
    await first.term.run('double(50)');
    await first.term.run('greeting');
    first.term.type('\x04');
    expect(await first.done).toBe(0);
    expect(fs.readFileSync(file, 'utf8')).toBe('double(50)\ngreeting\n');
    const second = await shell({ historyFile: file });
    await second.term.expect(/> $/);
    second.term.mark();
    second.term.type('\x1b[A\x1b[A\r');
    await second.term.expect(/100\n/);
  });
});

describe('dot-commands', () => {
  it('.help lists every command from the command table', async () => {
    const { term } = await shell();
    await term.expect(/> $/);
    const out = await term.run('.help');
    for (const name of ['help', 'apps', 'use', 'clients', 'streams', 'so', 'load', 'reload', 'connect', 'call', 'publish', 'play', 'trace', 'exit']) {
      expect(out).toMatch(new RegExp(`^\\.${name}\\b`, 'm'));
    }
    expect(await term.run('.nope')).toBe('Invalid shell command: .nope (see .help)\n');
    expect(await term.run('.5')).toBe('0.5\n');
  });

  it('.apps, .use, .clients, .streams, .so', async () => {
    const { term } = await shell();
    await term.expect(/> $/);
    expect(await term.run('.apps')).toMatch(/^broken {2}not loaded\nplain {2}not loaded\nshell {2}\*shell\/_definst_ \(running, 0 clients\)\n$/);
    expect(await term.run('.clients')).toBe('no clients\n');
    // The shell notices clients and streams on its own timer: wait for each notice, so that it is not
    // printed in the middle of a later command's output.
    term.mark();
    const c = await client(['carol']);
    await term.expect(/\* client \w+ connected from 127\.0\.0\.1/);
    const rows = await term.run('.clients');
    expect(rows).toMatch(/^id\s+state\s+ip\s+agent\s+bytes in\/out\n\w+\s+connected\s+127\.0\.0\.1\s+WIN 10,0,32,18\s+\d+\/\d+\n$/);
    expect(await term.run('.streams')).toBe('no streams\n');
    const s = await c.createStream();
    term.mark();
    await s.publish('live1');
    await term.expect(/\* stream live1 published by/);
    expect(await term.run('.streams')).toMatch(/^name\s+state\s+publisher.*\nlive1\s+publishing\s+127\.0\.0\.1:\d+ \(\w+\) stream 1 \(live1\)\s+0\s+[\d.]+s\s+0\n$/);
    expect(await term.run('Stream.get("live1").state')).toBe('undefined\n');
    expect(await term.run('Stream.get("live1")')).toMatch(/state: 'publishing \(127\.0\.0\.1:\d+ \(\w+\) stream 1 \(live1\)\)'/);
    expect(await term.run('.so')).toBe('none: no shared objects in this instance\n');
    await term.run('var so = SharedObject.get("room", false); so.setProperty("topic", "tests"); so.size()');
    expect(await term.run('.so')).toMatch(/^name\s+persistent\s+version\s+slots\s+subscribers\nroom\s+no\s+\d+\s+1\s+0\n$/);
    // Another instance, and applications the shell cannot evaluate in.
    expect(await term.run('.use shell/room2', /shell\/room2> $/)).toBe('trace started shell/room2\nnow in shell/room2 (running)\n');
    expect(await term.run('application.name', /shell\/room2> $/)).toBe("'shell/room2'\n");
    expect(await term.run('.use plain', /plain\/_definst_> $/)).toBe('now in plain/_definst_ (running)\n');
    expect(await term.run('1', /plain\/_definst_> $/)).toBe('Error: plain/_definst_ has no script (no main.asc): there is nothing to evaluate [ERR_REPL_NO_SCRIPT]\n');
    const broken = await term.run('.use broken', /plain\/_definst_> $/);
    expect(broken).toBe(".use: main.asc:3: SyntaxError: Unexpected identifier 'ok' (return ok;) [ERR_SCRIPT_SYNTAX]\n");
    expect(await term.run('.use shell')).toBe('now in shell/_definst_ (running)\n');
  });

  it('.load runs a file in the instance; .reload restarts it with the script on disk', async () => {
    const file = path.join(tmp, 'extra.asc');
    fs.writeFileSync(file, 'var extra = double(4);\ntrace("extra loaded");\nfunction bad() { throw new Error("in extra"); }\n');
    const { term } = await shell({ cwd: tmp });
    await term.expect(/> $/);
    const out = await term.run('.load extra.asc');
    expect(out).toBe('trace extra loaded\nundefined\n');
    expect(await term.run('extra')).toBe('8\n');
    expect(await term.run('bad()')).toBe('Uncaught Error: in extra\n    at extra.asc:3  function bad() { throw new Error("in extra"); }\n');
    fs.writeFileSync(path.join(tmp, 'bad.asc'), 'var x = ;\n');
    expect(await term.run('.load bad.asc')).toBe("Uncaught SyntaxError: Unexpected token ';'\n    at bad.asc:1  var x = ;\n");
    expect(await term.run('.load missing.asc')).toMatch(/^\.load: script .*missing\.asc not found \[ERR_SCRIPT_NOT_FOUND\]\n$/);

    await term.run('greeting = "changed"');
    const main = path.join(bed.appsDir, 'shell', 'main.asc');
    const original = fs.readFileSync(main, 'utf8');
    fs.writeFileSync(main, original.replace('var greeting = "hello";', 'var greeting = "reloaded";'));
    try {
      term.mark();
      const c = await client(['dave']);
      await term.expect(/\* client \w+ connected from/);
      const codes: string[] = [];
      c.onStatus = (i) => codes.push(i.code);
      term.mark();
      term.type('.reload\r');
      await term.expect(/shell\/_definst_ reloaded\n/);
      await term.expect(/trace started shell\/_definst_\n/);
      expect(await term.run('greeting')).toBe("'reloaded'\n");
      expect(await term.run('loads')).toBe('1\n');
      await until(() => codes.includes('NetConnection.Connect.AppShutdown'));
    } finally {
      fs.writeFileSync(main, original);
    }
    // Leave the instance as the file is again, for the tests after this one.
    expect(await term.run('.reload')).toMatch(/shell\/_definst_ reloaded/);
  });

  it('.connect, .call, .publish, .play, .stop, .disconnect with the shell test client', async () => {
    const { term } = await shell({ cwd: path.dirname(sampleFlv) });
    await term.expect(/> $/);
    expect(await term.run('.call hello')).toBe('.call: no test client: .connect first [ERR_REPL_NO_CLIENT]\n');
    const connected = await term.run('.connect shell "eve"');
    expect(connected).toContain(`test client connected to ${bed.url}/shell\n`);
    await term.expect(/trace connect eve\n/);
    term.mark();
    term.type('.call hello "frank"\r');
    await term.expect(/trace hello from frank\n/);
    await term.expect(/'hi frank'\n/);
    expect(await term.run('.call add 2 {a: 1}')).toBe("'2[object Object]'\n");
    expect(await term.run('.call nosuch')).toMatch(/^call failed: \{\s+level: 'error',\s+code: 'NetConnection\.Call\.Failed',\s+description: 'Method not found \(nosuch\)\.'\s+\}\n$/);
    expect(await term.run('application.clients[0].nick')).toBe("'eve'\n");

    term.mark();
    term.type('.publish sample.flv cam\r');
    await term.expect(/publishing sample\.flv as cam\n/);
    await term.expect(/test client publish cam: NetStream\.Publish\.Start/);
    await term.expect(/stream cam published by /, 3000);
    expect(await term.run('.streams')).toMatch(/^name.*\ncam\s+publishing\s/);
    term.mark();
    term.type('.play cam\r');
    await term.expect(/test client play cam: NetStream\.Play\.Start/);
    await new Promise((r) => setTimeout(r, 600));
    const counts = await term.run('.play');
    const m = /^cam: (\d+) video, (\d+) audio, (\d+) data messages; .*NetStream\.Play\.Start/.exec(counts);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(0);
    expect(Number(m![2])).toBeGreaterThan(0);
    term.mark();
    term.type('.stop\r');
    await term.expect(/test client published cam: \d+ video and \d+ audio messages \(stopped\)/);
    await term.expect(/stream cam unpublished/, 3000);
    await term.run('.disconnect');
    await term.expect(/client \w+ disconnected/, 3000);
  }, 20_000);

  it('.trace off hides trace output; .exit leaves', async () => {
    const { term, done } = await shell();
    await term.expect(/> $/);
    expect(await term.run('trace("seen")')).toBe('trace seen\nundefined\n');
    expect(await term.run('.trace off')).toBe('trace output off\n');
    expect(await term.run('trace("hidden")')).toBe('undefined\n');
    await term.run('.trace on');
    term.type('.exit\r');
    expect(await done).toBe(0);
  });
});

describe('events while the prompt waits', () => {
  it('prints trace output above the prompt and draws the line being typed again', async () => {
    const { term } = await shell();
    await term.expect(/> $/);
    term.mark();
    const c = await client(['gina']);
    await term.expect(/trace connect gina\n/);
    await term.expect(/\* client \w+ connected from/);
    term.mark();
    term.type('double(');
    await term.expect(/double\($/);
    term.mark();
    void c.call('hello', 'henry');
    await term.expect(/trace hello from henry\nshell\/_definst_> double\($/);
    term.type('5)\r');
    await term.expect(/^.*10\n/m);
    expect(term.fresh).toMatch(/double\(5\)\n10\n/);
  });

  it('shows a client connecting and leaving', async () => {
    const { term } = await shell();
    await term.expect(/> $/);
    term.type('appl');
    term.mark();
    const c = await client(['ivan']);
    await term.expect(/\* client (\w+) connected from 127\.0\.0\.1 \(WIN 10,0,32,18\)\nshell\/_definst_> appl$/);
    term.mark();
    c.close();
    await term.expect(/\* client \w+ disconnected\nshell\/_definst_> appl$/);
    term.type('\x03');
  });
});

describe('limits and keys', () => {
  it('Ctrl-C stops a statement that never ends, and only it: the instance and a connected client stay as they were', async () => {
    const { term } = await shell();
    await term.expect(/> $/);
    const c = await client(['stays']);
    const loads = bed.server.instances.get('shell/_definst_')!;
    await term.run('var counter = 41');
    term.mark();
    const started = Date.now();
    // Longer than the instance's MaxTimeOut (1 s): that watchdog does not count a shell statement.
    term.type('trace("looping"); Stream.length("none"); while (true) { counter = 41 }\r');
    await term.expect(/trace looping/);
    await new Promise((r) => setTimeout(r, 1200));
    term.type('\x03');
    await term.expect(/\(interrupting the statement\)/);
    await term.expect(/Error: interrupted: the statement was stopped; shell\/_definst_ and its clients are as they were \[ERR_REPL_INTERRUPTED\]\n/, 5000);
    expect(Date.now() - started).toBeLessThan(5000);
    // The same instance, its globals and its client: nothing was unloaded.
    expect(bed.server.instances.get('shell/_definst_')).toBe(loads);
    expect(term.fresh).not.toMatch(/unloaded|loaded again|AppShutdown/);
    expect(await term.run('counter + 1')).toBe('42\n');
    expect(c.closed).toBe(false);
    expect(await c.call('hello', 'after')).toBe('hi after');
    c.close();
  }, 20_000);

  it('a statement past --statement-timeout is stopped; the instance stays', async () => {
    const { term } = await shell({ statementTimeoutSec: 0.5 });
    await term.expect(/> $/);
    const inst = bed.server.instances.get('shell/_definst_');
    const out = await term.run('for (;;) {}', /shell\/_definst_> $/, 5000);
    expect(out).toMatch(/Error: the statement ran for 0\.5 s and was stopped \(ssas repl --statement-timeout\); shell\/_definst_ and its clients are as they were \[ERR_REPL_STATEMENT_TIMEOUT\]\n/);
    expect(bed.server.instances.get('shell/_definst_')).toBe(inst);
    expect(await term.run('greeting')).toBe("'hello'\n");
  }, 20_000);

  it('client calls that arrive while a statement runs wait for it, then are answered', async () => {
    const { term } = await shell();
    await term.expect(/> $/);
    const c = await client(['waits']);
    term.mark();
    // The host call hands the trace over at once: seeing it means the statement runs.
    term.type('trace("spinning"); Stream.length("none"); var until = Date.now() + 800; while (Date.now() < until) {}\r');
    await term.expect(/trace spinning/);
    const t0 = Date.now();
    expect(await c.call('hello', 'late')).toBe('hi late');
    expect(Date.now() - t0).toBeGreaterThan(300);
    await term.expect(/shell\/_definst_> $/);
    c.close();
  }, 20_000);

  it('where statements cannot be interrupted, the shell says so before running one, with the limit that stops them', async () => {
    const plain = await startBed({ interruptible: false });
    try {
      const s = await openShell(plain, { statementTimeoutSec: 0.5 });
      await s.term.expect(/> $/);
      const out = await s.term.run('for (;;) {}');
      expect(out).toMatch(/^\(Ctrl-C cannot stop a statement in shell\/_definst_: one that runs longer than 0\.5 s is stopped \(--statement-timeout\)\)\n/);
      expect(out).toMatch(/ERR_REPL_STATEMENT_TIMEOUT/);
      // Said once.
      expect(await s.term.run('1 + 1')).toBe('2\n');
      await s.close();
    } finally {
      await plain.close();
    }
  }, 20_000);

  it('Ctrl-C cancels the line being typed; twice on an empty line leaves', async () => {
    const { term, done } = await shell();
    await term.expect(/> $/);
    term.type('double(99');
    term.type('\x03');
    expect(await term.run('double(1)')).toBe('2\n');
    term.type('function open() {\r');
    await term.expect(/\.\.\. $/);
    term.mark();
    term.type('\x03');
    await term.expect(/shell\/_definst_> $/);
    expect(await term.run('typeof open')).toBe("'undefined'\n");
    term.mark();
    term.type('\x03');
    await term.expect(/To exit, press Ctrl\+C again/);
    term.type('\x03');
    expect(await done).toBe(0);
  });
});

describe('piped mode', () => {
  it('prints one result per line without colour and exits 1 when a statement threw', async () => {
    const { term, done } = await shell({ interactive: false, colors: true });
    term.input.end('greeting\ndouble(2)\nfunction f() {\n  return "multi";\n}\nf()\nfail("x")\n.so\nvar open = [1,\n');
    expect(await done).toBe(1);
    expect(term.raw).toBe(
      [
        'hello',
        '4',
        'undefined',
        'multi',
        'Uncaught Error: failed in main: x',
        '    at main.asc:10  throw new Error("failed in main: " + why);',
        'none: no shared objects in this instance',
        'Uncaught SyntaxError: Unexpected end of input',
        '    at REPL6:1  var open = [1,',
        '',
      ].join('\n'),
    );
  });

  it('exits 0 when nothing threw', async () => {
    const { term, done } = await shell({ interactive: false });
    term.input.end('1 + 1\n');
    expect(await done).toBe(0);
    expect(term.raw).toBe('2\n');
  });
});

describe('ssas repl command (in-memory terminal)', () => {
  it('Ctrl-D leaves the shell and stops the server', async () => {
    const term = new Term();
    const errors = new PassThrough();
    const code = replCommand(
      ['--apps', fixtureApps, '--port', '0', 'shell'],
      { input: term.input, output: term.output, errorOutput: errors, interactive: true, columns: 100 },
      { SSAS_REPL_HISTORY: '' },
    );
    await term.expect(/shell\/_definst_> $/, 10_000);
    const url = /ssas listening on (rtmp:\/\/\S+)/.exec(term.text)![1]!;
    const c = await RtmpClient.connect(`${url}/shell`, { args: ['jane'] });
    const closed = new Promise<void>((r) => (c.onClose = () => r()));
    term.type('\x04');
    expect(await code).toBe(0);
    await closed;
    const err = await RtmpClient.connect(`${url}/shell`, { timeoutMs: 2000 }).catch((e) => e);
    expect(err.message).toMatch(/ECONNREFUSED/);
  });

  it('refuses piped input without an application, and reports one it cannot open', async () => {
    const out = new PassThrough();
    const err = new PassThrough();
    let errText = '';
    err.on('data', (d) => (errText += d));
    const io = { input: new PassThrough(), output: out, errorOutput: err, interactive: false, columns: undefined };
    expect(await replCommand(['--apps', fixtureApps, '--port', '0'], io, {})).toBe(2);
    expect(errText).toMatch(/name the application to open/);
    expect(await replCommand(['--apps', fixtureApps, '--port', '0', 'missing'], io, {})).toBe(1);
    expect(errText).toMatch(/cannot open missing: no application "missing"/);
  });
});
