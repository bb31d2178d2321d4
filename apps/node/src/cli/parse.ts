import { InvalidArgumentError } from 'commander';

const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

/** Parses a byte size: `1048576`, `64KiB`, `16MiB`, `1GiB` (commander argument parser). */
export function parseBytes(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text.trim());
  const unit = match ? UNITS[(match[2] as string).toLowerCase()] : undefined;
  if (!match || unit === undefined) {
    throw new InvalidArgumentError(`"${text}" is not a size (examples: 1048576, 64KiB, 16MiB)`);
  }
  const value = Math.floor(Number(match[1]) * unit);
  if (!Number.isSafeInteger(value) || value < 1)
    throw new InvalidArgumentError('size must be positive');
  return value;
}

/** Parses a non-negative integer (seqnos, milliseconds). */
export function parseInteger(text: string): number {
  if (!/^\d{1,16}$/.test(text.trim())) {
    throw new InvalidArgumentError(`"${text}" is not a non-negative integer`);
  }
  return Number(text.trim());
}

/** A `HOST:PORT` listen address (`[::1]:7070` for IPv6; `:7070` means 127.0.0.1). */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** Parses `HOST:PORT`. */
export function parseListen(text: string): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) {
    throw new InvalidArgumentError(`"${text}" is not HOST:PORT (example: 127.0.0.1:7070)`);
  }
  const host = match[1] ?? (match[2] || '127.0.0.1');
  return { host, port };
}

/**
 * `--cors`: comma-separated browser origins (`scheme://host[:port]`, nothing after it) or `*`.
 * A path, a trailing slash or a bare host name would never match a browser's `Origin` header, so
 * they are refused here rather than silently allowing nothing.
 */
export function parseCorsOrigins(text: string): string[] {
  const origins = text
    .split(',')
    .map((origin) => origin.trim())
    .filter((origin) => origin !== '');
  if (origins.length === 0) throw new InvalidArgumentError('expected at least one origin');
  for (const origin of origins) {
    if (origin === '*') continue;
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined || parsed.origin === 'null' || parsed.origin !== origin) {
      throw new InvalidArgumentError(
        `${origin} is not an origin; expected scheme://host[:port] such as https://app.example.com, or *`,
      );
    }
  }
  return origins;
}
