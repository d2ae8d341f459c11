/**
 * A name rule's refusal in words (`brigade tenants add NAME`, `brigade token revoke --reason`): its
 * pattern and its minimum length forbid a blank text or a control character, which the schema's own
 * message ("must match pattern …", some 200 characters of escapes) does not say; other messages (a
 * maximum length) are kept.
 */
export function nameRuleInWords(message: string): string {
  return /^must (match pattern|not have fewer than)/.test(message) ? 'must not be blank or hold a control character (a newline, a tab)' : message;
}
