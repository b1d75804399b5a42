/**
 * Where a library-written log line goes: the one owner of the destination shape shared by the
 * handshake-failure line and the identity audit line, and of how a line is written to it.
 */
import type { OptionCheck } from './options.js';

/** A writable stream (each line ends with `\n`) or a function (the line without `\n`). */
export type LogDestination = { write(chunk: string): unknown } | ((line: string) => void);

/** The option check of a {@link LogDestination}. */
export const isLogDestination: OptionCheck = (v) =>
  typeof v === 'function' || (typeof v === 'object' && v !== null && typeof (v as { write?: unknown }).write === 'function')
    ? undefined
    : 'a writable stream (with write()) or a function receiving each line';

/** A function writing one line to `destination`, or `undefined` when there is none. */
export function lineWriter(destination: LogDestination | undefined): ((line: string) => void) | undefined {
  if (destination === undefined) return undefined;
  if (typeof destination === 'function') return destination;
  return (line) => {
    destination.write(`${line}\n`);
  };
}
