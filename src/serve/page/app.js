// tsvlm web page: chat with streamed replies and images (chat models), zero-shot classification
// (embedding models). Plain JS against this server's /v1 API; nothing is loaded from elsewhere.

import { renderMarkdown } from './markdown.js';

const $ = (id) => document.getElementById(id);
const ACCEPTED = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'];

const state = {
  health: null,
  models: [],
  model: null,
  /** Conversation in OpenAI message format (images as data URLs). */
  history: [],
  /** Images waiting to be sent: {dataUrl, name}. */
  attachments: [],
  classifyImage: null,
  controller: null,
};

// ---------- helpers ----------

function showError(message) {
  const box = $('error');
  box.textContent = message;
  box.hidden = !message;
}

function setStatus(message) {
  $('status').textContent = message;
}

function apiKey() {
  return $('api-key').value.trim();
}

function headers() {
  const h = { 'Content-Type': 'application/json' };
  const key = apiKey();
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

/** Error text from an OpenAI-shaped error response (or the status line). */
async function errorText(res) {
  try {
    const body = await res.json();
    if (body && body.error && body.error.message) return `${res.status}: ${body.error.message}`;
  } catch {
    // not JSON
  }
  return `${res.status} ${res.statusText}`;
}

function readAsDataUrl(blob) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(r.result);
    r.onerror = () => reject(new Error('could not read the file'));
    r.readAsDataURL(blob);
  });
}

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error('the browser could not decode this image'));
    img.src = url;
  });
}

/**
 * A data URL the server accepts: the file as it is when its format and size fit; otherwise
 * re-encoded by the browser (PNG for other formats, scaled down as JPEG when over the pixel limit).
 */
async function prepareImage(file) {
  if (!file.type.startsWith('image/')) throw new Error(`${file.name || 'file'}: not an image`);
  const maxPixels = state.health?.limits?.max_image_pixels ?? 25_000_000;
  const url = URL.createObjectURL(file);
  try {
    const img = await loadImage(url);
    const pixels = img.naturalWidth * img.naturalHeight;
    if (ACCEPTED.includes(file.type) && pixels <= maxPixels) return readAsDataUrl(file);
    const scale = pixels > maxPixels ? Math.sqrt(maxPixels / pixels) * 0.99 : 1;
    const canvas = document.createElement('canvas');
    canvas.width = Math.max(1, Math.floor(img.naturalWidth * scale));
    canvas.height = Math.max(1, Math.floor(img.naturalHeight * scale));
    canvas.getContext('2d').drawImage(img, 0, 0, canvas.width, canvas.height);
    return canvas.toDataURL(scale < 1 ? 'image/jpeg' : 'image/png', 0.92);
  } finally {
    URL.revokeObjectURL(url);
  }
}

function imageFiles(list) {
  return Array.from(list || []).filter((f) => f.type.startsWith('image/'));
}

// ---------- models ----------

async function loadModels() {
  showError('');
  try {
    const res = await fetch('/v1/models', { headers: headers() });
    if (res.status === 401) {
      $('key-field').hidden = false;
      showError('This server needs an API key: enter it above.');
      $('api-key').focus();
      return;
    }
    if (!res.ok) throw new Error(await errorText(res));
    const body = await res.json();
    state.models = body.data;
  } catch (err) {
    showError(`Could not list the models: ${err.message}`);
    return;
  }
  const select = $('model');
  const previous = select.value;
  select.replaceChildren(
    ...state.models.map((m) => {
      const o = document.createElement('option');
      o.value = m.id;
      o.textContent = `${m.id} (${m.kind === 'embedding' ? 'embedding' : 'chat'})`;
      return o;
    }),
  );
  select.disabled = state.models.length === 0;
  if (state.models.some((m) => m.id === previous)) select.value = previous;
  if (state.models.length === 0) showError('The server has no models.');
  selectModel(select.value);
}

