import { z } from 'zod';

/**
 * The one shape of every list procedure: ask with `limit` and, for the next page, the
 * `nextCursor` of the previous page as `cursor`; get `{ items, nextCursor }`, where a null
 * `nextCursor` means there is no further page. Cursors are opaque strings: pass them back as they
 * came, never build them.
 */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/**
 * A page from `rows` fetched with `limit + 1` (one more than asked tells whether another page
 * exists without a count): the first `limit` rows as items, and the cursor of the last one.
 */
export function pageOf<R, T>(
  rows: readonly R[],
  limit: number,
  item: (row: R) => T,
  cursorOf: (row: R) => string,
): Page<T> {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    items: page.map(item),
    nextCursor: rows.length > limit && last !== undefined ? cursorOf(last) : null,
  };
}

/** The zod schema of a page of `item`s (the REST reference's response schemas). */
export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item),
    /** Pass as `cursor` for the next page; null on the last one. */
    nextCursor: z.string().nullable(),
  });
}
