/**
 * Raft consensus as a library: a sans-I/O core modelled on etcd's raft ({@linkcode RaftNode}),
 * in-memory and durable (checksummed, fsynced, group-committed) storage, a TCP transport on the
 * cluster bus frame (with HMAC authentication), a driver that runs a node with real time, and the
 * types they exchange.
 *
 * @example
 * ```ts
 * import { MemoryStorage, RaftNode } from "@hypercache/hypercache/raft";
 * const storage = MemoryStorage.bootstrap([1]);
 * const node = new RaftNode({ id: 1, storage });
 * node.campaign();
 * while (node.hasReady()) {
 *   const ready = node.ready();
 *   storage.append(ready.entries);
 *   if (ready.hardState) storage.setHardState(ready.hardState);
 *   // send ready.messages, apply ready.committedEntries ...
 *   node.advance();
 * }
 * ```
 *
 * @module
 */
export {
  type PeerStatus,
  type RaftConfig,
  RaftNode,
  type RaftStatus,
  type ReadOnlyOption,
  type ResolvedRaftConfig,
  validateConfig,
} from "./node.ts";
export { MemoryStorage } from "./memory_storage.ts";
export type { FileSystem, Runtime } from "../runtime/types.ts";
export {
  CorruptionError,
  DurableStorage,
  type DurableStorageOptions,
  type RecoveryReport,
  type StorageUpdate,
} from "./storage.ts";
export {
  type DriverOptions,
  type DriverStorage,
  RaftDriver,
  type RequestCallback,
  type StateMachine,
} from "./driver.ts";
export {
  type PeerAddress,
  Transport,
  type TransportAttachOptions,
  type TransportOptions,
  type TransportStats,
} from "./transport.ts";
export {
  decodeMessage,
  encodeFrame,
  encodeMessage,
  type Frame,
  FrameDecoder,
  FrameError,
  FrameType,
} from "./codec.ts";
export { applyConfChangeTo, decodeConfChange, encodeConfChange } from "./confchange.ts";
export * from "./types.ts";
