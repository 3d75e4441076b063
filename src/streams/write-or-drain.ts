/**
 * Anything written to that says when its buffer is full: a Node stream, a
 * grpc-js call, a session's FrameSink. `write` returning false means "stop
 * until 'drain'".
 */
export interface DrainableWriter<T> {
  write(chunk: T): boolean;
  once(event: 'drain', listener: () => void): unknown;
}

/**
 * Writes `chunk`. When the writer reports a full buffer, returns a promise
 * that resolves on its next 'drain', or settles as `ended` settles (the
 * stream was cancelled or failed, so no drain will come). When the write
 * went through, returns undefined, so a hot loop pays for no promise.
 */
export function writeOrWaitForDrain<T>(writer: DrainableWriter<T>, chunk: T, ended?: Promise<unknown>): Promise<void> | undefined {
  if (writer.write(chunk)) return undefined;
  const drained = new Promise<void>((resolve) => writer.once('drain', resolve));
  return ended ? Promise.race([drained, ended.then(() => undefined)]) : drained;
}
