/** The cluster routing step: here, MOVED, CROSSSLOT, CLUSTERDOWN or forward, by the applied map. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type ClusterClient,
  CLUSTERDOWN,
  ClusterRouter,
  CROSSSLOT,
  SLOT_UNSERVED,
  SPLIT_ROUTE,
} from "../../src/cluster/router.ts";
import {
  type ClusterMember,
  ClusterState,
  encodeCommand,
  planSlots,
  raftIdOf,
} from "../../src/cluster/state.ts";
import type { Route } from "../../src/commands/routing.ts";
import { createCommandTable } from "../../src/commands/table.ts";
import {
  type ClientState,
  type DeferredReply,
  internalClient,
  keyIndices,
  specFor,
} from "../../src/commands/types.ts";
import { keySlot } from "../../src/ring/key_slot.ts";

const SELF = "node1";
const table = createCommandTable();

function member(index: number): ClusterMember {
  const id = `node${index}`;
  const port = 7000 + index;
  return {
    id,
    raftId: raftIdOf(id),
    host: `10.0.0.${index}`,
    port,
    httpPort: 0,
    busPort: port + 10000,
    gossipPort: port + 20000,
    zone: "",
    weight: 1,
  };
}

const MEMBERS = [member(1), member(2), member(3)];

/** The members, with (unless `slots` is false) the slot map planSlots gives them, applied. */
function clusterState(slots = true): ClusterState {
  const state = new ClusterState();
  for (const m of MEMBERS) state.apply(encodeCommand({ op: "member", member: m }));
  if (slots) {
    const map = planSlots(state, MEMBERS)!;
    const result = state.apply(encodeCommand({ op: "slots", expectEpoch: state.epoch, map }));
    assert.equal(result.applied, true, result.reason);
  }
  return state;
}

/**
 * Hooks whose answers the test sets, recording every forward. No key is mid-migration: every key
 * exists where the map puts it and no slot is being sent.
 */
function fakeHooks() {
  const forwarded: { owner: string; client: ClientState; argv: string[] }[] = [];
  const hooks = {
    quorum: true,
    failed: new Set<string>(),
    inQuorum: () => hooks.quorum,
    isFailed: (id: string) => hooks.failed.has(id),
    forward: (owner: string, client: ClientState, argv: string[], _reply: DeferredReply) => {
      forwarded.push({ owner, client, argv });
    },
    forwardTransaction: (
      owner: string,
      client: ClientState,
      commands: string[][],
      _reply: DeferredReply,
    ) => {
      forwarded.push({ owner, client, argv: ["EXEC", ...commands.map((c) => c.join(" "))] });
    },
    exists: (_db: number, _key: string) => true,
    sending: (_slot: number) => false,
    // The split route runs its parts through the dispatcher, which these tests do not reach.
    runHere: (_client: ClientState, _argv: string[]): string => {
      throw new Error("runHere is not expected in router tests");
    },
  };
  return { hooks, forwarded };
}

function setup(slots = true) {
  const state = clusterState(slots);
  const { hooks, forwarded } = fakeHooks();
  const router = new ClusterRouter(state, SELF, hooks);
  const plain = internalClient({ id: 1, remoteAddress: "plain" });
  const aware: ClusterClient = {
    ...internalClient({ id: 2, remoteAddress: "aware" }),
    clusterAware: true,
  };
  /** Routes `argv` as the dispatcher does: the governing spec, then its keys from the table. */
  const route = (client: ClientState, ...argv: string[]): Route => {
    const spec = table.lookup(argv[0]);
    assert.ok(spec !== undefined, `no command ${argv[0]}`);
    const governing = specFor(spec, argv);
    const indices = keyIndices(governing, argv);
    const keys = indices === null ? null : indices.map((i) => argv[i]);
    return router.route(governing, argv, keys, client);
  };
  return { state, hooks, forwarded, router, plain, aware, route };
}

/** The first key `k<n>` whose slot `state` gives to `owner`. */
function keyOwnedBy(state: ClusterState, owner: string, skip = 0): string {
  for (let n = 0;; n++) {
    const key = `k${n}`;
    if (state.ownerOf(keySlot(key)) === owner && skip-- === 0) return key;
  }
}

/** Two keys of different slots, both owned by `owner`. */
function twoSlotsOf(state: ClusterState, owner: string): [string, string] {
  const first = keyOwnedBy(state, owner);
  for (let skip = 1;; skip++) {
    const second = keyOwnedBy(state, owner, skip);
    if (keySlot(second) !== keySlot(first)) return [first, second];
  }
}

/** The counters of the decisions this file makes (no slot is migrating here). */
function kinds(router: ClusterRouter) {
  const { here, moved, forwarded, down, crossslot, split } = router.stats;
  return { here, moved, forwarded, down, crossslot, split };
}

const here: Route = { kind: "here" };
const redirect = (error: string): Route => ({ kind: "redirect", error });

