/**
 * The cache's former name, kept so that deps.ts and runtime/dependencies.ts build unchanged until
 * they import `Cache` from './cache'; delete this file then.
 */
export { Cache as MemoryCache } from './cache';
