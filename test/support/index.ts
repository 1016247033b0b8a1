/** Test-support library for driving real RTMP peers on loopback (see each module for details). */
export * from './ports';
export * from './processes';
export * from './peers';
export * from './tmp';
export * from './media';
export * from './nginx-rtmp';
export * from './node-media-server';
export * from './librtmp';
export * from './wait';
