// Node's awaitGpu naps between event-loop turns. Dawn's binding polls on every setImmediate turn
// while a GPU promise is pending; a stand-in poller here counts the turns it gets during a wait,
// which is what decides how much of a core the main thread takes from a CPU adapter.
import { describe, expect, it } from 'vitest';
import { platform as browserPlatform } from '../../src/platform/browser.ts';
import { platform } from '../../src/platform/index.ts';
import { awaitNapping } from '../../src/platform/nap.ts';

/** Counts the setImmediate turns that pass until `wait` settles, the way Dawn's poller runs. */
async function turnsDuring(wait: Promise<unknown>): Promise<number> {
  let turns = 0;
  let pending = true;
  const poll = () => {
    if (!pending) return;
    turns++;
    setImmediate(poll);
  };
  setImmediate(poll);
  await wait.finally(() => {
    pending = false;
  });
  return turns;
}

const resolvesIn = (ms: number) => new Promise<number>((resolve) => setTimeout(() => resolve(ms), ms));

describe('awaitGpu', () => {
  it('is the napping wait under Node and a plain await in a browser', async () => {
    expect(platform.awaitGpu).toBe(awaitNapping);
    const p = Promise.resolve(3);
    expect(browserPlatform.awaitGpu(p)).toBe(p);
  });

  it('returns what the promise gives and throws what it throws', async () => {
    expect(await awaitNapping(resolvesIn(5))).toBe(5);
    await expect(awaitNapping(Promise.reject(new Error('map failed')))).rejects.toThrow('map failed');
  });

  it('lets a poller run far fewer turns than a plain await does', async () => {
    const spinning = await turnsDuring(resolvesIn(40));
    const napping = await turnsDuring(awaitNapping(resolvesIn(40)));
    // napping: one turn per nap of 0.05–0.5 ms (about a hundred in 40 ms, 800 at the very most);
    // spinning runs thousands on an idle core, and still several hundred on a loaded one
    expect(napping).toBeLessThan(400);
    expect(spinning).toBeGreaterThan(2 * napping);
  });

  it('shares one nap chain between concurrent waits and stops napping when they end', async () => {
    const [a, b] = await Promise.all([awaitNapping(resolvesIn(10)), awaitNapping(resolvesIn(20))]);
    expect([a, b]).toEqual([10, 20]);
    // a nap chain left running would hold each of these turns for 0.5 ms (500 ms in all)
    const t0 = performance.now();
    for (let i = 0; i < 1000; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    expect(performance.now() - t0).toBeLessThan(250);
  });
});
