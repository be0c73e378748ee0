/**
 * A listener that cannot open says which address, and whether the port is taken.
 *
 * @module
 */

/** A listener could not be opened; names the address. */
export class ListenError extends Error {
  override name = "ListenError";
  constructor(readonly hostname: string, readonly port: number, cause: unknown) {
    const code = (cause as { code?: string }).code ?? (cause as Error).name;
    const inUse = code === "EADDRINUSE" || code === "AddrInUse";
    super(
      `cannot listen on ${hostname}:${port}: ` +
        (inUse ? `port ${port} is already in use` : (cause as Error).message),
    );
  }
}

/** Runs `start`, turning its failure into a `ListenError` for `hostname:port`. */
export async function listening<T>(
  hostname: string,
  port: number,
  start: () => Promise<T>,
): Promise<T> {
  try {
    return await start();
  } catch (error) {
    throw new ListenError(hostname, port, error);
  }
}
