import { BrigadeError } from '../errors/index.ts';

/**
 * 500: a sealed value that is malformed, or that does not open under its own key (altered, or sealed
 * under another key of the same name). Never the answer for an erased subject: that value reads as
 * `null`.
 */
export class SealedValueError extends BrigadeError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('SEALED_VALUE_INVALID', 500, message, options);
  }
}

/**
 * 410: the subject's key was destroyed (the subject was erased), so nothing new is sealed for it: a
 * value sealed under a fresh key would outlive the erasure.
 */
export class SubjectErasedError extends BrigadeError {
  constructor(keyId: string) {
    super('SUBJECT_ERASED', 410, `${keyId} was erased: nothing more is recorded for it`, { details: { keyId } });
  }
}
