/**
 * ACL categories, as Redis has them, and the roles defined by them.
 *
 * Every command in the table carries its categories (`CommandSpec.categories`): derived from its
 * family and flags the way Redis assigns them (`write` is `@write`, `fast` is `@fast` and
 * otherwise `@slow`, `admin` is `@admin` and `@dangerous`, the hash family is `@hash`, ...),
 * with the exceptions declared on the command itself (KEYS and FLUSHDB are `@dangerous`, CLIENT
 * KILL is `@admin`, ...). A role is a list of Redis ACL rules over those categories and command
 * names, applied left to right as `ACL SETUSER` applies them.
 *
 * @module
 */
import type { CommandFlag, UserRole } from "./types.ts";

/** Redis 7's ACL categories (`ACL CAT`). */
export const ACL_CATEGORIES = [
  "keyspace",
  "read",
  "write",
  "set",
  "sortedset",
  "list",
  "hash",
  "string",
  "bitmap",
  "hyperloglog",
  "geo",
  "stream",
  "pubsub",
  "admin",
  "fast",
  "slow",
  "blocking",
  "dangerous",
  "connection",
  "transaction",
  "scripting",
] as const;

export type AclCategory = typeof ACL_CATEGORIES[number];

/** The data-type or area category of each command family. */
const FAMILY_CATEGORY: Record<string, AclCategory | null> = {
  string: "string",
  hash: "hash",
  list: "list",
  set: "set",
  "sorted-set": "sortedset",
  stream: "stream",
  generic: "keyspace",
  pubsub: "pubsub",
  connection: "connection",
  transactions: "transaction",
  scripting: "scripting",
  server: null,
  cluster: null,
};

/** The categories Redis gives a command of `group` with `flags`, in Redis's order. */
export function deriveCategories(group: string, flags: readonly CommandFlag[]): AclCategory[] {
  const family = FAMILY_CATEGORY[group];
  if (family === undefined) throw new Error(`command family '${group}' has no ACL category`);
  const categories: AclCategory[] = [];
  if (family === "keyspace") categories.push("keyspace");
  if (flags.includes("readonly")) categories.push("read");
  if (flags.includes("write")) categories.push("write");
  if (family !== null && family !== "keyspace") categories.push(family);
  if (flags.includes("admin")) categories.push("admin");
  categories.push(flags.includes("fast") ? "fast" : "slow");
  if (flags.includes("blocking")) categories.push("blocking");
  if (flags.includes("admin")) categories.push("dangerous");
  return categories;
}

/**
 * What each role may run, as Redis ACL rules. `readonly` reads, handshakes, runs transactions of
 * reads and subscribes; it never writes, publishes, or runs what is `@admin` (CLIENT KILL and
 * LIST, ACL LIST, CONFIG, SAVE, ...) or otherwise `@dangerous` except INFO, which client
 * libraries send at connect. `readwrite` runs everything but `@admin`.
 */
export const ROLE_RULES: Record<UserRole, string> = {
  admin: "+@all",
  readwrite: "+@all -@admin",
  readonly: "+@read +@connection +@transaction -@write -@admin -@dangerous " +
    "+eval_ro +evalsha_ro +script|load +script|exists +info +time +acl|whoami +subscribe +psubscribe +unsubscribe +punsubscribe",
};

/** The parts of a command an ACL rule looks at. */
export interface AclSubject {
  /** Lower-case name, `parent|sub` for a subcommand. */
  readonly name: string;
  readonly categories: readonly AclCategory[];
}

/** Whether `rules` (Redis ACL syntax: `+@cat -@cat +name -name`, left to right) allow `subject`. */
export function allowedBy(rules: string, subject: AclSubject): boolean {
  let allowed = false;
  const parent = subject.name.split("|")[0];
  for (const rule of rules.split(/\s+/)) {
    if (rule === "") continue;
    const sign = rule[0];
    if (sign !== "+" && sign !== "-") throw new Error(`ACL rule '${rule}' must start with + or -`);
    const target = rule.slice(1).toLowerCase();
    let matches: boolean;
    if (target === "@all") matches = true;
    else if (target.startsWith("@")) {
      const category = target.slice(1) as AclCategory;
      if (!ACL_CATEGORIES.includes(category)) throw new Error(`unknown ACL category '${target}'`);
      matches = subject.categories.includes(category);
    } else matches = target === subject.name || target === parent;
    if (matches) allowed = sign === "+";
  }
  return allowed;
}