function selectModel(id) {
  state.model = state.models.find((m) => m.id === id) || null;
  const kind = state.model ? state.model.kind : '';
  $('model-kind').textContent = state.model ? `${kind}${state.model.model_type ? ` · ${state.model.model_type}` : ''}` : '';
  $('chat-view').hidden = kind !== 'chat';
  $('classify-view').hidden = kind !== 'embedding';
  setStatus(''); // the other view's status line does not belong here
  // A text-only model (vision false in /v1/models) takes no images.
  const vision = kind === 'chat' && state.model.vision !== false;
  $('attach').disabled = !vision;
  $('attach').title = vision ? '' : `${state.model?.id ?? 'this model'} reads text only`;
  if (!vision && state.attachments.length) {
    state.attachments = [];
    renderAttachments();
  }
  if (kind === 'embedding') {
    // Labels that fit the model (its example_labels) unless the user typed their own.
    const ex = state.model.example_labels;
    if (ex && ex.length && !$('labels').dataset.edited) $('labels').value = ex.join(', ');
    else if (!$('labels').dataset.edited) $('labels').value = $('labels').defaultValue;
    $('scores').replaceChildren();
  }
  if (kind === 'chat') {
    const cap = state.health?.limits?.max_tokens_cap;
    if (cap) $('max-tokens').max = String(cap);
  }
}

// ---------- chat ----------

function renderAttachments() {
  const box = $('attachments');
  box.replaceChildren(
    ...state.attachments.map((a, i) => {
      const fig = document.createElement('figure');
      fig.className = 'thumb';
      fig.setAttribute('role', 'listitem');
      const img = document.createElement('img');
      img.src = a.dataUrl;
      img.alt = `Attached image ${i + 1}${a.name ? `: ${a.name}` : ''}`;
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.textContent = '×';
      remove.setAttribute('aria-label', `Remove image ${i + 1}`);
      remove.addEventListener('click', () => {
        state.attachments.splice(i, 1);
        renderAttachments();
        $('prompt').focus();
      });
      fig.append(img, remove);
      return fig;
    }),
  );
}

async function addAttachments(files) {
  if (state.model?.vision === false) {
    if (imageFiles(files).length) showError(`${state.model.id} reads text only: it cannot take images.`);
    return;
  }
  const max = state.model?.max_images ?? state.health?.limits?.max_images_per_request ?? 8;
  for (const file of imageFiles(files)) {
    if (state.attachments.length >= max) {
      showError(`At most ${max} images per message.`);
      break;
    }
    try {
      state.attachments.push({ dataUrl: await prepareImage(file), name: file.name });
    } catch (err) {
      showError(err.message);
    }
  }
  renderAttachments();
}

/** The text and images of an OpenAI message. */
function partsOf(message) {
  if (typeof message.content === 'string') return { text: message.content, images: [] };
  return {
    text: message.content.filter((p) => p.type === 'text').map((p) => p.text).join('\n'),
    images: message.content.filter((p) => p.type === 'image_url').map((p) => p.image_url.url),
  };
}

function actionButton(label, title, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'act';
  b.textContent = label;
  b.title = title;
  b.setAttribute('aria-label', title);
  b.addEventListener('click', onClick);
  return b;
}

/** A message bubble; assistant text is rendered as Markdown (DOM nodes only, no HTML from the model). */
function addBubble(role, text, images = [], index = -1) {
  $('empty-hint')?.remove();
  const div = document.createElement('div');
  div.className = `msg ${role}`;
  if (index >= 0) div.dataset.index = String(index);
  const who = document.createElement('span');
  who.className = 'who';
  who.textContent = role === 'user' ? 'You' : state.model?.id || 'Assistant';
  const body = document.createElement(role === 'assistant' ? 'div' : 'span');
  body.className = 'text';
  setBubbleText(div, body, text);
  div.append(who, body);
  images.forEach((src, i) => {
    const img = document.createElement('img');
    img.src = src;
    img.alt = `Image ${i + 1} sent with this message`;
    div.append(img);
  });
  const actions = document.createElement('span');
  actions.className = 'msg-actions';
  div.append(actions);
  $('messages').append(div);
  div.scrollIntoView({ block: 'end' });
  return div;
}

function setBubbleText(div, body, text) {
  if (div.classList.contains('assistant')) body.replaceChildren(renderMarkdown(text));
  else body.textContent = text;
  body.dataset.raw = text;
}

