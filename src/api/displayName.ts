import { Type } from 'typebox';

/** Control characters (C0, DEL, C1) and the bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), as the inside of a regular expression's character class. */
export const CONTROL_OR_BIDI = '\\x00-\\x1f\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069';
/** Never at either end, besides {@link CONTROL_OR_BIDI}: white space and the zero-width characters (U+200B–U+200D, U+2060). */
const NOT_AT_AN_END = `${CONTROL_OR_BIDI}\\s\\u200b-\\u200d\\u2060`;

/**
 * A name as people see it in lists, tables and menus (decision 0083): not blank, no space at either
 * end, no control character (a newline in a name broke `brigade tenants list`, and "A " passed the
 * duplicate check of "A"), and no bidi override (`"\u202Eazzip"` shows as "pizza" and sorts, searches
 * and compares as something else); a zero-width character cannot make a name look blank either.
 */
export const DISPLAY_NAME = `^[^${NOT_AT_AN_END}](?:[^${CONTROL_OR_BIDI}]*[^${NOT_AT_AN_END}])?$`;

/**
 * What a value that fails {@link DISPLAY_NAME} gets told, after its field's name: the rule in words.
 * The pattern itself (some 200 characters of escapes) says nothing to whoever sent "Ana ".
 */
export const DISPLAY_NAME_RULE = 'must not start or end with a space, nor hold a control or bidi-override character';

/**
 * A name of a restaurant, a city, a person, or a menu's category, item, modifier group or modifier:
 * 1 to `maxLength` characters of {@link DISPLAY_NAME}.
 *
 * @example
 * const Body = Type.Object({ name: NameText(200) });
 */
export const NameText = (maxLength: number) =>
  Type.String({ minLength: 1, maxLength, pattern: DISPLAY_NAME, description: 'no space at either end, no control or bidi-override character' });

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
