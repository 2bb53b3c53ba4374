/** One of Dawn's two limit notices, as a whole line (see dawn-warnings.mjs). */
export declare const DAWN_LIMIT_WARNING: RegExp;

/** A text filter for a stream of chunks that drops Dawn's limit notices (see dawn-warnings.mjs). */
export declare function dawnWarningFilter(): {
  /** what to pass on now */
  feed(chunk: string): string;
  /** the rest, at the end of the stream */
  end(): string;
};
