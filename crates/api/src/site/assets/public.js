// The public transparency site at /: no login, only the public API (/v1/public/...).
// Every figure shown is a figure the API gives, only formatted here; the one thing computed is
// the length of chart bars, with BigInt on whole đồng (never floats of money).
'use strict';

(() => {
  const { h, t } = R;
  R.strings({
    vi: {
      'site.name': 'Minh bạch quỹ cứu trợ', 'home.title': 'Tiền cứu trợ đi đâu',
      'home.intro': 'Trang này công khai số tiền và hàng các quỹ cứu trợ đã nhận, đã phân bổ, đã chi cho từng xã, phường và số còn lại, theo sổ sách của quỹ. Tên người được hỗ trợ được viết tắt; không có số điện thoại, địa chỉ hay giấy tờ tùy thân.',
      'lookup.title': 'Tra cứu khoản ủng hộ', 'lookup.label': 'Số biên nhận hoặc mã giao dịch ngân hàng',
      'lookup.hint': 'Ví dụ: BN-2026-000123 hoặc FT26001234567', 'lookup.submit': 'Tra cứu',
      'lookup.empty': 'Hãy nhập số biên nhận hoặc mã giao dịch.',
      'lookup.none': 'Không tìm thấy khoản ủng hộ nào với mã “{q}”. Hãy kiểm tra lại mã; khoản vừa chuyển có thể cần vài ngày để quỹ ghi nhận.',
      'lookup.found': 'Tìm thấy {n} khoản ủng hộ với mã “{q}”.',
      'funds.title': 'Các quỹ', 'funds.none': 'Chưa có quỹ nào.',
      'd.receipt': 'Số biên nhận', 'd.amount': 'Số tiền', 'd.goods': 'Hiện vật', 'd.date': 'Ngày nhận',
      'd.fund': 'Quỹ', 'd.campaign': 'Cuộc vận động', 'd.donor': 'Người ủng hộ', 'd.channel': 'Hình thức',
      'd.status': 'Trạng thái', 'd.worth': 'trị giá {v}',
      'st.received': 'Đã nhận', 'st.reversed': 'Đã hoàn trả ngày {d}',
      'ch.cash': 'Tiền mặt', 'ch.bank_transfer': 'Chuyển khoản', 'ch.in_kind': 'Hiện vật',
      'fig.received': 'Đã tiếp nhận', 'fig.allocated': 'Đã phân bổ cho quỹ khác', 'fig.paid': 'Đã chi hỗ trợ',
      'fig.balance': 'Số dư hiện có', 'fig.reversed': 'trong đó đã hoàn trả {v}', 'fig.in': 'Nhận phân bổ từ quỹ khác: {v}',
      'fig.reserved': 'đã duyệt chờ chi {v}; còn dùng được {a}',
      'fig.donations': 'Số khoản ủng hộ', 'fig.goods': 'kèm hiện vật: {v}', 'fig.payments': 'Lượt chi',
      'fig.assessed': 'Hộ được đánh giá thiệt hại', 'fig.supported': 'Hộ được hỗ trợ',
      'chart.title': 'Biểu đồ (tiền, đồng)', 'chart.paid': 'Đã chi theo xã, phường (đồng)',
      'assets.title': 'Bảng kê theo loại tài sản', 'a.asset': 'Tài sản', 'a.opening': 'Số dư đầu',
      'a.received': 'Tiếp nhận', 'a.reversed': 'Hoàn trả', 'a.allocated_in': 'Nhận phân bổ', 'a.allocated_out': 'Phân bổ đi',
      'a.paid': 'Đã chi', 'a.other': 'Khác', 'a.balance': 'Số dư', 'a.reserved': 'Chờ chi', 'a.available': 'Còn dùng được',
      'dl.title': 'Tải sao kê', 'dl.csv': 'Sao kê CSV (mở bằng Excel)', 'dl.json': 'Sao kê JSON (dữ liệu máy đọc)',
      'camp.title': 'Các cuộc vận động', 'camp.none': 'Quỹ chưa có cuộc vận động nào.',
      'camp.period': 'Từ {a} đến {b}', 'camp.closed': 'đã kết thúc', 'camp.appeal': 'Văn bản kêu gọi: {r}',
      'alloc.title': 'Các đợt phân bổ', 'alloc.none': 'Chưa có đợt phân bổ nào.', 'alloc.date': 'Ngày',
      'alloc.decision': 'Quyết định', 'alloc.round': 'Đợt', 'alloc.dir': 'Chiều', 'alloc.other': 'Quỹ',
      'alloc.in': 'Nhận từ', 'alloc.out': 'Chuyển đến', 'alloc.amount': 'Số tiền (đồng)',
      'alloc.recent': '{n} đợt gần nhất.',
      'com.title': 'Đã chi theo xã, phường', 'com.none': 'Chưa chi hỗ trợ cho hộ nào.', 'com.unit': 'Xã, phường',
      'com.total': 'Tổng (đồng)', 'inc.list': 'Các sự cố, thiên tai', 'inc.none': 'Chưa có.',
      'fund.title': 'Quỹ', 'fund.unit': 'Địa bàn: {u}',
      'c.title': 'Cuộc vận động', 'c.period': 'Thời gian tiếp nhận', 'c.appeal': 'Văn bản kêu gọi', 'c.fund': 'Thuộc quỹ', 'c.incident': 'Sự cố liên quan', 'c.see': 'Xem sự cố',
      'c.received': 'Cuộc vận động đã tiếp nhận',
      'c.basis': 'Tiền ủng hộ cho cuộc vận động được nhập vào tài khoản của quỹ, và quỹ chi hỗ trợ từ tài khoản chung, không tách theo từng cuộc vận động. Vì vậy số đã phân bổ, đã chi và số dư dưới đây là của cả quỹ.',
      'c.fundfig': '{f}: phân bổ, chi và số dư', 'c.flow': 'Tiền đi đâu',
      'c.donations': 'Các khoản ủng hộ gần nhất', 'c.payments': 'Các khoản chi hỗ trợ gần nhất của quỹ',
      'c.shown': 'Hiển thị {n} trên tổng {c} khoản; đã nhận (không kể khoản đã hoàn trả): {v}.', 'c.shownp': 'Hiển thị {n} trên tổng {c} lượt chi; tổng {v}.',
      'p.name': 'Chủ hộ (viết tắt)', 'p.unit': 'Xã, phường', 'p.date': 'Ngày chi', 'p.what': 'Nội dung',
      'i.title': 'Sự cố', 'i.kind': 'Loại', 'i.start': 'Bắt đầu', 'i.end': 'Kết thúc', 'i.status': 'Tình trạng',
      'i.units': 'Địa bàn bị ảnh hưởng', 'i.open': 'Đang khắc phục', 'i.closed': 'Đã đóng',
      'i.communes': 'Hỗ trợ theo xã, phường', 'i.benef': 'Danh sách hộ được hỗ trợ',
      'i.benefnote': 'Tên chủ hộ được viết tắt (giữ họ, các chữ sau chỉ còn chữ cái đầu).',
      'i.load': 'Xem danh sách {u}', 'i.more': 'Xem thêm', 'i.nobody': 'Chưa có hộ nào được chi.',
      'foot': 'Số liệu lấy trực tiếp từ sổ sách của quỹ qua API công khai (/v1/public).',
      'k.typhoon': 'Bão', 'k.flood': 'Lũ, lụt', 'k.flash_flood': 'Lũ quét', 'k.landslide': 'Sạt lở đất',
      'k.drought': 'Hạn hán', 'k.saltwater_intrusion': 'Xâm nhập mặn', 'k.fire': 'Cháy', 'k.crop_failure': 'Mất mùa',
      'k.epidemic': 'Dịch bệnh', 'k.work_accident': 'Tai nạn lao động', 'k.traffic_accident': 'Tai nạn giao thông',
      'k.domestic_violence': 'Bạo lực gia đình', 'k.trafficking': 'Mua bán người', 'k.other': 'Khác',
      'cat.food': 'lương thực', 'cat.water': 'nước uống', 'cat.medicine': 'thuốc', 'cat.essentials': 'nhu yếu phẩm',
      'cat.severe_injury': 'bị thương nặng', 'cat.funeral': 'mai táng', 'cat.house_collapsed': 'nhà sập',
      'cat.house_severely_damaged': 'nhà hư hỏng nặng', 'cat.house_relocation': 'di dời nhà',
      'cat.evacuation': 'sơ tán', 'cat.shelter': 'chỗ ở tạm', 'cat.sanitation': 'vệ sinh môi trường',
      'cat.seeds': 'giống cây trồng', 'cat.livestock': 'giống vật nuôi', 'cat.tools': 'công cụ sản xuất',
      'cat.public_works': 'công trình công cộng', 'cat.other': 'khác',
    },
    en: {
      'site.name': 'Relief fund transparency', 'home.title': 'Where the relief money went',
      'home.intro': 'This site shows what the relief funds received in money and goods, what they allocated, what they paid to each commune and what they still hold, from the funds’ own ledger. Names of people supported are shortened; no phone numbers, addresses or ID papers are shown.',
      'lookup.title': 'Find a donation', 'lookup.label': 'Receipt number or bank transfer reference',
      'lookup.hint': 'For example BN-2026-000123 or FT26001234567', 'lookup.submit': 'Search',
      'lookup.empty': 'Type a receipt number or a bank reference.',
      'lookup.none': 'No donation found with “{q}”. Check the reference; a recent transfer may take a few days to be recorded.',
      'lookup.found': '{n} donation(s) found with “{q}”.',
      'funds.title': 'Funds', 'funds.none': 'No fund yet.',
      'd.receipt': 'Receipt number', 'd.amount': 'Amount', 'd.goods': 'Goods', 'd.date': 'Received on',
      'd.fund': 'Fund', 'd.campaign': 'Campaign', 'd.donor': 'Donor', 'd.channel': 'Channel',
      'd.status': 'Status', 'd.worth': 'worth {v}',
      'st.received': 'Received', 'st.reversed': 'Returned on {d}',
      'ch.cash': 'Cash', 'ch.bank_transfer': 'Bank transfer', 'ch.in_kind': 'Goods',
      'fig.received': 'Received', 'fig.allocated': 'Allocated to other funds', 'fig.paid': 'Paid in support',
      'fig.balance': 'Balance held', 'fig.reversed': 'of which returned {v}', 'fig.in': 'Allocated from other funds: {v}',
      'fig.reserved': 'approved, awaiting payment {v}; available {a}',
      'fig.donations': 'Donations', 'fig.goods': 'and goods: {v}', 'fig.payments': 'Payments',
      'fig.assessed': 'Households assessed', 'fig.supported': 'Households supported',
      'chart.title': 'Chart (money, đồng)', 'chart.paid': 'Paid per commune (đồng)',
      'assets.title': 'Statement per asset', 'a.asset': 'Asset', 'a.opening': 'Opening',
      'a.received': 'Received', 'a.reversed': 'Returned', 'a.allocated_in': 'Allocated in', 'a.allocated_out': 'Allocated out',
      'a.paid': 'Paid', 'a.other': 'Other', 'a.balance': 'Balance', 'a.reserved': 'Reserved', 'a.available': 'Available',
      'dl.title': 'Download the statement', 'dl.csv': 'Statement as CSV (opens in Excel)', 'dl.json': 'Statement as JSON (machine-readable)',
      'camp.title': 'Campaigns', 'camp.none': 'The fund has no campaign yet.',
      'camp.period': 'From {a} to {b}', 'camp.closed': 'closed', 'camp.appeal': 'Appeal: {r}',
      'alloc.title': 'Allocation rounds', 'alloc.none': 'No allocation yet.', 'alloc.date': 'Date',
      'alloc.decision': 'Decision', 'alloc.round': 'Round', 'alloc.dir': 'Direction', 'alloc.other': 'Fund',
      'alloc.in': 'From', 'alloc.out': 'To', 'alloc.amount': 'Amount (đồng)',
      'alloc.recent': 'The {n} most recent rounds.',
      'com.title': 'Paid per commune', 'com.none': 'No household paid yet.', 'com.unit': 'Commune',
      'com.total': 'Total (đồng)', 'inc.list': 'Incidents and disasters', 'inc.none': 'None yet.',
      'fund.title': 'Fund', 'fund.unit': 'Area: {u}',
      'c.title': 'Campaign', 'c.period': 'Receiving period', 'c.appeal': 'Appeal', 'c.fund': 'Fund', 'c.incident': 'Incident', 'c.see': 'See the incident',
      'c.received': 'Received by the campaign',
      'c.basis': 'Donations to a campaign go into the fund’s accounts, and the fund pays support from them as a whole, not per campaign. So what was allocated, paid and is held below is the whole fund’s.',
      'c.fundfig': '{f}: allocated, paid and held', 'c.flow': 'Where the money went',
      'c.donations': 'Most recent donations', 'c.payments': 'Most recent support paid by the fund',
      'c.shown': 'Showing {n} of {c}; received (not counting those returned): {v}.', 'c.shownp': 'Showing {n} of {c} payments; total {v}.',
      'p.name': 'Head of household (shortened)', 'p.unit': 'Commune', 'p.date': 'Paid on', 'p.what': 'What',
      'i.title': 'Incident', 'i.kind': 'Kind', 'i.start': 'Started', 'i.end': 'Ended', 'i.status': 'Status',
      'i.units': 'Areas affected', 'i.open': 'Ongoing', 'i.closed': 'Closed',
      'i.communes': 'Support per commune', 'i.benef': 'Households supported',
      'i.benefnote': 'Names are shortened (family name kept, other words reduced to their initial).',
      'i.load': 'Show the list for {u}', 'i.more': 'Show more', 'i.nobody': 'No household paid yet.',
      'foot': 'Figures come straight from the funds’ ledger through the public API (/v1/public).',
    },
  });

  const get = (path) => R.api('GET', path);
  /** A category or kind by its code: Vietnamese from the strings; in English the code itself. */
  const cat = (c) => (R.lang === 'en' ? c.replace(/_/g, ' ') : t('cat.' + c));
  const kind = (c) => (R.lang === 'en' ? cat(c).replace(/^./, (x) => x.toUpperCase()) : t('k.' + c));
  const enc = encodeURIComponent;
  const money = (v) => R.fmtMoney(v);
  /** An amount of one asset: đồng as 1.500.000 ₫, goods with their unit (250,5 kg). */
  const amount = (l) => (l.asset === 'VND' ? R.fmtMoney(l.amount) : R.fmtMoney(l.amount, l.unit || l.asset));
  /** The goods lines (not đồng) of a list of lines, formatted, with their category if any. */
  const goods = (lines) => (lines || []).filter((l) => l.asset !== 'VND')
    .map((l) => amount(l) + (l.category ? ` (${cat(l.category)})` : '')).join('; ') || t('none');
  const what = (lines) => (lines || []).map((l) => `${cat(l.category)}: ${amount(l)}`).join('; ');
  const vndOf = (rows) => (rows || []).find((a) => a.asset === 'VND');
  const unitName = (u) => (u ? (u.name ? `${u.name} (${u.code})` : u.code) : t('none'));
  const fundLink = (f) => (f ? h('a', { href: `/funds/${enc(f.id)}` }, f.name) : t('none'));

  /** The page being drawn: a slow answer for a page already left is dropped. */
  let drawing = 0;
  const stale = (n) => n !== drawing;

  /** The answers of `paths` for page `n`, or null (the page was left, or shows the refusal). */
  async function load(n, title, ...paths) {
    try {
      const r = await Promise.all(paths.map(get));
      return stale(n) ? null : r;
    } catch (p) {
      if (!stale(n)) R.page(title, R.notice(R.problemText(p)));
      return null;
    }
  }

  function header() {
    R.render(document.getElementById('top'), h('a.brand', { href: '/' }, t('site.name')), R.langSwitch());
    R.render(document.getElementById('foot'), h('p', t('foot')));
  }

  /** ul.figures: [[id or null, label, formatted value, note], ...]; ids become li#fig-<id>. */
  function figures(items) {
    return h('ul.figures', items.map(([id, label, value, note]) =>
      h('li', { id: id ? `fig-${id}` : null }, h('span.label', label), h('span.value', value),
        note ? h('small.muted', note) : null)));
  }

  /** The whole đồng of a decimal string, as a BigInt (negative counts as nothing). */
  function whole(v) {
    const s = String(v ?? '0').split('.')[0];
    if (!/^-?\d+$/.test(s)) return 0n;
    const b = BigInt(s);
    return b < 0n ? 0n : b;
  }

  let chartSeq = 0;
  /** A bar chart of amounts in đồng: [[label, amount string, css class], ...]. */
  function chart(title, bars) {
    const max = bars.reduce((m, b) => (whole(b[1]) > m ? whole(b[1]) : m), 0n);
    const W = 290n;
    const id = `chart-${++chartSeq}`;
    const rows = bars.map(([label, v, cls], i) => {
      const y = i * 44;
      // Bar length in pixels: amount * 290 / largest amount, in integers (BigInt).
      const w = max > 0n ? Number((whole(v) * W) / max) : 0;
      return R.svg('g', {},
        R.svg('text', { x: 0, y: y + 14 }, `${label}: ${money(v)}`),
        R.svg('rect', { x: 0, y: y + 20, width: Math.max(w, 1), height: 16, class: cls || 'bar-paid' }));
    });
    return R.svg('svg', { class: 'chart', viewBox: `0 0 300 ${bars.length * 44 + 4}`, role: 'img', 'aria-labelledby': id },
      R.svg('title', { id }, title), rows);
  }

  function dl(pairs) {
    return h('dl.facts', pairs.filter(Boolean).map(([k, v]) => [h('dt', k), h('dd', v)]));
  }

  function downloads(base, name) {
    return [h('h2', t('dl.title')), h('ul.downloads',
      h('li', h('a.download-csv', { href: `${base}?format=csv`, download: `${name}.csv` }, t('dl.csv'))),
      h('li', h('a.download-json', { href: `${base}?format=json`, download: `${name}.json` }, t('dl.json'))))];
  }

  /** The per-asset statement, every column the API gives. */
  function assetTable(rows) {
    const cols = ['opening', 'received', 'reversed', 'allocated_in', 'allocated_out', 'paid', 'other', 'balance', 'reserved', 'available'];
    return R.table(t('assets.title'), [t('a.asset'), ...cols.map((c) => t('a.' + c))],
      rows.map((a) => [`${a.asset} (${a.unit})`, ...cols.map((c) => R.fmtNumber(a[c]))]), cols.map((_, i) => i + 1));
  }

  /** The four headline figures of a fund's đồng (from one PublicAssetFigures row). */
  function fundFigures(v, skip) {
    // A fund with no movement in đồng has no VND row: nothing moved, so 0 is shown.
    const f = v || { received: '0', reversed: '0', allocated_in: '0', allocated_out: '0', paid: '0', balance: '0', reserved: '0', available: '0' };
    const zero = (x) => /^0(\.0*)?$/.test(String(x));
    return [
      skip ? null : ['received', t('fig.received'), money(f.received), zero(f.reversed) ? null : t('fig.reversed', { v: money(f.reversed) })],
      ['allocated', t('fig.allocated'), money(f.allocated_out), zero(f.allocated_in) ? null : t('fig.in', { v: money(f.allocated_in) })],
      ['paid', t('fig.paid'), money(f.paid)],
      ['balance', t('fig.balance'), money(f.balance), zero(f.reserved) ? null : t('fig.reserved', { v: money(f.reserved), a: money(f.available) })],
    ].filter(Boolean);
  }

  /** GET that waits and tries again (three times) when the rate limit answers 429. */
  async function patient(path) {
    for (let i = 0; ; i++) {
      try { return await get(path); } catch (p) {
        if (!(p instanceof R.Problem) || p.status !== 429 || i >= 3) throw p;
        await new Promise((ok) => setTimeout(ok, 1500 * (i + 1)));
      }
    }
  }

  /** Rows of a CSV statement as objects keyed by its header (fields may be quoted). */
  function csvRows(text) {
    const split = (line) => [...line.matchAll(/("(?:[^"]|"")*"|[^,]*)(?:,|$)/g)].slice(0, -1)
      .map((m) => m[1].replace(/^"|"$/g, '').replace(/""/g, '"'));
    const [head, ...rows] = String(text).split('\r\n').filter(Boolean).map(split);
    return rows.map((r) => Object.fromEntries(head.map((k, i) => [k, r[i]])));
  }

  // ---- Home: what the site is, the lookup, the funds.
  async function home() {
    const n = drawing;
    const q = new URLSearchParams(location.search).get('q') || '';
    const result = h('div#lookup-result', { 'aria-live': 'polite' });
    const form = h('form#lookup-form.lookup', { role: 'search', action: '/', method: 'get' },
      R.field(t('lookup.label'), 'q', { value: q, hint: t('lookup.hint'), maxlength: 100, autocomplete: 'off' }),
      h('button', { type: 'submit' }, t('lookup.submit')));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const v = R.val(form, 'q') || '';
      history.replaceState(null, '', v ? `/?q=${enc(v)}` : '/');
      lookup(v, result);
    });
    const fundList = h('div', h('p', t('loading')));
    R.page(t('home.title'), h('p.lead', t('home.intro')),
      h('section', { 'aria-labelledby': 'lookup-h' }, h('h2#lookup-h', t('lookup.title')), form, result),
      h('section', { 'aria-labelledby': 'funds-h' }, h('h2#funds-h', t('funds.title')), fundList));
    if (q) lookup(q.trim(), result);
    try {
      const funds = [];
      let cursor = null;
      do { // every fund, a page at a time (at most 10 pages of 100)
        const page = await get(`/v1/public/funds?limit=100${cursor ? `&cursor=${enc(cursor)}` : ''}`);
        funds.push(...page.items);
        cursor = page.next_cursor;
      } while (cursor && funds.length < 1000);
      if (stale(n)) return;
      if (!funds.length) { R.render(fundList, h('p', t('funds.none'))); return; }
      const jobs = [];
      const cards = funds.map((f) => {
        const figs = h('div', t('loading'));
        // The CSV statement: the same per-asset figures as the JSON one, without its lists
        // (campaigns, allocations, payments per commune), which a card does not need.
        jobs.push(() => (stale(n) ? null : patient(`/v1/public/funds/${enc(f.id)}/statement?format=csv`).then((csv) => {
          R.render(figs, dl(fundFigures(vndOf(csvRows(csv))).map((x) => [x[1], x[2]])));
        }, (p) => R.render(figs, R.notice(R.problemText(p))))));
        return h('li.card', h('h3', h('a.fund-link', { href: `/funds/${enc(f.id)}` }, f.name)),
          h('p.muted', t('fund.unit', { u: unitName(f.unit) })), figs);
      });
      R.render(fundList, h('ul.cards', cards));
      // Four at a time: a province has many funds, and the public API limits each address.
      let next = 0;
      const worker = async () => { while (next < jobs.length) await jobs[next++](); };
      await Promise.all([1, 2, 3, 4].map(worker));
    } catch (p) {
      if (!stale(n)) R.render(fundList, R.notice(R.problemText(p)));
    }
  }

  /** Looks a reference up as a receipt number, then as a bank reference (or the other way). */
  async function lookup(q, out) {
    if (!q) { R.render(out, R.notice(t('lookup.empty'))); return; }
    R.render(out, h('p', { role: 'status' }, t('loading')));
    const keys = /^BN-/i.test(q) ? ['receipt_no', 'bank_ref'] : ['bank_ref', 'receipt_no'];
    let data = null;
    try {
      for (const k of keys) {
        try { data = await get(`/v1/public/donations?${k}=${enc(q)}&limit=100`); break; } catch (p) {
          if (!(p instanceof R.Problem) || p.status !== 404) throw p;
        }
      }
    } catch (p) {
      R.render(out, R.notice(R.problemText(p)));
      return;
    }
    if (!data || !data.items.length) {
      R.render(out, h('p.notice.error.not-found', { role: 'alert' }, t('lookup.none', { q })));
      return;
    }
    R.render(out, h('p.notice.ok', { role: 'status' }, t('lookup.found', { n: data.items.length, q })),
      data.items.map((d) => h('article.donation.card',
        h('h3', `${t('d.receipt')}: `, h('span.receipt-no', d.receipt_no || t('none'))),
        dl([
          [t('d.amount'), h('strong.amount', money(d.total_vnd))],
          d.lines.some((l) => l.asset !== 'VND') ? [t('d.goods'), d.lines.filter((l) => l.asset !== 'VND')
            .map((l) => amount(l) + (l.value_vnd ? ` (${t('d.worth', { v: money(l.value_vnd) })})` : '')).join('; ')] : null,
          [t('d.date'), R.fmtDate(d.received_on)],
          [t('d.fund'), fundLink(d.fund)],
          d.campaign ? [t('d.campaign'), h('a', { href: `/campaigns/${enc(d.campaign.id)}` }, d.campaign.name || d.campaign.id)] : null,
          [t('d.donor'), d.donor.name],
          [t('d.channel'), t('ch.' + d.channel)],
          [t('d.status'), h('span.status', d.status === 'reversed' ? t('st.reversed', { d: R.fmtDate(d.reversed_on) }) : t('st.received'))],
        ]))));
  }

  // ---- A fund: figures, chart, statement, campaigns, allocations, communes, incidents.
  async function fund(id) {
    const n = drawing;
    const [st] = (await load(n, t('fund.title'), `/v1/public/funds/${enc(id)}/statement`)) || [];
    if (!st) return;
    const v = vndOf(st.assets);
    const f = v || { received: '0', allocated_out: '0', paid: '0', balance: '0' };
    const base = `/v1/public/funds/${enc(id)}/statement`;
    const allocs = (st.allocations && st.allocations.items) || [];
    R.page(st.fund.name,
      h('p.muted', t('fund.unit', { u: unitName(st.fund.unit) })),
      figures(fundFigures(v)),
      figures([[null, t('fig.donations'), R.fmtNumber(st.donations_received.count), money(st.donations_received.total_vnd)],
        [null, t('fig.payments'), R.fmtNumber(st.disbursements_paid.count), money(st.disbursements_paid.total_vnd)]]),
      chart(t('chart.title'), [[t('fig.received'), f.received, 'bar-received'], [t('fig.allocated'), f.allocated_out, 'bar-allocated'],
        [t('fig.paid'), f.paid, 'bar-paid'], [t('fig.balance'), f.balance, 'bar-balance']]),
      h('h2', t('assets.title')), assetTable(st.assets),
      downloads(base, `sao-ke-quy-${id}`),
      h('h2', t('camp.title')), campaignList(st.campaigns || []),
      h('h2', t('alloc.title')), allocTable(allocs),
      h('h2', t('com.title')), communeTable(st.communes || []),
      h('h2', t('inc.list')), (st.incidents || []).length
        ? h('ul', st.incidents.map((i) => h('li', h('a', { href: `/incidents/${enc(i.id)}` }, i.name), ` · ${kind(i.kind)} · ${R.fmtDate(i.started_at)}`)))
        : h('p', t('inc.none')));
  }

  function campaignList(list) {
    if (!list.length) return h('p', t('camp.none'));
    return h('ul.campaigns', list.map((c) => h('li',
      h('a', { href: `/campaigns/${enc(c.id)}` }, c.name), ' · ', t('camp.period', { a: R.fmtDate(c.opens_on), b: R.fmtDate(c.closes_on) }),
      c.closed ? ` (${t('camp.closed')})` : null, c.appeal_ref ? h('small.hint', t('camp.appeal', { r: c.appeal_ref })) : null)));
  }

  function allocTable(items) {
    if (!items.length) return h('p', t('alloc.none'));
    return [R.table(t('alloc.title'), [t('alloc.date'), t('alloc.decision'), t('alloc.round'), t('alloc.dir'), t('alloc.other'), t('alloc.amount'), t('d.goods')],
      items.map((a) => [R.fmtDate(a.executed_on), a.decision_ref, String(a.round), t(a.direction === 'out' ? 'alloc.out' : 'alloc.in'),
        fundLink(a.counterpart), money(a.total_vnd), goods(a.lines)]), [2, 5]),
    items.length >= 100 ? h('p.muted', t('alloc.recent', { n: items.length })) : null];
  }

  function communeTable(rows) {
    if (!rows.length) return h('p', t('com.none'));
    return [chart(t('chart.paid'), rows.map((c) => [c.unit.name || c.unit.code, c.paid_total_vnd, 'bar-paid'])),
      R.table(t('com.title'), [t('com.unit'), t('fig.supported'), t('fig.payments'), t('com.total'), t('d.goods')],
        rows.map((c) => [unitName(c.unit), R.fmtNumber(c.households_supported), R.fmtNumber(c.disbursements_paid), money(c.paid_total_vnd), goods(c.paid)]), [1, 2, 3])];
  }

  // ---- A campaign: its statement, then where the money went (its fund's flow).
  async function campaign(id) {
    const n = drawing;
    const [st, flow] = (await load(n, t('c.title'), `/v1/public/campaigns/${enc(id)}/statement`, `/v1/public/campaigns/${enc(id)}/flow?limit=20`)) || [];
    if (!st) return;
    const c = st.campaign;
    const got = vndOf(st.received) || { received: '0', reversed: '0' };
    const fs = st.fund_statement;
    const fv = vndOf(fs.assets);
    const zero = (x) => /^0(\.0*)?$/.test(String(x));
    const shown = (list, total, key) => h('p.muted', t(key, { n: list.length, c: R.fmtNumber(total.count), v: money(total.total_vnd) }));
    R.page(c.name,
      dl([
        [t('c.fund'), fundLink(st.fund)],
        [t('c.period'), t('camp.period', { a: R.fmtDate(c.opens_on), b: R.fmtDate(c.closes_on) }) + (c.closed ? ` (${t('camp.closed')})` : '')],
        c.appeal_ref ? [t('c.appeal'), c.appeal_ref] : null,
        c.incident_id ? [t('c.incident'), h('a', { href: `/incidents/${enc(c.incident_id)}` }, t('c.see'))] : null,
      ]),
      figures([
        ['received', t('c.received'), money(got.received), zero(got.reversed) ? null : t('fig.reversed', { v: money(got.reversed) })],
        [null, t('fig.donations'), R.fmtNumber(st.donations_received.count), money(st.donations_received.total_vnd)],
      ]),
      (st.received || []).some((r) => r.asset !== 'VND')
        ? R.table(t('c.received'), [t('a.asset'), t('a.received'), t('a.reversed')],
          st.received.map((r) => [`${r.asset} (${r.unit})`, R.fmtNumber(r.received), R.fmtNumber(r.reversed)]), [1, 2]) : null,
      downloads(`/v1/public/campaigns/${enc(id)}/statement`, `sao-ke-van-dong-${id}`),
      h('h2', t('c.fundfig', { f: st.fund.name })),
      h('p.notice.info', t('c.basis')),
      figures(fundFigures(fv, true)),
      h('h2', t('c.flow')),
      h('h3', t('c.donations')),
      shown(flow.donations.items, flow.donations, 'c.shown'),
      R.table(t('c.donations'), [t('d.date'), t('d.receipt'), t('d.donor'), t('d.amount'), t('d.status')],
        flow.donations.items.map((d) => [R.fmtDate(d.received_on), h('a', { href: `/?q=${enc(d.receipt_no || '')}` }, d.receipt_no || t('none')),
          d.donor.name, money(d.total_vnd), d.status === 'reversed' ? t('st.reversed', { d: R.fmtDate(d.reversed_on) }) : t('st.received')]), [3]),
      h('h3', t('alloc.title')), allocTable(flow.allocations.items),
      h('h3', t('c.payments')),
      shown(flow.payments.items, flow.payments, 'c.shownp'),
      paymentTable(t('c.payments'), flow.payments.items, true));
  }

  function paymentTable(caption, items, withUnit) {
    return R.table(caption, [t('p.name'), withUnit ? t('p.unit') : null, t('p.date'), t('p.what'), t('com.total')].filter(Boolean),
      items.map((p) => [p.name, withUnit ? (p.unit.name || p.unit.code) : null, R.fmtDate(p.paid_on), what(p.lines), money(p.total_vnd)]
        .filter((x) => x !== null)), [withUnit ? 4 : 3]);
  }

  // ---- An incident: what was done, per commune, with the masked beneficiary lists.
  async function incident(id) {
    const n = drawing;
    const [inc] = (await load(n, t('i.title'), `/v1/public/incidents/${enc(id)}`)) || [];
    if (!inc) return;
    const lists = h('div');
    const goodsPaid = (inc.paid || []).filter((l) => l.asset !== 'VND');
    R.page(inc.name,
      dl([
        [t('i.kind'), kind(inc.kind)],
        [t('i.start'), R.fmtDate(inc.started_at)],
        inc.ended_at ? [t('i.end'), R.fmtDate(inc.ended_at)] : null,
        [t('i.status'), t(inc.status === 'closed' ? 'i.closed' : 'i.open')],
        [t('i.units'), inc.units.map(unitName).join(', ') || t('none')],
      ]),
      figures([
        ['paid', t('fig.paid'), money(inc.paid_total_vnd), goodsPaid.length ? t('fig.goods', { v: goods(goodsPaid) }) : null],
        [null, t('fig.assessed'), R.fmtNumber(inc.households_assessed)],
        [null, t('fig.supported'), R.fmtNumber(inc.households_supported)],
        [null, t('fig.payments'), R.fmtNumber(inc.disbursements_paid)],
      ]),
      h('h2', t('i.communes')),
      inc.communes.length ? [
        chart(t('chart.paid'), inc.communes.map((c) => [c.unit.name || c.unit.code, c.paid_total_vnd, 'bar-paid'])),
        R.table(t('i.communes'), [t('com.unit'), t('fig.assessed'), t('fig.supported'), t('fig.payments'), t('com.total'), t('d.goods')],
          inc.communes.map((c) => [unitName(c.unit), R.fmtNumber(c.households_assessed), R.fmtNumber(c.households_supported),
            R.fmtNumber(c.disbursements_paid), money(c.paid_total_vnd), goods(c.paid)]), [1, 2, 3, 4]),
      ] : h('p', t('com.none')),
      h('h2', t('i.benef')), h('p.muted', t('i.benefnote')), lists);
    const paid = inc.communes.filter((c) => c.disbursements_paid > 0);
    if (!paid.length) R.append(lists, [h('p', t('i.nobody'))]);
    paid.forEach((c, i) => {
      const box = h('div');
      const name = c.unit.name || c.unit.code;
      R.append(lists, [h('section.commune', { 'data-unit': c.unit.code }, h('h3', name), box)]);
      // The first two communes load at once, the others on request: pages stay small.
      if (i < 2) beneficiaries(id, c.unit, box, null, [], n);
      else {
        R.append(box, [h('button.secondary', { type: 'button', on: { click: (ev) => { ev.target.remove(); beneficiaries(id, c.unit, box, null, [], n); } } }, t('i.load', { u: name }))]);
      }
    });
  }

  /** One page of a commune's beneficiaries, appended to what `box` shows; "show more" pages on. */
  async function beneficiaries(id, unit, box, cursor, shown, n) {
    let page;
    try {
      page = await get(`/v1/public/incidents/${enc(id)}/beneficiaries?unit=${enc(unit.code)}&edition=${enc(unit.edition)}&limit=50${cursor ? `&cursor=${enc(cursor)}` : ''}`);
    } catch (p) {
      if (!stale(n)) R.append(box, [R.notice(R.problemText(p))]);
      return;
    }
    if (stale(n)) return;
    const all = shown.concat(page.items);
    const more = page.next_cursor
      ? h('button.secondary', { type: 'button', on: { click: () => beneficiaries(id, unit, box, page.next_cursor, all, n) } }, t('i.more'))
      : null;
    R.render(box, all.length ? paymentTable(unitName(page.unit), all, false) : h('p', t('i.nobody')), more);
    if (cursor) { const rows = box.querySelectorAll('tbody tr'); const r = rows[shown.length]; if (r) { r.tabIndex = -1; r.focus(); } }
  }

  async function draw() {
    const n = ++drawing;
    header();
    const ok = await R.route([
      [/^\/$/, home],
      [/^\/funds\/([^/]+)$/, fund],
      [/^\/campaigns\/([^/]+)$/, campaign],
      [/^\/incidents\/([^/]+)$/, incident],
    ], location.pathname);
    if (!ok && !stale(n)) R.page(t('error.notfound'));
  }

  document.addEventListener('DOMContentLoaded', () => {
    R.interceptLinks((p) => p === '/' || /^\/(funds|campaigns|incidents)\//.test(p), async () => {
      await draw();
      document.getElementById('main').focus();
      window.scrollTo(0, 0);
    });
    draw();
  });
})();
