/**
 * Lookups by a user's name (an input, an output, an axis): own keys only, since a name may be
 * `toString` or `constructor`, which a plain lookup finds on Object.prototype.
 */

/**
 * `record[key]` when `key` is the record's own, else undefined.
 * @example own({ a: 1 }, 'toString') // undefined
 */
export function own<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
