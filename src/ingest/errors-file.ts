import { csvLine } from './csv.ts';
import type { RejectedRow } from './import-csv.ts';

/**
 * Where an errors file is written: a Node Writable fits (write() is false once its buffer is past
 * the high-water mark; 'drain' when it has room again). Structural, so this file stays runtime-free.
 */
export interface TextSink {
  write(chunk: string): boolean;
  once(event: 'drain', listener: () => void): unknown;
  once(event: 'error', listener: (err: Error) => void): unknown;
  off(event: 'drain', listener: () => void): unknown;
  off(event: 'error', listener: (err: Error) => void): unknown;
}

export const ERRORS_FILE_HEADER = 'line,field,reason,row';

/**
 * An import's `onReject` writing the `.errors.csv` lines to the sink `open()` gives on the first
 * rejected row (no file when nothing is rejected). When the sink's buffer is full it returns the
 * wait for 'drain' (one per full buffer, shared by the rows rejected meanwhile), so the importer
 * stops reading until the rows are out: ignoring it kept every bad row of the file in memory.
 * The wait fails with the sink's error (a full disk) instead of hanging.
 */
export function errorsFileWriter(open: () => TextSink): (row: RejectedRow) => Promise<void> | undefined {
  let sink: TextSink | null = null;
  let draining: Promise<void> | undefined;
  const drained = (s: TextSink) =>
    new Promise<void>((resolve, reject) => {
      const onDrain = () => {
        s.off('error', onError);
        draining = undefined;
        resolve();
      };
      const onError = (err: Error) => {
        s.off('drain', onDrain);
        reject(err);
      };
      s.once('drain', onDrain);
      s.once('error', onError);
    });
  return (row) => {
    if (!sink) {
      sink = open();
      sink.write(`${ERRORS_FILE_HEADER}\n`);
    }
    const ok = sink.write(`${csvLine([row.line, row.field, row.reason, row.raw])}\n`);
    if (ok && !draining) return undefined;
    draining ??= drained(sink);
    return draining;
  };
}
