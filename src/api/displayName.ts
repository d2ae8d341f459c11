import { Type } from 'typebox';

/** Control characters (C0, DEL, C1) and the bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), as the inside of a regular expression's character class. */
export const CONTROL_OR_BIDI = '\\x00-\\x1f\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069';
/**
 * Never anywhere in a name, besides {@link CONTROL_OR_BIDI}: the zero-width space, the word joiner and
 * the zero-width no-break space (U+200B, U+2060, U+FEFF), which only make "Zero\u200BWidth" a second
 * name that reads as "ZeroWidth"; and U+FFFD, which a decoder leaves of bytes that were not UTF-8
 * (`printf 'Caf\xc3'` in a shell made a restaurant "Caf\uFFFD"). The zero-width joiner and non-joiner
 * (U+200D, U+200C) are allowed inside: emoji (a woman cook is U+1F469 U+200D U+1F373) and scripts (Persian, the Indic ones) need them.
 */
const NEVER_IN_A_NAME = `${CONTROL_OR_BIDI}\\u200b\\u2060\\ufeff\\ufffd`;
/**
 * Never at either end, besides {@link NEVER_IN_A_NAME}: white space and every character Unicode draws
 * as nothing (`\\p{Default_Ignorable_Code_Point}`, some 4,000: the zero-width ones U+200B–U+200D and
 * U+2060, the soft hyphen U+00AD, the bidi marks U+200E, U+200F and U+061C, the variation selectors, the
 * Hangul fillers U+115F, U+1160, U+3164 and U+FFA0, …), and the blank Braille pattern U+2800, so that
 * none of them alone makes a name, or a reason, that reads as blank. Inside a name they stay (a soft
 * hyphen is where a long word may break, a variation selector picks an emoji's look, the joiners and
 * marks are scripts' own). The validators compile patterns with the `u` flag (ajv, TypeBox), which the
 * property escape needs.
 */
const NOT_AT_AN_END = `${NEVER_IN_A_NAME}\\s\\p{Default_Ignorable_Code_Point}\\u2800`;

/**
 * What may end a name though {@link NOT_AT_AN_END} has it: what completes the emoji before it, the
 * variation selectors (U+FE00–U+FE0F, U+E0100–U+E01EF: "Café ☕\uFE0F" ends with one) and the tags
 * (U+E0020–U+E007F: a subdivision's flag ends with U+E007F). A name cannot start with one, so none alone is a name.
 */
const MAY_END_AN_EMOJI = `\\ufe00-\\ufe0f\\u{e0020}-\\u{e007f}\\u{e0100}-\\u{e01ef}`;

/** One name, unanchored: a first and a last character not at an end, and none in between that is never in a name. */
const A_NAME = `[^${NOT_AT_AN_END}](?:[^${NEVER_IN_A_NAME}]*(?:[^${NOT_AT_AN_END}]|[${MAY_END_AN_EMOJI}]))?`;

/**
 * A name as people see it in lists, tables and menus (decision 0083): not blank, no space at either
 * end, no control character (a newline in a name broke `brigade tenants list`, and "A " passed the
 * duplicate check of "A"), and no bidi override (`"\u202Eazzip"` shows as "pizza" and sorts, searches
 * and compares as something else); a zero-width character cannot make a name look blank either, nor
 * a zero-width space make it look like another, and U+FFFD is not a name's ({@link NEVER_IN_A_NAME}).
 */
export const DISPLAY_NAME = `^${A_NAME}$`;

/**
 * {@link DISPLAY_NAME}, or nothing at all: a one-line text a field may leave empty (an order's cancel
 * reason, which a client may send as `""` for none), and that is otherwise held to the name rule.
 */
export const DISPLAY_NAME_OR_EMPTY = `^(?:${A_NAME})?$`;

/**
 * What a value that fails {@link DISPLAY_NAME} gets told, after its field's name: the rule in words.
 * The pattern itself (some 200 characters of escapes) says nothing to whoever sent "Ana ". The CLI
 * says it too (`nameRuleInWords`), for a name that is blank (too short) as well.
 */
export const DISPLAY_NAME_RULE =
  'must not be blank, start or end with a space or an invisible character, nor hold a control or bidi-override character, a zero-width space or U+FFFD (what bytes that are not UTF-8 become)';

/** What a value that fails {@link DISPLAY_NAME_OR_EMPTY} gets told, after its field's name. */
export const DISPLAY_NAME_OR_EMPTY_RULE = `may be empty; else it ${DISPLAY_NAME_RULE}`;

/**
 * A name of a restaurant, a city, a person, or a menu's category, item, modifier group or modifier:
 * 1 to `maxLength` characters of {@link DISPLAY_NAME}.
 *
 * @example
 * const Body = Type.Object({ name: NameText(200) });
 */
export const NameText = (maxLength: number) =>
  Type.String({ minLength: 1, maxLength, pattern: DISPLAY_NAME, description: 'no space at either end, no control or bidi-override character, zero-width space or U+FFFD' });

/**
 * A one-line text that may be empty, and else is held to the name rule: 0 to `maxLength` characters
 * of {@link DISPLAY_NAME_OR_EMPTY}. Blank (spaces only) is refused; empty is not.
 *
 * @example
 * const Body = Type.Object({ reason: Type.Optional(NameTextOrEmpty(500)) });
 */
export const NameTextOrEmpty = (maxLength: number) =>
  Type.String({ maxLength, pattern: DISPLAY_NAME_OR_EMPTY, description: 'empty, or else no space at either end, no control or bidi-override character, zero-width space or U+FFFD' });

/**
 * A text of several lines people read beside a name (a menu item's description): none of
 * {@link CONTROL_OR_BIDI} but a tab, a line feed and a carriage return before a line feed (a textarea sends its
 * lines LF or CRLF). A description is shown where names are (the menu, an item, search hits), so an
 * override disguises it as it would a name, and a BEL or an ESC sequence rings or colours a terminal
 * that prints it; a lone CR, which moves back over the line, is refused. Line breaks and tabs are what
 * the name rule refuses for tables and lists (one line per row), which a description is not shown in.
 * Ends and blank text are as sent. The alternatives are disjoint, so the match is linear.
 */
export const DESCRIPTION_TEXT = `^(?:[^${CONTROL_OR_BIDI}]|\\t|\\r?\\n)*$`;

/** What a value that fails {@link DESCRIPTION_TEXT} gets told, after its field's name (see {@link DISPLAY_NAME_RULE}). */
export const DESCRIPTION_TEXT_RULE = 'must not hold a control or bidi-override character other than a tab or a line break';

/**
 * A description: 0 to `maxLength` characters of {@link DESCRIPTION_TEXT}.
 *
 * @example
 * const Body = Type.Object({ description: Type.Optional(DescriptionText(2000)) });
 */
export const DescriptionText = (maxLength: number) =>
  Type.String({ maxLength, pattern: DESCRIPTION_TEXT, description: 'lines of text: no control or bidi-override character but a tab or a line break (LF or CRLF)' });
