/**
 * An instant column as RFC 3339 in UTC with all six fraction digits, as the menu gives every instant: a
 * Date (milliseconds) would cut a version's `validFrom` to an instant before it began.
 */
export const instantText = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