/** Copy on every answer, Regenerate on the last one, Edit on every question. */
function addActions(div, role, index) {
  const actions = div.querySelector('.msg-actions');
  actions.replaceChildren();
  if (role === 'assistant') {
    actions.append(actionButton('Copy', 'Copy this answer', async () => {
      const text = div.querySelector('.text').dataset.raw || '';
      try {
        await navigator.clipboard.writeText(text);
        setStatus('Copied.');
      } catch {
        setStatus('The browser did not allow copying.');
      }
    }));
    if (index === state.history.length - 1) actions.append(actionButton('Regenerate', 'Ask again for this answer', regenerate));
  } else if (index >= 0) {
    actions.append(actionButton('Edit', 'Edit this question and send it again', () => editFrom(index)));
  }
}

/** Redraws the conversation from state.history. */
function renderMessages() {
  $('messages').replaceChildren();
  if (!state.history.length) {
    const hint = document.createElement('p');
    hint.className = 'hint';
    hint.id = 'empty-hint';
    hint.textContent = 'Ask a question. Add images with the button, by pasting, or by dropping them here.';
    $('messages').append(hint);
  }
  state.history.forEach((m, i) => {
    if (m.role === 'system') return;
    const { text, images } = partsOf(m);
    addActions(addBubble(m.role, text, images, i), m.role, i);
  });
}

// ---------- saved conversation (local storage) ----------

const SAVE_KEY = 'tsvlm-chat';

function saveChat() {
  const data = { model: state.model?.id, system: $('system').value, history: state.history };
  try {
    localStorage.setItem(SAVE_KEY, JSON.stringify(data));
  } catch {
    // Over the storage quota (images): keep the text, drop the pictures.
    const slim = state.history.map((m) => (typeof m.content === 'string' ? m : { ...m, content: partsOf(m).text }));
    try {
      localStorage.setItem(SAVE_KEY, JSON.stringify({ ...data, history: slim }));
    } catch {
      // storage unavailable
    }
  }
}

function restoreChat() {
  let saved;
  try {
    saved = JSON.parse(localStorage.getItem(SAVE_KEY) || 'null');
  } catch {
    saved = null;
  }
  if (!saved || !Array.isArray(saved.history)) return;
  if (typeof saved.system === 'string') $('system').value = saved.system;
  if (saved.model && state.models.some((m) => m.id === saved.model && m.kind === 'chat')) {
    $('model').value = saved.model;
    selectModel(saved.model);
  }
  state.history = saved.history;
  renderMessages();
}

// ---------- sending ----------

function setBusy(busy) {
  $('send').disabled = busy;
  $('stop').disabled = !busy;
  $('model').disabled = busy || state.models.length === 0;
}

function samplingOptions() {
  const num = (id) => {
    const raw = $(id).value.trim();
    if (raw === '') return undefined;
    const v = Number(raw);
    return Number.isFinite(v) ? v : undefined;
  };
  const opts = {};
  const t = num('temperature');
  const p = num('top-p');
  const m = num('max-tokens');
  const k = num('top-k');
  const minP = num('min-p');
  const seed = num('seed');
  const rp = num('repetition-penalty');
  if (t !== undefined) opts.temperature = t;
  if (p !== undefined && p > 0 && p < 1) opts.top_p = p;
  if (m !== undefined && m >= 1) opts.max_tokens = Math.floor(m);
  if (k !== undefined && k > 0) opts.top_k = Math.floor(k);
  if (minP !== undefined && minP > 0) opts.min_p = minP;
  if (seed !== undefined) opts.seed = Math.floor(seed);
  if (rp !== undefined && rp > 0 && rp !== 1) opts.repetition_penalty = rp;
  return opts;
}

/** Reads an SSE body, calling onData for each `data:` payload and onComment for each `: comment`. */
async function readSse(body, onData, onComment = () => {}) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let sep;
    while ((sep = buf.indexOf('\n\n')) >= 0) {
      const event = buf.slice(0, sep);
      buf = buf.slice(sep + 2);
      for (const l of event.split('\n')) if (l.startsWith(':')) onComment(l.slice(1).trimStart());
      const data = event
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trimStart())
        .join('\n');
      if (data && onData(data) === false) return;
    }
  }
}

const rate = (n, secs) => (secs > 0 ? `${(n / secs).toFixed(1)} tok/s` : '—');

