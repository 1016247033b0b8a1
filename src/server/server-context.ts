/**
 * What a session needs from the server around it. Sessions depend on this interface, not on Server, so
 * features (recording, VOD, shared objects) plug in without sessions knowing them.
 */
import type { ServerConfig } from '../config';
import type { RtmpMessage } from '../rtmp/types';
import type { AppDefinition, AppInstance } from './app-instance';
import type { LiveStream } from './live-stream';
import type { ClientSession, SessionStream } from './session';
import type { AccessEventName, AccessFacts } from './access-log';

export interface ServerContext {
  readonly config: ServerConfig;
  /** Client.virtualKey for a connecting player's flashVer (Vhost.xml VirtualKeys), "" when none matches. */
  virtualKeyFor(agent: string): string;
  /** The application folder for this name, or null when it does not exist. */
  findApplication(name: string): Promise<AppDefinition | null>;
  /** The running (or newly created) instance; it may still be loading. */
  getInstance(app: AppDefinition, instanceName: string): Promise<AppInstance>;
  /** Stream.length semantics: seconds of a recorded stream, 0 when there is none. */
  streamLength(instance: AppInstance, name: string, virtualKey?: string): Promise<number>;
  /**
   * Starts playback of a recorded file on a client stream. Returns false when no such file exists (the
   * caller then falls back to live or StreamNotFound).
   */
  playFile(session: ClientSession, stream: SessionStream, name: string, start: number, len: number, reset: boolean): boolean;
  /** A client started publishing (recording modes, script onPublish). */
  onPublishStarted(session: ClientSession, stream: SessionStream, live: LiveStream, mode: string): void;
  onPublishStopped(session: ClientSession, stream: SessionStream, live: LiveStream): void;
  /** Shared object messages (types 19/16). */
  onSharedObjectMessage(session: ClientSession, msg: RtmpMessage): void;
  /** A client event for the access log (FMS's access.00.log) and the console; x-status `status`. */
  access?(event: AccessEventName, session: ClientSession, status: number, facts?: AccessFacts): void;
}
