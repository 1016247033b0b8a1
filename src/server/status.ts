/**
 * Status info objects as FMS sends them (codes and levels from the FMS/AMS reference; descriptions follow
 * FMS 3.5 wording where known, see ssas-api.md 9.x). Keeping them in one place keeps the wording uniform.
 */
import { info, type InfoObject } from '../rtmp/command';
import { ecmaArray, type AmfValue } from '../amf';

export const Status = {
  publishStart: (name: string, clientid?: string) =>
    info('status', 'NetStream.Publish.Start', `${name} is now published.`, withClient({ details: name }, clientid)),
  publishBadName: (name: string, clientid?: string) =>
    info('error', 'NetStream.Publish.BadName', `${name} is already being published.`, withClient({ details: name }, clientid)),
  publishFailed: (name: string, description: string, clientid?: string) =>
    info('error', 'NetStream.Publish.Failed', description, withClient({ details: name }, clientid)),
  unpublishSuccess: (name: string, clientid?: string) =>
    info('status', 'NetStream.Unpublish.Success', `${name} is now unpublished.`, withClient({ details: name }, clientid)),
  playReset: (name: string, clientid?: string) =>
    info('status', 'NetStream.Play.Reset', `Playing and resetting ${name}.`, withClient({ details: name }, clientid)),
  playStart: (name: string, clientid?: string) =>
    info('status', 'NetStream.Play.Start', `Started playing ${name}.`, withClient({ details: name }, clientid)),
  playStop: (name: string, clientid?: string) =>
    info('status', 'NetStream.Play.Stop', `Stopped playing ${name}.`, withClient({ details: name }, clientid)),
  playStreamNotFound: (name: string, clientid?: string) =>
    info('error', 'NetStream.Play.StreamNotFound', `Failed to play ${name}; stream not found.`, withClient({ details: name }, clientid)),
  playFailed: (name: string, description: string, clientid?: string) =>
    info('error', 'NetStream.Play.Failed', description, withClient({ details: name }, clientid)),
  playPublishNotify: (name: string, clientid?: string) =>
    info('status', 'NetStream.Play.PublishNotify', `${name} is now published.`, withClient({ details: name }, clientid)),
  playUnpublishNotify: (name: string, clientid?: string) =>
    info('status', 'NetStream.Play.UnpublishNotify', `${name} is now unpublished.`, withClient({ details: name }, clientid)),
  playInsufficientBW: (name: string, clientid?: string) =>
    info('warning', 'NetStream.Play.InsufficientBW', `Insufficient bandwidth to play ${name}: skipping to the next key frame.`, withClient({ details: name }, clientid)),
  pauseNotify: (name: string, clientid?: string) =>
    info('status', 'NetStream.Pause.Notify', `Pausing ${name}.`, withClient({ details: name }, clientid)),
  unpauseNotify: (name: string, clientid?: string) =>
    info('status', 'NetStream.Unpause.Notify', `Unpausing ${name}.`, withClient({ details: name }, clientid)),
  callFailed: (description: string) => info('error', 'NetConnection.Call.Failed', description),
  connectSuccess: (objectEncoding: number, version: string, clientid: string) =>
    info('status', 'NetConnection.Connect.Success', 'Connection succeeded.', {
      objectEncoding,
      data: ecmaArray({ version }),
      clientid,
    }),
  connectRejected: (description: string, application?: AmfValue) =>
    info('error', 'NetConnection.Connect.Rejected', description, application === undefined ? undefined : { application }),
  connectInvalidApp: (description: string) => info('error', 'NetConnection.Connect.InvalidApp', description),
  connectClosed: () => info('status', 'NetConnection.Connect.Closed', 'Connection closed.'),
  connectAppShutdown: (description = 'The application instance was shut down.') =>
    info('error', 'NetConnection.Connect.AppShutdown', description),
} as const;

function withClient(extra: Record<string, AmfValue>, clientid?: string): Record<string, AmfValue> {
  if (clientid !== undefined) extra.clientid = clientid;
  return extra;
}

export type { InfoObject };
