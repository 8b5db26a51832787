// console-audit: for auditors and admins, verify a fund's hash chain, download its ledger export
// and checkpoints, and see the signed checkpoints with the key that signs them. Auditors only
// read; admins may also sign the fund's head now.
'use strict';

(() => {
  const { h, t } = R;
  R.strings({
    vi: {
      'nav.audit': 'Kiểm toán', 'audit.title': 'Kiểm toán sổ cái', 'audit.fund': 'Quỹ', 'audit.verify': 'Kiểm tra sổ cái',
      'audit.none': 'Chưa có quỹ nào trong phạm vi của bạn.', 'audit.checking': 'Đang kiểm tra…',
      'v.ok': 'ĐẠT: chuỗi băm liền mạch, đầu chuỗi và mọi số dư khớp với các bút toán.',
      'v.bad': 'KHÔNG ĐẠT: {problem}', 'v.entries': 'Số bút toán đã kiểm tra', 'v.seq': 'Số thứ tự đầu chuỗi (head seq)',
      'v.hash': 'Mã băm đầu chuỗi (head hash)', 'v.first': 'Bút toán sai đầu tiên', 'v.at': 'Kiểm tra lúc',
      'v.keep': 'Hãy lưu mã băm đầu chuỗi ở nơi khác để so sánh về sau.',
      'exp.title': 'Tải sổ cái để kiểm tra độc lập', 'exp.ndjson': 'Tải sổ cái (NDJSON)', 'exp.csv': 'Tải sổ cái (CSV, mở bằng bảng tính)',
      'exp.cps': 'Tải danh sách điểm kiểm (JSON)', 'exp.key': 'Tải khoá công khai (JSON)',
      'cp.title': 'Điểm kiểm đã ký (checkpoint)', 'cp.key': 'Khoá ký hiện tại: {alg}, mã khoá {id}', 'cp.pub': 'Khoá công khai',
      'cp.sign': 'Ký điểm kiểm ngay', 'cp.signed': 'Đã ký điểm kiểm tại số thứ tự {seq}.', 'cp.seq': 'Số thứ tự',
      'cp.at': 'Ký lúc', 'cp.hash': 'Mã băm', 'cp.keyid': 'Mã khoá', 'cp.none': 'Quỹ này chưa có điểm kiểm nào.', 'cp.more': 'Xem thêm',
      'off.title': 'Kiểm tra ngoại tuyến (không cần tin máy chủ)',
      'off.1': 'Lưu khoá công khai một lần, qua một kênh tin cậy, tách riêng với các điểm kiểm.',
      'off.2': 'Thỉnh thoảng tải danh sách điểm kiểm và cất ở nơi khác.',
      'off.3': 'Khi kiểm toán: tải sổ cái (NDJSON hoặc CSV) rồi chạy lệnh dưới đây (Python 3.8 trở lên, không cần cài thêm gì). Mã thoát 0 là đạt; nếu không, lý do nằm trong "problems" (MISMATCH: lịch sử đã bị viết lại sau điểm kiểm).',
    },
    en: {
      'nav.audit': 'Audit', 'audit.title': 'Ledger audit', 'audit.fund': 'Fund', 'audit.verify': 'Verify the ledger',
      'audit.none': 'No fund in your scope yet.', 'audit.checking': 'Verifying…',
      'v.ok': 'VERIFIED: the hash chain is unbroken, and the head and every balance match the entries.',
      'v.bad': 'NOT VERIFIED: {problem}', 'v.entries': 'Entries checked', 'v.seq': 'Head seq', 'v.hash': 'Head hash',
      'v.first': 'First bad seq', 'v.at': 'Checked at', 'v.keep': 'Keep the head hash elsewhere to compare later.',
      'exp.title': 'Download the ledger to check it independently', 'exp.ndjson': 'Download the ledger (NDJSON)',
      'exp.csv': 'Download the ledger (CSV, for a spreadsheet)', 'exp.cps': 'Download the checkpoints (JSON)', 'exp.key': 'Download the public key (JSON)',
      'cp.title': 'Signed checkpoints', 'cp.key': 'Current signing key: {alg}, key id {id}', 'cp.pub': 'Public key',
      'cp.sign': 'Sign a checkpoint now', 'cp.signed': 'Checkpoint signed at seq {seq}.', 'cp.seq': 'Seq',
      'cp.at': 'Signed at', 'cp.hash': 'Hash', 'cp.keyid': 'Key id', 'cp.none': 'This fund has no checkpoint yet.', 'cp.more': 'More',
      'off.title': 'Verifying offline (without trusting the server)',
      'off.1': 'Save the public key once, through a channel you trust, apart from the checkpoints.',
      'off.2': 'From time to time, download the checkpoints and keep them elsewhere.',
      'off.3': 'To audit: download the ledger (NDJSON or CSV) and run the command below (Python 3.8 or later, nothing to install). Exit code 0 means verified; otherwise the reason is in "problems" (MISMATCH: the history was rewritten after a checkpoint).',
    },
  });

  C.nav('/console/audit', 'nav.audit', ['auditor', 'admin']);

  C.page(/^\/console\/audit$/, ['auditor', 'admin'], async () => {
    R.page(t('audit.title'), R.notice(t('loading'), 'info'));
    const [funds, key] = await Promise.all([R.api('GET', '/v1/funds?limit=500'), R.api('GET', '/v1/checkpoints/key')]);
    if (!funds.items.length) { R.page(t('audit.title'), R.notice(t('audit.none'), 'info')); return; }
    const fundField = R.field(t('audit.fund'), 'fund_id', { options: funds.items.map((f) => [f.id, f.name]) });
    const form = h('form#audit-form', R.formStatus(), fundField,
      h('div.actions', h('button#verify-button', { type: 'submit' }, t('audit.verify'))));
    const result = h('div#verify-result', { 'aria-live': 'polite' });
    const exports = h('ul.downloads');
    const cps = h('div#checkpoint-list');
    const signStatus = h('p.form-status', { 'aria-live': 'polite' });
    const fundId = () => fundField.querySelector('select').value;
    const enc = () => encodeURIComponent(fundId());

    function links() {
      const a = (cls, href, key) => h(`li`, h(`a.${cls}`, { href, download: '' }, t(key)));
      R.render(exports,
        a('export-ndjson', `/v1/funds/${enc()}/ledger/export?format=ndjson`, 'exp.ndjson'),
        a('export-csv', `/v1/funds/${enc()}/ledger/export?format=csv`, 'exp.csv'),
        a('download-checkpoints', `/v1/funds/${enc()}/checkpoints?limit=500`, 'exp.cps'),
        a('download-key', '/v1/checkpoints/key', 'exp.key'));
      R.render(command, `python3 tools/verify_export.py ledger-${fundId()}.ndjson \\\n  --checkpoint checkpoints.json --public-key ${key.public_key}`);
    }

    async function loadCheckpoints(cursor) {
      const p = await R.api('GET', `/v1/funds/${enc()}/checkpoints?limit=50${cursor ? '&cursor=' + encodeURIComponent(cursor) : ''}`);
      const rows = p.items.map((c) => h('tr', { 'data-seq': c.seq }, h('td.num', String(c.seq)), h('td', R.fmtDateTime(c.signed_at)),
        h('td.hash', c.hash), h('td.hash', c.key_id)));
      let body = cps.querySelector('#checkpoints tbody');
      if (!cursor || !body) {
        if (!p.items.length) { R.render(cps, h('p.muted', t('cp.none'))); return; }
        R.render(cps, h('div.table-wrap', { tabindex: '0', role: 'region', 'aria-label': t('cp.title') },
          h('table#checkpoints', h('thead', h('tr', [['cp.seq', 'th.num'], ['cp.at', 'th'], ['cp.hash', 'th'], ['cp.keyid', 'th']]
            .map(([k, tag]) => h(tag, { scope: 'col' }, t(k))))), body = h('tbody'))));
      }
      body.append(...rows);
      cps.querySelector('.more')?.remove();
      if (p.next_cursor) cps.append(h('button.secondary.more', { type: 'button', on: { click: () => loadCheckpoints(p.next_cursor) } }, t('cp.more')));
    }

    R.onSubmit(form, async () => {
      R.render(result, h('p.notice.info', t('audit.checking')));
      const v = await R.api('GET', `/v1/funds/${enc()}/ledger/verify`);
      const row = (k, val, cls) => [h('dt', t(k)), h(cls ? `dd.${cls}` : 'dd', val)];
      R.render(result,
        h(`p.notice.${v.ok ? 'ok' : 'error'}.verdict`, { role: v.ok ? 'status' : 'alert', 'data-ok': String(v.ok) },
          v.ok ? t('v.ok') : t('v.bad', { problem: v.problem || '' })),
        h('dl.facts', row('v.entries', R.fmtNumber(v.entries_checked)), row('v.seq', String(v.head_seq)),
          row('v.hash', v.head_hash, 'hash'), v.first_bad_seq !== null ? row('v.first', String(v.first_bad_seq)) : null,
          row('v.at', R.fmtDateTime(new Date().toISOString()))),
        h('p.muted', t('v.keep')));
    });

    const onChange = () => { R.render(result); links(); loadCheckpoints().catch((p) => R.render(cps, R.notice(R.problemText(p)))); };
    fundField.querySelector('select').addEventListener('change', onChange);
    const signButton = C.user.role === 'admin' ? h('button.secondary#sign-checkpoint', {
      type: 'button',
      on: {
        click: async (ev) => {
          ev.target.disabled = true;
          try {
            const c = await R.api('POST', `/v1/funds/${enc()}/checkpoints`);
            signStatus.className = 'form-status ok';
            signStatus.textContent = t('cp.signed', { seq: c.seq });
            await loadCheckpoints();
          } catch (p) {
            signStatus.className = 'form-status error';
            signStatus.textContent = R.problemText(p);
          } finally { ev.target.disabled = false; }
        },
      },
    }, t('cp.sign')) : null;
    const command = h('code');

    R.page(t('audit.title'), form, result,
      h('h2', t('exp.title')), exports,
      h('h2', t('cp.title')),
      h('p', t('cp.key', { alg: key.algorithm, id: key.key_id })),
      h('p', `${t('cp.pub')}: `, h('code.hash#public-key', key.public_key)),
      signButton ? h('div.actions', signButton) : null, signStatus, cps,
      h('h2', t('off.title')),
      h('ol', h('li', t('off.1')), h('li', t('off.2')), h('li', t('off.3'))),
      h('pre', command));
    onChange();
  });
})();
