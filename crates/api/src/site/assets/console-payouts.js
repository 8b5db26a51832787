// console-payouts: the approval queue (approve or reject with a reason, never one's own
// proposal), disbursements (list, propose, one disbursement's history), payments of approved
// disbursements, and allocations between funds (propose, execute). Maker-checker rules are the
// API's: the page only leaves out the buttons a user cannot use, and shows the API's refusals.
'use strict';

(() => {
  const { h, t } = R;
  const WRITERS = ['admin', 'fund_manager'];
  R.strings({
    vi: {
      'nav.approvals': 'Duyệt chi', 'nav.disbursements': 'Chi hỗ trợ', 'nav.payments': 'Chi trả',
      'nav.allocations': 'Phân bổ giữa các quỹ',
      'ap.title': 'Các khoản chờ duyệt', 'ap.disb': 'Chi hỗ trợ hộ gia đình chờ duyệt', 'ap.alloc': 'Phân bổ sang quỹ khác chờ duyệt',
      'ap.none.disb': 'Không có khoản chi nào chờ duyệt.', 'ap.none.alloc': 'Không có khoản phân bổ nào chờ duyệt.',
      'ap.approve': 'Duyệt', 'ap.reject': 'Từ chối', 'ap.reason': 'Lý do từ chối', 'ap.reject.confirm': 'Xác nhận từ chối',
      'ap.cancel': 'Thôi', 'ap.own': 'Bạn là người đề xuất khoản này nên không thể tự duyệt hay từ chối.',
      'ap.approverOnly': 'Chỉ người duyệt mới duyệt hoặc từ chối.', 'ap.already': 'Bạn đã duyệt; chờ người duyệt thứ hai.',
      'ap.approved': 'Đã duyệt {what}: số tiền đã được giữ chỗ trong quỹ.', 'ap.partial': 'Đã ghi nhận phê duyệt {n}/{m} cho {what}; cần thêm người duyệt khác.',
      'ap.rejected': 'Đã từ chối {what}.', 'ap.refused': 'Không thực hiện được với {what}: {why}',
      'ap.select': 'Chọn {what}', 'ap.bulk': 'Duyệt các khoản đã chọn', 'ap.bulk.none': 'Chưa chọn khoản nào.',
      'ap.bulk.done': 'Đã duyệt {a} khoản, {f} khoản không duyệt được.',
      'col.household': 'Hộ nhận', 'col.fund': 'Quỹ', 'col.purpose': 'Nội dung', 'col.lines': 'Các khoản',
      'col.total': 'Tổng tiền', 'col.approvals': 'Lượt duyệt', 'col.proposed': 'Đề xuất', 'col.actions': 'Thao tác',
      'col.status': 'Trạng thái', 'col.from': 'Quỹ chuyển', 'col.to': 'Quỹ nhận', 'col.decision': 'Quyết định',
      'col.round': 'Đợt', 'col.select': 'Chọn', 'col.paid': 'Đã chi',
      'by.you': 'bạn', 'by.on': '{who}, {when}',
      'ps.proposed': 'Chờ duyệt', 'ps.approved': 'Đã duyệt', 'ps.rejected': 'Bị từ chối', 'ps.cancelled': 'Đã hủy', 'ps.paid': 'Đã chi',
      'ev.proposed': 'Đề xuất', 'ev.approved': 'Duyệt', 'ev.rejected': 'Từ chối', 'ev.cancelled': 'Hủy', 'ev.paid': 'Chi trả',
      'di.title': 'Chi hỗ trợ hộ gia đình', 'di.none': 'Chưa có khoản chi nào.', 'di.all': 'Tất cả', 'di.filter': 'Lọc',
      'di.detail': 'Chi tiết', 'di.new': 'Đề xuất chi hỗ trợ', 'di.submit': 'Gửi đề xuất', 'di.created': 'Đã gửi đề xuất; chờ người duyệt.',
      'di.search': 'Tìm hộ theo tên chủ hộ', 'di.household': 'Hộ nhận', 'di.incident': 'Sự cố (không bắt buộc)',
      'di.noincident': '— Không gắn sự cố —', 'di.mode': 'Các khoản chi', 'di.mode.ent': 'Theo quyền lợi từ đánh giá thiệt hại của hộ trong sự cố',
      'di.mode.lines': 'Nhập từng khoản', 'di.noassessment': 'Hộ này chưa có đánh giá thiệt hại trong sự cố đã chọn.', 'di.needincident': 'Chọn sự cố mà hộ đã được đánh giá thiệt hại, hoặc chọn "Nhập từng khoản".',
      'di.line': 'Khoản {n}', 'di.category': 'Mục chi', 'di.asset': 'Loại', 'di.amount': 'Số lượng/số tiền',
      'di.line.add': 'Thêm khoản', 'di.line.remove': 'Bỏ khoản {n}', 'di.amount.hint': 'Ví dụ 1.500.000',
      'di.back': '← Danh sách chi hỗ trợ', 'di.item': 'Khoản chi {id}', 'di.lines': 'Các khoản', 'di.draws': 'Tiền đã giữ chỗ',
      'di.events': 'Lịch sử', 'di.payment': 'Đã chi trả', 'di.cancel': 'Hủy khoản chi', 'di.cancel.reason': 'Lý do hủy',
      'di.cancelled': 'Đã hủy khoản chi.', 'di.designation': 'Nguồn', 'di.unrestricted': 'Không chỉ định',
      'di.when': 'Lúc', 'di.who': 'Người', 'di.note': 'Ghi chú', 'di.action': 'Việc',
      'cat.food': 'Lương thực', 'cat.water': 'Nước uống', 'cat.medicine': 'Thuốc men', 'cat.essentials': 'Nhu yếu phẩm',
      'cat.severe_injury': 'Bị thương nặng', 'cat.funeral': 'Mai táng', 'cat.house_collapsed': 'Nhà sập, trôi, cháy',
      'cat.house_severely_damaged': 'Nhà hư hỏng nặng', 'cat.house_relocation': 'Di dời nhà khẩn cấp', 'cat.evacuation': 'Sơ tán',
      'cat.shelter': 'Chỗ ở tạm', 'cat.sanitation': 'Vệ sinh môi trường', 'cat.seeds': 'Giống cây trồng', 'cat.livestock': 'Giống vật nuôi',
      'cat.tools': 'Công cụ sản xuất', 'cat.public_works': 'Công trình công cộng', 'cat.other': 'Khác (chỉ từ tiền được chỉ định)',
      'pay.title': 'Chi trả các khoản đã duyệt', 'pay.none': 'Không có khoản nào đã duyệt chờ chi trả.', 'pay.record': 'Ghi nhận chi trả',
      'pay.method': 'Hình thức', 'pay.m.cash': 'Tiền mặt', 'pay.m.bank': 'Chuyển khoản', 'pay.m.goods': 'Hiện vật',
      'pay.received_by': 'Người nhận', 'pay.reference': 'Số chứng từ / mã giao dịch', 'pay.reference.hint': 'Bắt buộc khi chuyển khoản.',
      'pay.paid_at': 'Thời điểm chi (giờ Việt Nam)', 'pay.paid_at.hint': 'Để trống: bây giờ.', 'pay.submit': 'Xác nhận đã chi',
      'pay.done': 'Đã ghi nhận chi trả cho {what} ({days} ngày sau sự cố).', 'pay.done.nodays': 'Đã ghi nhận chi trả cho {what}.',
      'pay.recent': 'Đã chi gần đây', 'pay.days': 'Số ngày từ sự cố',
      'al.title': 'Phân bổ giữa các quỹ', 'al.none': 'Chưa có khoản phân bổ nào.', 'al.new': 'Đề xuất phân bổ',
      'al.decision': 'Số quyết định phân bổ', 'al.round': 'Đợt phân bổ', 'al.submit': 'Gửi đề xuất phân bổ',
      'al.created': 'Đã gửi đề xuất phân bổ; chờ người duyệt.', 'al.execute': 'Thực hiện chuyển', 'al.executed': 'Đã chuyển tiền theo {what}.',
      'al.cancelled': 'Đã hủy {what}.', 'al.paid': 'Đã chuyển',
    },
    en: {
      'nav.approvals': 'Approvals', 'nav.disbursements': 'Payouts', 'nav.payments': 'Payments',
      'nav.allocations': 'Allocations',
      'ap.title': 'Awaiting approval', 'ap.disb': 'Household payouts awaiting approval', 'ap.alloc': 'Allocations to other funds awaiting approval',
      'ap.none.disb': 'No payout awaits approval.', 'ap.none.alloc': 'No allocation awaits approval.',
      'ap.approve': 'Approve', 'ap.reject': 'Reject', 'ap.reason': 'Reason for rejecting', 'ap.reject.confirm': 'Confirm rejection',
      'ap.cancel': 'Never mind', 'ap.own': 'You proposed this, so you cannot approve or reject it yourself.',
      'ap.approverOnly': 'Only approvers approve or reject.', 'ap.already': 'You approved it; a second approver is needed.',
      'ap.approved': 'Approved {what}: the money is reserved in the fund.', 'ap.partial': 'Approval {n}/{m} recorded for {what}; another approver is needed.',
      'ap.rejected': 'Rejected {what}.', 'ap.refused': 'Not done for {what}: {why}',
      'ap.select': 'Select {what}', 'ap.bulk': 'Approve the selected', 'ap.bulk.none': 'Nothing selected.',
      'ap.bulk.done': 'Approved {a}; {f} could not be approved.',
      'col.household': 'Household', 'col.fund': 'Fund', 'col.purpose': 'Purpose', 'col.lines': 'Lines',
      'col.total': 'Total', 'col.approvals': 'Approvals', 'col.proposed': 'Proposed', 'col.actions': 'Actions',
      'col.status': 'Status', 'col.from': 'From fund', 'col.to': 'To fund', 'col.decision': 'Decision',
      'col.round': 'Round', 'col.select': 'Select', 'col.paid': 'Paid',
      'by.you': 'you', 'by.on': '{who}, {when}',
      'ps.proposed': 'Awaiting approval', 'ps.approved': 'Approved', 'ps.rejected': 'Rejected', 'ps.cancelled': 'Cancelled', 'ps.paid': 'Paid',
      'ev.proposed': 'Proposed', 'ev.approved': 'Approved', 'ev.rejected': 'Rejected', 'ev.cancelled': 'Cancelled', 'ev.paid': 'Paid',
      'di.title': 'Household payouts', 'di.none': 'No payout yet.', 'di.all': 'All', 'di.filter': 'Filter',
      'di.detail': 'Details', 'di.new': 'Propose a payout', 'di.submit': 'Send the proposal', 'di.created': 'Proposal sent; awaiting approval.',
      'di.search': "Find a household by the head's name", 'di.household': 'Household', 'di.incident': 'Incident (optional)',
      'di.noincident': '— No incident —', 'di.mode': 'Lines', 'di.mode.ent': "The entitlements of the household's damage assessment in the incident",
      'di.mode.lines': 'Lines by hand', 'di.noassessment': 'This household has no damage assessment in the chosen incident.', 'di.needincident': 'Choose the incident in which the household was assessed, or choose "Lines by hand".',
      'di.line': 'Line {n}', 'di.category': 'Category', 'di.asset': 'Asset', 'di.amount': 'Amount',
      'di.line.add': 'Add a line', 'di.line.remove': 'Remove line {n}', 'di.amount.hint': 'For example 1.500.000',
      'di.back': '← Payouts', 'di.item': 'Payout {id}', 'di.lines': 'Lines', 'di.draws': 'Money reserved',
      'di.events': 'History', 'di.payment': 'Payment', 'di.cancel': 'Cancel the payout', 'di.cancel.reason': 'Reason for cancelling',
      'di.cancelled': 'Payout cancelled.', 'di.designation': 'Source', 'di.unrestricted': 'Unrestricted',
      'di.when': 'When', 'di.who': 'Who', 'di.note': 'Note', 'di.action': 'Action',
      'cat.food': 'Food', 'cat.water': 'Water', 'cat.medicine': 'Medicine', 'cat.essentials': 'Essentials',
      'cat.severe_injury': 'Severe injury', 'cat.funeral': 'Funeral', 'cat.house_collapsed': 'House collapsed',
      'cat.house_severely_damaged': 'House severely damaged', 'cat.house_relocation': 'Urgent relocation', 'cat.evacuation': 'Evacuation',
      'cat.shelter': 'Shelter', 'cat.sanitation': 'Sanitation', 'cat.seeds': 'Seeds', 'cat.livestock': 'Livestock',
      'cat.tools': 'Tools', 'cat.public_works': 'Public works', 'cat.other': 'Other (earmarked money only)',
      'pay.title': 'Pay approved payouts', 'pay.none': 'No approved payout waits to be paid.', 'pay.record': 'Record the payment',
      'pay.method': 'Method', 'pay.m.cash': 'Cash', 'pay.m.bank': 'Bank transfer', 'pay.m.goods': 'Goods',
      'pay.received_by': 'Received by', 'pay.reference': 'Voucher or transfer reference', 'pay.reference.hint': 'Required for a bank transfer.',
      'pay.paid_at': 'Paid at (Vietnam time)', 'pay.paid_at.hint': 'Empty: now.', 'pay.submit': 'Confirm the payment',
      'pay.done': 'Payment recorded for {what} ({days} days after the incident).', 'pay.done.nodays': 'Payment recorded for {what}.',
      'pay.recent': 'Recently paid', 'pay.days': 'Days since incident',
      'al.title': 'Allocations between funds', 'al.none': 'No allocation yet.', 'al.new': 'Propose an allocation',
      'al.decision': 'Allocation decision number', 'al.round': 'Round', 'al.submit': 'Send the proposal',
      'al.created': 'Allocation proposed; awaiting approval.', 'al.execute': 'Execute the transfer', 'al.executed': 'Money moved for {what}.',
      'al.cancelled': 'Cancelled {what}.', 'al.paid': 'Executed',
    },
  });

  const CATEGORIES = ['food', 'water', 'medicine', 'essentials', 'severe_injury', 'funeral', 'house_collapsed',
    'house_severely_damaged', 'house_relocation', 'evacuation', 'shelter', 'sanitation', 'seeds', 'livestock', 'tools',
    'public_works', 'other'];
  const STATUSES = ['proposed', 'approved', 'paid', 'rejected', 'cancelled'];
  const writer = () => C.user && WRITERS.includes(C.user.role);
  const approver = () => C.user && C.user.role === 'approver';

  // ---- Helpers.

  let assetUnits = null;
  /** An amount with its unit: đồng formatted, goods in their unit ('180 kg', '4 piece'). */
  function amountText(asset, amount) {
    if (asset === 'VND') return R.fmtMoney(amount);
    const unit = (assetUnits && assetUnits.get(asset)) || asset;
    return R.fmtMoney(R.trimZeros(amount), asset === 'RICE_KG' ? 'kg' : unit);
  }
  async function loadAssets() {
    if (!assetUnits) {
      const list = await R.api('GET', '/v1/assets').then((a) => a.items).catch(() => []);
      assetUnits = new Map(list.map((a) => [a.code, a.unit]));
      assetUnits.list = list;
    }
    return assetUnits;
  }
  const linesText = (lines) => lines.map((l) => `${l.category ? t('cat.' + l.category) + ': ' : ''}${amountText(l.asset, l.amount)}`).join('; ');

  /** 'YYYY-MM-DDTHH:MM' typed in a datetime-local input, in Vietnam time, as RFC 3339. */

  /**
   * A table whose rows are given as <tr> elements (so they carry data-id); labelled by the heading
   * above it. On a phone its rows stack as cards, each cell under its column's name (data-label).
   */
  function rowTable(label, headers, trs, numeric = []) {
    for (const tr of trs) {
      Array.from(tr.children).forEach((td, i) => { if (headers[i]) td.setAttribute('data-label', headers[i]); });
    }
    return h('div.table-wrap', { tabindex: '0', role: 'region', 'aria-label': label },
      h('table.stack',
        h('thead', h('tr', headers.map((x, i) => h(numeric.includes(i) ? 'th.num' : 'th', { scope: 'col' }, x)))),
        h('tbody', trs)));
  }

  /** Names of funds (those in scope, and the public list for the others), of users (admins only) and households. */
  async function names(householdIds = []) {
    const [funds, pub, users] = await Promise.all([
      R.listAll('/v1/funds', 2),
      R.api('GET', '/v1/public/funds?limit=500').then((p) => p.items).catch(() => []),
      C.user.role === 'admin' ? R.listAll('/v1/users', 2).catch(() => []) : Promise.resolve([]),
    ]);
    const fundNames = new Map(pub.map((f) => [f.id, f.name]));
    funds.forEach((f) => fundNames.set(f.id, f.name));
    const households = new Map();
    await Promise.all([...new Set(householdIds)].map(async (id) => {
      try { households.set(id, await R.api('GET', `/v1/households/${id}`)); } catch (_) { /* out of scope: the id is shown */ }
    }));
    return {
      funds, fundNames, households, users: new Map(users.map((u) => [u.id, u.display_name || u.username])),
      fund: (id) => fundNames.get(id) || id.slice(0, 8),
      household: (id) => (households.get(id) ? households.get(id).head_name : id.slice(0, 8)),
    };
  }
  function who(n, id) {
    if (C.user && id === C.user.id) return t('by.you');
    return n.users.get(id) || id.slice(0, 8);
  }

  /** A status line announced politely on success and at once on a refusal. */
  function say(el, text, ok) {
    el.className = ok ? 'notice ok' : 'notice error';
    el.setAttribute('role', ok ? 'status' : 'alert');
    el.setAttribute('tabindex', '-1');
    el.textContent = text;
    // The row acted on is usually redrawn or gone: keep keyboard focus on the outcome.
    if (!document.activeElement || document.activeElement === document.body || !document.body.contains(document.activeElement)) el.focus();
  }
  const refusal = (p) => {
    const base = R.problemText(p);
    const d = p && p.body && p.body.detail;
    return d && !base.includes(d) ? `${base} (${d})` : base;
  };

  // ---- /console/approvals
  C.nav('/console/approvals', 'nav.approvals', ['approver', 'admin']);
  C.page(/^\/console\/approvals$/, ['approver', 'admin', 'fund_manager'], async () => {
    const status = h('p#approvals-status', { 'aria-live': 'polite' });
    const body = h('div#approvals', R.notice(t('loading'), 'info'));
    R.page(t('ap.title'), status, body);
    await loadAssets();
    await drawQueue(body, status);
  });

  async function drawQueue(body, status) {
    const [disb, allocs] = await Promise.all([
      R.listAll('/v1/disbursements?status=proposed'),
      R.listAll('/v1/allocations').then((a) => a.filter((x) => x.status === 'proposed')),
    ]);
    const n = await names(disb.map((d) => d.household_id));
    const mine = new Set(n.funds.map((f) => f.id));
    const outgoing = allocs.filter((a) => mine.has(a.from_fund_id));
    const redraw = () => drawQueue(body, status);
    const label = (kind, x) => (kind === 'disbursement'
      ? `${n.household(x.household_id)} (${R.fmtMoney(x.total_vnd)})` : `${x.decision_ref} (${R.fmtMoney(x.total_vnd)})`);

    function actions(kind, x, tr) {
      if (x.proposed_by === C.user.id) return h('span.own-proposal', t('ap.own'));
      if (!approver()) return h('span.approver-only', t('ap.approverOnly'));
      const what = label(kind, x);
      const done = x.events.some((e) => e.action === 'approved' && e.actor_id === C.user.id);
      const approve = done ? h('span.already-approved', t('ap.already')) : h('button.approve', {
        type: 'button', 'aria-label': `${t('ap.approve')}: ${what}`,
        on: {
          click: async (ev) => {
            ev.target.disabled = true;
            try {
              const r = await R.api('POST', `/v1/${kind}s/${x.id}/approve`);
              await redraw();
              say(status, r.status === 'approved' ? t('ap.approved', { what }) : t('ap.partial', { n: r.approvals, m: r.approvals_needed, what }), true);
            } catch (p) {
              say(status, t('ap.refused', { what, why: refusal(p) }), false);
              ev.target.disabled = false;
            }
          },
        },
      }, t('ap.approve'));
      const reject = h('button.reject.secondary', {
        type: 'button', 'aria-label': `${t('ap.reject')}: ${what}`, 'aria-expanded': 'false',
        on: { click: () => rejectForm(kind, x, tr, reject, what) },
      }, t('ap.reject'));
      return h('div.actions', approve, reject);
    }

    function rejectForm(kind, x, tr, button, what) {
      const next = tr.nextElementSibling;
      if (next && next.classList.contains('reject-row')) { next.remove(); button.setAttribute('aria-expanded', 'false'); button.focus(); return; }
      button.setAttribute('aria-expanded', 'true');
      const form = h('form.reject-form', { method: 'post' }, R.formStatus(),
        R.field(`${t('ap.reason')} — ${what}`, 'reason', { rows: 2, required: true, maxlength: 1000 }),
        h('div.actions', h('button.confirm-reject', { type: 'submit' }, t('ap.reject.confirm')),
          h('button.secondary', { type: 'button', on: { click: () => { row.remove(); button.setAttribute('aria-expanded', 'false'); button.focus(); } } }, t('ap.cancel'))));
      const row = h('tr.reject-row', h('td', { colspan: tr.children.length }, form));
      R.onSubmit(form, async (f) => {
        try {
          await R.api('POST', `/v1/${kind}s/${x.id}/reject`, { reason: R.val(f, 'reason') || '' });
        } catch (p) {
          say(status, t('ap.refused', { what, why: refusal(p) }), false);
          throw p;
        }
        await redraw();
        say(status, t('ap.rejected', { what }), true);
      });
      tr.after(row);
      form.elements.reason.focus();
    }

    const selectable = (x) => approver() && x.proposed_by !== C.user.id && !x.events.some((e) => e.action === 'approved' && e.actor_id === C.user.id);
    const disbRows = disb.map((d) => {
      const tr = h('tr', { 'data-id': d.id, 'data-kind': 'disbursement' });
      R.append(tr, [
        approver() ? h('td', selectable(d) ? h('input.select', { type: 'checkbox', value: d.id, 'aria-label': t('ap.select', { what: label('disbursement', d) }) }) : null) : null,
        h('td', h('a', { href: `/console/disbursements/${d.id}` }, n.household(d.household_id))),
        h('td', n.fund(d.fund_id)), h('td', d.purpose), h('td', linesText(d.lines)),
        h('td.num', R.fmtMoney(d.total_vnd)), h('td.num', `${d.approvals}/${d.approvals_needed}`),
        h('td', t('by.on', { who: who(n, d.proposed_by), when: R.fmtDateTime(d.proposed_at) })),
      ].filter(Boolean));
      tr.append(h('td', actions('disbursement', d, tr)));
      return tr;
    });
    const allocRows = outgoing.map((a) => {
      const tr = h('tr', { 'data-id': a.id, 'data-kind': 'allocation' },
        h('td', `${a.decision_ref} · ${t('col.round')} ${a.round}`), h('td', n.fund(a.from_fund_id)), h('td', n.fund(a.to_fund_id)),
        h('td', a.purpose), h('td.num', linesText(a.lines)), h('td.num', `${a.approvals}/${a.approvals_needed}`),
        h('td', t('by.on', { who: who(n, a.proposed_by), when: R.fmtDateTime(a.proposed_at) })));
      tr.append(h('td', actions('allocation', a, tr)));
      return tr;
    });
    const dHead = [t('col.household'), t('col.fund'), t('col.purpose'), t('col.lines'), t('col.total'), t('col.approvals'), t('col.proposed'), t('col.actions')];
    const bulk = approver() && disb.some(selectable) ? h('div.actions', h('button#bulk-approve.secondary', {
      type: 'button',
      on: {
        click: async () => {
          const ids = Array.from(body.querySelectorAll('input.select:checked'), (c) => c.value);
          if (!ids.length) { say(status, t('ap.bulk.none'), false); return; }
          try {
            const r = await R.api('POST', '/v1/disbursements/bulk-approve', { ids });
            const failed = r.items.filter((i) => !i.ok).map((i) => {
              const d = disb.find((x) => x.id === i.id);
              return `${d ? label('disbursement', d) : i.id}: ${i.error.detail || i.error.title}`;
            });
            await redraw();
            say(status, [t('ap.bulk.done', { a: r.approved, f: r.failed }), ...failed].join(' '), r.failed === 0);
          } catch (p) { say(status, refusal(p), false); }
        },
      },
    }, t('ap.bulk'))) : null;
    R.render(body,
      h('h2', t('ap.disb')),
      disb.length ? [rowTable(t('ap.disb'), approver() ? [t('col.select'), ...dHead] : dHead, disbRows, approver() ? [5, 6] : [4, 5]), bulk]
        : R.notice(t('ap.none.disb'), 'info'),
      h('h2', t('ap.alloc')),
      outgoing.length ? rowTable(t('ap.alloc'), [t('col.decision'), t('col.from'), t('col.to'), t('col.purpose'), t('col.total'), t('col.approvals'), t('col.proposed'), t('col.actions')], allocRows, [4, 5])
        : R.notice(t('ap.none.alloc'), 'info'));
  }

  // ---- /console/disbursements
  C.nav('/console/disbursements', 'nav.disbursements', null);
  C.page(/^\/console\/disbursements$/, null, async () => {
    const q = new URLSearchParams(location.search);
    const status = q.get('status') || '';
    const fund = q.get('fund_id') || '';
    const main = R.page(t('di.title'), R.notice(t('loading'), 'info'));
    await loadAssets();
    const params = new URLSearchParams();
    if (status) params.set('status', status);
    if (fund) params.set('fund_id', fund);
    const items = await R.listAll(`/v1/disbursements?${params}`, 2);
    const n = await names(items.slice(-200).map((d) => d.household_id));
    const filter = h('form.inline-form#disbursement-filter', { method: 'get' },
      R.field(t('col.status'), 'status', { options: [['', t('di.all')], ...STATUSES.map((s) => [s, t('ps.' + s)])], value: status }),
      R.field(t('col.fund'), 'fund_id', { options: [['', t('di.all')], ...n.funds.map((f) => [f.id, f.name])], value: fund }),
      h('button.secondary', { type: 'submit' }, t('di.filter')));
    filter.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const p = new URLSearchParams();
      if (filter.elements.status.value) p.set('status', filter.elements.status.value);
      if (filter.elements.fund_id.value) p.set('fund_id', filter.elements.fund_id.value);
      R.navigate('/console/disbursements' + (p.toString() ? '?' + p : ''));
    });
    const rows = items.slice().reverse().slice(0, 200).map((d) => h('tr', { 'data-id': d.id },
      h('td', h('a', { href: `/console/disbursements/${d.id}` }, n.household(d.household_id))), h('td', n.fund(d.fund_id)),
      h('td', d.purpose), h('td.num', d.total_vnd === '0' ? linesText(d.lines) : R.fmtMoney(d.total_vnd)), h('td', h(`span.badge.status-${d.status}`, t('ps.' + d.status))),
      h('td', R.fmtDate(d.proposed_at))));
    R.render(main, h('h1', t('di.title')), filter,
      rows.length ? rowTable(t('di.title'), [t('col.household'), t('col.fund'), t('col.purpose'), t('col.total'), t('col.status'), t('col.proposed')], rows, [3])
        : R.notice(t('di.none'), 'info'),
      writer() ? await proposeForm(n) : null);
  });

  async function proposeForm(n) {
    if (!n.funds.length) return null;
    const incidents = await R.listAll('/v1/incidents', 1).catch(() => []);
    const assets = (await loadAssets()).list || [];
    const assetOpts = assets.map((a) => [a.code, a.code === 'VND' ? 'đồng (VND)' : `${a.name} (${a.unit})`]);
    const hhSelect = R.field(t('di.household'), 'household_id', { options: [], required: true });
    const search = h('input', { id: 'di-search', type: 'search', autocomplete: 'off' });
    let timer = null;
    async function findHouseholds() {
      const q = search.value.trim();
      const page = await R.api('GET', `/v1/households?limit=100${q ? '&q=' + encodeURIComponent(q) : ''}`).catch(() => ({ items: [] }));
      R.render(hhSelect.querySelector('select'), page.items.map((hh) => h('option', { value: hh.id }, `${hh.head_name} — ${hh.address} (${hh.unit.code})`)));
    }
    search.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(findHouseholds, 250); });
    const lines = h('div.lines');
    const renumber = () => Array.from(lines.children).forEach((block, i) => {
      block.querySelector('legend').textContent = t('di.line', { n: i + 1 });
      block.querySelector('button.remove-line').setAttribute('aria-label', t('di.line.remove', { n: i + 1 }));
      block.querySelectorAll('[name^="lines["]').forEach((el) => { el.name = el.name.replace(/^lines\[\d+\]/, `lines[${i}]`); });
    });
    const addLine = () => {
      const p = `lines[${lines.children.length}]`;
      const block = h('fieldset.line', h('legend', ''),
        h('div.row',
          R.field(t('di.category'), `${p}.category`, { options: CATEGORIES.map((c) => [c, t('cat.' + c)]), required: true, value: 'essentials' }),
          R.field(t('di.asset'), `${p}.asset`, { options: assetOpts, required: true, value: 'VND' }),
          R.field(t('di.amount'), `${p}.amount`, { inputmode: 'decimal', required: true, hint: t('di.amount.hint') })),
        h('button.secondary.remove-line', { type: 'button', on: { click: () => { if (lines.children.length > 1) { block.remove(); renumber(); } } } }, '✕'));
      lines.append(block);
      renumber();
    };
    addLine();
    const byHand = h('div.by-hand', lines, h('button.secondary', { type: 'button', on: { click: addLine } }, t('di.line.add')));
    const modeField = h('fieldset', h('legend', t('di.mode')),
      h('label.check', h('input', { type: 'radio', name: 'mode', value: 'entitlements', checked: true }), ' ', t('di.mode.ent')), h('br'),
      h('label.check', h('input', { type: 'radio', name: 'mode', value: 'lines' }), ' ', t('di.mode.lines')));
    const form = h('form#disbursement-form', { method: 'post' },
      h('h2', t('di.new')), R.formStatus(),
      R.field(t('col.fund'), 'fund_id', { options: n.funds.map((f) => [f.id, f.name]), required: true }),
      h('div.field', h('label', { for: 'di-search' }, t('di.search')), search),
      hhSelect,
      R.field(t('di.incident'), 'incident_id', { options: [['', t('di.noincident')], ...incidents.slice().reverse().map((i) => [i.id, i.name])] }),
      modeField, byHand,
      R.field(t('col.purpose'), 'purpose', { required: true, maxlength: 500 }),
      h('div.actions', h('button#disbursement-submit', { type: 'submit' }, t('di.submit'))));
    const sync = () => { byHand.hidden = form.elements.mode.value !== 'lines'; };
    modeField.addEventListener('change', sync);
    sync();
    findHouseholds();
    R.onSubmit(form, async (f, key) => {
      const body = { fund_id: R.val(f, 'fund_id'), household_id: R.val(f, 'household_id') || '', incident_id: R.val(f, 'incident_id') || null, purpose: R.val(f, 'purpose') || '' };
      if (f.elements.mode.value === 'lines') {
        body.lines = Array.from(lines.children, (_, i) => ({
          category: R.val(f, `lines[${i}].category`), asset: R.val(f, `lines[${i}].asset`), amount: R.parseAmount(R.val(f, `lines[${i}].amount`)) || '',
        }));
      } else {
        if (!body.incident_id) throw new R.Problem(422, { errors: [{ field: 'incident_id', message: t('di.needincident') }] });
        const list = await R.api('GET', `/v1/incidents/${body.incident_id}/assessments`);
        const a = list.items.find((x) => x.household_id === body.household_id);
        if (!a) throw new R.Problem(422, { errors: [{ field: 'household_id', message: t('di.noassessment') }] });
        body.assessment_id = a.id;
      }
      const d = await R.api('POST', '/v1/disbursements', body, { idempotencyKey: key });
      R.navigate(`/console/disbursements/${d.id}`);
    });
    return form;
  }

  // ---- /console/disbursements/{id}
  C.page(/^\/console\/disbursements\/([^/]+)$/, null, async (id) => {
    const main = R.page(t('di.title'), R.notice(t('loading'), 'info'));
    await loadAssets();
    const d = await R.api('GET', `/v1/disbursements/${encodeURIComponent(id)}`);
    const n = await names([d.household_id]);
    const status = h('p#approvals-status', { 'aria-live': 'polite' });
    const what = `${n.household(d.household_id)} (${R.fmtMoney(d.total_vnd)})`;
    const reload = async (text) => { await C.draw(); say(document.getElementById('approvals-status'), text, true); };
    const acts = [];
    if (d.status === 'proposed' && d.proposed_by === C.user.id) acts.push(h('span.own-proposal', t('ap.own')));
    else if (d.status === 'proposed' && approver()) {
      acts.push(h('button.approve', {
        type: 'button',
        on: {
          click: async () => {
            try {
              const r = await R.api('POST', `/v1/disbursements/${d.id}/approve`);
              await reload(r.status === 'approved' ? t('ap.approved', { what }) : t('ap.partial', { n: r.approvals, m: r.approvals_needed, what }));
            } catch (p) { say(status, t('ap.refused', { what, why: refusal(p) }), false); }
          },
        },
      }, t('ap.approve')));
      acts.push(reasonForm('reject', t('ap.reason'), t('ap.reject'), `/v1/disbursements/${d.id}/reject`, status, what, () => reload(t('ap.rejected', { what }))));
    }
    const h3 = d.household_id && n.households.get(d.household_id);
    R.render(main,
      h('p', h('a', { href: '/console/disbursements' }, t('di.back'))),
      h('h1', t('di.item', { id: d.id.slice(0, 8) })),
      status,
      h('dl.facts',
        h('dt', t('col.household')), h('dd', n.household(d.household_id), h3 ? ` — ${h3.address}` : ''),
        h('dt', t('col.fund')), h('dd', n.fund(d.fund_id)),
        h('dt', t('col.purpose')), h('dd', d.purpose),
        h('dt', t('col.status')), h('dd', h(`span.badge.status-${d.status}`, t('ps.' + d.status))),
        h('dt', t('col.total')), h('dd', R.fmtMoney(d.total_vnd)),
        h('dt', t('col.approvals')), h('dd', `${d.approvals}/${d.approvals_needed}`),
        d.incident_id ? [h('dt', t('di.incident')), h('dd', h('a', { href: `/console/incidents/${d.incident_id}` }, d.incident_id.slice(0, 8)))] : null),
      acts.length ? h('div.actions', acts) : null,
      R.table(t('di.lines'), [t('di.category'), t('di.amount')], d.lines.map((l) => [t('cat.' + l.category), amountText(l.asset, l.amount)]), [1]),
      d.draws.length ? R.table(t('di.draws'), [t('di.designation'), t('di.amount'), t('col.status')],
        d.draws.map((x) => [x.designation || t('di.unrestricted'), amountText(x.asset, x.amount), x.status]), [1]) : null,
      d.payment ? [h('h2', t('di.payment')), h('dl.facts',
        h('dt', t('pay.method')), h('dd', t('pay.m.' + d.payment.method)),
        h('dt', t('pay.received_by')), h('dd', d.payment.received_by),
        d.payment.reference ? [h('dt', t('pay.reference')), h('dd', d.payment.reference)] : null,
        h('dt', t('col.paid')), h('dd', R.fmtDateTime(d.payment.paid_at)),
        d.payment.days_since_incident !== null ? [h('dt', t('pay.days')), h('dd', String(d.payment.days_since_incident))] : null)] : null,
      R.table(t('di.events'), [t('di.action'), t('di.who'), t('di.when'), t('di.note')],
        d.events.map((e) => [t('ev.' + e.action), who(n, e.actor_id), R.fmtDateTime(e.at), e.note || ''])),
      writer() && d.status === 'approved' ? payForm(d, n, async (text) => reload(text)) : null,
      writer() && (d.status === 'proposed' || d.status === 'approved')
        ? reasonForm('cancel', t('di.cancel.reason'), t('di.cancel'), `/v1/disbursements/${d.id}/cancel`, status, what, () => reload(t('di.cancelled'))) : null);
  });

  /** A button that opens a small form asking for a reason, then posts {reason}. */
  function reasonForm(kind, label, buttonText, path, status, what, done) {
    const form = h(`form.${kind}-form`, { method: 'post', hidden: true }, R.formStatus(),
      R.field(label, 'reason', { rows: 2, required: true, maxlength: 1000 }),
      h('div.actions', h(`button.confirm-${kind}`, { type: 'submit' }, buttonText)));
    const open = h(`button.${kind}.secondary`, {
      type: 'button', 'aria-expanded': 'false',
      on: { click: () => { form.hidden = !form.hidden; open.setAttribute('aria-expanded', String(!form.hidden)); if (!form.hidden) form.elements.reason.focus(); } },
    }, buttonText);
    R.onSubmit(form, async (f) => {
      try {
        await R.api('POST', path, { reason: R.val(f, 'reason') || '' });
      } catch (p) {
        say(status, t('ap.refused', { what, why: refusal(p) }), false);
        throw p;
      }
      await done();
    });
    return h('div', open, form);
  }

  // ---- Recording a payment.
  function payForm(d, n, done) {
    const hh = n.households.get(d.household_id);
    const form = h('form.pay-form', { method: 'post' },
      h('h2', t('pay.record')), R.formStatus(),
      R.field(t('pay.method'), 'method', { options: ['cash', 'bank', 'goods'].map((m) => [m, t('pay.m.' + m)]), required: true,
        value: d.lines.every((l) => l.asset !== 'VND') ? 'goods' : 'cash' }),
      R.field(t('pay.received_by'), 'received_by', { required: true, maxlength: 200, value: hh ? hh.head_name : '' }),
      R.field(t('pay.reference'), 'reference', { maxlength: 200, hint: t('pay.reference.hint') }),
      R.field(t('pay.paid_at'), 'paid_at', { type: 'datetime-local', hint: t('pay.paid_at.hint') }),
      h('div.actions', h('button.pay-submit', { type: 'submit' }, t('pay.submit'))));
    R.onSubmit(form, async (f, key) => {
      const r = await R.api('POST', `/v1/disbursements/${d.id}/pay`, {
        method: R.val(f, 'method'), received_by: R.val(f, 'received_by') || '', reference: R.val(f, 'reference') || null,
        paid_at: R.vnInstant(R.val(f, 'paid_at')) || null,
      }, { idempotencyKey: key });
      const what = `${n.household(d.household_id)} (${R.fmtMoney(d.total_vnd)})`;
      const days = r.payment && r.payment.days_since_incident;
      await done(days !== null && days !== undefined ? t('pay.done', { what, days }) : t('pay.done.nodays', { what }));
    });
    return form;
  }

  // ---- /console/payments
  C.nav('/console/payments', 'nav.payments', WRITERS);
  C.page(/^\/console\/payments$/, WRITERS, async () => {
    const status = h('p#payments-status', { 'aria-live': 'polite' });
    const body = h('div#payments', R.notice(t('loading'), 'info'));
    R.page(t('pay.title'), status, body);
    await loadAssets();
    await drawPayments(body, status);
  });

  async function drawPayments(body, status) {
    const [approved, paid] = await Promise.all([R.listAll('/v1/disbursements?status=approved'), R.listAll('/v1/disbursements?status=paid', 1)]);
    const recent = paid.slice(-20).reverse();
    const n = await names([...approved, ...recent].map((d) => d.household_id));
    const rows = approved.map((d) => {
      const tr = h('tr', { 'data-id': d.id },
        h('td', h('a', { href: `/console/disbursements/${d.id}` }, n.household(d.household_id))), h('td', n.fund(d.fund_id)),
        h('td', d.purpose), h('td', linesText(d.lines)), h('td.num', R.fmtMoney(d.total_vnd)));
      const open = h('button.pay', {
        type: 'button', 'aria-expanded': 'false',
        on: {
          click: () => {
            const next = tr.nextElementSibling;
            if (next && next.classList.contains('pay-row')) { next.remove(); open.setAttribute('aria-expanded', 'false'); return; }
            open.setAttribute('aria-expanded', 'true');
            const form = payForm(d, n, async (text) => { await drawPayments(body, status); say(status, text, true); });
            tr.after(h('tr.pay-row', h('td', { colspan: 6 }, form)));
            form.elements.method.focus();
          },
        },
      }, t('pay.record'));
      tr.append(h('td', open));
      return tr;
    });
    R.render(body,
      rows.length ? rowTable(t('pay.title'), [t('col.household'), t('col.fund'), t('col.purpose'), t('col.lines'), t('col.total'), t('col.actions')], rows, [4])
        : R.notice(t('pay.none'), 'info'),
      recent.length ? R.table(t('pay.recent'), [t('col.household'), t('col.total'), t('pay.method'), t('pay.received_by'), t('col.paid'), t('pay.days')],
        recent.map((d) => [h('a', { href: `/console/disbursements/${d.id}` }, n.household(d.household_id)), R.fmtMoney(d.total_vnd),
          t('pay.m.' + d.payment.method), d.payment.received_by, R.fmtDateTime(d.payment.paid_at),
          d.payment.days_since_incident === null ? t('none') : String(d.payment.days_since_incident)]), [1, 5]) : null);
  }

  // ---- /console/allocations
  C.nav('/console/allocations', 'nav.allocations', null);
  C.page(/^\/console\/allocations$/, null, async () => {
    const status = h('p#allocations-status', { 'aria-live': 'polite' });
    const body = h('div#allocations', R.notice(t('loading'), 'info'));
    R.page(t('al.title'), status, body);
    await loadAssets();
    await drawAllocations(body, status);
  });

  async function drawAllocations(body, status) {
    const [items, n] = await Promise.all([R.listAll('/v1/allocations', 2), names()]);
    const mine = new Set(n.funds.map((f) => f.id));
    const redraw = () => drawAllocations(body, status);
    const rows = items.slice().reverse().map((a) => {
      const what = `${a.decision_ref} (${R.fmtMoney(a.total_vnd)})`;
      const acts = [];
      if (writer() && mine.has(a.from_fund_id)) {
        if (a.status === 'approved') {
          const key = R.newKey();
          acts.push(h('button.execute', {
            type: 'button',
            on: {
              click: async (ev) => {
                ev.target.disabled = true;
                try {
                  await R.api('POST', `/v1/allocations/${a.id}/execute`, {}, { idempotencyKey: key });
                  await redraw();
                  say(status, t('al.executed', { what }), true);
                } catch (p) { say(status, t('ap.refused', { what, why: refusal(p) }), false); ev.target.disabled = false; }
              },
            },
          }, t('al.execute')));
        }
        if (a.status === 'proposed' || a.status === 'approved') {
          acts.push(reasonForm('cancel', t('di.cancel.reason'), R.lang === 'en' ? 'Cancel' : 'Hủy', `/v1/allocations/${a.id}/cancel`, status, what,
            async () => { await redraw(); say(status, t('al.cancelled', { what }), true); }));
        }
      }
      return h('tr', { 'data-id': a.id },
        h('td', `${a.decision_ref} · ${t('col.round')} ${a.round}`), h('td', n.fund(a.from_fund_id)), h('td', n.fund(a.to_fund_id)),
        h('td', a.purpose), h('td.num', linesText(a.lines)), h('td', h(`span.badge.status-${a.status}`, t(a.status === 'paid' ? 'al.paid' : 'ps.' + a.status))),
        h('td', R.fmtDate(a.proposed_at)), h('td', acts.length ? h('div.actions', acts) : null));
    });
    R.render(body,
      rows.length ? rowTable(t('al.title'), [t('col.decision'), t('col.from'), t('col.to'), t('col.purpose'), t('col.total'), t('col.status'), t('col.proposed'), t('col.actions')], rows, [4])
        : R.notice(t('al.none'), 'info'),
      writer() && n.funds.length ? allocationForm(n, redraw, status) : null);
  }

  function allocationForm(n, redraw, status) {
    const assets = (assetUnits && assetUnits.list) || [];
    const all = [...n.fundNames.entries()];
    const form = h('form#allocation-form', { method: 'post' },
      h('h2', t('al.new')), R.formStatus(),
      R.field(t('col.from'), 'from_fund_id', { options: n.funds.map((f) => [f.id, f.name]), required: true }),
      R.field(t('col.to'), 'to_fund_id', { options: all.map(([id, name]) => [id, name]), required: true }),
      h('div.row',
        R.field(t('al.decision'), 'decision_ref', { required: true, maxlength: 200 }),
        R.field(t('al.round'), 'round', { inputmode: 'numeric', required: true, value: '1' })),
      R.field(t('col.purpose'), 'purpose', { required: true, maxlength: 500 }),
      h('div.row',
        R.field(t('di.asset'), 'lines[0].asset', { options: assets.map((a) => [a.code, a.code === 'VND' ? 'đồng (VND)' : `${a.name} (${a.unit})`]), value: 'VND', required: true }),
        R.field(t('di.amount'), 'lines[0].amount', { inputmode: 'decimal', required: true, hint: t('di.amount.hint') })),
      h('div.actions', h('button#allocation-submit', { type: 'submit' }, t('al.submit'))));
    R.onSubmit(form, async (f, key) => {
      const round = R.val(f, 'round');
      await R.api('POST', '/v1/allocations', {
        from_fund_id: R.val(f, 'from_fund_id'), to_fund_id: R.val(f, 'to_fund_id'), decision_ref: R.val(f, 'decision_ref') || '',
        round: /^\d+$/.test(round || '') ? Number(round) : round || null, purpose: R.val(f, 'purpose') || '',
        lines: [{ asset: R.val(f, 'lines[0].asset'), amount: R.parseAmount(R.val(f, 'lines[0].amount')) || '' }],
      }, { idempotencyKey: key });
      await redraw();
      say(status, t('al.created'), true);
    });
    return form;
  }
})();
