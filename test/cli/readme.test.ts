/**
 * What the README's first screen must tell a newcomer (issue 19): how to get the `ssas` command, what
 * `npm install` is doing for minutes and what it needs, how to pass options to `npm start`; and that its
 * shell example prints strings the way the shell does (quoted). The tutorial itself runs in tutorial.test.ts.
 */
import * as fs from 'fs';
import * as path from 'path';

const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
/** Up to the tutorial: the set-up a person reads first. */
const firstScreen = readme.slice(0, readme.indexOf('\n## Your first FMS application'));

it('says how to get the ssas command, from any folder', () => {
  expect(firstScreen).toMatch(/npm link/);
  expect(firstScreen).toMatch(/npm install -g \./);
  expect(firstScreen).toMatch(/not on the npm registry/);
});

it('says what npm install compiles, how long it takes and what it needs', () => {
  expect(firstScreen).toMatch(/isolated-vm/);
  expect(firstScreen).toMatch(/minutes?/);
  expect(firstScreen).toMatch(/apt-get install -y python3 make g\+\+/);
  expect(firstScreen).toMatch(/--foreground-scripts/);
});

it('shows options passed through npm start, and the two set-up commands', () => {
  expect(firstScreen).toContain('npm start -- --port');
  expect(firstScreen).toContain('npm install && npm start');
  expect(firstScreen).toMatch(/\nnpm test /);
});

it("shows the shell's strings quoted, as it prints them", () => {
  expect(readme).toMatch(/chat\/_definst_> \.call hello\n'hi bob'\n/);
  expect(readme).not.toMatch(/\.call hello\nhi bob\n/);
});
