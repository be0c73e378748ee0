/**
 * An in-memory FileSystem that knows what was fsynced: `crash()` keeps only durable bytes plus,
 * optionally, a torn prefix of what was written after the last fsync.
 */
import type { FileHandle, FileSystem } from "../src/runtime/types.ts";

interface MemFile {
  durable: Uint8Array;
  data: Uint8Array;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

export class MemFileSystem implements FileSystem {
  readonly files = new Map<string, MemFile>();
  syncCount = 0;
  /** When set, the next write throws (a failing disk). */
  failNextWrite = false;
  /** Bumped by `crash()`: handles opened before it fail, as a dead process's would. */
  private epoch = 0;

  /** `syncDelayMs` makes each fsync take real time, so a crash can land between write and sync. */
  constructor(readonly syncDelayMs = 0) {}

  private alive(epoch: number): void {
    if (epoch !== this.epoch) throw new Error("EIO: the process that opened this file crashed");
  }

  open(path: string, mode: "a" | "w" | "r+"): Promise<FileHandle> {
    let file = this.files.get(path);
    if (!file || mode === "w") {
      file = { durable: file?.durable ?? new Uint8Array(), data: new Uint8Array() };
      this.files.set(path, file);
    }
    // deno-lint-ignore no-this-alias
    const fs = this;
    const epoch = this.epoch;
    const handle: FileHandle = {
      write(data: Uint8Array): Promise<void> {
        fs.alive(epoch);
        if (fs.failNextWrite) {
          fs.failNextWrite = false;
          return Promise.reject(new Error("EIO: injected write failure"));
        }
        const f = fs.files.get(path)!;
        f.data = concat(f.data, data);
        return Promise.resolve();
      },
      async datasync(): Promise<void> {
        if (fs.syncDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, fs.syncDelayMs));
        fs.alive(epoch);
        const f = fs.files.get(path)!;
        f.durable = f.data.slice();
        fs.syncCount++;
      },
      size: () => Promise.resolve(fs.files.get(path)!.data.length),
      truncate(sizeBytes: number): Promise<void> {
        fs.alive(epoch);
        const f = fs.files.get(path)!;
        f.data = f.data.slice(0, sizeBytes);
        return Promise.resolve();
      },
      close: () => Promise.resolve(),
    };
    return Promise.resolve(handle);
  }

  readFile(path: string): Promise<Uint8Array | null> {
    const file = this.files.get(path);
    return Promise.resolve(file ? file.data.slice() : null);
  }

  writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
    this.files.set(path, { durable: data.slice(), data: data.slice() });
    return Promise.resolve();
  }

  rename(from: string, to: string): Promise<void> {
    const file = this.files.get(from);
    if (file) {
      this.files.set(to, file);
      this.files.delete(from);
    }
    return Promise.resolve();
  }

  remove(path: string): Promise<void> {
    this.files.delete(path);
    return Promise.resolve();
  }

  mkdirp(): Promise<void> {
    return Promise.resolve();
  }

  readDir(path: string): Promise<string[]> {
    const prefix = path.endsWith("/") ? path : path + "/";
    const names = [...this.files.keys()].filter((p) => p.startsWith(prefix)).map((p) =>
      p.slice(prefix.length)
    );
    return Promise.resolve(names.filter((n) => !n.includes("/")));
  }

  syncDir(): Promise<void> {
    return Promise.resolve();
  }

  /** Loses unsynced bytes; `tornBytes` of them survive at the end of each file (a torn write). */
  crash(tornBytes = 0): void {
    this.epoch++;
    for (const file of this.files.values()) {
      const extra = file.data.subarray(file.durable.length, file.durable.length + tornBytes);
      file.data = concat(file.durable, extra);
      file.durable = file.data.slice();
    }
  }

  /** Flips the bits of one byte. */
  corrupt(path: string, offset: number): void {
    const file = this.files.get(path)!;
    file.data[offset] ^= 0xff;
    file.durable = file.data.slice();
  }
}
