import * as fs from 'fs';
import * as path from 'path';
import { isSsasError } from '../../src/errors';
import { AppConfig, defaultAppConfig, loadAppConfig, loadAppDefaults, parseAppConfig, runtimeSizeToMemoryMB } from '../../src/script/app-config';
import { makeTempDir, removeDir } from '../support/tmp';

const fixtures = path.join(__dirname, '..', 'fixtures', 'apps-config');
const APP = '/apps/myApp';
const FILE = `${APP}/Application.xml`;

function parse(body: string, vars?: Record<string, string>): AppConfig {
  return parseAppConfig(`<Application>${body}</Application>`, FILE, { vars });
}

function configError(fn: () => unknown): { code: string; message: string; details?: Record<string, unknown> } {
  try {
    fn();
  } catch (e) {
    if (isSsasError(e)) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('defaultAppConfig', () => {
  it('has the documented defaults and returns a fresh object each time', () => {
    const d = defaultAppConfig();
    expect(d).toEqual({
      file: null,
      config: {},
      scriptMemoryMB: 128,
      scriptTimeoutSec: 10,
      scriptLibPath: [],
      fileObjectVirtualDirs: [],
      loadOnStartup: false,
      maxAppIdleTimeSec: undefined,
      streams: { virtualDirectories: [] },
      sharedObjects: {},
      bandwidthDetection: { enabled: true, maxRate: -1, dataSize: 16384, maxWait: 2 },
      bandwidth: {},
      bandwidthCap: {},
      allowDebugDefault: false,
      objectEncoding: 3,
      network: { allow: null, timeoutMs: 30_000, maxResponseBytes: 16 * 1024 * 1024, maxRedirects: 5 },
    });
    d.streams.virtualDirectories.push({ prefix: '/', dir: '/x' });
    expect(defaultAppConfig().streams.virtualDirectories).toEqual([]);
  });

  it('an empty <Application/> gives the defaults', () => {
    expect({ ...parseAppConfig('<Application/>', FILE), file: null }).toEqual(defaultAppConfig());
  });
});

describe('parseAppConfig: full FMS-style file', () => {
  const file = path.join(fixtures, 'full', 'Application.xml');
  const cfg = parseAppConfig(fs.readFileSync(file, 'utf8'), file);
  const dir = path.dirname(file);

  it('reads application.config values as trimmed strings', () => {
    expect({ ...cfg.config }).toEqual({ user_name: 'jdoe', greeting: 'hello & welcome', nested: '12' });
  });

  it('maps JSEngine limits, lib path and File virtual directories', () => {
    expect(cfg.scriptMemoryMB).toBe(64);
    expect(cfg.scriptTimeoutSec).toBe(5);
    expect(cfg.scriptLibPath).toEqual([path.join(dir, 'lib'), '/opt/fms/scriptlib']);
    expect(cfg.fileObjectVirtualDirs).toEqual([{ prefix: '/docs', dir: path.join(dir, 'files/docs') }]);
    expect(cfg.objectEncoding).toBe(0);
  });

  it('reads application lifetime settings', () => {
    expect(cfg.file).toBe(file);
    expect(cfg.loadOnStartup).toBe(true);
    expect(cfg.maxAppIdleTimeSec).toBe(600);
  });

  it('reads StreamManager and SharedObjManager', () => {
    expect(cfg.streams).toEqual({
      storageDir: path.join(dir, 'media'),
      virtualDirectories: [
        { prefix: '/vod', dir: '/srv/vod' },
        { prefix: '/archive', dir: path.join(dir, 'archive') },
      ],
      maxDuration: 3600,
      maxDurationCap: -1,
      maxSize: 102400,
      maxSizeCap: -1,
      diskQuotaMB: 2048,
    });
    expect(cfg.sharedObjects).toEqual({ storageDir: path.join(dir, 'so'), resyncDepth: -1 });
  });

  it('reads Client bandwidth settings and Debug', () => {
    expect(cfg.bandwidth).toEqual({ up: 125000, down: 250000 });
    expect(cfg.bandwidthCap).toEqual({ up: 10000000, down: 10000000 });
    expect(cfg.bandwidthDetection).toEqual({ enabled: false, maxRate: 500, dataSize: 8192, maxWait: 3 });
    expect(cfg.allowDebugDefault).toBe(true);
  });
});

describe('parseAppConfig: details', () => {
  it('the FCS MX stock layout (empty elements) parses to defaults plus its values', () => {
    const cfg = parse(`
      <LoadOnStartup>false</LoadOnStartup>
      <MaxAppIdleTime>1200</MaxAppIdleTime>
      <RecordAppLog>false</RecordAppLog>
      <JSEngine><RuntimeSize>1024</RuntimeSize><MaxTimeOut>0</MaxTimeOut><ScriptLibPath></ScriptLibPath></JSEngine>
      <StreamManager><StorageDir></StorageDir><EnhancedSeek>false</EnhancedSeek></StreamManager>
      <SharedObjManager><StorageDir></StorageDir></SharedObjManager>`);
    expect(cfg.scriptMemoryMB).toBe(32);
    expect(cfg.scriptTimeoutSec).toBe(0);
    expect(cfg.scriptLibPath).toEqual([]);
    expect(cfg.maxAppIdleTimeSec).toBe(1200);
    expect(cfg.streams.storageDir).toBeUndefined();
    expect(cfg.sharedObjects.storageDir).toBeUndefined();
  });

  it('RuntimeSize mapping: max(32, ceil(KB/1024)), 0 -> 128', () => {
    expect(runtimeSizeToMemoryMB(1024)).toBe(32);
    expect(runtimeSizeToMemoryMB(40 * 1024 + 1)).toBe(41);
    expect(runtimeSizeToMemoryMB(0)).toBe(128);
    expect(parse('<JSEngine><RuntimeSize>0</RuntimeSize></JSEngine>').scriptMemoryMB).toBe(128);
  });

  it('is lenient about element case and accepts ScriptEngine for JSEngine', () => {
    const cfg = parseAppConfig(
      '<application><jsengine><maxtimeout>7</maxtimeout></jsengine><LOADONSTARTUP>TRUE</LOADONSTARTUP></application>',
      FILE,
    );
    expect(cfg.scriptTimeoutSec).toBe(7);
    expect(cfg.loadOnStartup).toBe(true);
    expect(parse('<ScriptEngine><RuntimeSize>102400</RuntimeSize></ScriptEngine>').scriptMemoryMB).toBe(100);
  });

  it('accepts LoadOnStartup under Process; the direct child wins', () => {
    expect(parse('<Process><LoadOnStartup>true</LoadOnStartup></Process>').loadOnStartup).toBe(true);
    expect(
      parse('<LoadOnStartup>false</LoadOnStartup><Process><LoadOnStartup>true</LoadOnStartup></Process>').loadOnStartup,
    ).toBe(false);
  });

  it('MaxAppIdleTime of 0 or less leaves the server default', () => {
    expect(parse('<MaxAppIdleTime>0</MaxAppIdleTime>').maxAppIdleTimeSec).toBeUndefined();
    expect(parse('<MaxAppIdleTime>-5</MaxAppIdleTime>').maxAppIdleTimeSec).toBeUndefined();
  });

  it('recording limits directly under StreamManager; Recording wins when both are present', () => {
    const cfg = parse(
      '<StreamManager><MaxDuration>10</MaxDuration><MaxSize>5</MaxSize><Recording><MaxSize>6</MaxSize><DiskQuota>-1</DiskQuota></Recording></StreamManager>',
    );
    expect(cfg.streams).toMatchObject({ maxDuration: 10, maxSize: 6, diskQuotaMB: -1 });
  });

  it('objectEncoding: precedence and values', () => {
    expect(parse('<Client><ObjectEncoding>0</ObjectEncoding></Client>').objectEncoding).toBe(0);
    expect(
      parse('<Client><ObjectEncoding>0</ObjectEncoding></Client><JSEngine><NetConnection><ObjectEncoding>amf3</ObjectEncoding></NetConnection></JSEngine>')
        .objectEncoding,
    ).toBe(3);
    const e = configError(() => parse('<Client><ObjectEncoding>AMF1</ObjectEncoding></Client>'));
    expect(e.code).toBe('ERR_APP_CONFIG');
  });

  it('BandwidthDetection keeps defaults for missing children', () => {
    expect(parse('<Client><BandwidthDetection enabled="true"><MaxWait>1.5</MaxWait></BandwidthDetection></Client>').bandwidthDetection).toEqual({
      enabled: true,
      maxRate: -1,
      dataSize: 16384,
      maxWait: 1.5,
    });
  });

  it('substitutes ${VARS} and leaves unknown ones', () => {
    const cfg = parse(
      '<JSEngine><ApplicationObject><config><url>${AUTH_URL}/x</url><other>${NOPE}</other></config></ApplicationObject></JSEngine>' +
        '<StreamManager><VirtualDirectory><Streams>/;${STREAMS}</Streams></VirtualDirectory></StreamManager>',
      { AUTH_URL: 'http://a', STREAMS: '/data/streams' },
    );
    expect(cfg.config.url).toBe('http://a/x');
    expect(cfg.config.other).toBe('${NOPE}');
    expect(cfg.streams.virtualDirectories).toEqual([{ prefix: '/', dir: '/data/streams' }]);
  });

  it('config keys like __proto__ are plain entries', () => {
    const cfg = parse('<JSEngine><ApplicationObject><config><__proto__>x</__proto__></config></ApplicationObject></JSEngine>');
    expect(Object.keys(cfg.config)).toEqual(['__proto__']);
    expect(cfg.config['__proto__']).toBe('x');
  });

  it('keeps Windows drive paths as written', () => {
    expect(parse('<StreamManager><StorageDir>C:\\streams</StorageDir></StreamManager>').streams.storageDir).toBe('C:\\streams');
  });
});

describe('parseAppConfig: errors', () => {
  it.each([
    ['<JSEngine><MaxTimeOut>ten</MaxTimeOut></JSEngine>', 'Application/JSEngine/MaxTimeOut', 'ten'],
    ['<JSEngine><MaxTimeOut>-1</MaxTimeOut></JSEngine>', 'Application/JSEngine/MaxTimeOut', '-1'],
    ['<JSEngine><RuntimeSize>1.5</RuntimeSize></JSEngine>', 'Application/JSEngine/RuntimeSize', '1.5'],
    ['<JSEngine><RuntimeSize>99999999999</RuntimeSize></JSEngine>', 'Application/JSEngine/RuntimeSize', '99999999999'],
    ['<MaxAppIdleTime>1e</MaxAppIdleTime>', 'Application/MaxAppIdleTime', '1e'],
    ['<LoadOnStartup>maybe</LoadOnStartup>', 'Application/LoadOnStartup', 'maybe'],
    ['<Client><BandwidthDetection enabled="sure"/></Client>', 'Application/Client/BandwidthDetection', 'sure'],
    ['<Client><BandwidthDetection><DataSize>0</DataSize></BandwidthDetection></Client>', 'Application/Client/BandwidthDetection/DataSize', '0'],
    ['<Client><Bandwidth><ClientToServer>-3</ClientToServer></Bandwidth></Client>', 'Application/Client/Bandwidth/ClientToServer', '-3'],
    ['<StreamManager><Recording><MaxSize>-2</MaxSize></Recording></StreamManager>', 'Application/StreamManager/Recording/MaxSize', '-2'],
    ['<SharedObjManager><ResyncDepth>x</ResyncDepth></SharedObjManager>', 'Application/SharedObjManager/ResyncDepth', 'x'],
    ['<StreamManager><VirtualDirectory><Streams>/vod</Streams></VirtualDirectory></StreamManager>', 'Application/StreamManager/VirtualDirectory/Streams', '/vod'],
    ['<JSEngine><FileObject><VirtualDirectory>/a;</VirtualDirectory></FileObject></JSEngine>', 'Application/JSEngine/FileObject/VirtualDirectory', '/a;'],
  ])('%s', (body, element, value) => {
    const e = configError(() => parse(body));
    expect(e.code).toBe('ERR_APP_CONFIG');
    expect(e.details).toEqual({ file: FILE, element, value });
    expect(e.message).toContain(FILE);
  });

  it('a malformed file is ERR_XML_MALFORMED with line and column', () => {
    const e = configError(() => parseAppConfig('<Application>\n  <JSEngine>\n    <MaxTimeOut>1</MaxTimeOut>\n</Application>', FILE));
    expect(e.code).toBe('ERR_XML_MALFORMED');
    expect(e.details).toMatchObject({ file: FILE, line: 4, column: 1 });
  });

  it('a different root element is ERR_APP_CONFIG', () => {
    expect(configError(() => parseAppConfig('<Root><Application/></Root>', FILE)).code).toBe('ERR_APP_CONFIG');
  });
});

describe('loadAppConfig', () => {
  let dir: string;
  beforeEach(() => {
    dir = makeTempDir('appcfg');
  });
  afterEach(() => removeDir(dir));

  it('a missing file (or folder) gives the defaults', async () => {
    expect(await loadAppConfig(dir)).toEqual(defaultAppConfig());
    expect(await loadAppConfig(path.join(dir, 'nope'))).toEqual(defaultAppConfig());
  });

  it('reads the file, strips a BOM and resolves directories against the app folder', async () => {
    fs.writeFileSync(
      path.join(dir, 'Application.xml'),
      '\ufeff<Application><SharedObjManager><StorageDir>so</StorageDir></SharedObjManager></Application>',
    );
    const cfg = await loadAppConfig(dir);
    expect(cfg.file).toBe(path.join(dir, 'Application.xml'));
    expect(cfg.sharedObjects.storageDir).toBe(path.join(dir, 'so'));
  });

  it('finds application.xml in any case', async () => {
    fs.writeFileSync(path.join(dir, 'application.XML'), '<Application><LoadOnStartup>true</LoadOnStartup></Application>');
    expect((await loadAppConfig(dir)).loadOnStartup).toBe(true);
  });

  it('reads Latin-1 files', async () => {
    fs.writeFileSync(
      path.join(dir, 'Application.xml'),
      Buffer.concat([
        Buffer.from('<Application><JSEngine><ApplicationObject><config><name>Ren'),
        Buffer.from([0xe9]),
        Buffer.from('</name></config></ApplicationObject></JSEngine></Application>'),
      ]),
    );
    expect((await loadAppConfig(dir)).config.name).toBe('René');
  });

  it('a malformed file throws with line and column', async () => {
    fs.writeFileSync(path.join(dir, 'Application.xml'), '<Application>\n<a b="1></Application>');
    await expect(loadAppConfig(dir)).rejects.toMatchObject({ code: 'ERR_XML_MALFORMED', details: { line: 2 } });
  });

  it('a folder named Application.xml is an error, not defaults', async () => {
    fs.mkdirSync(path.join(dir, 'Application.xml'));
    await expect(loadAppConfig(dir)).rejects.toMatchObject({ code: 'ERR_APP_CONFIG' });
  });
});

describe('the server-wide Application.xml (<apps>/Application.xml)', () => {
  const VHOST_LEVEL = `<Application>
  <JSEngine>
    <RuntimeSize>65536</RuntimeSize>
    <MaxTimeOut override="no">2</MaxTimeOut>
    <ApplicationObject><config><site>main</site><region>eu</region></config></ApplicationObject>
  </JSEngine>
  <MaxAppIdleTime>300</MaxAppIdleTime>
  <StreamManager><VirtualDirectory><Streams>/media;shared</Streams></VirtualDirectory></StreamManager>
  <Client override="no"><BandwidthCap><ServerToClient>1000000</ServerToClient></BandwidthCap></Client>
</Application>`;
  let dir: string;
  beforeAll(() => {
    dir = makeTempDir('appdefaults');
    fs.writeFileSync(path.join(dir, 'Application.xml'), VHOST_LEVEL);
    fs.mkdirSync(path.join(dir, 'plain'));
    fs.mkdirSync(path.join(dir, 'own'));
    fs.writeFileSync(
      path.join(dir, 'own', 'Application.xml'),
      `<Application><JSEngine><MaxTimeOut>30</MaxTimeOut><ApplicationObject><config><region>us</region></config></ApplicationObject></JSEngine>
       <StreamManager><VirtualDirectory><Streams>/media;mine</Streams></VirtualDirectory></StreamManager>
       <Client><BandwidthCap><ServerToClient>5</ServerToClient></BandwidthCap><BandwidthDetection enabled="false"/></Client></Application>`,
    );
  });
  afterAll(() => removeDir(dir));

  it('an application without its own file gets every server-wide setting', async () => {
    const defaults = (await loadAppDefaults(dir))!;
    expect([...defaults.locked].sort()).toEqual(['application/client', 'application/jsengine/maxtimeout']);
    const cfg = await loadAppConfig(path.join(dir, 'plain'), { defaults });
    expect(cfg.scriptMemoryMB).toBe(64);
    expect(cfg.scriptTimeoutSec).toBe(2);
    expect({ ...cfg.config }).toEqual({ site: 'main', region: 'eu' });
    expect(cfg.maxAppIdleTimeSec).toBe(300);
    expect(cfg.streams.virtualDirectories).toEqual([{ prefix: '/media', dir: path.join(dir, 'shared') }]);
    expect(cfg.bandwidthCap).toEqual({ down: 1000000 });
    // A copy: changing one application's settings leaves the defaults alone.
    cfg.config.site = 'changed';
    expect(defaults.config.config.site).toBe('main');
  });

  it("an application's own file overrides element by element, except what override=\"no\" locks", async () => {
    const defaults = (await loadAppDefaults(dir))!;
    const cfg = await loadAppConfig(path.join(dir, 'own'), { defaults });
    expect(cfg.scriptTimeoutSec).toBe(2); // locked
    expect(cfg.scriptMemoryMB).toBe(64); // not in its file: inherited
    expect({ ...cfg.config }).toEqual({ site: 'main', region: 'us' });
    expect(Object.getPrototypeOf(cfg.config)).toBeNull();
    // Its own mapping first, the server-wide one after it.
    expect(cfg.streams.virtualDirectories).toEqual([
      { prefix: '/media', dir: path.join(dir, 'own', 'mine') },
      { prefix: '/media', dir: path.join(dir, 'shared') },
    ]);
    // Everything under the locked <Client> is the server's.
    expect(cfg.bandwidthCap).toEqual({ down: 1000000 });
    expect(cfg.bandwidthDetection.enabled).toBe(true);
  });

  it('no server-wide file gives undefined; a malformed one throws with its code', async () => {
    const none = makeTempDir('appdefaults-none');
    try {
      expect(await loadAppDefaults(none)).toBeUndefined();
      fs.writeFileSync(path.join(none, 'application.xml'), '<Application><JSEngine>');
      await expect(loadAppDefaults(none)).rejects.toMatchObject({ code: 'ERR_XML_MALFORMED' });
      fs.writeFileSync(path.join(none, 'application.xml'), '<Application><JSEngine><MaxTimeOut>soon</MaxTimeOut></JSEngine></Application>');
      await expect(loadAppDefaults(none)).rejects.toMatchObject({ code: 'ERR_APP_CONFIG' });
    } finally {
      removeDir(none);
    }
  });
});
