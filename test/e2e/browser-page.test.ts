// The web page's conversation features in headless Chromium: Markdown answers without HTML
// injection, copy / regenerate / edit-and-resend, system prompt and all sampling fields, prompt
// and answer speeds, the conversation kept across reloads, failed turns marked, "Add image" off
// for text-only models, and classification labels that fit the selected model.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage, ChatStream, GenerationOptions } from '../../src/api.js';
import { createServer, type TsvlmServer } from '../../src/serve/server.js';
import { FakeChatModel, FakeEmbeddingModel } from '../helpers/fake-models.js';
import { FIXTURES_ROOT } from '../helpers/fixtures.js';

/** A chat model whose prompt takes a while to read: it reports prefill progress first (as real models do). */
class SlowPrefillModel extends FakeChatModel {
  override chat(messages: ChatMessage[], o: GenerationOptions = {}): ChatStream {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const p = { stage: 'prefill', total: 500, unit: 'tokens' as const };
    const ready = (async () => {
      o.onProgress?.({ ...p, done: 0, elapsedMs: 0 });
      await sleep(500);
      o.onProgress?.({ ...p, done: 0, elapsedMs: 1000 });
      await sleep(500);
      o.onProgress?.({ ...p, done: 500, elapsedMs: 2000 });
      return super.chat(messages, o);
    })();
    return {
      get result() {
        return ready.then((st) => st.result);
      },
      async *[Symbol.asyncIterator]() {
        yield* await ready;
      },
    };
  }
}

const CHROMIUM = '/usr/bin/chromium';
const skip = !existsSync(CHROMIUM) && !process.env.CI;
const fixtureImages = join(FIXTURES_ROOT, 'images');
const haveImages = existsSync(fixtureImages);
const png = haveImages ? join(fixtureImages, readdirSync(fixtureImages).filter((f) => f.endsWith('.png')).sort()[0]!) : '';

