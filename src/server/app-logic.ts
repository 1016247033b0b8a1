/**
 * What an application instance does at each SSAS event. The script runtime implements it for folders with
 * a main.asc; DefaultLogic is what FMS does for an application folder without a script: every connection is
 * accepted, no method exists, live streams are simply relayed.
 */
import type { AmfValue } from '../amf';
import type { InfoObject } from '../rtmp/command';
import type { ClientSession } from './session';
import type { LiveStream } from './live-stream';

export type CallOutcome =
  | { kind: 'result'; value: AmfValue }
  | { kind: 'error'; info: InfoObject }
  /** No such method on the Client (nor __resolve): the session may answer encoder calls itself. */
  | { kind: 'notFound' };

export type StopReason = 'Application.GC' | 'Application.Shutdown';

export interface AppLogic {
  /** Loads the scripts and runs onAppStart. Rejects with a coded error when the script cannot start. */
  load(): Promise<void>;
  /** A client connects: decide later with session.accept()/reject()/redirect(), or leave it pending. */
  onConnect(session: ClientSession, args: AmfValue[]): void;
  /** A session that reached onConnect has gone, whether it was accepted, pending or rejected. */
  onDisconnect(session: ClientSession): void;
  /** A client called a method (nc.call); `respond` gets the outcome, exactly once. */
  onCall(session: ClientSession, name: string, args: AmfValue[], respond: (outcome: CallOutcome) => void): void;
  onPublish(session: ClientSession, stream: LiveStream): void;
  onUnpublish(session: ClientSession, stream: LiveStream): void;
  /** The instance is about to unload; resolving false keeps it loaded (only honoured for Application.GC). */
  onStop(reason: StopReason): Promise<boolean>;
  /** Releases everything (isolate, timers). Idempotent. */
  dispose(): void;
}

export class DefaultLogic implements AppLogic {
  async load(): Promise<void> {}
  onConnect(session: ClientSession): void {
    session.accept();
  }
  onDisconnect(): void {}
  onCall(_session: ClientSession, _name: string, _args: AmfValue[], respond: (outcome: CallOutcome) => void): void {
    respond({ kind: 'notFound' });
  }
  onPublish(): void {}
  onUnpublish(): void {}
  async onStop(): Promise<boolean> {
    return true;
  }
  dispose(): void {}
}
