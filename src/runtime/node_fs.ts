/**
 * The file system through `node:fs/promises`, which behaves the same on Deno and Bun (Bun's own
 * file writer rewrites from offset 0, which an append-only file cannot have).
 *
 * @module
 */
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import { dirname } from "node:path";
import type { FileHandle, FileSystem, SyncFileSystem } from "./types.ts";

function isNotFound(error: unknown): boolean {
  return (error as { code?: string })?.code === "ENOENT";
}

class NodeFileHandle implements FileHandle {
  constructor(private readonly handle: fsp.FileHandle) {}

  async write(data: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < data.length) {
      const { bytesWritten } = await this.handle.write(data, offset, data.length - offset);
      offset += bytesWritten;
    }
  }

  datasync(): Promise<void> {
    return this.handle.datasync();
  }

  async size(): Promise<number> {
    return (await this.handle.stat()).size;
  }

  truncate(sizeBytes: number): Promise<void> {
    return this.handle.truncate(sizeBytes);
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/** A handle on a descriptor opened synchronously; its operations use the callback API. */
class FdFileHandle implements FileHandle {
  constructor(private readonly fd: number) {}

  private call<T>(run: (done: (error: Error | null, value?: T) => void) => void): Promise<T> {
    return new Promise((resolve, reject) =>
      run((error, value) => (error ? reject(error) : resolve(value as T)))
    );
  }

  async write(data: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < data.length) {
      offset += await this.call<number>((done) =>
        fs.write(this.fd, data, offset, data.length - offset, null, done)
      );
    }
  }

  datasync(): Promise<void> {
    return this.call((done) => fs.fdatasync(this.fd, done));
  }

  async size(): Promise<number> {
    return (await this.call<fs.Stats>((done) => fs.fstat(this.fd, done))).size;
  }

  truncate(sizeBytes: number): Promise<void> {
    return this.call((done) => fs.ftruncate(this.fd, sizeBytes, done));
  }

  close(): Promise<void> {
    return this.call((done) => fs.close(this.fd, done));
  }
}

function writeAllSync(fd: number, data: Uint8Array): void {
  let offset = 0;
  while (offset < data.length) offset += fs.writeSync(fd, data, offset, data.length - offset);
}

function syncDirSync(path: string): void {
  const fd = fs.openSync(path, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

const nodeSyncFileSystem: SyncFileSystem = {
  open(path, mode) {
    return new FdFileHandle(fs.openSync(path, mode));
  },

  writeFileAtomic(path, data) {
    const temporary = `${path}.tmp-${process.pid}`;
    const fd = fs.openSync(temporary, "w");
    try {
      writeAllSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temporary, path);
    syncDirSync(dirname(path));
  },
};

/** The real file system, shared by the Deno and Bun adapters. */
export const nodeFileSystem: FileSystem = {
  async open(path, mode) {
    return new NodeFileHandle(await fsp.open(path, mode));
  },

  async readFile(path) {
    try {
      // A view, not `new Uint8Array(buffer)`: that copies, which on Deno cost more than the read
      // itself for a large snapshot.
      const buffer = await fsp.readFile(path);
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  },

  async writeFileAtomic(path, data) {
    const temporary = `${path}.tmp-${process.pid}`;
    const handle = await fsp.open(temporary, "w");
    try {
      await new NodeFileHandle(handle).write(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fsp.rename(temporary, path);
    await nodeFileSystem.syncDir(dirname(path));
  },

  rename(from, to) {
    return fsp.rename(from, to);
  },

  async remove(path) {
    try {
      await fsp.rm(path, { recursive: true });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  },

  async mkdirp(path) {
    await fsp.mkdir(path, { recursive: true });
  },

  async readDir(path) {
    try {
      return await fsp.readdir(path);
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
  },

  async syncDir(path) {
    const handle = await fsp.open(path, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },

  sync: nodeSyncFileSystem,
};
