/**
 * What an application instance does at each SSAS event. The script runtime implements it for folders with
 * a main.asc; DefaultLogic is what FMS does for an application folder without a script: every connection is
 * accepted, no method exists, live streams are simply relayed.
 */
import type { AmfValue } from '../amf';
import type { SsasError } from '../errors';
import type { InfoObject } from '../rtmp/command';
import type { ClientSession } from './session';
import type { LiveStream } from './live-stream';

export type CallOutcome =
  | { kind: 'result'; value: AmfValue }
  | { kind: 'error'; info: InfoObject }
  /** No such method on the Client (nor __resolve): the session may answer encoder calls itself. */
  | { kind: 'notFound' }
  /** The result value already encoded as AMF0 (the sandbox's fast path); the session frames it. */
  | { kind: 'encoded'; bytes: Uint8Array }
  /** The call's arguments were malformed: the session closes the connection with this coded error. */
  | { kind: 'badInput'; error: SsasError };

/** A client call whose arguments have not been decoded (AppLogic.onRawCall). */
export interface RawCall {
  name: string;
  /** The AMF0 bytes of the arguments, as the client sent them (valid until onRawCall returns). */
  args: Uint8Array;
  /** Decodes them on the host; throws the codec's coded error on malformed bytes. */
  decodeArgs(): AmfValue[];
}

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
  /** Optional fast path: the same, with the arguments still encoded. */
  onRawCall?(session: ClientSession, call: RawCall, respond: (outcome: CallOutcome) => void): void;
  onPublish(session: ClientSession, stream: LiveStream): void;
  onUnpublish(session: ClientSession, stream: LiveStream): void;
  /** The instance is about to unload; resolving false keeps it loaded (only honoured for Application.GC). */
  onStop(reason: StopReason): Promise<boolean>;
  /** Resolves once everything handed to the logic so far has been handled (the onDisconnects of an unload). */
  settle?(): Promise<void>;
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
