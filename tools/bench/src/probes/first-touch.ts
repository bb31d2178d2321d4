// Probe: what fresh memory costs on this machine. Prints, for SharedArrayBuffers of a few sizes,
// the median time to allocate one and write its first byte, and the cost per MiB of writing
// every page of a fresh buffer (page faults). Shared buffers are what memtables are made of.
//
//   npx tsx tools/bench/src/probes/first-touch.ts
import { performance } from 'node:perf_hooks';
import { median } from '../runner/stats.js';

const KIB = 1024;
const MIB = 1024 * KIB;

for (const sizeBytes of [4 * KIB, 32 * KIB, 64 * KIB, 128 * KIB, 256 * KIB, MIB]) {
  const samplesMs: number[] = [];
  for (let i = 0; i < 100; i++) {
    const start = performance.now();
    new Uint8Array(new SharedArrayBuffer(sizeBytes))[0] = 1;
    samplesMs.push(performance.now() - start);
  }
  console.log(
    `allocate ${sizeBytes / KIB} KiB: median ${(median(samplesMs) * 1000).toFixed(1)} us`,
  );
}

for (const sizeBytes of [MIB, 4 * MIB, 16 * MIB]) {
  const msPerMiB: number[] = [];
  for (let i = 0; i < 10; i++) {
    const start = performance.now();
    const bytes = new Uint8Array(new SharedArrayBuffer(sizeBytes));
    for (let offset = 0; offset < sizeBytes; offset += 4 * KIB) bytes[offset] = 1;
    msPerMiB.push((performance.now() - start) / (sizeBytes / MIB));
  }
  console.log(
    `touch every page of ${sizeBytes / MIB} MiB: median ${median(msPerMiB).toFixed(2)} ms/MiB`,
  );
}
