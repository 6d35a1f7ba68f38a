// The web page in headless Debian Chromium (playwright-core, never a downloaded browser): upload
// an image, ask, watch the answer stream in, stop a generation, drop and paste images, classify.
// Screenshots go to test-artifacts/. Skipped only when /usr/bin/chromium is absent and CI is unset.
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/serve/image-codec.js';
import { createServer, type TsvlmServer } from '../../src/serve/server.js';
import { FakeChatModel, FakeEmbeddingModel, fakeReply, inspectImage } from '../helpers/fake-models.js';
import { FIXTURES_ROOT } from '../helpers/fixtures.js';
import { ARTIFACTS, CHROMIUM, CHROMIUM_ARGS as ARGS, SKIP_BROWSER as skip } from '../helpers/chromium.js';

const IMAGES_DIR = join(FIXTURES_ROOT, 'images');
const pngFiles = (existsSync(IMAGES_DIR) ? readdirSync(IMAGES_DIR) : [])
  .filter((f) => f.endsWith('.png'))
  .map((f) => join(IMAGES_DIR, f))
  .sort();

describe.skipIf(skip || !pngFiles.length)('web page in Chromium', () => {
  let chat: FakeChatModel;
  let embed: FakeEmbeddingModel;
  let server: TsvlmServer;
  let url: string;
  let browser: Browser;
  let page: Page;
  const foreignRequests: string[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    // Slow enough tokens that streaming is observable in the DOM.
    chat = new FakeChatModel({ tokenDelayMs: 25 });
    embed = new FakeEmbeddingModel();
    server = createServer({
      models: [
        { name: 'chat', model: chat },
        { name: 'embed', model: embed },
      ],
      maxTokensCap: 400,
    });
    ({ url } = await server.listen('127.0.0.1', 0));
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
    page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
    page.on('request', (r) => {
      const u = r.url();
      if (!u.startsWith(url) && !u.startsWith('data:') && !u.startsWith('blob:')) foreignRequests.push(u);
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.goto(`${url}/`);
    await page.locator('#chat-view').waitFor({ state: 'visible' });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('lists the models with their kind and labels every control', async () => {
    const options = await page.locator('#model option').allTextContents();
    expect(options).toEqual(['chat (chat)', 'embed (embedding)']);
    await expect.poll(() => page.locator('#model-kind').textContent()).toContain('chat');
    // Every visible form control has an accessible name.
    const unlabelled = await page.evaluate(() =>
      Array.from(document.querySelectorAll('input, select, textarea, button'))
        .filter((el) => !(el as HTMLElement).hidden && (el as HTMLElement).offsetParent !== null)
        .filter((el) => {
          const labels = (el as HTMLInputElement).labels;
          const named = (labels && labels.length > 0) || el.getAttribute('aria-label') || (el.textContent ?? '').trim();
          return !named;
        })
        .map((el) => el.outerHTML.slice(0, 80)),
    );
    expect(unlabelled).toEqual([]);
  });

  it('uploads an image, asks, and shows the answer as it streams', async () => {
    const file = pngFiles[0]!;
    await page.setInputFiles('#file-input', file);
    await expect.poll(() => page.locator('#attachments img').count()).toBe(1);
    await page.fill('#prompt', 'What is in this image?');
    await page.press('#prompt', 'Enter');

    const bubble = page.locator('.msg.assistant').last();
    // Sample the text while it streams: it must grow through several partial states.
    const seen = new Set<string>();
    const t0 = Date.now();
    for (;;) {
      const text = (await bubble.locator('.text').textContent()) ?? '';
      if (text) seen.add(text);
      if ((await bubble.getAttribute('aria-busy')) === null && text) break;
      if (Date.now() - t0 > 20_000) throw new Error('the answer did not finish streaming');
      await page.waitForTimeout(15);
    }
    expect(seen.size).toBeGreaterThan(2);
    const want = await inspectImage(readFileSync(file));
    const call = chat.calls.at(-1)!;
    expect(call.images).toEqual([want]); // the pixels arrived intact
    const final = await bubble.locator('.text').textContent();
    expect(final).toBe(fakeReply(call.messages, [want]));
    expect(await page.locator('.msg.user img').count()).toBe(1);
    expect(await page.locator('#attachments img').count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, 'browser-chat.png'), fullPage: true });
  });

  it('sends the sampling settings and stops a generation with the Stop button', async () => {
    await page.click('#settings summary');
    await page.fill('#max-tokens', '300');
    await page.fill('#temperature', '0.5');
    await page.fill('#prompt', '/long keep talking');
    await page.click('#send');
    const bubble = page.locator('.msg.assistant').last();
    await expect.poll(async () => ((await bubble.locator('.text').textContent()) ?? '').length, { timeout: 10_000 }).toBeGreaterThan(40);
    await page.click('#stop');
    await expect.poll(() => bubble.locator('.note').textContent()).toBe('(stopped)');
    const call = chat.calls.at(-1)!;
    await expect.poll(() => call.finishReason).toBe('abort');
    expect(call.aborted).toBe(true);
    expect(call.opts).toMatchObject({ maxNewTokens: 300, temperature: 0.5 });
    // The conversation so far went with the request (multi-turn).
    expect(call.messages.filter((m) => m.role === 'user')).toHaveLength(2);
    expect(await page.locator('#send').isEnabled()).toBe(true);
  });

  it('takes images by drag-and-drop and by paste', async () => {
    await page.click('#clear');
    const b64 = readFileSync(pngFiles[1] ?? pngFiles[0]!).toString('base64');
    const makeTransfer = (name: string) =>
      page.evaluateHandle(
        ([data, n]) => {
          const dt = new DataTransfer();
          const bytes = Uint8Array.from(atob(data!), (c) => c.charCodeAt(0));
          dt.items.add(new File([bytes], n!, { type: 'image/png' }));
          return dt;
        },
        [b64, name],
      );
    const dropped = await makeTransfer('dropped.png');
    await page.dispatchEvent('#chat-view', 'drop', { dataTransfer: dropped });
    await expect.poll(() => page.locator('#attachments img').count()).toBe(1);
    const pasted = await makeTransfer('pasted.png');
    await page.evaluate((dt) => {
      document.getElementById('prompt')!.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true }));
    }, pasted);
    await expect.poll(() => page.locator('#attachments img').count()).toBe(2);
    expect(await page.locator('#attachments img').first().getAttribute('alt')).toContain('dropped.png');
    // Remove one with its keyboard-reachable button.
    await page.locator('#attachments button').first().focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#attachments img').count()).toBe(1);
    await page.click('#clear');
  });

  it('classifies an image with an embedding model and shows the scores as bars', async () => {
    await page.selectOption('#model', 'embed');
    await page.locator('#classify-view').waitFor({ state: 'visible' });
    expect(await page.locator('#chat-view').isVisible()).toBe(false);
    const file = pngFiles[0]!;
    await page.setInputFiles('#classify-file', file);
    await page.locator('#classify-preview').waitFor({ state: 'visible' });
    const labels = ['a cat', 'a dog', 'a rocket'];
    await page.fill('#labels', labels.join(', '));
    await page.click('#classify');
    await expect.poll(() => page.locator('#scores li').count()).toBe(3);
    const rows = await page.locator('#scores li').evaluateAll((lis) =>
      lis.map((li) => ({
        label: li.querySelector('.label')!.textContent,
        score: li.querySelector('.score')!.textContent,
        width: (li.querySelector('.fill') as HTMLElement).style.width,
        // Rendered bar length as a fraction of its track (the bar is really drawn, not just styled).
        drawn: li.querySelector('.fill')!.getBoundingClientRect().width / li.querySelector('.track')!.getBoundingClientRect().width,
      })),
    );
    for (const r of rows) expect(r.drawn).toBeCloseTo(Number(r.score), 2);
    const want = await embed.classify(await decodeImage(readFileSync(file), { maxPixels: 1e8 }), labels);
    expect(rows.map(({ drawn: _, ...r }) => r)).toEqual(
      want.map((w) => ({ label: w.label, score: w.score.toFixed(3), width: `${(w.score * 100).toFixed(1)}%` })),
    );
    await page.screenshot({ path: join(ARTIFACTS, 'browser-classify.png'), fullPage: true });
  });

  it('loaded nothing from outside the server and logged no errors', () => {
    expect(foreignRequests).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