/** "prompt N tokens in A s (X tok/s) · answer M tokens in B s (Y tok/s)", measured on this page. */
function speedText(usage, t0, tFirst, tEnd) {
  if (!usage) return '';
  const prefill = ((tFirst ?? tEnd) - t0) / 1000;
  const decode = tFirst ? (tEnd - tFirst) / 1000 : 0;
  const after = Math.max(0, usage.completion_tokens - 1); // the first token comes with the prompt
  return `prompt ${usage.prompt_tokens} tokens in ${prefill.toFixed(1)} s (${rate(usage.prompt_tokens, prefill)}) · answer ${usage.completion_tokens} tokens in ${decode.toFixed(1)} s (${rate(after, decode)})`;
}

async function send() {
  if (state.controller || !state.model) return;
  const text = $('prompt').value.trim();
  if (!text && state.attachments.length === 0) {
    $('prompt').focus();
    return;
  }
  const images = state.attachments.map((a) => a.dataUrl);
  const content = images.length
    ? [...(text ? [{ type: 'text', text }] : []), ...images.map((url) => ({ type: 'image_url', image_url: { url } }))]
    : text;
  $('prompt').value = '';
  state.attachments = [];
  renderAttachments();
  await runTurn({ role: 'user', content });
}

/** Asks for the answer to the last question again. */
function regenerate() {
  if (state.controller) return;
  const last = state.history.length - 1;
  if (last < 1 || state.history[last].role !== 'assistant') return;
  const question = state.history[last - 1];
  state.history = state.history.slice(0, last - 1);
  renderMessages();
  runTurn(question);
}

/** Puts question `index` back in the composer and drops it and everything after. */
function editFrom(index) {
  if (state.controller) return;
  const { text, images } = partsOf(state.history[index]);
  state.history = state.history.slice(0, index);
  saveChat();
  renderMessages();
  $('prompt').value = text;
  state.attachments = images.map((dataUrl, i) => ({ dataUrl, name: `image ${i + 1}` }));
  renderAttachments();
  setStatus('Edit the question and send it again.');
  $('prompt').focus();
}

/** Sends one question with the conversation so far and streams the answer into a new bubble. */
async function runTurn(userMessage) {
  showError('');
  const { text, images } = partsOf(userMessage);
  const userBubble = addBubble('user', text, images, state.history.length);
  const bubble = addBubble('assistant', '');
  bubble.setAttribute('aria-busy', 'true');
  let out = bubble.querySelector('.text');
  let seg = ''; // text since the last drawn image (text and images show in the order they came)
  const controller = new AbortController();
  state.controller = controller;
  setBusy(true);
  setStatus('Generating…');
  let reply = '';
  /** Images the model drew in this reply (models that draw): kept in the history with their codes. */
  const drawn = [];
  let drawing = null;
  let finish = null;
  let failed = null;
  let usage = null;
  const t0 = performance.now();
  let tFirst = null;
  const system = $('system').value.trim();
  try {
    const res = await fetch('/v1/chat/completions', {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify({
        model: state.model.id,
        messages: [...(system ? [{ role: 'system', content: system }] : []), ...state.history, userMessage],
        stream: true,
        stream_options: { include_usage: true },
        ...samplingOptions(),
      }),
      signal: controller.signal,
    });
    if (!res.ok) throw new Error(await errorText(res));
    await readSse(res.body, (data) => {
      if (data === '[DONE]') return false;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(chunk.error.message);
      if (chunk.usage) usage = chunk.usage;
      for (const c of chunk.choices || []) {
        if (c.delta && c.delta.content) {
          tFirst ??= performance.now();
          reply += c.delta.content;
          seg += c.delta.content;
          setBubbleText(bubble, out, seg);
          bubble.scrollIntoView({ block: 'end' });
        }
        for (const im of (c.delta && c.delta.images) || []) {
          drawing?.remove();
          drawing = null;
          addDrawnImage(bubble, im);
          out = document.createElement('span');
          out.className = 'text';
          bubble.append(out);
          seg = '';
          if (im.type === 'image_url') drawn.push({ type: 'image_url', image_url: { url: im.image_url.url }, codes: im.codes });
          else if (im.type === 'image_codes') drawn.push({ type: 'image_url', image_url: { url: '' }, codes: im.codes });
        }
        if (c.finish_reason) finish = c.finish_reason;
      }
      return true;
    }, (comment) => {
      // `: progress {...}` while the server reads a long prompt (an image is many tokens), and
      // while a drawn image is denoised (a bar in the reply until the image arrives).
      if (!comment.startsWith('progress ')) return;
      const p = JSON.parse(comment.slice(9));
      if (p.stage === 'denoise' || p.stage === 'diffusion') {
        drawing ??= addDrawingProgress(bubble);
        drawing.querySelector('progress').max = p.total;
        drawing.querySelector('progress').value = p.done;
        setStatus(`Drawing an image: step ${p.done} of ${p.total}…`);
        return;
      }
      if (reply) return;
      if (p.stage === 'prefill') {
        const secs = p.elapsedMs ? ` ${(p.elapsedMs / 1000).toFixed(0)} s` : '';
        setStatus(p.done >= p.total ? 'Generating…' : `Reading the prompt (${p.total} tokens)…${secs}`);
      }
    });
    setStatus(speedText(usage, t0, tFirst, performance.now()));
  } catch (err) {
    if (err.name === 'AbortError') finish = 'stopped';
    else failed = err.message;
  } finally {
    state.controller = null;
    drawing?.remove();
    bubble.removeAttribute('aria-busy');
    setBusy(false);
  }
  if (failed) {
    // The turn stays visible, marked as failed, with a retry; it is not part of the conversation.
    showError(failed);
    setStatus('');
    userBubble.classList.add('failed');
    bubble.classList.add('failed');
    const note = document.createElement('span');
    note.className = 'note';
    note.textContent = `(failed: ${failed})`;
    bubble.append(note);
    bubble.querySelector('.msg-actions').append(actionButton('Retry', 'Send this question again', () => {
      userBubble.remove();
      bubble.remove();
      runTurn(userMessage);
    }));
    return;
  }
  const note = finish === 'length' ? 'stopped at the token limit' : finish === 'stopped' ? 'stopped' : '';
  if (note) {
    const n = document.createElement('span');
    n.className = 'note';
    n.textContent = `(${note})`;
    bubble.append(n);
    if (finish === 'stopped') setStatus('Stopped.');
  }
  // Drawn images go back with their codes, so the next turn ("now make it blue") reads them as they were.
  state.history.push(userMessage, { role: 'assistant', content: reply, ...(drawn.length ? { images: drawn } : {}) });
  userBubble.dataset.index = String(state.history.length - 2);
  bubble.dataset.index = String(state.history.length - 1);
  // Only the last answer offers Regenerate.
  for (const b of document.querySelectorAll('.msg.assistant .act')) if (b.textContent === 'Regenerate') b.remove();
  addActions(userBubble, 'user', state.history.length - 2);
  addActions(bubble, 'assistant', state.history.length - 1);
  saveChat();
  $('prompt').focus();
}