describe("ClusterRouter: here", () => {
  it("runs keyless commands here, for every kind of client", () => {
    const { route, plain, aware } = setup();
    assert.deepEqual(route(plain, "PING"), here);
    assert.deepEqual(route(aware, "DBSIZE"), here);
    assert.deepEqual(route(aware, "CLUSTER", "KEYSLOT", "foo"), here, "a subcommand's own spec");
  });

  it("runs a command whose arguments cannot hold its keys here (the handler answers)", () => {
    const { route, plain } = setup();
    assert.deepEqual(route(plain, "SINTERCARD", "x", "a"), here);
  });

  it("runs a command on a key this node owns here", () => {
    const { state, route, plain, aware } = setup();
    const key = keyOwnedBy(state, SELF);
    assert.deepEqual(route(plain, "GET", key), here);
    assert.deepEqual(route(aware, "SET", key, "v"), here);
    assert.deepEqual(route(aware, "OBJECT", "ENCODING", key), here);
  });
});

describe("ClusterRouter: another node's key", () => {
  it("forwards a plain client's command to the owner", () => {
    const { state, route, plain, router, forwarded } = setup();
    const key = keyOwnedBy(state, "node2");
    assert.deepEqual(route(plain, "GET", key), { kind: "forward", node: "node2" });
    assert.deepEqual(route(plain, "OBJECT", "ENCODING", keyOwnedBy(state, "node3")), {
      kind: "forward",
      node: "node3",
    });

    const reply: DeferredReply = { complete: () => {} };
    router.forward("node2", plain, ["GET", key], reply);
    assert.deepEqual(forwarded, [{ owner: "node2", client: plain, argv: ["GET", key] }]);
  });

  it("answers a cluster-aware client MOVED with the slot and the owner's host:port", () => {
    const { state, route, aware, forwarded } = setup();
    for (const owner of [member(2), member(3)]) {
      const key = keyOwnedBy(state, owner.id);
      assert.deepEqual(
        route(aware, "GET", key),
        redirect(`MOVED ${keySlot(key)} ${owner.host}:${owner.port}`),
      );
    }
    assert.deepEqual(forwarded, []);
  });

  it("gives the exact Redis text MOVED <slot> <host>:<port>", () => {
    const { state, route, aware } = setup();
    const key = keyOwnedBy(state, "node2");
    const reply = route(aware, "GET", key);
    assert.equal(reply.kind, "redirect");
    assert.match((reply as { error: string }).error, /^MOVED \d{1,5} 10\.0\.0\.2:7002$/);
  });
});

describe("ClusterRouter: multi-key commands", () => {
  it("refuses a cluster client keys of two slots with CROSSSLOT, even when one node owns both", () => {
    const { state, route, aware } = setup();
    assert.equal(CROSSSLOT, "CROSSSLOT Keys in request don't hash to the same slot");
    const [a, b] = twoSlotsOf(state, SELF);
    assert.deepEqual(route(aware, "MGET", a, b), redirect(CROSSSLOT));
    assert.deepEqual(route(aware, "DEL", a, b), redirect(CROSSSLOT));
    const far = keyOwnedBy(state, "node2");
    assert.deepEqual(route(aware, "MSET", a, "1", far, "2"), redirect(CROSSSLOT));
  });

  it("splits MGET, MSET, DEL, UNLINK, EXISTS and TOUCH of a plain client by slot", () => {
    const { state, route, plain } = setup();
    const [a, b] = twoSlotsOf(state, SELF);
    const far = keyOwnedBy(state, "node2");
    assert.deepEqual(route(plain, "MGET", a, b), SPLIT_ROUTE);
    assert.deepEqual(route(plain, "MSET", a, "1", far, "2"), SPLIT_ROUTE);
    for (const name of ["DEL", "UNLINK", "EXISTS", "TOUCH"]) {
      assert.deepEqual(route(plain, name, a, far), SPLIT_ROUTE, name);
    }
  });

  it("refuses a plain client a multi-key command whose answer needs every key in one place", () => {
    const { state, route, plain } = setup();
    const [a] = twoSlotsOf(state, SELF);
    const far = keyOwnedBy(state, "node2");
    assert.deepEqual(route(plain, "SINTERCARD", "2", a, far), redirect(CROSSSLOT));
    assert.deepEqual(route(plain, "RENAME", a, far), redirect(CROSSSLOT));
  });

  it("routes keys that share a hash tag as one", () => {
    const { state, route, plain, aware } = setup();
    assert.equal(keySlot("{u}a"), keySlot("{u}b"));
    const slot = keySlot("{u}a");
    const owner = state.member(state.ownerOf(slot))!;
    const expected: Route = owner.id === SELF ? here : { kind: "forward", node: owner.id };
    assert.deepEqual(route(plain, "MSET", "{u}a", "1", "{u}b", "2"), expected);
    assert.deepEqual(
      route(aware, "MGET", "{u}a", "{u}b"),
      owner.id === SELF ? here : redirect(`MOVED ${slot} ${owner.host}:${owner.port}`),
    );
  });

  it("routes several keys of one slot to its owner", () => {
    const { state, route, plain } = setup();
    // A tag owned by node3, so the expected route is known whatever the map.
    let tag = 0;
    while (state.ownerOf(keySlot(`{t${tag}}`)) !== "node3") tag++;
    assert.deepEqual(route(plain, "MGET", `{t${tag}}x`, `{t${tag}}y`, `{t${tag}}z`), {
      kind: "forward",
      node: "node3",
    });
  });
});

