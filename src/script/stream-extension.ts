/**
 * The bridge part of the Stream class: carries out the stream ops of sandbox/stream.js against
 * ServerStream host objects and answers their requests; statuses go back as `streamStatus` events.
 */
import type { AmfValue } from '../amf';
import { ServerStream } from '../host/stream';
import { clearRecordedStreams } from '../server/stream-paths';
import { recordedLength, storageOf } from '../server/stream-feature';
import type { RecordMode } from '../server/recorder';
import { fromIsolate, toIsolate } from './marshal';
import type { ScriptExtension, ScriptLogic } from './script-logic';
import type { HostRequest, ScriptOp } from './runtime';
import type { LiveStream } from '../server/live-stream';
import { setVirtualPath } from '../server/vhost-config';
import { defaultAppConfig } from './app-config';

/** Resolves a server-side NetConnection id to a live stream pulled from it (set by the NetConnection feature). */
export type RemoteLiveResolver = (logic: ScriptLogic, ncId: number, name: string) => LiveStream | null;

export class StreamExtension implements ScriptExtension {
  readonly #streams = new WeakMap<ScriptLogic, Map<string, ServerStream>>();
  remoteLive: RemoteLiveResolver | null = null;

  stream(logic: ScriptLogic, name: string): ServerStream {
    let m = this.#streams.get(logic);
    if (!m) {
      m = new Map();
      this.#streams.set(logic, m);
    }
    let s = m.get(name);
    if (!s) {
      s = new ServerStream(logic.instance, name, {
        status: (_s, info) => logic.runtime?.post({ e: 'streamStatus', name, info: toIsolate(info) }),
      });
      m.set(name, s);
      logic.instance.closers.add(() => void s!.destroy());
    }
    return s;
  }

  op(logic: ScriptLogic, op: ScriptOp): boolean {
    const name = String(op.name ?? '');
    switch (op.op) {
      case 'streamPlay': {
        const item = op.item as { name: string; start: number; len: number; virtualKey?: string };
        const ncId = typeof op.nc === 'number' ? op.nc : undefined;
        const resolver = this.remoteLive;
        this.stream(logic, name).play(
          {
            name: String(item.name),
            start: Number(item.start),
            len: Number(item.len),
            virtualKey: typeof item.virtualKey === 'string' ? item.virtualKey : '',
            liveSource: ncId !== undefined && resolver ? () => resolver(logic, ncId, String(item.name)) : undefined,
          },
          op.reset as number | boolean,
        );
        return true;
      }
      case 'streamStop':
        this.stream(logic, name).stop();
        return true;
      case 'streamRecord': {
        const mode = op.mode === false ? false : (String(op.mode) as RecordMode);
        void this.stream(logic, name).record(mode, op.maxDuration as number | undefined, op.maxSize as number | undefined);
        return true;
      }
      case 'streamSend':
        this.stream(logic, name).send(String(op.handler), (fromIsolate(op.args) as AmfValue[]) ?? []);
        return true;
      case 'streamSet': {
        const s = this.stream(logic, name);
        const key = String(op.key);
        if (key === 'bufferTime') s.bufferTime = Number(op.value);
        else if (key === 'syncWrite') s.syncWrite = op.value === true;
        else if (key === 'maxQueueDelay') s.maxQueueDelay = Number(op.value);
        else if (key === 'maxQueueSize') s.maxQueueSize = Number(op.value);
        return true;
      }
      case 'streamClear':
        void this.stream(logic, name).clear();
        return true;
      case 'streamDestroy': {
        const m = this.#streams.get(logic);
        const s = m?.get(name);
        if (s) {
          m!.delete(name);
          void s.destroy();
        }
        return true;
      }
      case 'streamVirtualPath': {
        const inst = logic.instance;
        const cfg = inst.appConfig ?? defaultAppConfig();
        const roots = [inst.app.dir, ...cfg.streams.virtualDirectories.map((m) => m.dir), ...inst.vhost.virtualDirectories.map((m) => m.dir), ...inst.vhost.extraRoots];
        const directory = String(op.directory);
        if (!setVirtualPath(inst.vhost, String(op.path), directory, String(op.key ?? ''), inst.app.dir, { app: inst.app.name, roots })) {
          inst.log.warn(
            `Stream.setVirtualPath("${String(op.path)}", "${directory}"): refused [ERR_VIRTUAL_PATH_OUTSIDE]: the folder must be inside the application's folder, a folder Vhost.xml or Application.xml maps, or --virtual-path-roots (or the path or key is invalid)`,
          );
        }
        return true;
      }
    }
    return false;
  }

  request(logic: ScriptLogic, req: HostRequest): { value: AmfValue } | undefined {
    switch (req.t) {
      case 'streamTime':
        return { value: this.stream(logic, String(req.name)).time };
      case 'streamQuery':
        return { value: this.stream(logic, String(req.name)).publishQueryString };
      case 'streamMeta':
        return { value: this.stream(logic, String(req.name)).getOnMetaData() };
    }
    return undefined;
  }

  requestAsync(logic: ScriptLogic, req: HostRequest): Promise<{ value: AmfValue }> | undefined {
    switch (req.t) {
      case 'streamLength':
        return recordedLength(logic.instance, String(req.name), typeof req.virtualKey === 'string' ? req.virtualKey : '').then((value) => ({ value }));
      case 'streamFlush':
        return this.stream(logic, String(req.name))
          .flush()
          .then((value) => ({ value }));
      case 'clearStreams':
        return Promise.resolve({ value: logic.instance.app.readOnly ? false : clearRecordedStreams(storageOf(logic.instance), String(req.path)) });
    }
    return undefined;
  }
}
