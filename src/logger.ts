/**
 * The one logger. Library code never calls console.*: it asks for a namespaced Logger and the CLI decides
 * where lines go (stderr with colour, a file, a REPL that prints above its prompt, or nowhere in tests).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'trace';

export interface LogRecord {
  time: Date;
  level: LogLevel;
  namespace: string;
  message: string;
}

export type LogSink = (record: LogRecord) => void;

// Script trace() output ranks with info: it is the application's own log and shows at the default level.
const levelRank: Record<LogLevel, number> = { debug: 10, trace: 30, info: 30, warn: 40, error: 50 };

/** Each sink with its own lowest level, or null to follow setLogLevel. */
const sinks = new Map<LogSink, number | null>();
let threshold: number = levelRank.info;
/** The lowest level any sink wants. */
let lowest: number = levelRank.info;

function recomputeLowest(): void {
  lowest = threshold;
  for (const min of sinks.values()) if (min !== null && min < lowest) lowest = min;
}

/** Sets the lowest level that reaches sinks ("debug" shows everything). */
export function setLogLevel(level: LogLevel): void {
  threshold = levelRank[level];
  recomputeLowest();
}

export function getLogLevel(): LogLevel {
  return (['debug', 'info', 'warn', 'error'] as LogLevel[]).find((l) => levelRank[l] === threshold) ?? 'info';
}

/**
 * Adds a sink; returns a function that removes it. With `minLevel` the sink gets every record from that
 * level up whatever setLogLevel says (an application log file keeps traces when the console shows errors).
 */
export function addLogSink(sink: LogSink, minLevel?: LogLevel): () => void {
  sinks.set(sink, minLevel === undefined ? null : levelRank[minLevel]);
  recomputeLowest();
  return () => {
    sinks.delete(sink);
    recomputeLowest();
  };
}

export class Logger {
  readonly namespace: string;

  constructor(namespace: string) {
    this.namespace = namespace;
  }

  child(name: string): Logger {
    return new Logger(`${this.namespace}:${name}`);
  }

  debug(message: string): void {
    this.emit('debug', message);
  }
  info(message: string): void {
    this.emit('info', message);
  }
  warn(message: string): void {
    this.emit('warn', message);
  }
  error(message: string): void {
    this.emit('error', message);
  }
  /** Output of a script's trace(): always delivered at its own level, above debug. */
  trace(message: string): void {
    this.emit('trace', message);
  }

  get debugEnabled(): boolean {
    return lowest <= levelRank.debug && sinks.size > 0;
  }

  private emit(level: LogLevel, message: string): void {
    const rank = levelRank[level];
    if (rank < lowest || sinks.size === 0) return;
    const record: LogRecord = { time: new Date(), level, namespace: this.namespace, message };
    for (const [sink, min] of sinks) {
      if (rank < (min ?? threshold)) continue;
      try {
        sink(record);
      } catch {
        // A failing sink must never break the code that logged.
      }
    }
  }
}

export function getLogger(namespace: string): Logger {
  return new Logger(namespace);
}
