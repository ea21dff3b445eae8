/**
 * Paging for the list commands (`vigie actions list`, `vigie alerts list`): `--limit` and `--offset`
 * are checked here, and a list that leaves records out says so on stderr, with how to get the next
 * page (stdout keeps carrying records only, so `--output json` stays one record a line).
 */

export interface Page {
  limit: number;
  offset: number;
}

/** `--limit` (a positive integer) and `--offset` (an integer, 0 or more) from their option text. */
export function parsePage(o: { limit: string; offset?: string }): Page {
  const limit = Number(o.limit);
  if (!Number.isInteger(limit) || limit <= 0)
    throw new Error(`--limit must be a positive integer, not "${o.limit}"`);
  const offset = Number(o.offset ?? '0');
  if (!Number.isInteger(offset) || offset < 0)
    throw new Error(`--offset must be an integer, 0 or more, not "${o.offset}"`);
  return { limit, offset };
}

/**
 * What a page left out, as one line for stderr, or undefined when it showed everything: "showing
 * actions 1–50 of 312 (newest first); next page: --offset 50".
 */
export function pageNotice(what: string, page: Page, shown: number, total: number): string | undefined {
  if (page.offset === 0 && shown >= total) return undefined;
  if (shown === 0) return `no ${what} at --offset ${page.offset}: ${total} in all`;
  const last = page.offset + shown;
  const range = `showing ${what} ${page.offset + 1}–${last} of ${total} (newest first)`;
  if (last >= total) return `${range}; this is the last page`;
  return `${range}; next page: --offset ${last} (--limit sets how many a page shows)`;
}