describe("ClusterRouter: CLUSTERDOWN", () => {
  it("answers CLUSTERDOWN for any key while this node is out of the quorum", () => {
    const { state, route, plain, aware, hooks, forwarded } = setup();
    assert.equal(CLUSTERDOWN, "CLUSTERDOWN The cluster is down");
    hooks.quorum = false;
    assert.deepEqual(route(plain, "GET", keyOwnedBy(state, SELF)), redirect(CLUSTERDOWN));
    assert.deepEqual(route(plain, "GET", keyOwnedBy(state, "node2")), redirect(CLUSTERDOWN));
    assert.deepEqual(route(aware, "GET", keyOwnedBy(state, "node3")), redirect(CLUSTERDOWN));
    assert.deepEqual(route(plain, "PING"), here, "keyless commands still run");
    assert.deepEqual(forwarded, []);
    hooks.quorum = true;
    assert.deepEqual(route(plain, "GET", keyOwnedBy(state, SELF)), here);
  });

  it("answers 'Hash slot not served' before the first slot map", () => {
    const { route, plain, aware } = setup(false);
    assert.equal(SLOT_UNSERVED, "CLUSTERDOWN Hash slot not served");
    assert.deepEqual(route(plain, "GET", "foo"), redirect(SLOT_UNSERVED));
    assert.deepEqual(route(aware, "SET", "foo", "bar"), redirect(SLOT_UNSERVED));
    assert.deepEqual(route(plain, "PING"), here);
  });

  it("answers CLUSTERDOWN for the slots of an owner gossip holds failed", () => {
    const { state, route, plain, aware, hooks, forwarded } = setup();
    hooks.failed.add("node2");
    const key = keyOwnedBy(state, "node2");
    assert.deepEqual(route(plain, "GET", key), redirect(CLUSTERDOWN));
    assert.deepEqual(route(aware, "GET", key), redirect(CLUSTERDOWN));
    assert.deepEqual(route(plain, "GET", keyOwnedBy(state, "node3")), {
      kind: "forward",
      node: "node3",
    }, "the live owners' slots are still served");
    assert.deepEqual(route(plain, "GET", keyOwnedBy(state, SELF)), here);
    assert.deepEqual(forwarded, []);
  });
});

describe("ClusterRouter: stats", () => {
  it("counts each routing decision by its kind", () => {
    const { state, router, route, plain, aware, hooks } = setup();
    const mine = keyOwnedBy(state, SELF);
    const theirs = keyOwnedBy(state, "node2");
    const [a, b] = twoSlotsOf(state, SELF);
    assert.deepEqual(kinds(router), {
      here: 0,
      moved: 0,
      forwarded: 0,
      down: 0,
      crossslot: 0,
      split: 0,
    });

    route(plain, "GET", mine);
    route(aware, "GET", mine);
    route(plain, "GET", theirs);
    route(plain, "GET", theirs);
    route(plain, "GET", theirs);
    route(aware, "GET", theirs);
    route(plain, "MGET", a, b);
    route(aware, "MGET", a, b);
    hooks.quorum = false;
    route(plain, "GET", mine);
    hooks.quorum = true;
    hooks.failed.add("node2");
    route(aware, "GET", theirs);
    assert.deepEqual(kinds(router), {
      here: 2,
      moved: 1,
      forwarded: 3,
      down: 2,
      crossslot: 1,
      split: 1,
    });
  });

  it("counts an unserved slot as down", () => {
    const { router, route, plain } = setup(false);
    route(plain, "GET", "foo");
    assert.equal(router.stats.down, 1);
  });
});

describe("ClusterRouter: one key", () => {
  it("routes a one-key command by its key exactly as by the key list, for every kind of client", () => {
    const { state, hooks, router, plain, aware } = setup();
    const spec = table.lookup("get")!;
    const keys = ["", "a", "{user1}.a", "x{}y", "{", "}{", "k\u00ff{tag}z"];
    for (let n = 0; n < 500; n++) keys.push(`k${n}`, `{t${n}}rest`);
    for (const quorum of [true, false]) {
      hooks.quorum = quorum;
      for (const client of [plain, aware]) {
        for (const key of keys) {
          assert.deepEqual(
            router.routeKey(spec, key, client),
            router.route(spec, ["GET", key], [key], client),
            `key ${JSON.stringify(key)} (slot ${keySlot(key)}, owner ${
              state.ownerOf(keySlot(key))
            })`,
          );
        }
      }
    }
  });
});
