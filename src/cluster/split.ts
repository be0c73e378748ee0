/**
 * Multi-key commands across slots, for a plain client: MGET, MSET, DEL, UNLINK, EXISTS and TOUCH
 * are split into one command per slot (each routed as usual: run here, or forwarded to its
 * owner), and the replies merged: MGET's
 * values in the order asked, MSET's OK, the others' counts summed. As with a cluster proxy, the
 * parts are not atomic together (an MSET is atomic per owner only). Other commands whose keys
 * span slots get `-CROSSSLOT`, as from Redis Cluster.
 *
 * @module
 */
import { keySlot } from "../ring/key_slot.ts";
import { RespDecoder, RespError } from "../resp/decoder.ts";
import type { ClientState, DeferredReply } from "../commands/types.ts";

/** The commands that split, and how many arguments each key carries (MSET: key and value). */
export const SPLITTABLE: ReadonlyMap<string, number> = new Map([
  ["mget", 1],
  ["mset", 2],
  ["del", 1],
  ["unlink", 1],
  ["exists", 1],
  ["touch", 1],
]);

/** Runs a single-slot command as the client's own would run; returns its reply's text. */
export type RunPart = (argv: string[]) => string | Promise<string>;

/**
 * Splits `argv` by its keys' slots, runs the parts through `run`, and completes `reply` with the
 * merged reply (the first error of a part, if any, as is).
 */
export function runSplit(
  argv: string[],
  client: ClientState,
  run: RunPart,
  reply: DeferredReply,
): void {
  const name = argv[0].toLowerCase();
  const width = SPLITTABLE.get(name)!;
  const parts = new Map<number, { argv: string[]; positions: number[] }>();
  for (let i = 1, position = 0; i < argv.length; i += width, position++) {
    const slot = keySlot(argv[i]);
    let part = parts.get(slot);
    if (part === undefined) parts.set(slot, part = { argv: [argv[0]], positions: [] });
    for (let j = 0; j < width; j++) part.argv.push(argv[i + j]);
    part.positions.push(position);
  }
  const entries = [...parts];
  Promise.all(entries.map(([, part]) => run(part.argv))).then((texts) => {
    const decoded = texts.map((text) => new RespDecoder().feed(text)[0]);
    const failure = decoded.find((value) => value instanceof RespError) as RespError | undefined;
    reply.complete((out) => {
      out.protocol = client.protocol;
      if (failure !== undefined) return out.error(failure.message);
      if (name === "mset") return out.ok();
      if (name !== "mget") {
        return out.integer(decoded.reduce<number>((sum, value) => sum + Number(value), 0));
      }
      const values = new Array<string | null>((argv.length - 1) / width);
      entries.forEach(([, part], p) => {
        const list = decoded[p] as (string | null)[];
        part.positions.forEach((position, k) => (values[position] = list[k]));
      });
      out.bulkArray(values);
    });
  });
}
