import * as fs from 'fs';
import * as path from 'path';
import { decodeScriptBytes, findAppScripts, readScriptSource, resolveLoadPath } from '../../src/script/discovery';
import { makeTempDir, removeDir } from '../support/tmp';

let root: string;
beforeEach(() => {
  root = makeTempDir('discovery');
});
afterEach(() => removeDir(root));

/** Creates files (content = their relative path) under `dir`. */
function touch(dir: string, ...files: string[]): void {
  for (const f of files) {
    const p = path.join(dir, f);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, `// ${f}\n`);
  }
}

describe('findAppScripts', () => {
  const order = [
    'scripts/main.asc',
    'main.asc',
    'scripts/main.js',
    'main.js',
    'scripts/chat.asc',
    'chat.asc',
    'scripts/chat.js',
    'chat.js',
  ];

  it('follows the TechNote 16518 order: each candidate beats every later one', async () => {
    const app = path.join(root, 'chat');
    for (let k = 0; k < order.length; k++) {
      removeDir(app);
      fs.mkdirSync(app);
      touch(app, ...order.slice(k));
      const found = await findAppScripts(app, 'chat');
      expect(path.relative(app, found.main as string)).toBe(order[k]);
    }
  });

  it('a script-less application gives nulls', async () => {
    touch(root, 'Application.xml', 'streams/_definst_/a.flv');
    expect(await findAppScripts(root, 'x')).toEqual({ main: null, secure: null });
  });

  it('finds secure.asc under scripts/ first, then in the app folder', async () => {
    touch(root, 'main.asc', 'secure.asc');
    expect(await findAppScripts(root, 'x')).toEqual({ main: path.join(root, 'main.asc'), secure: path.join(root, 'secure.asc') });
    touch(root, 'scripts/secure.asc');
    expect((await findAppScripts(root, 'x')).secure).toBe(path.join(root, 'scripts', 'secure.asc'));
  });

  it('accepts names differing in case, preferring the exact name', async () => {
    touch(root, 'Scripts/Main.ASC');
    expect((await findAppScripts(root, 'x')).main).toBe(path.join(root, 'Scripts', 'Main.ASC'));
    touch(root, 'main.asc');
    // main.asc in the app folder (exact) still loses to scripts/main.asc (earlier candidate, any case).
    expect((await findAppScripts(root, 'x')).main).toBe(path.join(root, 'Scripts', 'Main.ASC'));
  });

  it('ignores folders named like scripts and unsafe app names', async () => {
    fs.mkdirSync(path.join(root, 'main.asc'));
    touch(root, 'main.js');
    expect((await findAppScripts(root, '../evil')).main).toBe(path.join(root, 'main.js'));
  });

  it('refuses .ase bytecode when no plain script exists', async () => {
    touch(root, 'main.ase');
    await expect(findAppScripts(root, 'x')).rejects.toMatchObject({
      code: 'ERR_SCRIPT_COMPILED_UNSUPPORTED',
      details: { file: path.join(root, 'main.ase') },
    });
    touch(root, 'scripts/x.asc');
    expect((await findAppScripts(root, 'x')).main).toBe(path.join(root, 'scripts', 'x.asc'));
  });

  it('refuses a secure.ase without secure.asc even when a main script exists', async () => {
    touch(root, 'main.asc', 'secure.ase');
    await expect(findAppScripts(root, 'x')).rejects.toMatchObject({ code: 'ERR_SCRIPT_COMPILED_UNSUPPORTED' });
  });

  it('refuses a FAR archive when it is all there is, prefers a plain script otherwise', async () => {
    touch(root, 'main.far');
    await expect(findAppScripts(root, 'x')).rejects.toMatchObject({ code: 'ERR_SCRIPT_FAR_UNSUPPORTED' });
    touch(root, 'main.asc');
    expect((await findAppScripts(root, 'x')).main).toBe(path.join(root, 'main.asc'));
  });

  it('a missing application folder is ERR_APP_DIR_NOT_FOUND', async () => {
    await expect(findAppScripts(path.join(root, 'nope'), 'nope')).rejects.toMatchObject({ code: 'ERR_APP_DIR_NOT_FOUND' });
  });
});

