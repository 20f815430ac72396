import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RestartQueue } from "../../src/restartQueue";

/** A restart that waits until the test lets it finish, and notes overlaps. */
function controlledRestarts() {
  const state = { started: 0, finished: 0, running: 0, maxRunning: 0, release: [] as (() => void)[] };
  const restart = () =>
    new Promise<void>((resolve) => {
      state.started++;
      state.running++;
      state.maxRunning = Math.max(state.maxRunning, state.running);
      state.release.push(() => {
        state.running--;
        state.finished++;
        resolve();
      });
    });
  return { state, restart };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("RestartQueue", () => {
  it("never runs two restarts at once", async () => {
    const { state, restart } = controlledRestarts();
    const queue = new RestartQueue(restart);
    const first = queue.request();
    await tick();
    const second = queue.request();
    await tick();
    assert.equal(state.started, 1, "the second restart waits for the first");
    state.release.shift()!();
    await first;
    await tick();
    assert.equal(state.started, 2);
    state.release.shift()!();
    await second;
    assert.equal(state.maxRunning, 1);
  });

  it("merges requests made while a restart is waiting into one", async () => {
    const { state, restart } = controlledRestarts();
    const queue = new RestartQueue(restart);
    const running = queue.request();
    await tick();
    const waiting = [queue.request(), queue.request(), queue.request()];
    assert.equal(waiting[0], waiting[1]);
    assert.equal(waiting[1], waiting[2]);
    state.release.shift()!();
    await running;
    await tick();
    state.release.shift()!();
    await Promise.all(waiting);
    assert.equal(state.started, 2);
    assert.equal(state.finished, 2);
  });

  it("keeps going after a restart fails", async () => {
    let calls = 0;
    const queue = new RestartQueue(async () => {
      calls++;
      if (calls === 1) {
        throw new Error("boom");
      }
    });
    await assert.rejects(queue.request(), /boom/);
    await queue.request();
    assert.equal(calls, 2);
  });

  it("idle() waits for every restart requested so far", async () => {
    const { state, restart } = controlledRestarts();
    const queue = new RestartQueue(restart);
    void queue.request();
    let idle = false;
    void queue.idle().then(() => {
      idle = true;
    });
    await tick();
    assert.equal(idle, false);
    state.release.shift()!();
    await tick();
    await tick();
    assert.equal(idle, true);
  });
});
