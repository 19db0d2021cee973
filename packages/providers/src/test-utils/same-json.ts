/**
 * Whether two values serialise to the same JSON, key order aside: the tests' oracle for "normalising this
 * answer changes nothing", which `isNormalOpenAIResponse` decides in one pass without normalising.
 *
 * Keys holding `undefined` count as absent, as in JSON.stringify. Only JSON values are expected (what
 * JSON.parse makes, and objects built from them); anything else compares by identity.
 */
export function isSameJson(left: unknown, right: unknown): boolean {
  if (left === right) return true;
  if (typeof left !== 'object' || typeof right !== 'object' || left === null || right === null) return false;
  if (Array.isArray(left)) {
    if (!Array.isArray(right) || left.length !== right.length) return false;
    for (let index = 0; index < left.length; index++) if (!isSameJson(left[index], right[index])) return false;
    return true;
  }
  if (Array.isArray(right)) return false;
  const leftRecord = left as Record<string, unknown>;
  const rightRecord = right as Record<string, unknown>;
  let keys = 0;
  for (const key in leftRecord) {
    const value = leftRecord[key];
    if (value === undefined) continue;
    // A key missing on the right reads as undefined, or as something inherited, which is never JSON
    // equal to a JSON value; except an own `__proto__`, which would read as the prototype.
    const other = rightRecord[key];
    if (other === undefined || key === '__proto__' || !isSameJson(value, other)) return false;
    keys++;
  }
  for (const key in rightRecord) if (rightRecord[key] !== undefined) keys--;
  return keys === 0;
}
