// The chat REPL as a user drives it, in a child process: Ctrl-C (SIGINT) stops an answer at once
// and returns to the prompt, Ctrl-C at an empty prompt exits 130, /help /reset /system /image,
// and with --json stdout holds only the answers (banner and prompts are on stderr).
import { describe, it, expect, beforeAll } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { BIN, BUILT, IMAGES, assemble, haveFixtures, tsvlm, workDir } from '../helpers/cli.js';

const work = workDir();

function child(args: string[]) {
  const p = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const io = { out: '', err: '' };
  p.stdout.on('data', (d) => (io.out += d));
  p.stderr.on('data', (d) => (io.err += d));
  const exited = new Promise<number | null>((r) => p.on('exit', (code) => r(code)));
  /** Resolves when `test` holds (polled), fails after `ms`. */
  const until = async (what: string, test: () => boolean, ms = 60_000) => {
    const t0 = Date.now();
    while (!test()) {
      if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}\nstdout: ${io.out}\nstderr: ${io.err}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return Date.now() - t0;
  };
  return { p, io, exited, until };
}

const prompts = (s: string) => s.split('> ').length - 1;

describe.skipIf(!BUILT || !haveFixtures('sail-tiny'))('tsvlm chat REPL', () => {
  let sail: string;
  beforeAll(() => {
    sail = assemble(work, 'sail-tiny');
  });

  it('Ctrl-C stops an answer at once and returns to the prompt; Ctrl-C at an empty prompt exits 130', async () => {
    // 3000 tokens take the tiny model many seconds: the answer is still streaming when Ctrl-C comes.
    const c = child(['chat', '--model', sail, '--image', join(IMAGES, 'gray.png'), '--max-new-tokens', '3000', '--temperature', '0']);
    await c.until('the first prompt', () => prompts(c.io.err) >= 1);
    expect(c.io.err).toMatch(/tsvlm chat with sail-tiny about .*gray\.png\. \/help lists the commands/);
    expect(c.io.out).toBe('');
    c.p.stdin.write('Describe the picture\n');
    await c.until('the answer to start', () => c.io.out.length > 40);
    c.p.kill('SIGINT');
    const took = await c.until('the prompt after [stopped]', () => /\[stopped\]\n> $/.test(c.io.err), 10_000);
    expect(took).toBeLessThan(5000); // the whole answer takes ~25 s
    const len = c.io.out.length;
    await new Promise((r) => setTimeout(r, 400));
    expect(c.io.out.length).toBe(len); // nothing more is printed for the stopped answer
    // The REPL still reads input and the model answers again.
    c.p.stdin.write('/help\n/reset\n/system Answer briefly.\n/bogus\n');
    await c.until('the notices', () => /unknown command \/bogus/.test(c.io.err));
    expect(c.io.err).toMatch(/\/system TEXT/);
    expect(c.io.err).toMatch(/conversation cleared/);
    expect(c.io.err).toMatch(/system prompt set/);
    await c.until('the prompt', () => c.io.err.endsWith('> '));
    c.p.kill('SIGINT');
    expect(await c.exited).toBe(130);
  }, 120_000);

  it('--json: stdout holds one JSON line per answer; banner, prompts and notices are on stderr', () => {
    const r = tsvlm(['chat', '--model', sail, '--image', join(IMAGES, 'gray.png'), '--max-new-tokens', '3', '--json'],
      `What is this?\nAnd now?\n/image ${join(IMAGES, 'rgba.png')}\nThis one?\n/quit\n`);
    expect(r.code, r.err).toBe(0);
    const answers = r.out.trim().split('\n').map((l) => JSON.parse(l));
    expect(answers).toHaveLength(3);
    for (const a of answers) expect(a.token_ids.length).toBeGreaterThan(0);
    // The second turn carries the first in its prompt; /image starts a new conversation.
    expect(answers[1].usage.prompt_tokens).toBeGreaterThan(answers[0].usage.prompt_tokens);
    expect(answers[2].usage.prompt_tokens).toBeLessThan(answers[1].usage.prompt_tokens);
    expect(r.err).toMatch(/image: .*rgba\.png \(new conversation\)/);
  });
});