describe.skipIf(skip || !haveImages)('web page conversation features (Chromium)', () => {
  let chat: FakeChatModel;
  let server: TsvlmServer;
  let url: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  const lastCall = () => chat.calls.at(-1)!;
  const ask = async (text: string) => {
    const before = chat.calls.length;
    await page.fill('#prompt', text);
    await page.click('#send');
    await expect.poll(() => chat.calls.length).toBe(before + 1);
    await expect.poll(() => page.locator('#send').isEnabled()).toBe(true);
  };

  beforeAll(async () => {
    chat = new FakeChatModel({ tokenDelayMs: 3 });
    const embed = Object.assign(new FakeEmbeddingModel(), { exampleLabels: ['a red circle', 'a blue square'] });
    server = createServer({
      models: [
        { name: 'chat', model: chat },
        { name: 'text-only', model: new FakeChatModel({ maxImages: 0, name: 'text-only' }) },
        { name: 'tiny-context', model: new FakeChatModel({ contextLength: 12, name: 'tiny-context' }) },
        { name: 'embed', model: embed },
        { name: 'slow-prefill', model: new SlowPrefillModel({ name: 'slow-prefill' }) },
      ],
    });
    ({ url } = await server.listen('127.0.0.1', 0));
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
    context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: url });
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${url}/`);
    await page.locator('#chat-view').waitFor({ state: 'visible' });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('renders Markdown in answers and never the model\'s HTML', async () => {
    await ask('**bold** and `code` <img src=x onerror="window.pwned=1"> <script>window.pwned=2</script>');
    const text = page.locator('.msg.assistant .text').last();
    expect(await text.locator('strong').textContent()).toBe('bold');
    expect(await text.locator('code').textContent()).toBe('code');
    expect(await text.locator('img, script').count()).toBe(0);
    expect(await text.textContent()).toContain('<img src=x');
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
  });

  it('shows prompt and answer speeds separately', async () => {
    await expect.poll(() => page.locator('#status').textContent()).toMatch(/^prompt \d+ tokens in \d+\.\d s \([\d.—]+( tok\/s)?\) · answer \d+ tokens in \d+\.\d s \([\d.]+ tok\/s\)$/);
  });

  it('copies, regenerates and edits-and-resends', async () => {
    await ask('second question');
    await page.locator('.msg.assistant').last().getByRole('button', { name: 'Copy this answer' }).click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe('You said: second question.');
    // Only the last answer offers Regenerate; it asks the same question with the same history.
    expect(await page.getByRole('button', { name: 'Ask again for this answer' }).count()).toBe(1);
    const asked = lastCall().messages;
    const calls = chat.calls.length;
    await page.getByRole('button', { name: 'Ask again for this answer' }).click();
    await expect.poll(() => chat.calls.length).toBe(calls + 1);
    await expect.poll(() => lastCall().messages).toEqual(asked);
    await expect.poll(() => page.locator('#send').isEnabled()).toBe(true);
    expect(await page.locator('.msg.assistant').count()).toBe(2);
    // Edit the first question: it comes back to the composer and later turns are dropped.
    await page.locator('.msg.user').first().getByRole('button', { name: 'Edit this question and send it again' }).click();
    expect(await page.inputValue('#prompt')).toContain('**bold**');
    expect(await page.locator('.msg').count()).toBe(0);
    await page.fill('#prompt', 'edited question');
    await page.click('#send');
    await expect.poll(() => lastCall().messages.map((m) => m.content)).toEqual(['edited question']);
    await expect.poll(() => page.locator('#send').isEnabled()).toBe(true);
  });

  it('sends the system prompt, top-k, min-p, seed and repetition penalty', async () => {
    await page.click('#settings summary');
    await page.fill('#system', 'Be brief.');
    await page.fill('#top-k', '5');
    await page.fill('#min-p', '0.05');
    await page.fill('#seed', '42');
    await page.fill('#repetition-penalty', '1.2');
    await ask('third');
    expect(lastCall().messages[0]).toEqual({ role: 'system', content: 'Be brief.' });
    expect(lastCall().opts).toMatchObject({ topK: 5, minP: 0.05, seed: 42, repetitionPenalty: 1.2 });
  });

  it('keeps the conversation and system prompt across a reload', async () => {
    const bubbles = await page.locator('.msg').count();
    await page.reload();
    await page.locator('#chat-view').waitFor({ state: 'visible' });
    await expect.poll(() => page.locator('.msg').count()).toBe(bubbles);
    expect(await page.inputValue('#system')).toBe('Be brief.');
    await ask('after reload');
    expect(lastCall().messages.filter((m) => m.role === 'user').map((m) => m.content)).toEqual(['edited question', 'third', 'after reload']);
  });

  it('marks a failed message as failed and offers a retry (not kept in the conversation)', async () => {
    await page.selectOption('#model', 'tiny-context');
    await page.click('#clear');
    await page.fill('#prompt', 'this question is far too long for a twelve token context window');
    await page.click('#send');
    await expect.poll(() => page.locator('.msg.user.failed').count()).toBe(1);
    expect(await page.locator('.msg.assistant.failed .note').textContent()).toMatch(/^\(failed: 400: .*context/);
    expect(await page.getByRole('button', { name: 'Send this question again' }).count()).toBe(1);
    expect(await page.locator('#error').textContent()).toMatch(/context/);
    const saved = await page.evaluate(() => JSON.parse(localStorage.getItem('tsvlm-chat') || '{}').history);
    expect(saved).toEqual([]);
  });

  it('disables "Add image" for a text-only model (vision false in /v1/models)', async () => {
    const models = await (await fetch(`${url}/v1/models`)).json();
    expect(Object.fromEntries(models.data.filter((m: { kind: string }) => m.kind === 'chat').map((m: { id: string; vision: boolean }) => [m.id, m.vision]))).toEqual({ chat: true, 'text-only': false, 'tiny-context': true, 'slow-prefill': true });
    await page.selectOption('#model', 'text-only');
    expect(await page.locator('#attach').isDisabled()).toBe(true);
    await page.selectOption('#model', 'chat');
    expect(await page.locator('#attach').isEnabled()).toBe(true);
    await page.setInputFiles('#file-input', png);
    await expect.poll(() => page.locator('#attachments img').count()).toBe(1);
    await page.selectOption('#model', 'text-only');
    expect(await page.locator('#attachments img').count()).toBe(0); // nothing the model cannot read is kept
  });

  it('shows the server\'s prefill progress while a long prompt is read', async () => {
    await page.selectOption('#model', 'slow-prefill');
    await page.fill('#prompt', 'a question with a big image');
    await page.click('#send');
    await expect.poll(() => page.locator('#status').textContent(), { timeout: 5000 }).toBe('Reading the prompt (500 tokens)… 1 s');
    await expect.poll(() => page.locator('#send').isEnabled(), { timeout: 10_000 }).toBe(true);
    expect(await page.locator('.msg.assistant .text').last().textContent()).toBe('You said: a question with a big image.');
    expect(await page.locator('#status').textContent()).toMatch(/^prompt \d+ tokens/);
  });

  it('the classify view starts with the model\'s example labels and a clear status line', async () => {
    await page.selectOption('#model', 'chat');
    await ask('one more');
    expect(await page.locator('#status').textContent()).not.toBe('');
    await page.selectOption('#model', 'embed');
    await page.locator('#classify-view').waitFor({ state: 'visible' });
    expect(await page.inputValue('#labels')).toBe('a red circle, a blue square');
    expect(await page.locator('#status').textContent()).toBe('');
    expect(pageErrors).toEqual([]);
  });
});
