/**
 * Entry point of the `strata` CLI (bundled to dist/strata.js, run with plain node).
 */
import { createProgram } from './cli/program.js';

await createProgram().parseAsync(process.argv);
