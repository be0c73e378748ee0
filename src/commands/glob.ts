/**
 * Glob matching with Redis's `stringmatchlen` semantics, for KEYS, SCAN MATCH and the like:
 * `*`, `?`, `[abc]`, `[^a]`, `[a-z]` and `\` escapes, on latin1 strings.
 *
 * @module
 */

/** Redis's guard against patterns that take exponential time (`stringmatchlen` nesting). */
const MAX_NESTING = 1000;

/** Whether `text` matches the glob `pattern`. */
export function globMatch(pattern: string, text: string, noCase = false): boolean {
  if (noCase) return match(pattern.toLowerCase(), 0, text.toLowerCase(), 0, 0).matched;
  return match(pattern, 0, text, 0, 0).matched;
}

/** A direct port of `stringmatchlen_impl`, including its early stop (`skipLongerMatches`). */
function match(
  pattern: string,
  p: number,
  text: string,
  t: number,
  nesting: number,
): { matched: boolean; skip: boolean } {
  if (nesting > MAX_NESTING) return { matched: false, skip: false };
  while (p < pattern.length && t < text.length) {
    const c = pattern[p];
    if (c === "*") {
      while (p + 1 < pattern.length && pattern[p + 1] === "*") p++;
      if (p + 1 === pattern.length) return { matched: true, skip: false };
      while (t < text.length) {
        const result = match(pattern, p + 1, text, t, nesting + 1);
        if (result.matched) return result;
        if (result.skip) return result;
        t++;
      }
      return { matched: false, skip: true };
    } else if (c === "?") {
      t++;
    } else if (c === "[") {
      p++;
      const not = pattern[p] === "^";
      if (not) p++;
      let found = false;
      for (;;) {
        if (p < pattern.length && pattern[p] === "\\" && p + 1 < pattern.length) {
          p++;
          if (pattern[p] === text[t]) found = true;
        } else if (p >= pattern.length || pattern[p] === "]") {
          break;
        } else if (p + 2 < pattern.length && pattern[p + 1] === "-") {
          let start = pattern.charCodeAt(p);
          let end = pattern.charCodeAt(p + 2);
          const code = text.charCodeAt(t);
          if (start > end) [start, end] = [end, start];
          p += 2;
          if (code >= start && code <= end) found = true;
        } else if (pattern[p] === text[t]) {
          found = true;
        }
        p++;
      }
      if (p >= pattern.length) p = pattern.length - 1; // the C code steps back onto the last char
      if (not) found = !found;
      if (!found) return { matched: false, skip: false };
      t++;
    } else {
      if (c === "\\" && p + 1 < pattern.length) p++;
      if (pattern[p] !== text[t]) return { matched: false, skip: false };
      t++;
    }
    p++;
    if (t === text.length) {
      while (p < pattern.length && pattern[p] === "*") p++;
      break;
    }
  }
  return { matched: p === pattern.length && t === text.length, skip: false };
}
