/**
 * A server-sent events stream over a plain socket, for benchmarks that hold thousands of them (a
 * tRPC client per stream would measure the client): GET `path` with a bearer token; resolves
 * once the response's head has arrived with 200 (the subscription is registered by then). Each
 * chunk of the body goes to `onText` with its arrival time, the end of the previous chunk first
 * (`carry` characters of it), so that a pattern straddling two chunks is still found.
 */
export function openSse(o: {
  port: number;
  path: string;
  token: string;
  onText: (text: string, at: number) => void;
  onClose: () => void;
  carry?: number;
}) {
  return new Promise<{ end(): void }>((resolve, reject) => {
    let head = "";
    let headDone = false;
    let tail = "";
    Bun.connect({
      hostname: "127.0.0.1",
      port: o.port,
      socket: {
        open(socket) {
          socket.write(`GET ${o.path} HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/event-stream\r\nauthorization: Bearer ${o.token}\r\n\r\n`);
        },
        data(socket, chunk) {
          const now = performance.now();
          let text = chunk.toString();
          if (!headDone) {
            head += text;
            const end = head.indexOf("\r\n\r\n");
            if (end < 0) return;
            headDone = true;
            if (!head.startsWith("HTTP/1.1 200")) return reject(new Error(`${o.path}: ${head.split("\r\n")[0]}`));
            resolve(socket);
            text = head.slice(end + 4);
          }
          o.onText(tail + text, now);
          tail = text.slice(-(o.carry ?? 64));
        },
        close() {
          o.onClose();
          if (!headDone) reject(new Error(`${o.path}: closed before its response`));
        },
        error(_socket, err) {
          reject(err);
        },
      },
    }).catch(reject);
  });
}