describe('readScriptSource / decodeScriptBytes', () => {
  const lines = (s: string): string[] => s.split('\n');

  it('strips a UTF-8 BOM and keeps multi-byte text', async () => {
    const f = path.join(root, 'a.asc');
    fs.writeFileSync(f, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('trace("héllo 世界");\n')]));
    expect(await readScriptSource(f)).toBe('trace("héllo 世界");\n');
  });

  it('normalises CRLF and lone CR to LF without changing line numbers', () => {
    const src = 'a();\r\nb();\rc();\n\r\nd();\r';
    const out = decodeScriptBytes(Buffer.from(src));
    expect(out).toBe('a();\nb();\nc();\n\nd();\n');
    // Same line count as a JS engine would see in the original (CRLF, CR and LF each end a line).
    expect(lines(out)).toHaveLength(src.split(/\r\n|\r|\n/).length);
  });

  it('decodes UTF-16 with a BOM and falls back to Latin-1 for invalid UTF-8', () => {
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('x = "é";\r\n', 'utf16le')]);
    expect(decodeScriptBytes(le)).toBe('x = "é";\n');
    const be = Buffer.from(Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from('ok', 'utf16le').swap16()]));
    expect(decodeScriptBytes(be)).toBe('ok');
    expect(decodeScriptBytes(Buffer.from([0x22, 0xe9, 0x22]))).toBe('"é"');
  });

  it('missing file -> ERR_SCRIPT_NOT_FOUND, folder -> ERR_SCRIPT_READ', async () => {
    await expect(readScriptSource(path.join(root, 'nope.asc'))).rejects.toMatchObject({ code: 'ERR_SCRIPT_NOT_FOUND' });
    await expect(readScriptSource(root)).rejects.toMatchObject({ code: 'ERR_SCRIPT_READ' });
  });
});

describe('resolveLoadPath', () => {
  let app: string;
  let lib1: string;
  let lib2: string;
  beforeEach(() => {
    app = path.join(root, 'app');
    lib1 = path.join(root, 'lib1');
    lib2 = path.join(root, 'lib2');
    touch(app, 'main.asc', 'logic.asc', 'sub/util.asc', 'scripts/inner.asc');
    touch(lib1, 'components.asc', 'components/chat.asc', 'shared.asc');
    touch(lib2, 'shared.asc', 'netservices.asc');
  });

  it('resolves relative to the base folder, with backslashes and ./ accepted', async () => {
    expect(await resolveLoadPath(app, 'logic.asc', [])).toBe(path.join(app, 'logic.asc'));
    expect(await resolveLoadPath(app, 'sub\\util.asc', [])).toBe(path.join(app, 'sub', 'util.asc'));
    expect(await resolveLoadPath(app, './sub//util.asc', [])).toBe(path.join(app, 'sub', 'util.asc'));
  });

  it('then the app folder, then scriptlib folders in order', async () => {
    const scripts = path.join(app, 'scripts');
    expect(await resolveLoadPath(scripts, 'inner.asc', [lib1], { appDir: app })).toBe(path.join(scripts, 'inner.asc'));
    expect(await resolveLoadPath(scripts, 'logic.asc', [lib1], { appDir: app })).toBe(path.join(app, 'logic.asc'));
    expect(await resolveLoadPath(app, 'components.asc', [lib1, lib2])).toBe(path.join(lib1, 'components.asc'));
    expect(await resolveLoadPath(app, 'components/chat.asc', [lib1, lib2])).toBe(path.join(lib1, 'components', 'chat.asc'));
    expect(await resolveLoadPath(app, 'shared.asc', [lib2, lib1])).toBe(path.join(lib2, 'shared.asc'));
    expect(await resolveLoadPath(app, 'netservices.asc', [path.join(root, 'missing'), lib1, lib2])).toBe(
      path.join(lib2, 'netservices.asc'),
    );
  });

  it('matches names in any case when the exact path does not exist', async () => {
    expect(await resolveLoadPath(app, 'Sub/Util.ASC', [])).toBe(path.join(app, 'sub', 'util.asc'));
    expect(await resolveLoadPath(app, 'COMPONENTS.asc', [lib1])).toBe(path.join(lib1, 'components.asc'));
  });

  it.each(['../secret.asc', 'sub/../../x.asc', '..\\x.asc', '/etc/passwd', '\\x.asc', 'C:\\x.asc', 'c:x.asc', 'file:///x', '', '  ', 'a\0b', '.'])(
    'refuses %j',
    async (requested) => {
      await expect(resolveLoadPath(app, requested, [lib1])).rejects.toMatchObject({ code: 'ERR_SCRIPT_LOAD_DENIED' });
    },
  );

  it('not found names every place searched', async () => {
    const err = await resolveLoadPath(path.join(app, 'scripts'), 'none.asc', [lib1, `${lib2}.far`, lib2], { appDir: app }).catch((e) => e);
    expect(err.code).toBe('ERR_SCRIPT_NOT_FOUND');
    const searched = [
      path.join(app, 'scripts', 'none.asc'),
      path.join(app, 'none.asc'),
      path.join(lib1, 'none.asc'),
      path.join(lib2, 'none.asc'),
    ];
    expect(err.details.searched).toEqual(searched);
    for (const s of searched) expect(err.message).toContain(s);
  });

  it('a folder is not a script', async () => {
    await expect(resolveLoadPath(app, 'sub', [])).rejects.toMatchObject({ code: 'ERR_SCRIPT_NOT_FOUND' });
  });
});
