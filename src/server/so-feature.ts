/**
 * Remote shared objects on the wire: one SharedObjectManager per application instance (created on first use,
 * closed — dirty persistent objects saved — when the instance unloads), every session a subscriber.
 */
import { getLogger } from '../logger';
import type { RtmpMessage } from '../rtmp/types';
import { sharedObjectRtmpMessage } from '../rtmp/shared-object';
import type { SsasError } from '../errors';
import { defaultAppConfig } from '../script/app-config';
import type { AppInstance } from './app-instance';
import type { ServerFeature } from './server';
import type { ClientSession } from './session';
import { SharedObjectManager, type SoScriptHooks, type SoSubscriber } from './shared-objects';
import { instanceSharedObjectRoot } from './so-store';

const log = getLogger('so');

export class SharedObjectFeature implements ServerFeature {
  readonly #managers = new WeakMap<AppInstance, SharedObjectManager>();
  readonly #subscribers = new WeakMap<ClientSession, SoSubscriber>();

  /** The instance's manager (created on first use). `hooks` are the script's, set by the script extension. */
  manager(instance: AppInstance): SharedObjectManager {
    let m = this.#managers.get(instance);
    if (!m) {
      const cfg = instance.appConfig ?? defaultAppConfig();
      m = new SharedObjectManager({
        // A read-only application (the bundled samples) keeps its persistent objects in memory only.
        root: instance.app.readOnly ? null : instanceSharedObjectRoot({ appDir: instance.app.dir, instanceName: instance.instanceName, storageDir: cfg.sharedObjects.storageDir }),
        resyncDepth: cfg.sharedObjects.resyncDepth,
        autoCommit: cfg.sharedObjects.autoCommit,
        label: instance.name,
      });
      this.#managers.set(instance, m);
      const created = m;
      instance.closers.add(() => created.close());
    }
    return m;
  }

  /** The manager of an instance if it has one (the shell's .so lists it). */
  existing(instance: AppInstance): SharedObjectManager | undefined {
    return this.#managers.get(instance);
  }

  setHooks(instance: AppInstance, hooks: SoScriptHooks): void {
    this.manager(instance).hooks = hooks;
  }

  #subscriber(session: ClientSession): SoSubscriber {
    let sub = this.#subscribers.get(session);
    if (!sub) {
      const client = session.client!;
      sub = {
        id: client.id,
        objectEncoding: session.objectEncoding,
        canRead: (p) => client.canRead(p),
        canWrite: (p) => client.canWrite(p),
        send: (body, amf3) => session.conn.send(sharedObjectRtmpMessage(body, amf3)),
        disconnect: (reason: SsasError) => {
          log.warn(`${session.label}: disconnected: ${reason.message}`);
          session.conn.destroy(reason);
        },
      };
      this.#subscribers.set(session, sub);
    }
    return sub;
  }

  onSharedObjectMessage(session: ClientSession, msg: RtmpMessage): boolean {
    const instance = session.instance;
    if (!instance) return false;
    // Malformed messages throw a coded error before anything changes; the session closes that connection.
    this.manager(instance).handleMessage(this.#subscriber(session), msg);
    return true;
  }

  onSessionClosed(session: ClientSession): void {
    const sub = this.#subscribers.get(session);
    const instance = session.instance;
    if (!sub || !instance) return;
    this.#managers.get(instance)?.removeSubscriber(sub);
    this.#subscribers.delete(session);
  }
}
