/**
 * The statements that put a new definition of index `name` on `<s>.saga_instances` in the old one's
 * place while the saga runtime goes on writing, with the comment that says why they look so. Internal
 * to the saga migrations' generators.
 */
export function replaceIndexConcurrentlySql(s: string, name: string, definition: string): string {
  return `-- Built CONCURRENTLY (the runner, the scheduler and the event handlers go on writing while it
-- builds), so outside a transaction, under a new name; then the old index is dropped and the new one
-- takes its name (a rename takes a lock that lets reads and writes go on). A run that failed leaves
-- an invalid index behind, and this file runs again: the new index is dropped first, then built.
drop index concurrently if exists ${s}.${name}_next;
create index concurrently ${name}_next on ${s}.saga_instances ${definition};
drop index concurrently if exists ${s}.${name};
alter index ${s}.${name}_next rename to ${name};
`;
}
