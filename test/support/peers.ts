/**
 * Where the real peers live on this machine. CI installs all of them (.ci/run), so a missing peer is a
 * test failure, never a skip: tests call `requirePeer(name)` which throws a descriptive error.
 */
import * as fs from 'fs';
import * as path from 'path';
import { SsasError } from '../../src/errors';

export type PeerName =
  | 'ffmpeg'
  | 'ffprobe'
  | 'rtmpdump'
  | 'nginx'
  | 'nginxRtmpModule'
  | 'python3'
  | 'pythonLibrtmp'
  | 'nodeMediaServer';

export const PEER_NAMES: readonly PeerName[] = [
  'ffmpeg',
  'ffprobe',
  'rtmpdump',
  'nginx',
  'nginxRtmpModule',
  'python3',
  'pythonLibrtmp',
  'nodeMediaServer',
];

const HINTS: Record<PeerName, string> = {
  ffmpeg: 'apt-get install ffmpeg (or npm i -D @ffmpeg-installer/ffmpeg)',
  ffprobe: 'apt-get install ffmpeg (or npm i -D @ffprobe-installer/ffprobe)',
  rtmpdump: 'apt-get install rtmpdump',
  nginx: 'apt-get install nginx-light libnginx-mod-rtmp',
  nginxRtmpModule: 'apt-get install libnginx-mod-rtmp',
  python3: 'apt-get install python3 (the Debian /usr/bin/python3, not a pyenv one)',
  pythonLibrtmp: 'apt-get install python3-librtmp (for /usr/bin/python3)',
  nodeMediaServer: 'npm install (node-media-server is a dev dependency)',
};

const REPO_ROOT = path.resolve(__dirname, '..', '..');

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function isFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** `@ffmpeg-installer/ffmpeg` style packages export `{ path }`; only used when Debian's binary is absent. */
function fromInstallerPackage(pkg: string): string | undefined {
  try {
    const resolved = require.resolve(pkg, { paths: [REPO_ROOT] });
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const mod = require(resolved) as { path?: unknown };
    return typeof mod.path === 'string' && isExecutable(mod.path) ? mod.path : undefined;
  } catch {
    return undefined;
  }
}

function findNginxRtmpModule(): string | undefined {
  const direct = '/usr/lib/nginx/modules/ngx_rtmp_module.so';
  if (isFile(direct)) return direct;
  // Debian's snippet names the module relative to nginx's prefix (/usr/share/nginx/).
  const snippet = '/usr/share/nginx/modules-available/mod-rtmp.conf';
  try {
    const m = fs.readFileSync(snippet, 'utf8').match(/load_module\s+([^;\s]+)\s*;/);
    if (m) {
      const candidate = path.isAbsolute(m[1]) ? m[1] : path.join('/usr/share/nginx', m[1]);
      if (isFile(candidate)) return fs.realpathSync(candidate);
    }
  } catch {
    // no snippet
  }
  return undefined;
}

const finders: Record<PeerName, () => string | undefined> = {
  ffmpeg: () => (isExecutable('/usr/bin/ffmpeg') ? '/usr/bin/ffmpeg' : fromInstallerPackage('@ffmpeg-installer/ffmpeg')),
  ffprobe: () => (isExecutable('/usr/bin/ffprobe') ? '/usr/bin/ffprobe' : fromInstallerPackage('@ffprobe-installer/ffprobe')),
  rtmpdump: () => (isExecutable('/usr/bin/rtmpdump') ? '/usr/bin/rtmpdump' : undefined),
  nginx: () => (isExecutable('/usr/sbin/nginx') ? '/usr/sbin/nginx' : undefined),
  nginxRtmpModule: findNginxRtmpModule,
  // Deliberately not the python3 first on PATH (pyenv shims lack the Debian dist-packages).
  python3: () => (isExecutable('/usr/bin/python3') ? '/usr/bin/python3' : undefined),
  pythonLibrtmp: () => {
    const pkg = '/usr/lib/python3/dist-packages/librtmp/__init__.py';
    return isExecutable('/usr/bin/python3') && isFile(pkg) ? path.dirname(pkg) : undefined;
  },
  nodeMediaServer: () => {
    try {
      const pkgJson = require.resolve('node-media-server/package.json', { paths: [REPO_ROOT] });
      const bin = path.join(path.dirname(pkgJson), 'bin', 'app.js');
      return isFile(bin) ? bin : undefined;
    } catch {
      return undefined;
    }
  },
};

const cache = new Map<PeerName, string | undefined>();

/** Path of the peer (binary, module, package dir or script), or undefined when it is not installed. */
export function findPeer(name: PeerName): string | undefined {
  if (!cache.has(name)) cache.set(name, finders[name]());
  return cache.get(name);
}

/** Every peer with its path or undefined, for diagnostics. */
export function available(): Record<PeerName, string | undefined> {
  const out = {} as Record<PeerName, string | undefined>;
  for (const name of PEER_NAMES) out[name] = findPeer(name);
  return out;
}

/** Path of the peer; throws ERR_TEST_PEER_MISSING (the test fails) when it is not installed. */
export function requirePeer(name: PeerName): string {
  const found = findPeer(name);
  if (found === undefined) {
    throw new SsasError(
      'ERR_TEST_PEER_MISSING',
      `test peer "${name}" is not installed on this machine (${HINTS[name]}); CI installs it in .ci/run, so this is a failure, not a skip`,
      { peer: name },
    );
  }
  return found;
}

export const peers = { available, find: findPeer, require: requirePeer, names: PEER_NAMES };
