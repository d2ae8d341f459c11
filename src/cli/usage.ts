/** Raised for bad command-line input; the CLI prints the message and the usage line and exits 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly usage: string,
  ) {
    super(message);
  }
}

export const MAIN_USAGE = `Usage: brigade <command> [options]

Commands:
  start                      Run the whole platform in one process: database (embedded when DATABASE_URL
                             is unset), migrations, HTTP API and workers
  migrate [status|verify]    Apply pending migrations; list applied and pending files; check that applied
                             files are unchanged
  serve [--service NAME]     Serve the HTTP API, for all services or one
  worker [NAME...]           Run background workers, all or the ones named
  tenants add|list|move      Create and list restaurants (tenants); move one to its own database
  token --role ROLE          Print a signed bearer token (admin, staff, courier or customer)
  token revoke --role ROLE --subject ID
                             Refuse every token of that role and subject issued up to now
  projections status|rebuild Show each projection's position and lag; rebuild one blue/green
  dlq list|show|redrive|drop Inspect and act on dead-lettered messages
  sagas list|show|resume|close
                             Inspect sagas (the payment of each order): stuck ones, one saga's log; resume
                             a parked one, or a failed one past a compensation you did by hand (--settled);
                             close one settled by hand
  demo                       A dinner rush through the real API, with a progress bar and a summary
  payment-provider           Run the stand-in payment provider (idempotency keys, ledger, faults)

Run 'brigade <command> --help' for a command's options. Environment: see README.md.`;
