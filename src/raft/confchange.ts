/**
 * Membership changes as pure functions from one {@linkcode ConfState} to the next: simple (one
 * voter at a time) and joint consensus (enter, then leave).
 *
 * @module
 */
import { decode, encode } from "cborg";
import type { ConfChange, ConfChangeSingle, ConfState, NodeId } from "./types.ts";

function without(ids: NodeId[], id: NodeId): NodeId[] {
  return ids.filter((x) => x !== id);
}

function withId(ids: NodeId[], id: NodeId): NodeId[] {
  return ids.includes(id) ? ids : [...ids, id];
}

function applySingle(conf: ConfState, change: ConfChangeSingle): void {
  const id = change.nodeId;
  if (!Number.isSafeInteger(id) || id <= 0) {
    throw new RangeError(
      `Cannot change membership: 'nodeId' must be a positive integer: current value is ${id}`,
    );
  }
  switch (change.type) {
    case "addVoter":
      conf.learners = without(conf.learners, id);
      conf.learnersNext = without(conf.learnersNext, id);
      conf.voters = withId(conf.voters, id);
      break;
    case "addLearner":
      conf.voters = without(conf.voters, id);
      // A voter of the outgoing half stays a voter until the joint configuration is left.
      if (conf.votersOutgoing.includes(id)) conf.learnersNext = withId(conf.learnersNext, id);
      else conf.learners = withId(conf.learners, id);
      break;
    case "removeNode":
      conf.voters = without(conf.voters, id);
      conf.learners = without(conf.learners, id);
      conf.learnersNext = without(conf.learnersNext, id);
      break;
  }
}

function copy(conf: ConfState): ConfState {
  return {
    voters: [...conf.voters],
    learners: [...conf.learners],
    votersOutgoing: [...conf.votersOutgoing],
    learnersNext: [...conf.learnersNext],
    autoLeave: conf.autoLeave,
  };
}

function symmetricDifference(a: NodeId[], b: NodeId[]): number {
  return a.filter((x) => !b.includes(x)).length + b.filter((x) => !a.includes(x)).length;
}

/** Whether `change` would be applied without joint consensus. */
export function isSimpleChange(conf: ConfState, change: ConfChange): boolean {
  if (change.changes.length === 0) return false;
  if ((change.transition ?? "auto") !== "auto") return false;
  let voterChanges = 0;
  for (const single of change.changes) {
    const isVoter = conf.voters.includes(single.nodeId);
    if (single.type === "addVoter" ? !isVoter : isVoter) voterChanges++;
  }
  return voterChanges <= 1;
}

/**
 * The membership after `change`. Throws a `RangeError` saying why when the change is not allowed
 * (entering a joint configuration twice, leaving when not joint, removing every voter).
 *
 * @example
 * ```ts
 * import { applyConfChangeTo } from "./confchange.ts";
 * const next = applyConfChangeTo(
 *   { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
 *   { changes: [{ type: "addVoter", nodeId: 4 }] },
 * );
 * next.voters; // [1, 2, 3, 4]
 * ```
 */
export function applyConfChangeTo(conf: ConfState, change: ConfChange): ConfState {
  const joint = conf.votersOutgoing.length > 0;
  const next = copy(conf);
  if (change.changes.length === 0) {
    if (!joint) {
      throw new RangeError("Cannot leave the joint configuration: the configuration is not joint");
    }
    for (const id of next.learnersNext) next.learners = withId(next.learners, id);
    next.learnersNext = [];
    next.votersOutgoing = [];
    next.autoLeave = false;
    return next;
  }
  if (joint) {
    throw new RangeError("Cannot change membership: the configuration is joint; leave it first");
  }
  const simple = isSimpleChange(conf, change);
  if (!simple) {
    if (conf.voters.length === 0) {
      throw new RangeError("Cannot enter a joint configuration: there are no voters");
    }
    next.votersOutgoing = [...conf.voters];
    next.autoLeave = (change.transition ?? "auto") !== "explicit";
  }
  for (const single of change.changes) applySingle(next, single);
  if (next.voters.length === 0) {
    throw new RangeError("Cannot change membership: it would remove every voter");
  }
  if (simple && symmetricDifference(conf.voters, next.voters) > 1) {
    throw new RangeError(
      "Cannot change membership: more than one voter changes; use joint consensus",
    );
  }
  return next;
}

/**
 * Encodes a membership change as the data of a "confChange" entry.
 *
 * @example
 * ```ts
 * import { decodeConfChange, encodeConfChange } from "./confchange.ts";
 * decodeConfChange(encodeConfChange({ changes: [{ type: "removeNode", nodeId: 2 }] }));
 * ```
 */
export function encodeConfChange(change: ConfChange): Uint8Array {
  return encode({
    c: change.changes.map((single) => [CHANGE_CODES.indexOf(single.type), single.nodeId]),
    t: change.transition ?? "auto",
  });
}

const CHANGE_CODES: ConfChangeSingle["type"][] = ["addVoter", "addLearner", "removeNode"];
const TRANSITIONS = ["auto", "joint", "explicit"];

/** Decodes a "confChange" entry's data; throws a `TypeError` when the bytes are not one. */
export function decodeConfChange(data: Uint8Array): ConfChange {
  let value: unknown;
  try {
    value = decode(data);
  } catch (error) {
    throw new TypeError(`Cannot decode a membership change: ${(error as Error).message}`);
  }
  const raw = value as { c?: unknown; t?: unknown };
  if (!raw || !Array.isArray(raw.c) || !TRANSITIONS.includes(raw.t as string)) {
    throw new TypeError("Cannot decode a membership change: the entry's data is not one");
  }
  const changes = raw.c.map((pair: unknown) => {
    const [code, nodeId] = pair as [number, number];
    const type = CHANGE_CODES[code];
    if (type === undefined || !Number.isSafeInteger(nodeId)) {
      throw new TypeError(`Cannot decode a membership change: bad change ${JSON.stringify(pair)}`);
    }
    return { type, nodeId };
  });
  return { changes, transition: raw.t as ConfChange["transition"] };
}
