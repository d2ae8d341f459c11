import { AttemptsExhaustedError } from './errors.ts';

/** The text a dead letter keeps of a handler's error: name, stable code when there is one, message, stack. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const head = `${error.name}${typeof code === 'string' ? ` [${code}]` : ''}: ${error.message}`;
    const stack = error.stack?.split('\n').slice(1, 6).join('\n');
    return stack ? `${head}\n${stack}` : head;
  }
  return String(error);
}

/**
 * The note a dead letter keeps of a message whose attempts ran out without a settled last one
 * ({@link AttemptsExhaustedError}, with what the consumer's inbox said of it): its first line only,
 * since the stack would be the transport's own. Written after the last handler error the transport
 * kept, when there is one.
 */
export function describeExhausted(maxAttempts: number, handled: false | 'unknown' = 'unknown', checkError?: unknown): string {
  return describeError(new AttemptsExhaustedError(maxAttempts, handled, checkError)).split('\n', 1)[0]!;
}
