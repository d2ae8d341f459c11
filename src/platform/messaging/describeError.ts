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
