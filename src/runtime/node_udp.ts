/**
 * UDP through `node:dgram`, which Deno and Bun both provide without unstable flags.
 *
 * @module
 */
import dgram from "node:dgram";
import type { UdpBindOptions, UdpSocket } from "./types.ts";

/** Binds a UDP socket; resolves once it is listening. */
export function bindNodeUdp(options: UdpBindOptions): Promise<UdpSocket> {
  const socket = dgram.createSocket({ type: "udp4", reuseAddr: false });
  return new Promise((resolve, reject) => {
    socket.once("error", reject);
    socket.on("message", (message, remote) => {
      const bytes = new Uint8Array(message.buffer, message.byteOffset, message.byteLength);
      options.onMessage(bytes, { hostname: remote.address, port: remote.port });
    });
    socket.bind(options.port, options.hostname, () => {
      socket.off("error", reject);
      // A send to a closed peer must not bring the process down.
      socket.on("error", () => {});
      resolve({
        port: socket.address().port,
        send(data, hostname, port) {
          socket.send(data, port, hostname);
        },
        close() {
          return new Promise((done) => socket.close(() => done()));
        },
      });
    });
  });
}
