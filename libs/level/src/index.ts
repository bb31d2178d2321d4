/**
 * @strata/level: an abstract-level database over the Strata store, for the Level ecosystem.
 *
 * @packageDocumentation
 */
export { StrataLevel } from './strata-level.js';
export type { StrataLevelOptions } from './strata-level.js';
export { StrataIterator, StrataKeyIterator, StrataValueIterator } from './strata-iterator.js';
export { StrataSnapshot } from './strata-snapshot.js';
export { LevelAbortError, LevelError } from './level-errors.js';
