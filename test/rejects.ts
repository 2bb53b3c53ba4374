/** Asserting on einattn's errors. */
import { expect } from 'vitest';
import { EinattnError } from '../src/index.ts';

/**
 * Awaits `p` (or calls it) and returns the EinattnError it throws; fails when it throws nothing or something else.
 * @example expect((await rejects(compile(g).run({}, dims))).code).toBe('BAD_INPUT')
 */
export async function rejects(p: Promise<unknown> | (() => unknown)): Promise<EinattnError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(EinattnError);
    return e as EinattnError;
  }
  throw new Error('expected an error');
}
