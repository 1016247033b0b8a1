/**
 * What `ssas serve` says when it starts: a script that cannot compile is reported once, with file and line
 * (it was printed a second time by the server log), and the other applications are served.
 */
import * as fs from 'fs';
import * as path from 'path';
import { SSAS_BIN, killAllTracked, makeTempDir, removeDir, spawnTracked } from '../support';

let tmp: string;

beforeAll(() => {
  tmp = makeTempDir('startup');
  fs.mkdirSync(path.join(tmp, 'apps', 'broken'), { recursive: true });
  fs.writeFileSync(path.join(tmp, 'apps', 'broken', 'main.asc'), 'var ok = 1;\nvar x = ;\n');
  fs.mkdirSync(path.join(tmp, 'apps', 'fine'), { recursive: true });
  fs.writeFileSync(path.join(tmp, 'apps', 'fine', 'main.asc'), 'var ok = 1;\n');
});

afterAll(async () => {
  await killAllTracked();
  removeDir(tmp);
});

it('reports a script that cannot compile once, with file and line', async () => {
  const proc = spawnTracked(process.execPath, ['--no-node-snapshot', SSAS_BIN, 'serve', '--port', '0', '--apps', path.join(tmp, 'apps')]);
  await proc.waitForOutput(/application broken cannot start: .*\n/, 20_000);
  // Whatever else start-up prints comes within this moment.
  await new Promise((r) => setTimeout(r, 500));
  proc.child.kill('SIGTERM');
  await proc.exited;
  const out = proc.output();
  expect(out).toMatch(/application broken cannot start: main\.asc:2: SyntaxError: Unexpected token ';' \(var x = ;\) \[ERR_SCRIPT_SYNTAX\]/);
  expect(out.match(/main\.asc:2: SyntaxError/g)).toHaveLength(1);
  expect(out).toMatch(/applications \(.*\): broken, fine/);
});
