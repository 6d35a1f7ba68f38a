// A stand-in chat model for the serve bench when no real model is given: emits `tok` deltas at a
// fixed rate (like a tiny model on CPU) and honours maxNewTokens and the AbortSignal, so the
// bench measures the server (queue, SSE, HTTP), not a model.
export class BenchFakeChatModel {
  kind = 'chat';
  constructor(tokenDelayMs = 5) {
    this.tokenDelayMs = tokenDelayMs;
    this.info = { modelType: 'bench-fake', name: 'bench-fake', dir: '(none)', device: 'cpu' };
  }

  chat(messages, opts = {}) {
    const max = opts.maxNewTokens ?? 16;
    const signal = opts.signal;
    const delay = this.tokenDelayMs;
    const buffered = [];
    let wake;
    let done = false;
    const result = (async () => {
      let n = 0;
      let finishReason = 'length';
      for (; n < max; n++) {
        await new Promise((r) => setTimeout(r, delay));
        if (signal?.aborted) {
          finishReason = 'abort';
          break;
        }
        buffered.push(n === 0 ? 'tok' : ' tok');
        wake?.();
      }
      done = true;
      wake?.();
      return { text: 'tok'.repeat(n), tokenIds: [], promptTokens: messages.length, completionTokens: n, finishReason };
    })();
    return {
      result,
      async *[Symbol.asyncIterator]() {
        for (;;) {
          if (buffered.length) {
            yield buffered.shift();
            continue;
          }
          if (done) return;
          await new Promise((r) => (wake = r));
        }
      },
    };
  }

  async dispose() {}
}
