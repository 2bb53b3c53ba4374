// Dawn (the `webgpu` package) prints two lines from native code whenever an instance first
// enumerates a Vulkan adapter whose driver reports more dynamic buffers than Dawn supports
// (lavapipe reports 1000000, many GPU drivers 500000):
//   Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.
//   Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.
// They come from Dawn's NormalizeLimits during requestAdapter(), before any device or limit is
// requested, and go straight to file descriptor 2 with fprintf: no requested limit, toggle or
// environment variable avoids them, and JavaScript cannot intercept them in the same process.
// So the processes einattn starts (the CLI in bin/einattn.mjs, the test workers in
// vitest.config.ts) pass their stderr through this filter, which drops exactly these lines.

/** One of Dawn's two limit notices, as a whole line. */
export const DAWN_LIMIT_WARNING =
  /^Warning: maxDynamic(?:Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?$/;

const PREFIX = 'Warning: maxDynamic';

/**
 * A text filter for a stream of chunks: feed(chunk) returns what to pass on now, end() the
 * rest. Whole lines that are Dawn notices are dropped; anything else passes at once, except a
 * trailing partial line that may still become a notice, which waits for its end.
 * @example const f = dawnWarningFilter(); out.write(f.feed(chunk)); ... out.write(f.end())
 */
export function dawnWarningFilter() {
  let held = '';
  return {
    feed(chunk) {
      const text = held + chunk;
      const lines = text.split('\n');
      held = lines.pop() ?? '';
      let out = '';
      for (const line of lines) if (!DAWN_LIMIT_WARNING.test(line)) out += `${line}\n`;
      // a partial line that cannot be a notice is passed on now (progress output, prompts)
      if (!(PREFIX.startsWith(held) || held.startsWith(PREFIX))) {
        out += held;
        held = '';
      }
      return out;
    },
    end() {
      const rest = DAWN_LIMIT_WARNING.test(held) ? '' : held;
      held = '';
      return rest;
    },
  };
}