/** A drawn image in a reply: the picture (opens full size), a download link, or why there is none. */
function addDrawnImage(bubble, im) {
  const fig = document.createElement('figure');
  fig.className = 'drawn';
  const n = (im.index ?? 0) + 1;
  if (im.type === 'image_url') {
    const a = document.createElement('a');
    a.href = im.image_url.url;
    a.target = '_blank';
    a.rel = 'noopener';
    const img = document.createElement('img');
    img.src = im.image_url.url;
    img.alt = `Image ${n} drawn by the model`;
    a.append(img);
    const cap = document.createElement('figcaption');
    const dl = document.createElement('a');
    dl.href = im.image_url.url;
    dl.download = `image-${n}.png`;
    dl.textContent = 'Download';
    cap.append(dl);
    fig.append(a, cap);
  } else {
    const cap = document.createElement('figcaption');
    cap.textContent = im.type === 'image_error' ? `Image ${n}: ${im.error}` : `Image ${n}: drawn as codes only (the server has no renderer)`;
    fig.append(cap);
  }
  bubble.append(fig);
  bubble.scrollIntoView({ block: 'end' });
}

function addDrawingProgress(bubble) {
  const box = document.createElement('div');
  box.className = 'drawing';
  const label = document.createElement('span');
  label.textContent = 'Drawing…';
  const bar = document.createElement('progress');
  bar.setAttribute('aria-label', 'Drawing progress');
  box.append(label, bar);
  bubble.append(box);
  return box;
}

function clearChat() {
  state.controller?.abort();
  state.history = [];
  state.attachments = [];
  renderAttachments();
  renderMessages();
  saveChat();
  showError('');
  setStatus('');
  $('prompt').focus();
}

// ---------- classification ----------

