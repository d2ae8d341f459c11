import assert from 'node:assert/strict';
import { test } from 'node:test';
import { guardsTenant } from '../../../src/platform/tenancy/index.ts';

// What findTenancyViolations asks of a SECURITY DEFINER function's body: a tenant guard, not the
// setting's name somewhere in its text.
const ENTER_TENANT = `
declare
  v_url text;
begin
  if p_tenant is distinct from nullif(current_setting('brigade.tenant_id', true), '')::uuid then
    raise exception 'tenant_fence: % is not the tenant of this transaction', p_tenant using errcode = '42501';
  end if;
  select database_url into v_url from platform.tenant_placements where tenant_id = p_tenant;
end
`;
const ENTER_TENANTS = `
declare
  v_batch uuid[] := string_to_array(nullif(current_setting('brigade.batch_tenants', true), ''), ',')::uuid[];
begin
  if nullif(current_setting('brigade.tenant_id', true), '') is not null or v_batch is null
     or cardinality(p_tenants) is distinct from cardinality(p_believed)
     or not (p_tenants <@ v_batch and v_batch <@ p_tenants) then
    raise exception 'tenant_fence: the tenants are not those of this batch transaction' using errcode = '42501';
  end if;
end
`;

test('the platform fences guard the tenant: an IF on brigade.tenant_id that raises 42501', () => {
  assert.equal(guardsTenant(ENTER_TENANT), true);
  assert.equal(guardsTenant(ENTER_TENANTS), true);
  assert.equal(guardsTenant(ENTER_TENANT.toUpperCase()), true, 'keywords and the setting in any case, as PostgreSQL reads them');
});

test('a body that names the setting only in a comment is flagged', () => {
  const comment = `
begin
  -- checks current_setting('brigade.tenant_id'): if it is not ours then raise exception using errcode = '42501'
  return (select database_url from platform.tenant_placements limit 1);
end
`;
  assert.equal(comment.includes('brigade.tenant_id'), true, 'the old check passed it');
  assert.equal(guardsTenant(comment), false);
  // The guard itself commented out, with a line or a (nested) block comment.
  assert.equal(guardsTenant(ENTER_TENANT.replace('  if p_tenant', '  -- if p_tenant').replace("    raise", '    -- raise').replace('  end if;', '  -- end if;')), false);
  assert.equal(guardsTenant(`begin /* outer /* inner */ ${ENTER_TENANT} */ return 1; end`), false);
  // A string cannot open a comment early or hide one: what follows a quoted '--' is code, and a
  // quoted '/*' does not let a line comment's '*/' end it.
  assert.equal(guardsTenant(`begin v := '--'; ${ENTER_TENANT} end`), true);
  assert.equal(guardsTenant(`begin v := '/*'; -- note */ if current_setting('brigade.tenant_id') is null then raise exception 'x' using errcode = '42501'; end if;\nend`), false);
});

test('naming the setting is not a guard: it must be tested by an IF whose THEN raises 42501', () => {
  const reads = `begin v := current_setting('brigade.tenant_id', true); if v_other then raise exception 'no' using errcode = '42501'; end if; end`;
  assert.equal(guardsTenant(reads), false, 'read into a variable the guard does not test');
  const message = `begin raise notice 'brigade.tenant_id is %', 1; return 1; end`;
  assert.equal(guardsTenant(message), false, 'named in a message');
  const otherCode = ENTER_TENANT.replace("'42501'", "'P0001'");
  assert.equal(guardsTenant(otherCode), false, 'raises something else than insufficient_privilege');
  const notice = ENTER_TENANT.replace('raise exception', 'raise notice');
  assert.equal(guardsTenant(notice), false, 'warns but lets the caller through');
  const borrowed = `begin if x then null; end if; v := current_setting('brigade.tenant_id'); if y then raise exception 'no' using errcode = '42501'; end if; end`;
  assert.equal(guardsTenant(borrowed), false, 'an earlier END IF does not lend the next IF its statements');
  assert.equal(guardsTenant('select 1'), false, 'a SQL-language body has no guard');
});
