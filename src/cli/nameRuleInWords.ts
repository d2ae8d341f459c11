import { DISPLAY_NAME_RULE } from '../api/index.ts';

/**
 * A name rule's refusal in words (`brigade tenants add NAME`, `brigade token revoke --reason`): its
 * pattern and its minimum length are said as the API says them ({@link DISPLAY_NAME_RULE}), not as the
 * schema's own message ("must match pattern …", some 200 characters of escapes); other messages (a
 * maximum length) are kept. Its own words once said "a control character (a newline, a tab)" for a
 * bidi override too.
 */
export function nameRuleInWords(message: string): string {
  return /^must (match pattern|not have fewer than)/.test(message) ? DISPLAY_NAME_RULE : message;
}
