/**
 * Crypto-shredding (DESIGN.md, "Soft delete / temporal"): personal fields are sealed under a key per
 * subject before they are written anywhere append-only (the event log, the outbox, the broker), and
 * erasing the subject destroys the key; every copy then reads as `null`. The module seals and opens;
 * where the keys live is the owning service's (decision 0090).
 */
export { SealedValueError, SubjectErasedError } from './errors.ts';
export { revealFields, type ReadKeys } from './revealFields.ts';
export { sealFields, type SubjectKey } from './sealFields.ts';
export { subjectDigest } from './subjectDigest.ts';
export { DATA_KEY_BYTES, isSealed, keyIdOf, newDataKey, seal, unseal } from './sealedValue.ts';
