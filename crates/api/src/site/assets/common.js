// Shared by the public site and the staff console: strings in two languages, Vietnamese
// formatting of amounts and dates, element building, API calls and their problem+json errors,
// forms, and a small path router. No dependencies; text is inserted as text, never parsed as HTML.
'use strict';

const R = (() => {
  // ---- Languages: Vietnamese by default, English on request (remembered per browser).
  const dict = { vi: {}, en: {} };
  let lang = 'vi';
  try {
    const q = new URLSearchParams(location.search).get('lang');
    if (q === 'en' || q === 'vi') localStorage.setItem('lang', q);
    lang = localStorage.getItem('lang') === 'en' ? 'en' : 'vi';
  } catch (_) { /* storage refused: stay Vietnamese */ }
  document.documentElement.lang = lang;

  /** Adds strings: {vi: {key: text}, en: {key: text}}. */
  function strings(d) {
    for (const l of ['vi', 'en']) Object.assign(dict[l], d[l] || {});
  }

  /** The text of `key` in the current language, with {name} placeholders filled. */
  function t(key, params) {
    let s = dict[lang][key] ?? dict.vi[key] ?? key;
    if (params) s = s.replace(/\{(\w+)\}/g, (m, k) => (params[k] ?? m));
    return s;
  }

  function setLang(l) {
    try { localStorage.setItem('lang', l); } catch (_) { /* ignore */ }
    location.reload();
  }

  strings({
    vi: {
      'lang.switch': 'English', 'loading': 'Đang tải…', 'error.network': 'Không kết nối được máy chủ. Hãy thử lại.',
      'error.fields': 'Có trường chưa hợp lệ, xem bên dưới.', 'error.notfound': 'Không tìm thấy.',
      'error.forbidden': 'Bạn không có quyền làm việc này.', 'error.login': 'Phiên đăng nhập đã hết, hãy đăng nhập lại.',
      'error.toomany': 'Quá nhiều yêu cầu, hãy thử lại sau ít phút.', 'yes': 'Có', 'no': 'Không',
      'none': '—', 'download': 'Tải về',
    },
    en: {
      'lang.switch': 'Tiếng Việt', 'loading': 'Loading…', 'error.network': 'Cannot reach the server. Try again.',
      'error.fields': 'Some fields are not valid, see below.', 'error.notfound': 'Not found.',
      'error.forbidden': 'You are not allowed to do this.', 'error.login': 'Your session has ended; log in again.',
      'error.toomany': 'Too many requests; try again in a few minutes.', 'yes': 'Yes', 'no': 'No',
      'none': '—', 'download': 'Download',
    },
  });

  // ---- Elements.
  /**
   * h('tag.class1.class2#id', {attr: value, on: {click: fn}}, ...children): an element. Children
   * are nodes, strings (inserted as text), arrays, or null/false (skipped). Attribute values of
   * true set the attribute empty; false/null/undefined leave it out.
   */
  function h(spec, attrs, ...children) {
    const m = /^([a-z0-9]+)?((?:[.#][\w-]+)*)$/i.exec(spec) || [];
    const el = document.createElement(m[1] || 'div');
    for (const part of (m[2] || '').match(/[.#][\w-]+/g) || []) {
      if (part[0] === '.') el.classList.add(part.slice(1)); else el.id = part.slice(1);
    }
    if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
      children.unshift(attrs);
      attrs = null;
    }
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
      else if (v === true) el.setAttribute(k, '');
      else if (v !== false && v !== null && v !== undefined) el.setAttribute(k, String(v));
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  /** An SVG element with attributes (for charts). */
  function svg(tag, attrs, ...children) {
    const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  /** Replaces the contents of `el` with `children`. */
  function render(el, ...children) {
    el.replaceChildren();
    return append(el, children);
  }

  // ---- Formatting. Amounts arrive as decimal strings and are never turned into floats.
  /** '1500000' -> '1.500.000'; '-1234.5' -> '-1.234,5'. */
  function fmtNumber(value) {
    if (value === null || value === undefined || value === '') return t('none');
    const s = String(value).trim();
    const neg = s.startsWith('-');
    const [int, frac] = s.replace(/^[-+]/, '').split('.');
    const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, '.');
    return (neg ? '-' : '') + grouped + (frac ? ',' + frac : '');
  }

  /** '1500000' -> '1.500.000 ₫'; another asset's unit goes after the number. */
  function fmtMoney(value, unit) {
    if (value === null || value === undefined || value === '') return t('none');
    return fmtNumber(value) + ' ' + (unit || '₫');
  }

  /** Vietnam keeps UTC+7 all year. */
  const VN_OFFSET_MS = 7 * 3600 * 1000;
  const pad = (n) => String(n).padStart(2, '0');

  function vnParts(iso) {
    const ms = Date.parse(iso);
    if (Number.isNaN(ms)) return null;
    const d = new Date(ms + VN_OFFSET_MS);
    return { y: d.getUTCFullYear(), m: d.getUTCMonth() + 1, d: d.getUTCDate(), hh: d.getUTCHours(), mm: d.getUTCMinutes() };
  }

  /** An RFC 3339 instant or a YYYY-MM-DD date as dd/mm/yyyy (Vietnam time). */
  function fmtDate(value) {
    if (!value) return t('none');
    const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
    if (day) return `${day[3]}/${day[2]}/${day[1]}`;
    const p = vnParts(value);
    return p ? `${pad(p.d)}/${pad(p.m)}/${p.y}` : String(value);
  }

  /** An RFC 3339 instant as dd/mm/yyyy hh:mm (Vietnam time). */
  function fmtDateTime(value) {
    if (!value) return t('none');
    const p = vnParts(value);
    return p ? `${pad(p.d)}/${pad(p.m)}/${p.y} ${pad(p.hh)}:${pad(p.mm)}` : String(value);
  }

  /** Today in Vietnam as YYYY-MM-DD, for date inputs. */
  function todayVn() {
    const d = new Date(Date.now() + VN_OFFSET_MS);
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  }

  /** A `datetime-local` value (YYYY-MM-DDTHH:MM[:SS]) as an RFC 3339 instant in Vietnam time. */
  const vnInstant = (v) => (v ? (v.length === 16 ? v + ':00' : v) + '+07:00' : undefined);

  /** A decimal string without trailing zeros after the point: '180.000' -> '180'. */
  const trimZeros = (a) => (String(a).includes('.') ? String(a).replace(/\.?0+$/, '') : String(a));

  // ---- The API.
  /** An API refusal: the problem+json document, with `errors` [{field, message}] on a 422. */
  class Problem extends Error {
    constructor(status, body) {
      super((body && (body.detail || body.title)) || `HTTP ${status}`);
      this.status = status;
      this.body = body || {};
      this.errors = (body && body.errors) || [];
    }
  }

  let csrfToken = null;
  /** Sets the session's CSRF token, sent on every write (the console sets it after login). */
  function setCsrf(token) { csrfToken = token; }

  /** Hooks called with a Problem of status 401 (the console goes back to its login). */
  const onUnauthorized = [];

  /**
   * Calls the API: `api('GET', '/v1/...')` or `api('POST', path, body, {idempotencyKey})`.
   * Resolves with the parsed JSON (or text for non-JSON answers, null for 204); rejects with a
   * Problem (or a Problem of status 0 when the network fails).
   */
  async function api(method, path, body, opts = {}) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
    if (opts.idempotencyKey) headers['Idempotency-Key'] = opts.idempotencyKey;
    let res;
    try {
      res = await fetch(path, {
        method, headers, credentials: 'same-origin',
        body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
      });
    } catch (_) {
      throw new Problem(0, { title: t('error.network') });
    }
    const type = res.headers.get('content-type') || '';
    const data = res.status === 204 ? null
      : type.includes('json') ? await res.json().catch(() => null) : await res.text();
    if (!res.ok) {
      const p = new Problem(res.status, typeof data === 'object' ? data : { detail: data });
      if (res.status === 401) onUnauthorized.forEach((f) => f(p));
      throw p;
    }
    return data;
  }

  /** Every item of a listing, following next_cursor (at most `pages` pages of 500). */
  async function listAll(path, pages = 10) {
    const items = [];
    let cursor = null;
    for (let i = 0; i < pages; i++) {
      const sep = path.includes('?') ? '&' : '?';
      const page = await api('GET', `${path}${sep}limit=500${cursor ? '&cursor=' + encodeURIComponent(cursor) : ''}`);
      items.push(...page.items);
      if (!page.next_cursor) break;
      cursor = page.next_cursor;
    }
    return items;
  }

  /** A message a person can read for a Problem. */
  function problemText(p) {
    if (!(p instanceof Problem)) return String(p && p.message ? p.message : p);
    switch (p.status) {
      case 0: return t('error.network');
      case 401: return t('error.login');
      case 403: return t('error.forbidden') + (p.body.detail ? ` (${p.body.detail})` : '');
      case 404: return t('error.notfound');
      case 422: return p.errors.length ? t('error.fields') : (p.body.detail || p.body.title);
      case 429: return t('error.toomany');
      default: return p.body.detail || p.body.title || `HTTP ${p.status}`;
    }
  }

  /** A fresh idempotency key (one per form submission, kept across its retries). */
  function newKey() {
    return crypto.randomUUID ? crypto.randomUUID()
      : Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
  }

  // ---- Forms.
  let fieldSeq = 0;
  /**
   * A labelled field: field('Tên', 'donor.name', {type: 'text', required: true}) or with
   * {options: [[value, label], ...]} a select, {rows: 3} a textarea. The name is the API's
   * field path, so that a 422 can point at it.
   */
  function field(label, name, opts = {}) {
    const id = `f-${name.replace(/[^\w-]/g, '-')}-${++fieldSeq}`;
    const common = { id, name, required: opts.required || false, 'aria-describedby': `${id}-err` };
    let input;
    if (opts.options) {
      input = h('select', common, opts.options.map(([v, l]) => h('option', { value: v, selected: String(v) === String(opts.value ?? '') }, l)));
    } else if (opts.rows) {
      input = h('textarea', { ...common, rows: opts.rows, maxlength: opts.maxlength }, opts.value ?? '');
    } else {
      input = h('input', {
        ...common, type: opts.type || 'text', value: opts.value, inputmode: opts.inputmode,
        placeholder: opts.placeholder, autocomplete: opts.autocomplete || 'off', maxlength: opts.maxlength,
        min: opts.min, max: opts.max, step: opts.step, pattern: opts.pattern,
      });
    }
    return h('div.field', h('label', { for: id }, label, opts.required ? h('span.req', { 'aria-hidden': 'true' }, ' *') : null),
      opts.hint ? h('small.hint', opts.hint) : null, input, h('small.field-error', { id: `${id}-err`, 'aria-live': 'polite' }));
  }

  /** Clears the errors a form shows. */
  function clearErrors(form) {
    form.querySelectorAll('[aria-invalid]').forEach((el) => el.removeAttribute('aria-invalid'));
    form.querySelectorAll('.field-error').forEach((el) => { el.textContent = ''; });
    const s = form.querySelector('.form-status');
    if (s) { s.textContent = ''; s.className = 'form-status'; }
  }

  /**
   * Shows a refusal on a form: each named field gets its message (matched by the input's name,
   * or by the closest parent path: `lines[0].amount` falls back to `lines`), the rest goes into
   * the form's status line, and focus moves to the first field in error.
   */
  function showProblem(form, p) {
    clearErrors(form);
    const status = form.querySelector('.form-status');
    const unplaced = [];
    let first = null;
    for (const e of (p && p.errors) || []) {
      let name = e.field;
      let input = null;
      while (name && !(input = form.querySelector(`[name="${CSS.escape(name)}"]`))) {
        name = name.includes('.') || name.includes('[') ? name.replace(/(\.[^.[\]]*|\[\d+\])$/, '') : '';
      }
      if (input) {
        input.setAttribute('aria-invalid', 'true');
        const err = document.getElementById(input.getAttribute('aria-describedby'));
        if (err) err.textContent = (err.textContent ? err.textContent + ' ' : '') + e.message;
        first = first || input;
      } else {
        unplaced.push(`${e.field}: ${e.message}`);
      }
    }
    if (status) {
      status.className = 'form-status error';
      status.setAttribute('role', 'alert');
      status.textContent = [problemText(p), ...unplaced].join(' ');
    }
    if (first) first.focus();
  }

  /** Shows a success message in a form's status line. */
  function showOk(form, text) {
    const s = form.querySelector('.form-status');
    if (s) { s.className = 'form-status ok'; s.setAttribute('role', 'status'); s.textContent = text; }
  }

  /** The trimmed value of the named control, or undefined when empty. */
  function val(form, name) {
    const el = form.elements.namedItem(name);
    if (!el) return undefined;
    const v = String(el.value ?? '').trim();
    return v === '' ? undefined : v;
  }

  /** An amount typed the Vietnamese way ('1.500.000' or '1500000,5') as the API's '1500000.5'. */
  function parseAmount(text) {
    if (text === undefined) return undefined;
    const s = String(text).replace(/[\s₫đ]/gi, '');
    return /,/.test(s) ? s.replace(/\./g, '').replace(',', '.') : s.replace(/\.(?=\d{3}(\D|$))/g, '');
  }

  /**
   * Wires a form: on submit, clears errors, disables the submit button, awaits `handler(form)`,
   * and shows its refusal. One idempotency key per submission, kept when the answer was lost,
   * so a retry is not a second write.
   */
  function onSubmit(form, handler) {
    form.noValidate = true;
    form.dataset.key = newKey();
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      const button = form.querySelector('[type=submit]');
      if (button) button.disabled = true;
      form.setAttribute('aria-busy', 'true');
      try {
        await handler(form, form.dataset.key);
        form.dataset.key = newKey();
      } catch (p) {
        // A refusal (4xx) is final, and the API keeps some under the key: the corrected form is
        // a new request. A lost answer or a server error keeps the key, so a retry is not a
        // second write.
        if (p instanceof Problem && p.status >= 400 && p.status < 500) form.dataset.key = newKey();
        showProblem(form, p);
      } finally {
        if (button) button.disabled = false;
        form.removeAttribute('aria-busy');
      }
    });
    return form;
  }

  /** A status line for a form (errors and confirmations are announced). */
  const formStatus = () => h('p.form-status', { 'aria-live': 'polite' });

  // ---- Pages.
  /**
   * Routes a path to a page: routes is [[/^\/funds\/([^/]+)$/, fn], ...]; the first match is
   * called with its groups. Returns whether one matched.
   */
  async function route(routes, path) {
    for (const [re, fn] of routes) {
      const m = re.exec(path);
      if (m) { await fn(...m.slice(1).map(decodeURIComponent)); return true; }
    }
    return false;
  }

  /** The main element, emptied, with a heading; focus moves to it for screen readers. */
  function page(title, ...children) {
    const main = document.getElementById('main');
    document.title = `${title} · ${t('site.name')}`;
    render(main, h('h1', title), ...children);
    return main;
  }

  /** A notice (error or information) in place of a page's content. */
  function notice(text, kind = 'error') {
    return h(`p.notice.${kind}`, { role: kind === 'error' ? 'alert' : 'status' }, text);
  }

  /** A table from headers and rows of cells (nodes or text). Numeric columns align right. */
  function table(caption, headers, rows, numeric = []) {
    return h('div.table-wrap', { tabindex: '0', role: 'region', 'aria-label': caption },
      h('table', caption ? h('caption', caption) : null,
        h('thead', h('tr', headers.map((x, i) => h(numeric.includes(i) ? 'th.num' : 'th', { scope: 'col' }, x)))),
        h('tbody', rows.map((r) => h('tr', r.map((c, i) => h(numeric.includes(i) ? 'td.num' : 'td', c)))))));
  }

  /** A language switch link. */
  function langSwitch() {
    return h('button.link.lang', { type: 'button', lang: lang === 'vi' ? 'en' : 'vi', on: { click: () => setLang(lang === 'vi' ? 'en' : 'vi') } }, t('lang.switch'));
  }

  /** Navigates within the site without reloading the page. */
  let navigateHook = null;
  function navigate(path) {
    history.pushState(null, '', path);
    if (navigateHook) navigateHook();
  }
  /** Makes same-site links whose path passes `test` load without a full reload, calling `fn` to draw. */
  function interceptLinks(test, fn) {
    navigateHook = fn;
    window.addEventListener('popstate', fn);
    document.addEventListener('click', (ev) => {
      const a = ev.target.closest && ev.target.closest('a[href]');
      if (!a || a.target || a.hasAttribute('download') || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button !== 0) return;
      const url = new URL(a.href, location.href);
      if (url.origin !== location.origin || !test(url.pathname)) return;
      ev.preventDefault();
      navigate(url.pathname + url.search);
    });
  }

  return {
    strings, t, get lang() { return lang; }, setLang, h, svg, render, append,
    fmtNumber, fmtMoney, fmtDate, fmtDateTime, todayVn, vnInstant, trimZeros,
    Problem, api, listAll, setCsrf, onUnauthorized, problemText, newKey,
    field, clearErrors, showProblem, showOk, val, parseAmount, onSubmit, formStatus,
    route, page, notice, table, langSwitch, navigate, interceptLinks,
  };
})();
