// A small Markdown renderer for model answers that builds DOM nodes (never innerHTML), so text from
// a model cannot inject markup or script: headings, paragraphs, line breaks, **bold**, *italic*,
// `code`, fenced code blocks, bullet and numbered lists, block quotes and http(s) links.

/** Inline spans of one line of text → DOM nodes. */
function inline(text) {
  const out = [];
  const re = /(`+)([^`]+?)\1|\*\*([^*]+)\*\*|__([^_]+)__|\*([^*\s][^*]*?)\*|_([^_\s][^_]*?)_|\[([^\]]+)\]\(([^)\s]+)\)/g;
  let last = 0;
  for (let m; (m = re.exec(text)); ) {
    if (m.index > last) out.push(document.createTextNode(text.slice(last, m.index)));
    last = re.lastIndex;
    let el;
    if (m[2] !== undefined) {
      el = document.createElement('code');
      el.textContent = m[2];
    } else if (m[3] !== undefined || m[4] !== undefined) {
      el = document.createElement('strong');
      el.append(...inline(m[3] ?? m[4]));
    } else if (m[5] !== undefined || m[6] !== undefined) {
      el = document.createElement('em');
      el.append(...inline(m[5] ?? m[6]));
    } else {
      const href = m[8];
      if (/^https?:\/\//i.test(href)) {
        el = document.createElement('a');
        el.href = href;
        el.rel = 'noopener noreferrer';
        el.target = '_blank';
        el.append(...inline(m[7]));
      } else {
        el = document.createTextNode(m[0]); // other schemes (javascript:, data:) stay plain text
      }
    }
    out.push(el);
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

/** Lines joined with <br> inside one block. */
function lines(el, ls) {
  ls.forEach((l, i) => {
    if (i) el.append(document.createElement('br'));
    el.append(...inline(l));
  });
  return el;
}

/** Markdown text → a DocumentFragment. */
export function renderMarkdown(src) {
  const frag = document.createDocumentFragment();
  const rows = String(src).replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  while (i < rows.length) {
    const row = rows[i];
    const fence = /^\s*(```|~~~)\s*([\w+-]*)\s*$/.exec(row);
    if (fence) {
      const body = [];
      for (i++; i < rows.length && !rows[i].trim().startsWith(fence[1]); i++) body.push(rows[i]);
      i++; // the closing fence (or the end while streaming)
      const pre = document.createElement('pre');
      const code = document.createElement('code');
      if (fence[2]) code.dataset.lang = fence[2];
      code.textContent = body.join('\n');
      pre.append(code);
      frag.append(pre);
      continue;
    }
    if (!row.trim()) { i++; continue; }
    const h = /^(#{1,6})\s+(.*)$/.exec(row);
    if (h) {
      const el = document.createElement(`h${Math.min(6, h[1].length + 2)}`);
      el.append(...inline(h[2]));
      frag.append(el);
      i++;
      continue;
    }
    const item = /^\s*([-*+]|\d+[.)])\s+/;
    if (item.test(row)) {
      const ordered = /^\s*\d/.test(row);
      const list = document.createElement(ordered ? 'ol' : 'ul');
      while (i < rows.length && item.test(rows[i])) {
        const li = document.createElement('li');
        li.append(...inline(rows[i].replace(item, '')));
        list.append(li);
        i++;
      }
      frag.append(list);
      continue;
    }
    if (/^\s*>/.test(row)) {
      const quote = [];
      while (i < rows.length && /^\s*>/.test(rows[i])) quote.push(rows[i++].replace(/^\s*>\s?/, ''));
      frag.append(lines(document.createElement('blockquote'), quote));
      continue;
    }
    const para = [];
    while (i < rows.length && rows[i].trim() && !/^\s*(```|~~~|#{1,6}\s|>|[-*+]\s|\d+[.)]\s)/.test(rows[i])) para.push(rows[i++]);
    if (!para.length) para.push(rows[i++]);
    frag.append(lines(document.createElement('p'), para));
  }
  return frag;
}
