// console-donations: record a donation (cash, bank transfer, goods) and print its receipt (biên
// nhận), list and reverse donations, import a bank statement and work through its reconciliation.
// Every amount stays a decimal string; the API checks every field again.
'use strict';

const D = (() => {
  const { h, t } = R;
  const WRITERS = ['admin', 'fund_manager'];
  R.strings({
    vi: {
      'nav.donation.new': 'Ghi nhận ủng hộ', 'nav.donations': 'Các khoản ủng hộ', 'nav.bank': 'Sao kê ngân hàng',
      'don.new': 'Ghi nhận khoản ủng hộ', 'don.fund': 'Quỹ', 'don.campaign': 'Cuộc vận động',
      'don.nocampaign': '— Không thuộc cuộc vận động nào —', 'don.channel': 'Hình thức',
      'ch.cash': 'Tiền mặt', 'ch.bank_transfer': 'Chuyển khoản', 'ch.in_kind': 'Hiện vật (hàng hoá)',
      'don.date': 'Ngày nhận', 'don.bank_ref': 'Mã giao dịch ngân hàng', 'don.bank_ref.hint': 'Số tham chiếu in trên sao kê, ví dụ FT26331000111.',
      'don.account': 'Tài khoản nhận', 'don.account.default': '— Tài khoản của cuộc vận động —',
      'don.lines': 'Nội dung ủng hộ', 'don.line': 'Dòng {n}', 'don.asset': 'Loại', 'don.amount.vnd': 'Số tiền (đồng)',
      'don.amount': 'Số lượng ({unit})', 'don.value': 'Giá trị quy đổi (đồng)', 'don.desc': 'Mô tả',
      'don.amount.hint': 'Ví dụ 1.500.000', 'don.addline': 'Thêm dòng', 'don.removeline': 'Bỏ dòng {n}',
      'don.donor': 'Người ủng hộ', 'donor.anon': 'Ẩn danh', 'donor.new': 'Người ủng hộ mới', 'donor.existing': 'Đã có trong danh sách',
      'donor.kind': 'Loại người ủng hộ', 'dk.individual': 'Cá nhân', 'dk.organisation': 'Tổ chức', 'dk.enterprise': 'Doanh nghiệp',
      'dk.foreign': 'Nước ngoài', 'donor.name': 'Họ tên / tên tổ chức', 'donor.phone': 'Điện thoại', 'donor.address': 'Địa chỉ',
      'donor.publish': 'Đồng ý công khai tên', 'donor.search': 'Tìm theo tên', 'donor.find': 'Tìm', 'donor.pick': 'Chọn người ủng hộ',
      'donor.none': 'Không tìm thấy ai.', 'donor.found': 'Tìm thấy {n} người.', 'don.purpose': 'Mục đích chỉ định (nếu có)',
      'don.purpose.hint': 'Để trống nếu quỹ được tự do sử dụng.', 'don.note': 'Ghi chú', 'don.submit': 'Ghi nhận và lập biên nhận',
      'don.saved': 'Đã ghi nhận khoản ủng hộ, số biên nhận {no}.', 'don.another': 'Ghi nhận khoản khác', 'don.list': 'Xem danh sách',
      'req': 'Bắt buộc.', 'bad.day': 'Ngày dạng dd/mm/yyyy, ví dụ 26/11/2026.', 'bad.future': 'Không được sau hôm nay.', 'bad.amount': 'Số không hợp lệ; ví dụ 1.500.000 hoặc 12,5.', 'no.funds': 'Chưa có quỹ nào trong phạm vi của bạn.',
      'rc.title': 'Biên nhận', 'rc.no': 'Số', 'rc.fund': 'Quỹ', 'rc.campaign': 'Cuộc vận động', 'rc.donor': 'Người ủng hộ',
      'rc.address': 'Địa chỉ', 'rc.date': 'Ngày nhận', 'rc.channel': 'Hình thức', 'rc.ref': 'Mã giao dịch', 'rc.earmark': 'Chỉ định',
      'rc.item': 'Nội dung', 'rc.qty': 'Số lượng', 'rc.value': 'Thành tiền', 'rc.total': 'Tổng cộng', 'rc.words': 'Bằng chữ',
      'rc.by': 'Người ghi nhận', 'rc.sign.donor': 'Người ủng hộ', 'rc.sign.receiver': 'Người nhận', 'rc.sign': '(Ký, ghi rõ họ tên)',
      'rc.print': 'In biên nhận', 'rc.reversed': 'ĐÃ HUỶ (đảo bút toán) ngày {date}. Lý do: {reason}', 'rc.none': 'Khoản này chưa có biên nhận (cam kết ủng hộ).',
      'em.incident': 'Sự cố', 'em.unit': 'Địa bàn', 'em.household': 'Hộ', 'em.purpose': 'Mục đích',
      'rev.title': 'Huỷ khoản ủng hộ này (đảo bút toán)', 'rev.reason': 'Lý do huỷ', 'rev.submit': 'Huỷ khoản ủng hộ',
      'rev.hint': 'Số biên nhận vẫn giữ nguyên; sổ cái ghi một bút toán đảo.', 'rev.done': 'Đã huỷ khoản ủng hộ.',
      'list.title': 'Các khoản ủng hộ', 'list.allfunds': 'Tất cả các quỹ', 'list.status': 'Trạng thái', 'list.all': 'Tất cả',
      'list.from': 'Nhận từ ngày', 'list.show': 'Xem', 'list.more': 'Xem thêm', 'list.empty': 'Không có khoản nào.',
      'list.caption': 'Theo thứ tự ghi nhận', 'list.total': 'Giá trị (đồng)',
      'st.pledged': 'Cam kết', 'st.fulfilled': 'Đã thực hiện cam kết', 'st.received': 'Đã nhận', 'st.reversed': 'Đã huỷ',
      'bank.title': 'Sao kê ngân hàng', 'bank.import': 'Nhập sao kê', 'bank.account': 'Tài khoản ngân hàng',
      'bank.file': 'Tệp sao kê (CSV)', 'bank.paste': 'Hoặc dán nội dung CSV', 'bank.paste.hint': 'Dòng đầu là tiêu đề cột: ngày giao dịch, số tiền ghi có/ghi nợ, số tham chiếu, người chuyển, nội dung.',
      'bank.submit': 'Nhập sao kê', 'bank.empty': 'Hãy chọn tệp hoặc dán nội dung.', 'bank.notutf8': 'Tệp không phải UTF-8; hãy xuất lại từ ngân hàng dạng CSV UTF-8.',
      'bank.big': 'Tệp quá lớn (tối đa 32 MiB).', 'bank.line': 'Dòng {n}: {msg}', 'bank.recent': 'Sao kê đã nhập gần đây',
      'bank.recent.none': 'Chưa nhập sao kê nào.', 'bank.noaccount': 'Các quỹ trong phạm vi của bạn chưa có tài khoản ngân hàng.',
      'rec.title': 'Đối chiếu sao kê', 'rec.info': '{fund} · {account} · từ {from} đến {to} · {total} dòng ({new} dòng mới) · nhập lúc {at}',
      'rec.matched': 'Đã khớp', 'rec.inbank': 'Có trong sao kê, chưa ghi sổ', 'rec.inledger': 'Đã ghi sổ, không có trong sao kê',
      'rec.debits': 'Dòng ghi nợ (tiền ra, chưa đối chiếu)', 'rec.date': 'Ngày', 'rec.amount': 'Số tiền (đồng)', 'rec.ref': 'Số tham chiếu',
      'rec.from': 'Người chuyển', 'rec.msg': 'Nội dung', 'rec.state': 'Tình trạng', 'rec.receipt': 'Biên nhận', 'rec.action': 'Thao tác',
      'rec.by.line': 'Khớp: ghi từ dòng này', 'rec.by.reference': 'Khớp theo số tham chiếu', 'rec.by.amount_and_date': 'Khớp theo số tiền và ngày',
      'rec.unrecorded': 'Chưa ghi sổ', 'rec.notinbank': 'Không có trong sao kê', 'rec.record': 'Ghi thành khoản ủng hộ',
      'rec.none': 'Không có dòng nào.', 'rec.form': 'Ghi dòng {date} · {amount} thành khoản ủng hộ', 'rec.submit': 'Ghi nhận',
      'code.campaign_not_open': 'Ngày nhận nằm ngoài thời gian nhận ủng hộ của cuộc vận động.',
      'code.campaign_closed': 'Cuộc vận động đã kết thúc nhận ủng hộ.', 'code.duplicate_bank_ref': 'Mã giao dịch này đã được ghi nhận trên tài khoản.',
      'code.already_reversed': 'Khoản này đã bị huỷ trước đó.', 'code.insufficient_funds': 'Không thể huỷ: số tiền này đã được chi hoặc giữ chỗ.',
      'code.line_already_recorded': 'Dòng sao kê này đã được ghi thành khoản ủng hộ.', 'code.not_a_credit': 'Chỉ dòng ghi có (tiền vào) mới ghi thành khoản ủng hộ.',
      'rec.cancelled': 'Đã ghi rồi huỷ', 'rec.again': 'Ghi lại bằng tay',
      'rec.elsewhere': 'Dòng này được nhập lần đầu từ một sao kê khác; hãy ghi nó từ sao kê đó.',
      'rec.cancel': 'Thôi', 'rec.saved': 'Đã ghi thành khoản ủng hộ, biên nhận {no}.', 'rec.back': 'Nhập sao kê khác',
    },
    en: {
      'nav.donation.new': 'Record a donation', 'nav.donations': 'Donations', 'nav.bank': 'Bank statements',
      'don.new': 'Record a donation', 'don.fund': 'Fund', 'don.campaign': 'Appeal', 'don.nocampaign': '— No appeal —',
      'don.channel': 'Channel', 'ch.cash': 'Cash', 'ch.bank_transfer': 'Bank transfer', 'ch.in_kind': 'In kind (goods)',
      'don.date': 'Date received', 'don.bank_ref': 'Bank transaction reference', 'don.bank_ref.hint': 'The reference on the statement, e.g. FT26331000111.',
      'don.account': 'Receiving account', 'don.account.default': '— The appeal’s account —',
      'don.lines': 'What was given', 'don.line': 'Line {n}', 'don.asset': 'Kind', 'don.amount.vnd': 'Amount (đồng)',
      'don.amount': 'Quantity ({unit})', 'don.value': 'Value (đồng)', 'don.desc': 'Description',
      'don.amount.hint': 'For example 1.500.000', 'don.addline': 'Add a line', 'don.removeline': 'Remove line {n}',
      'don.donor': 'Donor', 'donor.anon': 'Anonymous', 'donor.new': 'New donor', 'donor.existing': 'Already recorded',
      'donor.kind': 'Kind of donor', 'dk.individual': 'Individual', 'dk.organisation': 'Organisation', 'dk.enterprise': 'Enterprise',
      'dk.foreign': 'Foreign', 'donor.name': 'Name', 'donor.phone': 'Phone', 'donor.address': 'Address',
      'donor.publish': 'Agrees to have the name published', 'donor.search': 'Search by name', 'donor.find': 'Search', 'donor.pick': 'Choose the donor',
      'donor.none': 'Nobody found.', 'donor.found': '{n} found.', 'don.purpose': 'Earmarked purpose (if any)',
      'don.purpose.hint': 'Leave empty for unrestricted money.', 'don.note': 'Note', 'don.submit': 'Record and make the receipt',
      'don.saved': 'Donation recorded, receipt number {no}.', 'don.another': 'Record another', 'don.list': 'See the list',
      'req': 'Required.', 'bad.day': 'A date as dd/mm/yyyy, e.g. 26/11/2026.', 'bad.future': 'Not after today.', 'bad.amount': 'Not a number; e.g. 1.500.000 or 12,5.', 'no.funds': 'No fund in your scope yet.',
      'rc.title': 'Receipt', 'rc.no': 'No.', 'rc.fund': 'Fund', 'rc.campaign': 'Appeal', 'rc.donor': 'Donor',
      'rc.address': 'Address', 'rc.date': 'Received on', 'rc.channel': 'Channel', 'rc.ref': 'Bank reference', 'rc.earmark': 'Earmark',
      'rc.item': 'Item', 'rc.qty': 'Quantity', 'rc.value': 'Value', 'rc.total': 'Total', 'rc.words': 'In words',
      'rc.by': 'Recorded by', 'rc.sign.donor': 'Donor', 'rc.sign.receiver': 'Received by', 'rc.sign': '(Signature, full name)',
      'rc.print': 'Print the receipt', 'rc.reversed': 'CANCELLED (reversed) on {date}. Reason: {reason}', 'rc.none': 'This is a pledge: no receipt yet.',
      'em.incident': 'Incident', 'em.unit': 'Area', 'em.household': 'Household', 'em.purpose': 'Purpose',
      'rev.title': 'Cancel this donation (reversal)', 'rev.reason': 'Reason', 'rev.submit': 'Cancel the donation',
      'rev.hint': 'The receipt number stays used; the ledger records a reversal entry.', 'rev.done': 'The donation was cancelled.',
      'list.title': 'Donations', 'list.allfunds': 'All funds', 'list.status': 'Status', 'list.all': 'All',
      'list.from': 'Received from', 'list.show': 'Show', 'list.more': 'More', 'list.empty': 'No donation.',
      'list.caption': 'In the order recorded', 'list.total': 'Value (đồng)',
      'st.pledged': 'Pledged', 'st.fulfilled': 'Pledge fulfilled', 'st.received': 'Received', 'st.reversed': 'Cancelled',
      'bank.title': 'Bank statements', 'bank.import': 'Import a statement', 'bank.account': 'Bank account',
      'bank.file': 'Statement file (CSV)', 'bank.paste': 'Or paste the CSV', 'bank.paste.hint': 'The first line names the columns: date, credit/debit amount, reference, counterparty, message.',
      'bank.submit': 'Import', 'bank.empty': 'Choose a file or paste the text.', 'bank.notutf8': 'The file is not UTF-8; export it again from the bank as UTF-8 CSV.',
      'bank.big': 'The file is too large (32 MiB at most).', 'bank.line': 'Line {n}: {msg}', 'bank.recent': 'Recently imported statements',
      'bank.recent.none': 'No statement imported yet.', 'bank.noaccount': 'The funds in your scope have no bank account.',
      'rec.title': 'Reconciliation', 'rec.info': '{fund} · {account} · {from} to {to} · {total} lines ({new} new) · imported {at}',
      'rec.matched': 'Matched', 'rec.inbank': 'On the statement, not recorded', 'rec.inledger': 'Recorded, not on the statement',
      'rec.debits': 'Debit lines (money out, not reconciled)', 'rec.date': 'Date', 'rec.amount': 'Amount (đồng)', 'rec.ref': 'Reference',
      'rec.from': 'Counterparty', 'rec.msg': 'Message', 'rec.state': 'State', 'rec.receipt': 'Receipt', 'rec.action': 'Action',
      'rec.by.line': 'Matched: recorded from this line', 'rec.by.reference': 'Matched by reference', 'rec.by.amount_and_date': 'Matched by amount and date',
      'rec.unrecorded': 'Not recorded', 'rec.notinbank': 'Not on the statement', 'rec.record': 'Record as a donation',
      'rec.none': 'No line.', 'rec.form': 'Record the line of {date} · {amount} as a donation', 'rec.submit': 'Record',
      'code.campaign_not_open': 'The date received is outside the appeal’s receiving period.',
      'code.campaign_closed': 'The appeal no longer receives donations.', 'code.duplicate_bank_ref': 'This reference is already recorded on the account.',
      'code.already_reversed': 'This donation was already cancelled.', 'code.insufficient_funds': 'Cannot cancel: the money was already spent or reserved.',
      'code.line_already_recorded': 'This line was already recorded as a donation.', 'code.not_a_credit': 'Only a credit line (money in) can become a donation.',
      'rec.cancelled': 'Recorded, then cancelled', 'rec.again': 'Enter it again by hand',
      'rec.elsewhere': 'This line was first imported with another statement; record it from that statement.',
      'rec.cancel': 'Cancel', 'rec.saved': 'Recorded as a donation, receipt {no}.', 'rec.back': 'Import another statement',
    },
  });

  C.nav('/console/donations/new', 'nav.donation.new', WRITERS);
  C.nav('/console/donations', 'nav.donations', ['admin', 'fund_manager', 'auditor']);
  C.nav('/console/bank', 'nav.bank', WRITERS);

  const canWrite = () => WRITERS.includes(C.user.role);

  // ---- Shared look-ups.
  /** Every fund in the caller's scope (all pages). */
  async function allFunds() {
    const out = [];
    let cursor = null;
    do {
      const p = await R.api('GET', '/v1/funds?limit=500' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
      out.push(...p.items);
      cursor = p.next_cursor;
    } while (cursor);
    return out;
  }
  let assetsCache = null;
  async function assets() {
    if (!assetsCache) assetsCache = (await R.api('GET', '/v1/assets')).items;
    return assetsCache;
  }
  const campaigns = async (fundId) => (await R.api('GET', '/v1/campaigns?fund_id=' + encodeURIComponent(fundId))).items;

  // The seeded assets' names in Vietnamese; others keep the name they were created with.
  const ASSET_VI = {
    VND: ['Tiền đồng', 'đồng'], USD: ['Đô la Mỹ', 'USD'], EUR: ['Euro', 'EUR'], RICE_KG: ['Gạo', 'kg'],
    WATER_L: ['Nước uống', 'lít'], NOODLES_BOX: ['Mì ăn liền', 'thùng'], BLANKET: ['Chăn', 'cái'],
    LIFE_JACKET: ['Áo phao', 'cái'], MOSQUITO_NET: ['Màn', 'cái'], TARPAULIN: ['Bạt', 'tấm'],
    MEDICINE_KIT: ['Túi thuốc', 'túi'], WATER_FILTER: ['Bình lọc nước', 'cái'],
  };
  const assetName = (code, name) => (R.lang === 'vi' && ASSET_VI[code] ? ASSET_VI[code][0] : name || code);
  const assetUnit = (code, unit) => (R.lang === 'vi' && ASSET_VI[code] ? ASSET_VI[code][1] : unit || code);
  /** '500.000' -> '500', '12.500' -> '12.5': quantities without trailing zeros. */
  const trimZeros = (s) => (String(s).includes('.') ? String(s).replace(/0+$/, '').replace(/\.$/, '') : String(s));

  /** 'dd/mm/yyyy' (or d.m.yyyy, d-m-yyyy) as 'yyyy-mm-dd'; undefined when it is not a date. */
  function parseDay(text) {
    const m = /^(\d{1,2})[/.\s-](\d{1,2})[/.\s-](\d{4})$/.exec(text || '');
    if (!m) return undefined;
    const iso = `${m[3]}-${m[2].padStart(2, '0')}-${m[1].padStart(2, '0')}`;
    const ms = Date.parse(iso);
    return !Number.isNaN(ms) && new Date(ms).toISOString().startsWith(iso) ? iso : undefined;
  }
  /** A date field typed dd/mm/yyyy, whatever the browser's own locale. */
  const dayField = (label, name, value, opts = {}) => R.field(label, name, { ...opts, value: value && R.fmtDate(value), placeholder: 'dd/mm/yyyy', maxlength: 10 });

  // Refusals by rule, in the user's language; some belong to a field of the form.
  const CODE_FIELD = { campaign_not_open: 'received_at', campaign_closed: 'campaign_id', duplicate_bank_ref: 'bank_ref' };
  /**
   * POSTs for form `f`. A definite refusal (4xx) gets a new idempotency key for the next try: the
   * API stores some refusals under the key, so a corrected request needs a new one. A lost
   * answer (no status, 5xx) keeps the key, so that retrying cannot record twice.
   */
  async function post(f, path, body, key) {
    try {
      return await R.api('POST', path, body, key ? { idempotencyKey: key } : {});
    } catch (p) {
      if (p.status >= 400 && p.status < 500) f.dataset.key = R.newKey();
      const code = p.body && p.body.code;
      if (code && t('code.' + code) !== 'code.' + code) {
        const field = CODE_FIELD[code];
        p.body.detail = t('code.' + code);
        if (field && f.elements.namedItem(field)) p.errors = [{ field, message: p.body.detail }];
      }
      throw p;
    }
  }

  /** An error on named fields, shown by R.onSubmit like the API's own 422. */
  const fieldProblem = (errors) => new R.Problem(422, { errors });

  /** Radio buttons (the group is labelled by the fieldset around them). */
  const radios = (name, choices, value, onChange) => h('div.choices', choices.map(([v, l]) => h('label.check',
    h('input', { type: 'radio', name, value: v, checked: v === value, on: { change: onChange } }), ' ', l)));

  /**
   * The donor block: anonymous, a new donor (donor.kind, donor.name, ...) or an existing one
   * (donor_id, found by name). `body(form)` gives {donor} or {donor_id} or {}; `check(form)`
   * the missing fields.
   */
  function donorBlock() {
    const kinds = ['individual', 'organisation', 'enterprise', 'foreign'].map((k) => [k, t('dk.' + k)]);
    const fresh = h('div.donor-new',
      h('div.row', R.field(t('donor.kind'), 'donor.kind', { options: kinds }),
        R.field(t('donor.name'), 'donor.name', { required: true, maxlength: 300, autocomplete: 'name' })),
      h('div.row', R.field(t('donor.phone'), 'donor.phone', { type: 'tel', maxlength: 30, autocomplete: 'tel' }),
        R.field(t('donor.address'), 'donor.address', { maxlength: 500 })),
      h('label.check', h('input', { type: 'checkbox', name: 'donor.publish_name' }), ' ', t('donor.publish')));
    const pick = R.field(t('donor.pick'), 'donor_id', { options: [] });
    const found = h('p.muted', { role: 'status' });
    const q = R.field(t('donor.search'), 'donor_q', { type: 'search' });
    const search = async () => {
      const text = q.querySelector('input').value.trim();
      const sel = pick.querySelector('select');
      try {
        const p = await R.api('GET', '/v1/donors?limit=50&q=' + encodeURIComponent(text));
        R.render(sel, p.items.map((d) => h('option', { value: d.id }, d.name + (d.phone ? ` · ${d.phone}` : ''))));
        found.textContent = p.items.length ? t('donor.found', { n: p.items.length }) : t('donor.none');
      } catch (e) { found.textContent = R.problemText(e); }
    };
    q.querySelector('input').addEventListener('keydown', (ev) => { if (ev.key === 'Enter') { ev.preventDefault(); search(); } });
    const existing = h('div.donor-existing', h('div.inline', q, h('button.secondary', { type: 'button', on: { click: search } }, t('donor.find'))), found, pick);
    const show = (mode) => { fresh.hidden = mode !== 'new'; existing.hidden = mode !== 'existing'; };
    const el = h('fieldset', h('legend', t('don.donor')),
      radios('donor_mode', [['anon', t('donor.anon')], ['new', t('donor.new')], ['existing', t('donor.existing')]], 'anon',
        (ev) => show(ev.target.value)), fresh, existing);
    // Organisations, enterprises and foreign donors are named publicly unless they object.
    fresh.querySelector('select').addEventListener('change', (ev) => {
      fresh.querySelector('input[type=checkbox]').checked = ev.target.value !== 'individual';
    });
    show('anon');
    const mode = (f) => (f.querySelector('input[name=donor_mode]:checked') || {}).value;
    return {
      el,
      check(f, errors) {
        if (mode(f) === 'new' && !R.val(f, 'donor.name')) errors.push({ field: 'donor.name', message: t('req') });
        if (mode(f) === 'existing' && !R.val(f, 'donor_id')) errors.push({ field: 'donor_id', message: t('req') });
      },
      body(f) {
        if (mode(f) === 'existing') return { donor_id: R.val(f, 'donor_id') };
        if (mode(f) !== 'new') return {};
        return {
          donor: {
            kind: R.val(f, 'donor.kind'), name: R.val(f, 'donor.name'), phone: R.val(f, 'donor.phone'),
            address: R.val(f, 'donor.address'), publish_name: f.elements.namedItem('donor.publish_name').checked,
          },
        };
      },
    };
  }

  // ---- Amounts in Vietnamese words, for the receipt ("Bằng chữ").
  const DIGITS = ['không', 'một', 'hai', 'ba', 'bốn', 'năm', 'sáu', 'bảy', 'tám', 'chín'];
  const GROUPS = ['', 'nghìn', 'triệu', 'tỷ', 'nghìn tỷ', 'triệu tỷ', 'tỷ tỷ'];
  function words3(n, full) {
    const [a, b, c] = [Math.floor(n / 100), Math.floor(n / 10) % 10, n % 10];
    const out = [];
    if (full || a) out.push(DIGITS[a], 'trăm');
    if (b === 0) { if (c && (full || a)) out.push('linh'); } else out.push(b === 1 ? 'mười' : DIGITS[b] + ' mươi');
    if (c) out.push(c === 1 && b > 1 ? 'mốt' : c === 5 && b ? 'lăm' : DIGITS[c]);
    return out.join(' ');
  }
  /** '1500000' -> 'Một triệu năm trăm nghìn đồng' (whole đồng only). */
  function vndWords(digits) {
    const s = String(digits).replace(/^0+/, '');
    if (!/^\d+$/.test(s)) return s ? '' : 'Không đồng';
    const groups = [];
    for (let i = s.length; i > 0; i -= 3) groups.push(Number(s.slice(Math.max(0, i - 3), i)));
    if (groups.length > GROUPS.length) return '';
    const parts = [];
    for (let g = groups.length - 1; g >= 0; g--) {
      if (groups[g]) parts.push(words3(groups[g], g < groups.length - 1) + (GROUPS[g] ? ' ' + GROUPS[g] : ''));
    }
    const text = parts.join(' ') + ' đồng';
    return text[0].toUpperCase() + text.slice(1);
  }

  /** A designation `unit=2025:C21583;purpose=sửa nhà` in words. */
  function earmarkText(designation) {
    if (!designation) return null;
    return designation.split(';').map((p) => {
      const [k, ...v] = p.split('=');
      return `${t('em.' + k)}: ${v.join('=').replace(/^\d{4}:/, '')}`;
    }).join('; ');
  }

  // ---- The receipt (biên nhận), printed alone on A5 by app.css.
  function receiptView(r, recordedBy) {
    const row = (k, v) => (v ? [h('dt', t(k)), h('dd', v)] : null);
    const lines = r.lines.map((l) => {
      const vnd = l.asset === 'VND';
      return h('tr', h('td', assetName(l.asset, l.name), l.description ? ` — ${l.description}` : ''),
        h('td.num', vnd ? '' : `${R.fmtNumber(trimZeros(l.amount))} ${assetUnit(l.asset, l.unit)}`),
        h('td.num', vnd ? R.fmtMoney(l.amount) : R.fmtMoney(l.value_vnd)));
    });
    const bank = r.channel === 'bank_transfer';
    return h('div.receipt#receipt', { 'aria-labelledby': 'receipt-title' },
      h('div.receipt-head', h('p', r.fund.custodian), h('p.muted', r.fund.unit.name)),
      h('h2#receipt-title', R.lang === 'vi' ? r.title : t('rc.title').toUpperCase()),
      h('p.receipt-no-line', `${t('rc.no')}: `, h('strong#receipt-no', r.receipt_no)),
      r.reversed ? h('p.notice.error.reversed', t('rc.reversed', { date: R.fmtDate(r.reversed.at), reason: r.reversed.reason || t('none') })) : null,
      h('dl', row('rc.fund', r.fund.name),
        row('rc.campaign', r.campaign && `${r.campaign.name} (${r.campaign.appeal_ref})`),
        row('rc.donor', r.donor ? r.donor.name : t('donor.anon')),
        row('rc.address', r.donor && r.donor.address),
        row('rc.date', r.received_on || R.fmtDate(r.received_at)),
        row('rc.channel', t('ch.' + r.channel)),
        row('rc.ref', bank && r.bank_ref),
        row('rc.earmark', earmarkText(r.earmark))),
      h('table.receipt-lines',
        h('thead', h('tr', h('th', { scope: 'col' }, t('rc.item')), h('th.num', { scope: 'col' }, t('rc.qty')), h('th.num', { scope: 'col' }, t('rc.value')))),
        h('tbody', lines),
        h('tfoot', h('tr', h('th', { scope: 'row', colspan: '2' }, t('rc.total')), h('td.num#receipt-total', R.fmtMoney(r.total_vnd))))),
      R.lang === 'vi' ? h('p', `${t('rc.words')}: `, h('em', vndWords(r.total_vnd))) : null,
      recordedBy ? h('p', `${t('rc.by')}: `, h('strong', recordedBy)) : null,
      h('div.signs', ['rc.sign.donor', 'rc.sign.receiver'].map((k) => h('div', h('strong', t(k)), h('br'), h('small', t('rc.sign'))))));
  }

  const printButton = () => h('button#print-receipt', { type: 'button', on: { click: () => window.print() } }, t('rc.print'));

  // ---- Record a donation.
  C.page(/^\/console\/donations\/new$/, WRITERS, async () => {
    R.page(t('don.new'), R.notice(t('loading'), 'info'));
    const [funds, assetList] = await Promise.all([allFunds(), assets()]);
    if (!funds.length) { R.page(t('don.new'), R.notice(t('no.funds'), 'info')); return; }
    const fundField = R.field(t('don.fund'), 'fund_id', { required: true, options: funds.map((f) => [f.id, f.name]) });
    const campField = R.field(t('don.campaign'), 'campaign_id', { options: [['', t('don.nocampaign')]] });
    const channelField = R.field(t('don.channel'), 'channel', { required: true, options: ['cash', 'bank_transfer', 'in_kind'].map((c) => [c, t('ch.' + c)]) });
    const accountField = R.field(t('don.account'), 'bank_account_id', { options: [] });
    const bankBox = h('div.row',
      R.field(t('don.bank_ref'), 'bank_ref', { required: true, maxlength: 100, hint: t('don.bank_ref.hint') }), accountField);
    const linesBox = h('div');
    const donor = donorBlock();
    const form = h('form#donation-form',
      R.formStatus(),
      h('div.row', fundField, campField),
      h('div.row', channelField, dayField(t('don.date'), 'received_at', R.todayVn(), { required: true })),
      bankBox,
      h('fieldset', h('legend', t('don.lines')), linesBox,
        h('button.secondary', { type: 'button', on: { click: () => { addLine(); linesBox.lastChild.querySelector('select').focus(); } } }, t('don.addline'))),
      donor.el,
      R.field(t('don.purpose'), 'earmark.purpose', { maxlength: 200, hint: t('don.purpose.hint') }),
      R.field(t('don.note'), 'note', { rows: 2, maxlength: 1000 }),
      h('div.actions', h('button#donation-submit', { type: 'submit' }, t('don.submit'))));
    const sel = (f) => f.querySelector('select');
    const channel = () => sel(channelField).value;
    const byCode = Object.fromEntries(assetList.map((a) => [a.code, a]));

    // One fieldset per line; names carry the index (lines[0].amount) so the API's errors land there.
    function lineOptions() {
      const kind = channel() === 'in_kind' ? 'goods' : 'currency';
      return assetList.filter((a) => a.kind === kind).sort((a, b) => (a.code === 'VND' ? -1 : b.code === 'VND' ? 1 : 0))
        .map((a) => [a.code, `${assetName(a.code, a.name)} (${assetUnit(a.code, a.unit)})`]);
    }
    function syncLine(box) {
      const code = sel(box).value;
      const a = byCode[code] || {};
      const vnd = code === 'VND';
      const amountLabel = box.querySelector('.f-amount label');
      amountLabel.firstChild.textContent = vnd ? t('don.amount.vnd') : t('don.amount', { unit: assetUnit(code, a.unit) });
      box.querySelector('.f-value').hidden = vnd;
      box.querySelector('.f-amount .hint').hidden = !vnd;
      box.querySelector('.f-value input').required = a.kind === 'goods';
      box.querySelector('.f-value .req').hidden = a.kind !== 'goods';
    }
    function renumber() {
      [...linesBox.children].forEach((box, i) => {
        box.querySelector('legend').textContent = t('don.line', { n: i + 1 });
        box.querySelectorAll('[name^="lines["]').forEach((el) => { el.name = el.name.replace(/^lines\[\d+\]/, `lines[${i}]`); });
        const rm = box.querySelector('button.remove');
        rm.hidden = linesBox.children.length < 2;
        rm.textContent = t('don.removeline', { n: i + 1 });
      });
    }
    function addLine() {
      const i = linesBox.children.length;
      const value = R.field(t('don.value'), `lines[${i}].value_vnd`, { required: true, inputmode: 'numeric', hint: t('don.amount.hint') });
      value.classList.add('f-value');
      const amount = R.field(t('don.amount.vnd'), `lines[${i}].amount`, { required: true, inputmode: 'decimal', hint: t('don.amount.hint') });
      amount.classList.add('f-amount');
      const box = h('fieldset.line', h('legend'),
        h('div.row', R.field(t('don.asset'), `lines[${i}].asset`, { options: lineOptions() }), amount, value),
        R.field(t('don.desc'), `lines[${i}].description`, { maxlength: 500 }),
        h('button.secondary.remove', { type: 'button', on: { click: () => { box.remove(); renumber(); linesBox.querySelector('select').focus(); } } }));
      sel(box).addEventListener('change', () => syncLine(box));
      linesBox.append(box);
      syncLine(box);
      renumber();
    }
    let campList = [];
    async function fundChanged() {
      const f = funds.find((x) => x.id === sel(fundField).value);
      R.render(sel(accountField), [['', t('don.account.default')], ...f.bank_accounts.map((a) => [a.id, `${a.bank} · ${a.account_number}`])]
        .map(([v, l]) => h('option', { value: v }, l)));
      accountField.hidden = f.bank_accounts.length < 2;
      const list = campList = await campaigns(f.id).catch(() => []);
      R.render(sel(campField), h('option', { value: '' }, t('don.nocampaign')),
        list.filter((c) => c.status !== 'closed').map((c) => h('option', { value: c.id }, `${c.name} (${R.fmtDate(c.opens_on)}–${R.fmtDate(c.closes_on)})`)));
    }
    function channelChanged() {
      bankBox.hidden = channel() !== 'bank_transfer';
      const opts = lineOptions();
      for (const box of linesBox.children) {
        R.render(sel(box), opts.map(([v, l]) => h('option', { value: v }, l)));
        syncLine(box);
      }
    }
    sel(fundField).addEventListener('change', fundChanged);
    sel(channelField).addEventListener('change', channelChanged);
    addLine();
    channelChanged();
    // Prefilled from a bank line whose donation was cancelled: ?fund_id&account&bank_ref&amount&date.
    const q = new URLSearchParams(location.search);
    if (funds.some((f) => f.id === q.get('fund_id'))) sel(fundField).value = q.get('fund_id');
    await fundChanged();
    if (q.get('bank_ref')) {
      sel(channelField).value = 'bank_transfer';
      channelChanged();
      form.elements.bank_ref.value = q.get('bank_ref');
      sel(accountField).value = q.get('account') || '';
    }
    if (/^\d+$/.test(q.get('amount'))) form.elements['lines[0].amount'].value = R.fmtNumber(q.get('amount'));
    if (parseDay(R.fmtDate(q.get('date')))) form.elements.received_at.value = R.fmtDate(q.get('date'));

    R.onSubmit(form, async (f, key) => {
      const errors = [];
      const need = (name) => { if (!R.val(f, name)) errors.push({ field: name, message: t('req') }); };
      const amount = (name) => {
        const v = R.parseAmount(R.val(f, name));
        if (v !== undefined && !/^\d+(\.\d+)?$/.test(v)) errors.push({ field: name, message: t('bad.amount') });
        return v;
      };
      const day = parseDay(R.val(f, 'received_at'));
      if (!day || day > R.todayVn()) errors.push({ field: 'received_at', message: t(day ? 'bad.future' : 'bad.day') });
      if (channel() === 'bank_transfer') {
        need('bank_ref');
        // With several accounts the API needs one: chosen here, or the appeal's.
        const camp = campList.find((c) => c.id === R.val(f, 'campaign_id'));
        if (!accountField.hidden && !(camp && camp.bank_account_id)) need('bank_account_id');
      }
      const lines = [...linesBox.children].map((box, i) => {
        const p = `lines[${i}].`;
        const asset = R.val(f, p + 'asset');
        need(p + 'amount');
        if (byCode[asset] && byCode[asset].kind === 'goods') need(p + 'value_vnd');
        return {
          asset, amount: amount(p + 'amount'), value_vnd: asset === 'VND' ? undefined : amount(p + 'value_vnd'),
          description: R.val(f, p + 'description'),
        };
      });
      donor.check(f, errors);
      if (errors.length) throw fieldProblem(errors);
      const purpose = R.val(f, 'earmark.purpose');
      const body = {
        fund_id: R.val(f, 'fund_id'), campaign_id: R.val(f, 'campaign_id'), status: 'received', channel: channel(),
        // Today means now; an earlier day is its midnight in Vietnam time.
        received_at: day === R.todayVn() ? undefined : `${day}T00:00:00+07:00`,
        bank_ref: channel() === 'bank_transfer' ? R.val(f, 'bank_ref') : undefined,
        bank_account_id: channel() === 'bank_transfer' ? R.val(f, 'bank_account_id') : undefined,
        lines, ...donor.body(f), earmark: purpose ? { purpose } : undefined, note: R.val(f, 'note'),
      };
      const d = await post(f, '/v1/donations', body, key);
      history.replaceState(null, '', `/console/donations/${d.id}/receipt`);
      await receiptPage(d.id, { recordedBy: C.user.username, saved: true });
    });
    R.page(t('don.new'), form);
  });

  // ---- A receipt, again (to print it, or to cancel the donation).
  async function receiptPage(id, opts = {}) {
    let r;
    try {
      r = await R.api('GET', `/v1/donations/${encodeURIComponent(id)}/receipt`);
    } catch (p) {
      if (p.status === 422) { R.page(t('rc.title'), R.notice(t('rc.none'), 'info')); return; }
      throw p;
    }
    const parts = [
      opts.saved ? h('p.notice.ok.no-print', { role: 'status' }, t('don.saved', { no: r.receipt_no })) : null,
      receiptView(r, opts.recordedBy),
      h('div.actions', printButton(),
        opts.saved ? h('a.button.secondary', { href: '/console/donations/new' }, t('don.another')) : null,
        h('a.button.secondary', { href: '/console/donations' }, t('don.list'))),
    ];
    if (r.status === 'received' && canWrite()) {
      const form = h('form#reverse-form', R.formStatus(),
        R.field(t('rev.reason'), 'reason', { rows: 2, required: true, maxlength: 1000, hint: t('rev.hint') }),
        h('div.actions', h('button#reverse-submit', { type: 'submit' }, t('rev.submit'))));
      R.onSubmit(form, async (f, key) => {
        if (!R.val(f, 'reason')) throw fieldProblem([{ field: 'reason', message: t('req') }]);
        await post(f, `/v1/donations/${encodeURIComponent(id)}/reverse`, { reason: R.val(f, 'reason') }, key);
        await receiptPage(id);
        document.querySelector('#main h1').after(h('p.notice.ok.no-print', { role: 'status' }, t('rev.done')));
      });
      parts.push(h('details.no-print', h('summary', t('rev.title')), form));
    }
    R.page(`${t('rc.title')} ${r.receipt_no}`, parts);
    document.getElementById('main').focus();
  }
  C.page(/^\/console\/donations\/([^/]+)\/receipt$/, null, (id) => receiptPage(id));

  // ---- The donations in scope, with links to their receipts.
  C.page(/^\/console\/donations$/, null, async () => {
    R.page(t('list.title'), R.notice(t('loading'), 'info'));
    const funds = await allFunds();
    const names = Object.fromEntries(funds.map((f) => [f.id, f.name]));
    const since = new Date(Date.now() + 7 * 3600e3 - 30 * 86400e3).toISOString().slice(0, 10);
    const form = h('form#donations-filter.filters', R.formStatus(),
      h('div.row', R.field(t('don.fund'), 'fund_id', { options: [['', t('list.allfunds')], ...funds.map((f) => [f.id, f.name])] }),
        R.field(t('list.status'), 'status', { options: [['', t('list.all')], ...['received', 'reversed', 'pledged', 'fulfilled'].map((s) => [s, t('st.' + s)])] }),
        dayField(t('list.from'), 'from', since)),
      h('div.actions', h('button', { type: 'submit' }, t('list.show'))));
    const out = h('div#donations-list', { 'aria-live': 'polite' });
    let query = '';
    async function load(cursor) {
      const p = await R.api('GET', `/v1/donations?limit=100${query}${cursor ? '&cursor=' + encodeURIComponent(cursor) : ''}`);
      // The fund column only when there is a choice of funds.
      const many = funds.length > 1;
      const rows = p.items.map((d) => [
        d.receipt_no ? h('a.nowrap', { href: `/console/donations/${d.id}/receipt` }, d.receipt_no) : t('none'),
        R.fmtDate(d.received_at), many ? names[d.fund_id] || d.fund_id : null, d.donor ? d.donor.name : t('donor.anon'),
        t('ch.' + d.channel), R.fmtNumber(d.total_vnd), h('span.badge', t('st.' + d.status))].filter((c) => c !== null));
      if (!cursor) R.render(out);
      out.querySelector('.more')?.remove();
      if (!cursor && !rows.length) { out.append(R.notice(t('list.empty'), 'info')); return; }
      const heads = [t('rc.no'), t('rc.date'), many ? t('rc.fund') : null, t('rc.donor'), t('rc.channel'), t('list.total'), t('list.status')].filter(Boolean);
      out.append(R.table(cursor ? '' : t('list.caption'), heads, rows, [heads.length - 2]));
      if (p.next_cursor) out.append(h('button.secondary.more', { type: 'button', on: { click: () => load(p.next_cursor) } }, t('list.more')));
    }
    R.onSubmit(form, async (f) => {
      const from = R.val(f, 'from');
      if (from && !parseDay(from)) throw fieldProblem([{ field: 'from', message: t('bad.day') }]);
      query = ['fund_id', 'status'].filter((k) => R.val(f, k)).map((k) => `&${k}=${encodeURIComponent(R.val(f, k))}`).join('')
        + (from ? '&from=' + parseDay(from) : '');
      await load(null);
    });
    R.page(t('list.title'), canWrite() ? h('p', h('a.button', { href: '/console/donations/new' }, t('nav.donation.new'))) : null, form, out);
    form.requestSubmit();
  });

  // ---- Bank statements: import, then reconcile.
  C.page(/^\/console\/bank$/, WRITERS, async () => {
    R.page(t('bank.title'), R.notice(t('loading'), 'info'));
    const funds = await allFunds();
    const accounts = funds.flatMap((f) => f.bank_accounts.map((a) => [a.id, `${a.bank} · ${a.account_number} — ${f.name}`]));
    if (!accounts.length) { R.page(t('bank.title'), R.notice(t('bank.noaccount'), 'info')); return; }
    const file = R.field(t('bank.file'), 'file', { type: 'file' });
    file.querySelector('input').accept = '.csv,.txt,text/csv,text/plain';
    const form = h('form#bank-form', R.formStatus(),
      R.field(t('bank.account'), 'bank_account_id', { required: true, options: accounts }),
      file, R.field(t('bank.paste'), 'body', { rows: 6, hint: t('bank.paste.hint') }),
      h('div.actions', h('button#bank-submit', { type: 'submit' }, t('bank.submit'))));
    R.onSubmit(form, async (f) => {
      const picked = f.elements.file.files[0];
      const where = picked ? 'file' : 'body';
      let text = f.elements.body.value;
      if (picked) {
        if (picked.size > 32 * 1024 * 1024) throw fieldProblem([{ field: 'file', message: t('bank.big') }]);
        const bytes = await new Promise((ok, fail) => {
          const rd = new FileReader();
          rd.onload = () => ok(rd.result);
          rd.onerror = () => fail(rd.error);
          rd.readAsArrayBuffer(picked);
        });
        try { text = new TextDecoder('utf-8', { fatal: true }).decode(bytes); } catch (_) {
          throw fieldProblem([{ field: 'file', message: t('bank.notutf8') }]);
        }
      }
      if (!text.trim()) throw fieldProblem([{ field: where, message: t('bank.empty') }]);
      const account = R.val(f, 'bank_account_id');
      let s;
      try {
        s = await post(f, '/v1/bank-statements?bank_account_id=' + encodeURIComponent(account), text);
      } catch (p) {
        // `line 5` and `body` are about the text: show them on the field it came from.
        p.errors = p.errors.map((e) => {
          const m = /^line (\d+)$/.exec(e.field);
          return m ? { field: where, message: t('bank.line', { n: m[1], msg: e.message }) } : e.field === 'body' ? { ...e, field: where } : e;
        });
        throw p;
      }
      R.navigate(`/console/bank/${s.id}`);
    });
    // The latest statements of every fund in scope, newest first.
    const label = Object.fromEntries(accounts);
    const pages = await Promise.all(funds.filter((f) => f.bank_accounts.length)
      .map((f) => R.api('GET', `/v1/bank-statements?fund_id=${f.id}&limit=10`)));
    const list = pages.flatMap((p) => p.items).sort((a, b) => (a.id < b.id ? 1 : -1)).slice(0, 20);
    R.page(t('bank.title'), h('h2', t('bank.import')), form, h('h2', t('bank.recent')),
      list.length ? h('ul#recent-statements', list.map((x) => h('li', h('a', { href: `/console/bank/${x.id}` },
        `${R.fmtDate(x.first_date)}–${R.fmtDate(x.last_date)} · ${label[x.bank_account_id] || ''} · ${x.lines_total}`))))
        : R.notice(t('bank.recent.none'), 'info'));
  });

  C.page(/^\/console\/bank\/([^/]+)$/, null, (id) => reconciliation(id));

  async function reconciliation(id, saved) {
    R.page(t('rec.title'), R.notice(t('loading'), 'info'));
    const rec = await R.api('GET', `/v1/bank-statements/${encodeURIComponent(id)}/reconciliation`);
    const s = rec.statement;
    const fund = await R.api('GET', `/v1/funds/${s.fund_id}`);
    const acc = fund.bank_accounts.find((a) => a.id === s.bank_account_id) || {};
    const money = (v) => R.fmtNumber(v);
    const receipt = (d) => (d.receipt_no ? h('a', { href: `/console/donations/${d.donation_id}/receipt` }, d.receipt_no) : t('none'));
    const fig = (idName, key, n) => h(`li#${idName}`, h('span.label', t(key)), h('span.value', String(n)));
    const box = h('div#line-form-box');
    const inBank = R.table(t('rec.inbank'), [t('rec.date'), t('rec.amount'), t('rec.ref'), t('rec.from'), t('rec.msg'), t('rec.state'), canWrite() ? t('rec.action') : null].filter(Boolean),
      rec.unmatched_in_bank.map((l) => [R.fmtDate(l.booked_on), money(l.amount_vnd), l.reference || t('none'), l.counterparty || t('none'), l.message || t('none'),
        // A line whose donation was cancelled cannot become one again (409): it is entered by hand.
        l.donation_id ? h('span', h('span.badge.state-cancelled', t('rec.cancelled')), ' ', h('a', { href: `/console/donations/${l.donation_id}/receipt` }, t('rec.receipt')))
          : h('span.badge.state-unrecorded', t('rec.unrecorded')),
        !canWrite() ? null : l.donation_id ? h('a.button.secondary', { href: '/console/donations/new?' + new URLSearchParams({
          fund_id: s.fund_id, account: s.bank_account_id, bank_ref: l.reference || '', amount: l.amount_vnd, date: l.booked_on }) }, t('rec.again'))
          : h('button.secondary.record-line', { type: 'button', on: { click: (ev) => lineForm(l, ev.target) } }, t('rec.record'))].filter((c) => c !== null)), [1]);
    inBank.querySelectorAll('tbody tr').forEach((tr, i) => { tr.dataset.lineId = rec.unmatched_in_bank[i].id; });
    const matched = R.table(t('rec.matched'), [t('rec.date'), t('rec.amount'), t('rec.ref'), t('rec.from'), t('rec.receipt'), t('rec.state')],
      rec.matched.map((m) => [R.fmtDate(m.line.booked_on), money(m.line.amount_vnd), m.line.reference || t('none'), m.line.counterparty || t('none'),
        receipt(m.donation), h('span.badge.state-matched', t('rec.by.' + m.matched_by))]), [1]);
    matched.querySelectorAll('tbody tr').forEach((tr, i) => { tr.dataset.lineId = rec.matched[i].line.id; });
    const inLedger = R.table(t('rec.inledger'), [t('rec.receipt'), t('rec.ref'), t('rec.amount'), t('rc.date'), t('rec.state')],
      rec.unmatched_in_ledger.map((d) => [receipt(d), d.bank_ref || t('none'), money(d.total_vnd), R.fmtDate(d.received_at),
        h('span.badge.state-missing', t('rec.notinbank'))]), [2]);
    // The heading names each table; the caption would say it twice.
    const section = (key, n, table) => {
      table.querySelector('caption').remove();
      return [h('h2', `${t(key)} (${n})`), n ? table : h('p.muted', t('rec.none'))];
    };

    async function lineForm(line, opener) {
      const list = await campaigns(fund.id).catch(() => []);
      const donor = donorBlock();
      const form = h('form#line-form', R.formStatus(),
        // The open appeal that receives on this account is the likely one.
        R.field(t('don.campaign'), 'campaign_id', {
          options: [['', t('don.nocampaign')], ...list.filter((c) => c.status !== 'closed').map((c) => [c.id, c.name])],
          value: (list.find((c) => c.status === 'open' && c.bank_account_id === s.bank_account_id) || {}).id,
        }),
        h('p.muted', `${t('rec.from')}: ${line.counterparty || t('none')} · ${t('rec.msg')}: ${line.message || t('none')}`),
        donor.el, R.field(t('don.purpose'), 'earmark.purpose', { maxlength: 200 }), R.field(t('don.note'), 'note', { rows: 2, maxlength: 1000 }),
        h('div.actions', h('button#line-submit', { type: 'submit' }, t('rec.submit')),
          h('button.secondary', { type: 'button', on: { click: () => { R.render(box); opener.focus(); } } }, t('rec.cancel'))));
      R.onSubmit(form, async (f, key) => {
        const errors = [];
        donor.check(f, errors);
        if (errors.length) throw fieldProblem(errors);
        const purpose = R.val(f, 'earmark.purpose');
        const d = await post(f, `/v1/bank-statements/${encodeURIComponent(id)}/lines/${encodeURIComponent(line.id)}/donation`,
          { campaign_id: R.val(f, 'campaign_id'), ...donor.body(f), earmark: purpose ? { purpose } : undefined, note: R.val(f, 'note') }, key)
          .catch((p) => { throw p.status === 404 ? new R.Problem(422, { detail: t('rec.elsewhere') }) : p; });
        await reconciliation(id, d);
      });
      R.render(box, h('h3#line-form-title', t('rec.form', { date: R.fmtDate(line.booked_on), amount: R.fmtMoney(line.amount_vnd) })), form);
      form.querySelector('select').focus();
    }

    R.page(t('rec.title'),
      saved ? h('p.notice.ok', { role: 'status' }, t('rec.saved', { no: saved.receipt_no }), ' ',
        h('a', { href: `/console/donations/${saved.id}/receipt` }, t('rc.print'))) : null,
      h('p.muted', t('rec.info', {
        fund: fund.name, account: `${acc.bank} · ${acc.account_number}`, from: R.fmtDate(s.first_date), to: R.fmtDate(s.last_date),
        total: s.lines_total, new: s.lines_new, at: R.fmtDateTime(s.imported_at),
      })),
      h('ul.figures#reconciliation-summary', fig('sum-matched', 'rec.matched', rec.summary.matched),
        fig('sum-inbank', 'rec.inbank', rec.summary.unmatched_in_bank), fig('sum-inledger', 'rec.inledger', rec.summary.unmatched_in_ledger),
        fig('sum-debits', 'rec.debits', rec.summary.debit_lines)),
      section('rec.inbank', rec.unmatched_in_bank.length, inBank), box,
      section('rec.matched', rec.matched.length, matched),
      section('rec.inledger', rec.unmatched_in_ledger.length, inLedger),
      canWrite() ? h('p', h('a', { href: '/console/bank' }, t('rec.back'))) : null);
  }

  return { vndWords, receiptView };
})();
