/**
 * What sealing a customer's address costs this process (decision 0090): `seal` once per placement,
 * `unseal` once per answer that carries the address. CPU time of one thread, no I/O.
 *
 *   node --import tsx bench/temporal/sealCost.ts            # BENCH_ROUNDS=3 BENCH_N=20000
 */
import { newDataKey, seal, unseal } from '../../src/platform/temporal/index.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const N = Number(process.env.BENCH_N ?? 20_000);
const key = newDataKey();
const keyId = 'customer:0190a0b0-0000-7000-8000-000000000001';
const address = 'Rua Augusta 123, 2º esq, 1100-053 Lisboa';
const perCall = (f: () => unknown) => {
  const started = performance.now();
  for (let i = 0; i < N; i++) f();
  return ((performance.now() - started) * 1000) / N;
};
const sealed = seal(address, key, keyId);
console.log(`seal/unseal of a ${address.length}-character address (sealed: ${sealed.length} characters), ${N} calls a round`);
for (let round = 1; round <= ROUNDS; round++) {
  console.log(`round ${round}: seal ${perCall(() => seal(address, key, keyId)).toFixed(2)} µs, unseal ${perCall(() => unseal(sealed, key)).toFixed(2)} µs`);
}