async function setClassifyImage(files) {
  const [file] = imageFiles(files);
  if (!file) return;
  try {
    state.classifyImage = await prepareImage(file);
  } catch (err) {
    showError(err.message);
    return;
  }
  const img = $('classify-preview');
  img.src = state.classifyImage;
  img.alt = `Image to classify${file.name ? `: ${file.name}` : ''}`;
  img.hidden = false;
  $('classify-drop-hint').hidden = true;
  $('scores').replaceChildren();
}

async function classify() {
  if (!state.model) return;
  showError('');
  const labels = $('labels')
    .value.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!state.classifyImage) return showError('Choose an image first.');
  if (labels.length === 0) return showError('Enter at least one label.');
  $('classify').disabled = true;
  setStatus('Classifying…');
  try {
    const res = await fetch('/v1/classify', {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify({ model: state.model.id, image: state.classifyImage, labels }),
    });
    if (!res.ok) throw new Error(await errorText(res));
    const body = await res.json();
    renderScores(body.data);
    setStatus(`${body.data.length} labels scored.`);
  } catch (err) {
    showError(`Classification failed: ${err.message}`);
    setStatus('');
  } finally {
    $('classify').disabled = false;
  }
}

function renderScores(data) {
  $('scores').replaceChildren(
    ...data.map((d) => {
      const li = document.createElement('li');
      const label = document.createElement('span');
      label.className = 'label';
      label.textContent = d.label;
      const track = document.createElement('span');
      track.className = 'track';
      track.setAttribute('aria-hidden', 'true');
      const fill = document.createElement('span');
      fill.className = 'fill';
      fill.style.width = `${(d.score * 100).toFixed(1)}%`;
      track.append(fill);
      const score = document.createElement('span');
      score.className = 'score';
      score.textContent = d.score.toFixed(3);
      li.append(label, track, score);
      return li;
    }),
  );
}

// ---------- wiring ----------

function dropTarget(el, onFiles) {
  el.addEventListener('dragover', (e) => {
    if (!Array.from(e.dataTransfer?.types || []).includes('Files')) return;
    e.preventDefault();
    el.classList.add('dragging');
  });
  el.addEventListener('dragleave', () => el.classList.remove('dragging'));
  el.addEventListener('drop', (e) => {
    e.preventDefault();
    el.classList.remove('dragging');
    onFiles(e.dataTransfer?.files);
  });
}

function wire() {
  $('model').addEventListener('change', (e) => selectModel(e.target.value));
  $('api-key').addEventListener('change', () => {
    sessionStorage.setItem('tsvlm-api-key', apiKey());
    loadModels();
  });

  $('chat-form').addEventListener('submit', (e) => {
    e.preventDefault();
    send();
  });
  $('prompt').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    }
  });
  $('stop').addEventListener('click', () => state.controller?.abort());
  $('clear').addEventListener('click', clearChat);
  $('attach').addEventListener('click', () => $('file-input').click());
  $('file-input').addEventListener('change', async (e) => {
    await addAttachments(e.target.files);
    e.target.value = '';
    $('prompt').focus();
  });
  dropTarget($('chat-view'), addAttachments);

  $('labels').addEventListener('input', () => ($('labels').dataset.edited = '1'));
  $('system').addEventListener('change', saveChat);
  $('classify-form').addEventListener('submit', (e) => {
    e.preventDefault();
    classify();
  });
  $('classify-pick').addEventListener('click', () => $('classify-file').click());
  $('classify-file').addEventListener('change', (e) => {
    setClassifyImage(e.target.files);
    e.target.value = '';
  });
  dropTarget($('classify-drop'), setClassifyImage);

  // Paste goes to whichever view is showing.
  document.addEventListener('paste', (e) => {
    const files = imageFiles(e.clipboardData?.files);
    if (files.length === 0) return;
    e.preventDefault();
    if (state.model?.kind === 'embedding') setClassifyImage(files);
    else addAttachments(files);
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && state.controller) state.controller.abort();
  });
}

async function init() {
  wire();
  const saved = sessionStorage.getItem('tsvlm-api-key');
  if (saved) $('api-key').value = saved;
  try {
    const res = await fetch('/health');
    state.health = await res.json();
  } catch {
    state.health = null;
  }
  if (state.health?.auth) $('key-field').hidden = false;
  await loadModels();
  restoreChat();
}

init();
