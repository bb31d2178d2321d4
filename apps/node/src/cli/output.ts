import type { Writable } from 'node:stream';
import { isStrataError } from '@strata/core';

/** Where a command writes (process streams in the CLI, buffers in tests). */
export interface CommandIo {
  readonly stdout: Writable & { isTTY?: boolean };
  readonly stderr: Writable & { isTTY?: boolean };
}

/** The process's own streams. */
export const processIo: CommandIo = { stdout: process.stdout, stderr: process.stderr };

/** Writes `text`, waiting for 'drain' when the stream buffer is full (backpressure). */
export async function writeWithBackpressure(stream: Writable, text: string): Promise<void> {
  if (stream.write(text)) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      stream.off('error', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
    stream.on('error', done);
  });
}

/** One line for a failed command: `strata <command>: <CODE>: message`. */
export function describeError(command: string, error: unknown): string {
  if (isStrataError(error)) return `strata ${command}: ${error.code}: ${error.message}\n`;
  return `strata ${command}: ${error instanceof Error ? error.message : String(error)}\n`;
}

/** Formats rows as a left-aligned text table with a header line. */
export function formatTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** A key for humans: printable ASCII as is (cut at 32 characters), anything else as hex. */
export function displayKey(hex: string): string {
  const bytes = Buffer.from(hex, 'hex');
  const printable = bytes.every((byte) => byte >= 0x20 && byte < 0x7f);
  const text = printable ? bytes.toString('latin1') : `0x${hex}`;
  return text.length > 32 ? `${text.slice(0, 31)}…` : text;
}
