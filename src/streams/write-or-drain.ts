/**
 * Anything written to that says when its buffer is full: a Node stream, a
 * grpc-js call, a session's FrameSink. `write` returning false means "stop
 * until 'drain'".
 */
export interface DrainableWriter<T> {
  write(chunk: T, written?: (err?: Error | null) => void): boolean;
  once(event: 'drain', listener: () => void): unknown;
}

/**
 * Writes `chunk`. When the writer reports a full buffer, returns a promise
 * that resolves on its next 'drain', or settles as `ended` settles (the
 * stream was cancelled or failed, so no drain will come). When the write
 * went through, returns undefined, so a hot loop pays for no promise.
 * `written`, when given, is the writer's own callback for this chunk (it is
 * called once the chunk has been passed on, or with the error that stopped it).
 */
export function writeOrWaitForDrain<T>(
  writer: DrainableWriter<T>,
  chunk: T,
  ended?: Promise<unknown>,
  written?: (err?: Error | null) => void,
): Promise<void> | undefined {
  if (written ? writer.write(chunk, written) : writer.write(chunk)) return undefined;
  const drained = new Promise<void>((resolve) => writer.once('drain', resolve));
  return ended ? Promise.race([drained, ended.then(() => undefined)]) : drained;
}
