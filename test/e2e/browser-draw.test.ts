// The web page with a model that draws (SEED-LLaMA layout: test/data/seed-llama-scripted, whose
// reply is one 32-code image then "."), in headless Debian Chromium: a progress bar while the
// image is drawn, the image inline with a download link, and the next turn sends it back as its
// codes. The renderer is a small stand-in (pixels = codes) that reports denoising steps slowly
// enough to be seen. Screenshot: test-artifacts/drawn-image.png.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type ChatModel, type DecodedImage, type ImageRenderer } from '../../src/index.js';
import { createServer, type TsvlmServer } from '../../src/serve/server.js';
import { standInImageTokenizer } from '../helpers/fake-models.js';
import { ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, SKIP_BROWSER } from '../helpers/chromium.js';

const MODEL = resolve(import.meta.dirname, '../../test/data/seed-llama-scripted');
const CODES = Array.from({ length: 32 }, (_, i) => i);

const imageTokenizer = standInImageTokenizer(MODEL, CODES);
/** 64×64 image: column band k has gray level 8 × code k; 5 denoising steps of 150 ms. */
const renderer: ImageRenderer = {
  async render(embs, o) {
    for (let i = 1; i <= 5; i++) {
      await new Promise((r) => setTimeout(r, 150));
      o?.onProgress?.({ stage: 'denoise', done: i, total: 5 });
    }
    return embs.map((e): DecodedImage => {
      const data = new Uint8Array(64 * 64 * 3);
      for (let p = 0; p < 64 * 64; p++) data.fill(e[(p % 64) >> 1]! * 8, p * 3, p * 3 + 3);
      return { width: 64, height: 64, channels: 3, data };
    });
  },
};

describe.skipIf(SKIP_BROWSER)('web page with a model that draws', () => {
  let model: ChatModel;
  let server: TsvlmServer;
  let browser: Browser;
  let page: Page;
  const bodies: any[] = [];

  beforeAll(async () => {
    model = (await loadModel(MODEL, { imageTokenizer, imageRenderer: renderer })) as ChatModel;
    server = createServer({ models: [{ name: 'seed-llama', model }] });
    const { url } = await server.listen('127.0.0.1', 0);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 900, height: 700 } });
    page.on('request', (r) => {
      if (r.url().endsWith('/v1/chat/completions')) bodies.push(JSON.parse(r.postData() ?? '{}'));
    });
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.goto(`${url}/`);
    await page.locator('#chat-view').waitFor({ state: 'visible' });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await model?.dispose();
  });

  it('shows drawing progress, then the image inline with a download link', async () => {
    await page.fill('#prompt', 'draw a cat');
    await page.click('#send');
    await page.locator('.msg.assistant .drawing progress').waitFor({ state: 'visible', timeout: 20_000 });
    const img = page.locator('.msg.assistant figure.drawn img');
    await img.waitFor({ state: 'visible', timeout: 20_000 });
    expect(await page.locator('.msg.assistant .drawing').count()).toBe(0);
    expect(await img.evaluate((el: HTMLImageElement) => [el.naturalWidth, el.naturalHeight])).toEqual([64, 64]);
    // The pixels are the codes: band k of the first row has gray 8k.
    const px = await img.evaluate((el: HTMLImageElement) => {
      const c = document.createElement('canvas');
      c.width = el.naturalWidth;
      c.height = el.naturalHeight;
      const g = c.getContext('2d')!;
      g.drawImage(el, 0, 0);
      return Array.from(g.getImageData(0, 0, 64, 1).data).filter((_, i) => i % 8 === 0);
    });
    expect(px).toEqual(CODES.map((c) => c * 8));
    const dl = page.locator('.msg.assistant figure.drawn a[download]');
    expect(await dl.getAttribute('download')).toBe('image-1.png');
    expect(await dl.getAttribute('href')).toMatch(/^data:image\/png;base64,/);
    await page.locator('#send:not([disabled])').waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'drawn-image.png') });
  });

  it('sends the drawn image back with its codes in the next turn', async () => {
    await page.fill('#prompt', 'now make it blue');
    await page.click('#send');
    await page.locator('.msg.assistant figure.drawn img').nth(1).waitFor({ state: 'visible', timeout: 20_000 });
    const last = bodies.at(-1);
    const assistant = last.messages.find((m: any) => m.role === 'assistant');
    expect(assistant.images).toHaveLength(1);
    expect(assistant.images[0].codes).toEqual(CODES);
  });
});
