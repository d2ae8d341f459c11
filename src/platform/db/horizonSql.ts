/**
 * SQL (an xid8 expression) for the horizon of a log read (decision 0011): the lowest transaction id
 * still running **in this database** as the statement's snapshot saw it, or the snapshot's xmax when
 * none is. Rows written by transactions below it are final: committed and visible to the same
 * statement, or aborted.
 *
 * `pg_snapshot_xmin(pg_current_snapshot())` is the same bound over the whole cluster: a transaction
 * held open in *another* database of the server held every relay and projector here (a reviewer's
 * benchmark saw the relay's p50 go from 8 ms to a second while another database's test held one).
 * Transaction ids are cluster-wide, but a transaction writes in one database only, and a backend never
 * changes database: so an id of the snapshot's in-progress list that `pg_stat_get_activity` shows in a
 * backend of another database can never have written a row here, and is left out. An id it does not
 * show there (ended since, a prepared transaction, a backend whose database is not known) is kept, so
 * the bound is never higher than it may be. The activity is read once per transaction and may be
 * older than the snapshot; it can only then miss ids, which keeps them. `backend_xid` is shown to
 * every role, so no privilege is needed.
 *
 * An uncorrelated subquery: it runs once per statement (an InitPlan), and an index scan takes its
 * value as a bound. Costs about 60 µs when some transaction is running, nothing more when none is.
 */
export const HORIZON_SQL = `(select coalesce(min(h.x), pg_snapshot_xmax(pg_current_snapshot()))
     from pg_snapshot_xip(pg_current_snapshot()) h(x)
    where h.x::xid not in (select a.backend_xid from pg_stat_get_activity(null) a
                            where a.backend_xid is not null
                              and a.datid <> (select d.oid from pg_database d where d.datname = current_database())))`;
