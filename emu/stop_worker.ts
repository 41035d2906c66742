/**
 * The hang guard's thread ({@linkcode Unicorn.hangGuard}): sleeps until a deadline (Atomics.wait, no
 * polling) and then calls `uc_emu_stop` on the engine, unless the owner disarmed it first. State word:
 * 0 armed, 1 disarmed, 3 stopping, 2 fired.
 *
 * @module
 */

/// <reference lib="deno.worker" />

interface GuardMessage {
  lib: string;
  engine: bigint;
  deadline: number;
  state: SharedArrayBuffer;
}

self.onmessage = (e: MessageEvent<GuardMessage>) => {
  const { lib, engine, deadline, state } = e.data;
  const st = new Int32Array(state);
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    Atomics.wait(st, 0, 0, left);
    if (Atomics.load(st, 0) !== 0) {
      self.close();
      return;
    }
  }
  if (Atomics.compareExchange(st, 0, 0, 3) === 0) {
    const l = Deno.dlopen(lib, { uc_emu_stop: { parameters: ["pointer"], result: "i32" } });
    l.symbols.uc_emu_stop(Deno.UnsafePointer.create(engine));
    Atomics.store(st, 0, 2);
    Atomics.notify(st, 0);
  }
  self.close();
};
