// console-relief: incidents, households, damage assessments and their entitlements with the
// legal basis, and proposing disbursements from them (one household, or a whole commune at
// once). Every check is the API's; the forms name their inputs after the API's fields so that a
// 422 lands on the field.
'use strict';

(() => {
  const { h, t } = R;
  const WRITERS = ['admin', 'fund_manager'];
  R.strings({
    vi: {
      'nav.incidents': 'Sự cố & hộ dân',
      'inc.list': 'Sự cố, thiên tai', 'inc.none': 'Chưa có sự cố nào trong phạm vi của bạn.',
      'inc.name': 'Tên sự cố', 'inc.kind': 'Loại', 'inc.status': 'Trạng thái', 'inc.started': 'Bắt đầu',
      'inc.ended': 'Kết thúc', 'inc.units': 'Địa bàn bị ảnh hưởng', 'inc.all': 'Tất cả',
      'inc.filter': 'Lọc', 'inc.new': 'Ghi nhận sự cố mới', 'inc.create': 'Ghi nhận sự cố',
      'inc.started.hint': 'Giờ Việt Nam. Ngày bắt đầu quyết định chính sách hỗ trợ được áp dụng.',
      'inc.ended.hint': 'Để trống nếu chưa kết thúc.',
      'inc.created': 'Đã ghi nhận sự cố.', 'inc.close': 'Đóng sự cố', 'inc.closed.ok': 'Đã đóng sự cố.',
      'units.search': 'Thêm địa bàn (gõ tên hoặc mã, ví dụ C21583)', 'units.add': 'Thêm',
      'units.remove': 'Bỏ {name}', 'units.chosen': 'Địa bàn đã chọn', 'units.none': 'Chưa chọn địa bàn nào.',
      'units.bad': 'Hãy chọn một mã đơn vị trong danh sách gợi ý (ví dụ C21583).',
      'st.open': 'Đang diễn ra', 'st.closed': 'Đã đóng',
      'kind.typhoon': 'Bão', 'kind.flood': 'Lũ lụt', 'kind.flash_flood': 'Lũ quét', 'kind.landslide': 'Sạt lở đất',
      'kind.drought': 'Hạn hán', 'kind.saltwater_intrusion': 'Xâm nhập mặn', 'kind.fire': 'Hỏa hoạn',
      'kind.crop_failure': 'Mất mùa', 'kind.epidemic': 'Dịch bệnh', 'kind.work_accident': 'Tai nạn lao động',
      'kind.traffic_accident': 'Tai nạn giao thông', 'kind.domestic_violence': 'Bạo lực gia đình',
      'kind.trafficking': 'Mua bán người', 'kind.other': 'Khác',
      'need.title': 'Nhu cầu hỗ trợ theo chính sách', 'need.total': 'Tổng cộng', 'need.commune': 'Xã/phường',
      'need.households': 'Số hộ đã đánh giá', 'need.vnd': 'Tiền (đồng)', 'need.rice': 'Gạo (kg)',
      'need.none': 'Chưa có đánh giá thiệt hại nào.', 'need.bycommune': 'Theo xã/phường',
      'hh.title': 'Hộ gia đình', 'hh.none': 'Chưa có hộ nào được đăng ký ở địa bàn này.',
      'hh.head': 'Chủ hộ', 'hh.commune': 'Xã/phường', 'hh.members': 'Nhân khẩu', 'hh.poverty': 'Hoàn cảnh',
      'hh.damage': 'Thiệt hại (đánh giá hiện hành)', 'hh.actions': 'Thao tác', 'hh.notassessed': 'Chưa đánh giá',
      'hh.new': 'Đăng ký hộ gia đình', 'hh.create': 'Đăng ký hộ', 'hh.created': 'Đã đăng ký hộ {name}.',
      'hh.unit': 'Xã/phường', 'hh.unit.code': 'Mã xã/phường (ví dụ C21583)', 'hh.head_name': 'Họ tên chủ hộ',
      'hh.birth': 'Năm sinh', 'hh.sex': 'Giới tính', 'hh.nid': 'Số CCCD/CMND',
      'hh.nid.hint': '12 số (hoặc 9 số CMND cũ). Chỉ lưu dạng mã hóa và 4 số cuối; không bao giờ hiển thị.',
      'hh.address': 'Địa chỉ', 'hh.flags': 'Đặc điểm', 'hh.member': 'Thành viên {n}',
      'hh.member.add': 'Thêm thành viên', 'hh.member.remove': 'Bỏ thành viên {n}', 'hh.member.name': 'Họ tên',
      'hh.others': 'Các thành viên khác (ngoài chủ hộ)',
      'sex.female': 'Nữ', 'sex.male': 'Nam', 'sex.unspecified': 'Không nêu',
      'flag.elderly': 'Người cao tuổi', 'flag.disabled': 'Người khuyết tật', 'flag.child_under_36m': 'Trẻ dưới 36 tháng',
      'flag.pregnant': 'Phụ nữ mang thai',
      'pov.poor': 'Hộ nghèo', 'pov.near_poor': 'Hộ cận nghèo', 'pov.hardship': 'Hoàn cảnh khó khăn', 'pov.none': 'Không thuộc diện',
      'dmg.none': 'Không hư hại', 'dmg.damaged': 'Hư hại nhẹ', 'dmg.severely_damaged': 'Hư hỏng nặng',
      'dmg.collapsed': 'Sập, trôi, cháy hoàn toàn', 'dmg.relocation': 'Phải di dời khẩn cấp',
      'as.new': 'Đánh giá thiệt hại', 'as.create': 'Lưu đánh giá', 'as.created': 'Đã lưu đánh giá (phiên bản {v}).',
      'as.household': 'Hộ gia đình', 'as.choose': '— Chọn hộ —', 'as.deaths': 'Số người chết',
      'as.missing': 'Số người mất tích', 'as.injured': 'Số người bị thương nặng', 'as.house': 'Nhà ở',
      'as.food': 'Số người thiếu đói', 'as.months': 'Số tháng cần hỗ trợ lương thực', 'as.assessor': 'Người đánh giá',
      'as.on': 'Ngày đánh giá', 'as.note': 'Ghi chú',
      'as.hint': 'Đánh giá lại một hộ đã đánh giá sẽ tạo phiên bản mới; phiên bản cũ vẫn được lưu.',
      'as.summary': '{house}; chết {d}, mất tích {m}, bị thương nặng {i}; thiếu đói {f} người × {mo} tháng (phiên bản {v})',
      'as.edit': 'Đánh giá', 'as.reedit': 'Đánh giá lại',
      'ent.show': 'Quyền lợi', 'ent.hide': 'Ẩn quyền lợi', 'ent.title': 'Quyền lợi theo chính sách (áp dụng quy định ngày {d})',
      'ent.none': 'Theo đánh giá này, hộ không thuộc diện được hỗ trợ.', 'ent.category': 'Khoản',
      'ent.amount': 'Mức', 'ent.basis': 'Cách tính', 'ent.legal': 'Căn cứ pháp lý',
      'cat.food': 'Lương thực', 'cat.severe_injury': 'Bị thương nặng', 'cat.funeral': 'Mai táng',
      'cat.house_collapsed': 'Nhà sập, trôi, cháy', 'cat.house_relocation': 'Di dời nhà khẩn cấp',
      'cat.house_severely_damaged': 'Nhà hư hỏng nặng',
      'prop.one': 'Đề xuất chi', 'prop.fund': 'Chi từ quỹ', 'prop.purpose': 'Nội dung chi',
      'prop.purpose.default': 'Hỗ trợ khẩn cấp: {name}', 'prop.submit': 'Gửi đề xuất',
      'prop.done': 'Đã đề xuất chi {amount} cho hộ {name}; chờ người duyệt.', 'prop.nofund': 'Bạn chưa có quỹ nào để chi.',
      'bulk.title': 'Đề xuất chi cho cả xã/phường', 'bulk.hint': 'Mỗi hộ đã đánh giá được đề xuất theo quyền lợi của mình; hộ đã có đề xuất sẽ được bỏ qua.',
      'bulk.unit': 'Xã/phường', 'bulk.purpose.hint': 'Để trống: "hỗ trợ khẩn cấp: {name}".', 'bulk.submit': 'Đề xuất cho tất cả các hộ',
      'bulk.result': 'Đã đề xuất {p} hộ, không đề xuất {f} hộ.', 'bulk.failed': 'Hộ không được đề xuất',
      'back.incidents': '← Danh sách sự cố', 'unit.label': '{name} ({code})',
    },
    en: {
      'nav.incidents': 'Incidents & households',
      'inc.list': 'Incidents and disasters', 'inc.none': 'No incident in your scope yet.',
      'inc.name': 'Incident name', 'inc.kind': 'Kind', 'inc.status': 'Status', 'inc.started': 'Started',
      'inc.ended': 'Ended', 'inc.units': 'Affected areas', 'inc.all': 'All',
      'inc.filter': 'Filter', 'inc.new': 'Record a new incident', 'inc.create': 'Record the incident',
      'inc.started.hint': 'Vietnam time. The start day decides which support rules apply.',
      'inc.ended.hint': 'Leave empty if it has not ended.',
      'inc.created': 'Incident recorded.', 'inc.close': 'Close the incident', 'inc.closed.ok': 'Incident closed.',
      'units.search': 'Add an area (type a name or a code, e.g. C21583)', 'units.add': 'Add',
      'units.remove': 'Remove {name}', 'units.chosen': 'Chosen areas', 'units.none': 'No area chosen yet.',
      'units.bad': 'Choose a unit code from the suggestions (e.g. C21583).',
      'st.open': 'Open', 'st.closed': 'Closed',
      'kind.typhoon': 'Typhoon', 'kind.flood': 'Flood', 'kind.flash_flood': 'Flash flood', 'kind.landslide': 'Landslide',
      'kind.drought': 'Drought', 'kind.saltwater_intrusion': 'Saltwater intrusion', 'kind.fire': 'Fire',
      'kind.crop_failure': 'Crop failure', 'kind.epidemic': 'Epidemic', 'kind.work_accident': 'Work accident',
      'kind.traffic_accident': 'Traffic accident', 'kind.domestic_violence': 'Domestic violence',
      'kind.trafficking': 'Trafficking', 'kind.other': 'Other',
      'need.title': 'Support owed under the rules', 'need.total': 'Total', 'need.commune': 'Commune',
      'need.households': 'Households assessed', 'need.vnd': 'Money (đồng)', 'need.rice': 'Rice (kg)',
      'need.none': 'No damage assessment yet.', 'need.bycommune': 'By commune',
      'hh.title': 'Households', 'hh.none': 'No household registered in this area yet.',
      'hh.head': 'Head', 'hh.commune': 'Commune', 'hh.members': 'Members', 'hh.poverty': 'Status',
      'hh.damage': 'Damage (current assessment)', 'hh.actions': 'Actions', 'hh.notassessed': 'Not assessed',
      'hh.new': 'Register a household', 'hh.create': 'Register', 'hh.created': 'Household {name} registered.',
      'hh.unit': 'Commune', 'hh.unit.code': 'Commune code (e.g. C21583)', 'hh.head_name': "Head's full name",
      'hh.birth': 'Birth year', 'hh.sex': 'Sex', 'hh.nid': 'National ID number',
      'hh.nid.hint': '12 digits (or the 9 of an old card). Kept only hashed with its last 4 digits; never shown.',
      'hh.address': 'Address', 'hh.flags': 'Circumstances', 'hh.member': 'Member {n}',
      'hh.member.add': 'Add a member', 'hh.member.remove': 'Remove member {n}', 'hh.member.name': 'Full name',
      'hh.others': 'Other members (besides the head)',
      'sex.female': 'Female', 'sex.male': 'Male', 'sex.unspecified': 'Not stated',
      'flag.elderly': 'Elderly', 'flag.disabled': 'Disabled', 'flag.child_under_36m': 'Child under 36 months',
      'flag.pregnant': 'Pregnant',
      'pov.poor': 'Poor', 'pov.near_poor': 'Near poor', 'pov.hardship': 'In hardship', 'pov.none': 'None of these',
      'dmg.none': 'No damage', 'dmg.damaged': 'Damaged, habitable', 'dmg.severely_damaged': 'Severely damaged',
      'dmg.collapsed': 'Collapsed, swept away or burned', 'dmg.relocation': 'Urgent relocation',
      'as.new': 'Damage assessment', 'as.create': 'Save the assessment', 'as.created': 'Assessment saved (version {v}).',
      'as.household': 'Household', 'as.choose': '— Choose a household —', 'as.deaths': 'Deaths',
      'as.missing': 'Missing', 'as.injured': 'Severely injured', 'as.house': 'House',
      'as.food': 'People needing food', 'as.months': 'Months of food support', 'as.assessor': 'Assessed by',
      'as.on': 'Assessed on', 'as.note': 'Note',
      'as.hint': 'Assessing a household again makes a new version; the old one is kept.',
      'as.summary': '{house}; dead {d}, missing {m}, severely injured {i}; needing food {f} × {mo} months (version {v})',
      'as.edit': 'Assess', 'as.reedit': 'Assess again',
      'ent.show': 'Entitlements', 'ent.hide': 'Hide entitlements', 'ent.title': 'Entitlements under the rules (rules of {d})',
      'ent.none': 'Under this assessment the household is owed nothing.', 'ent.category': 'Item',
      'ent.amount': 'Amount', 'ent.basis': 'Computed as', 'ent.legal': 'Legal basis',
      'cat.food': 'Food', 'cat.severe_injury': 'Severe injury', 'cat.funeral': 'Funeral',
      'cat.house_collapsed': 'House collapsed', 'cat.house_relocation': 'Urgent relocation',
      'cat.house_severely_damaged': 'House severely damaged',
      'prop.one': 'Propose a payout', 'prop.fund': 'From fund', 'prop.purpose': 'Purpose',
      'prop.purpose.default': 'Emergency support: {name}', 'prop.submit': 'Send the proposal',
      'prop.done': 'Proposed {amount} for household {name}; awaiting approval.', 'prop.nofund': 'You have no fund to pay from.',
      'bulk.title': 'Propose payouts for a whole commune', 'bulk.hint': 'Each assessed household is proposed its own entitlements; households already proposed are skipped.',
      'bulk.unit': 'Commune', 'bulk.purpose.hint': 'Empty: "hỗ trợ khẩn cấp: {name}".', 'bulk.submit': 'Propose for every household',
      'bulk.result': 'Proposed {p} households, {f} not proposed.', 'bulk.failed': 'Households not proposed',
      'back.incidents': '← Incidents', 'unit.label': '{name} ({code})',
    },
  });

  const KINDS = ['typhoon', 'flood', 'flash_flood', 'landslide', 'drought', 'saltwater_intrusion', 'fire',
    'crop_failure', 'epidemic', 'work_accident', 'traffic_accident', 'domestic_violence', 'trafficking', 'other'];
  const SEXES = ['female', 'male', 'unspecified'];
  const FLAGS = ['elderly', 'disabled', 'child_under_36m', 'pregnant'];
  const POVERTY = ['poor', 'near_poor', 'hardship', 'none'];
  const DAMAGE = ['none', 'damaged', 'severely_damaged', 'collapsed', 'relocation'];
  const writer = () => C.user && WRITERS.includes(C.user.role);
  const opts = (values, prefix) => values.map((v) => [v, t(prefix + v)]);

  // ---- Small helpers.

  const unitCache = new Map();
  /** The unit (with its ancestors) of a {code, edition}; cached; null when unknown. */
  function unitDetail(u) {
    const key = `${u.edition || 2025}:${u.code}`;
    if (!unitCache.has(key)) {
      unitCache.set(key, R.api('GET', `/v1/units/${encodeURIComponent(u.code)}?edition=${u.edition || 2025}`).catch(() => null));
    }
    return unitCache.get(key);
  }
  async function unitLabel(u) {
    const d = await unitDetail(u);
    return d ? t('unit.label', { name: d.name, code: u.code }) : u.code;
  }

  /** 'YYYY-MM-DDTHH:MM' typed in a datetime-local input, in Vietnam time, as RFC 3339. */

  /** A whole number from a named input, or an error pushed on `errors`. */
  function intOf(form, name, errors, required = true) {
    const v = R.val(form, name);
    if (v === undefined) {
      if (required) errors.push({ field: name, message: R.lang === 'en' ? 'required' : 'bắt buộc' });
      return undefined;
    }
    if (!/^\d+$/.test(v)) { errors.push({ field: name, message: R.lang === 'en' ? 'must be a whole number' : 'phải là số nguyên' }); return undefined; }
    return Number(v);
  }
  function throwIf(errors) {
    if (errors.length) throw new R.Problem(422, { detail: t('error.fields'), errors });
  }

  /** Checkboxes sharing one name, with one error line (a 422 on `name` lands on it). */
  function checkboxes(legend, name, values, prefix, checked = []) {
    const err = `f-${name.replace(/[^\w-]/g, '-')}-${Math.random().toString(36).slice(2, 8)}-err`;
    return h('fieldset.checks', h('legend', legend),
      values.map((v) => h('label.check', h('input', { type: 'checkbox', name, value: v, checked: checked.includes(v), 'aria-describedby': err }), ' ', t(prefix + v))),
      h('small.field-error', { id: err, 'aria-live': 'polite' }));
  }
  const checkedValues = (form, name) => Array.from(form.querySelectorAll(`input[name="${CSS.escape(name)}"]:checked`), (c) => c.value);

  /** Goods amounts without trailing zeros ('195.000' kg of rice is '195 kg'). */
  function amountText(asset, amount) {
    if (asset === 'VND') return R.fmtMoney(amount);
    if (asset === 'RICE_KG') return R.fmtMoney(R.trimZeros(amount), 'kg');
    return R.fmtMoney(amount, asset);
  }

  // ---- A picker of administrative units (search by name, or type a code).
  function unitPicker(initial) {
    const chosen = [...initial];
    const listId = `units-list-${Math.random().toString(36).slice(2, 8)}`;
    const input = h('input', { id: `${listId}-q`, name: 'units', type: 'text', list: listId, autocomplete: 'off', 'aria-describedby': `${listId}-err` });
    const datalist = h('datalist', { id: listId });
    const ul = h('ul.chips', { 'aria-label': t('units.chosen') });
    const err = h('small.field-error', { id: `${listId}-err`, 'aria-live': 'polite' });
    let timer = null;
    async function draw() {
      if (!chosen.length) { R.render(ul, h('li.muted', t('units.none'))); return; }
      const labels = await Promise.all(chosen.map(unitLabel));
      R.render(ul, chosen.map((u, i) => h('li', labels[i], ' ',
        h('button.link', { type: 'button', 'aria-label': t('units.remove', { name: labels[i] }), on: { click: () => { chosen.splice(i, 1); draw(); input.focus(); } } }, '✕'))));
    }
    function add() {
      const code = input.value.trim().toUpperCase().split(/\s/)[0];
      if (!/^[PDC]\d{1,6}$/.test(code)) { err.textContent = t('units.bad'); input.setAttribute('aria-invalid', 'true'); return; }
      err.textContent = '';
      input.removeAttribute('aria-invalid');
      if (!chosen.some((u) => u.code === code)) chosen.push({ code, edition: 2025 });
      input.value = '';
      draw();
    }
    input.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') { ev.preventDefault(); add(); } });
    input.addEventListener('input', () => {
      clearTimeout(timer);
      const q = input.value.trim();
      if (q.length < 2 || /^[PDC]\d+$/i.test(q)) return;
      timer = setTimeout(async () => {
        try {
          const page = await R.api('GET', `/v1/units?q=${encodeURIComponent(q)}&limit=20`);
          R.render(datalist, page.items.map((u) => h('option', { value: u.code }, `${u.name} (${u.division_type})`)));
        } catch (_) { /* suggestions are a help only */ }
      }, 250);
    });
    draw();
    const el = h('div.field',
      h('label', { for: input.id }, t('units.search'), h('span.req', { 'aria-hidden': 'true' }, ' *')),
      h('div.inline', input, h('button.secondary', { type: 'button', on: { click: add } }, t('units.add'))),
      datalist, err, ul);
    return { el, get units() { return chosen.map((u) => ({ code: u.code, edition: u.edition })); } };
  }

  // ---- /console/incidents
  C.nav('/console/incidents', 'nav.incidents', null);
  C.page(/^\/console\/incidents$/, null, async () => {
    const status = new URLSearchParams(location.search).get('status') || '';
    const main = R.page(t('inc.list'), R.notice(t('loading'), 'info'));
    const items = await R.listAll(`/v1/incidents${status ? '?status=' + encodeURIComponent(status) : ''}`, 4);
    const labels = new Map();
    await Promise.all(items.flatMap((i) => i.units).map(async (u) => labels.set(`${u.edition}:${u.code}`, await unitLabel(u))));
    const filter = h('form.inline-form', { method: 'get', action: '/console/incidents' },
      R.field(t('inc.status'), 'status', { options: [['', t('inc.all')], ['open', t('st.open')], ['closed', t('st.closed')]], value: status }),
      h('button.secondary', { type: 'submit' }, t('inc.filter')));
    filter.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const s = filter.elements.status.value;
      R.navigate('/console/incidents' + (s ? '?status=' + s : ''));
    });
    R.render(main, h('h1', t('inc.list')), filter,
      items.length ? R.table(t('inc.list'), [t('inc.name'), t('inc.kind'), t('inc.status'), t('inc.started'), t('inc.units')],
        items.slice().reverse().map((i) => [
          h('a.incident-link', { href: `/console/incidents/${i.id}` }, i.name), t('kind.' + i.kind), t('st.' + i.status),
          R.fmtDate(i.started_at), i.units.map((u) => labels.get(`${u.edition}:${u.code}`)).join('; ')]))
        : R.notice(t('inc.none'), 'info'),
      writer() ? incidentForm() : null);
  });

  function incidentForm() {
    const scope = C.user.scope_unit;
    const picker = unitPicker(scope ? [scope] : []);
    const form = h('form#incident-form', { method: 'post' },
      h('h2', t('inc.new')), R.formStatus(),
      R.field(t('inc.kind'), 'kind', { options: opts(KINDS, 'kind.'), required: true, value: 'flood' }),
      R.field(t('inc.name'), 'name', { required: true, maxlength: 300 }),
      h('div.row',
        R.field(t('inc.started'), 'started_at', { type: 'datetime-local', required: true, hint: t('inc.started.hint') }),
        R.field(t('inc.ended'), 'ended_at', { type: 'datetime-local', hint: t('inc.ended.hint') })),
      picker.el,
      h('div.actions', h('button#incident-submit', { type: 'submit' }, t('inc.create'))));
    R.onSubmit(form, async (f) => {
      if (!R.val(f, 'started_at')) throwIf([{ field: 'started_at', message: R.lang === 'en' ? 'required' : 'bắt buộc' }]);
      const inc = await R.api('POST', '/v1/incidents', {
        kind: R.val(f, 'kind'), name: R.val(f, 'name') || '', started_at: R.vnInstant(R.val(f, 'started_at')) || '',
        ended_at: R.vnInstant(R.val(f, 'ended_at')) || null, units: picker.units,
      });
      R.navigate(`/console/incidents/${inc.id}`);
    });
    return form;
  }

  // ---- /console/incidents/{id}
  C.page(/^\/console\/incidents\/([^/]+)$/, null, async (id) => {
    const main = R.page(t('inc.list'), R.notice(t('loading'), 'info'));
    const inc = await R.api('GET', `/v1/incidents/${encodeURIComponent(id)}`);
    const [assessments, households, entitlements, funds, unitLabels] = await Promise.all([
      R.api('GET', `/v1/incidents/${inc.id}/assessments`).then((a) => a.items),
      incidentHouseholds(inc),
      R.api('GET', `/v1/incidents/${inc.id}/entitlements`).catch((p) => p),
      writer() ? R.listAll('/v1/funds', 1) : Promise.resolve([]),
      Promise.all(inc.units.map(unitLabel)),
    ]);
    const current = new Map(assessments.map((a) => [a.household_id, a]));
    const communeNames = new Map();
    await Promise.all([...new Set(households.map((hh) => hh.unit.code))].map(async (code) => {
      const hh = households.find((x) => x.unit.code === code);
      const d = await unitDetail(hh.unit);
      communeNames.set(code, d ? d.name : code);
    }));
    const ctx = { inc, households, current, funds, communeNames };
    document.title = `${inc.name} · ${t('site.name')}`;
    R.render(main,
      h('p', h('a', { href: '/console/incidents' }, t('back.incidents'))),
      h('h1', inc.name),
      flash(),
      h('p.muted#incident-meta', `${t('kind.' + inc.kind)} · ${t('st.' + inc.status)} · ${t('inc.started')}: ${R.fmtDateTime(inc.started_at)}`,
        inc.ended_at ? ` · ${t('inc.ended')}: ${R.fmtDateTime(inc.ended_at)}` : '', h('br'), `${t('inc.units')}: ${unitLabels.join('; ')}`),
      await needsSection(inc, entitlements),
      h('h2', t('hh.title')),
      households.length ? householdList(ctx) : R.notice(t('hh.none'), 'info'),
      writer() ? [await householdForm(ctx), assessmentForm(ctx), bulkForm(ctx, entitlements)] : null);
  });

  /** The households of the incident's units that the caller sees. */
  async function incidentHouseholds(inc) {
    const seen = new Map();
    for (const u of inc.units) {
      let items = [];
      try {
        items = await R.listAll(`/v1/households?unit=${encodeURIComponent(u.code)}&edition=${u.edition}`);
      } catch (p) {
        const s = C.user.scope_unit;
        if (p.status !== 404 || !s) throw p;
        // The affected unit is wider than the caller's scope: list the scope if it lies inside.
        const d = await unitDetail(s);
        if (!d || !d.ancestors.some((a) => a.code === u.code && a.edition === u.edition)) continue;
        items = await R.listAll(`/v1/households?unit=${encodeURIComponent(s.code)}&edition=${s.edition}`);
      }
      for (const hh of items) seen.set(hh.id, hh);
    }
    return [...seen.values()];
  }

  async function needsSection(inc, ent) {
    if (ent instanceof Error) return [h('h2', t('need.title')), R.notice(R.problemText(ent))];
    if (!ent.communes.length) return [h('h2', t('need.title')), R.notice(t('need.none'), 'info')];
    const labels = await Promise.all(ent.communes.map((c) => unitLabel(c.unit)));
    const rows = ent.communes.map((c, i) => [labels[i], String(c.households_assessed), R.fmtMoney(c.totals.VND || '0'), amountText('RICE_KG', c.totals.RICE_KG || '0')]);
    rows.push([h('strong', t('need.total')), String(ent.communes.reduce((n, c) => n + c.households_assessed, 0)),
      h('strong', R.fmtMoney(ent.totals.VND || '0')), h('strong', amountText('RICE_KG', ent.totals.RICE_KG || '0'))]);
    return [h('h2', t('need.title')),
      h('ul.figures#needs',
        h('li#need-vnd', h('span.label', t('need.vnd')), h('span.value', R.fmtMoney(ent.totals.VND || '0'))),
        h('li#need-rice', h('span.label', t('need.rice')), h('span.value', amountText('RICE_KG', ent.totals.RICE_KG || '0')))),
      R.table(t('need.bycommune'), [t('need.commune'), t('need.households'), t('need.vnd'), t('need.rice')], rows, [1, 2, 3])];
  }

  function assessmentSummary(a) {
    return t('as.summary', { house: t('dmg.' + a.house_damage), d: a.deaths, m: a.missing, i: a.severely_injured, f: a.people_needing_food, mo: a.months_of_food, v: a.version });
  }

  /** The households as cards (readable on a phone), each with its assessment and actions. */
  function householdList(ctx) {
    const sorted = ctx.households.slice().sort((a, b) => a.head_name.localeCompare(b.head_name, 'vi'));
    return h('ul.household-list', sorted.map((hh) => {
      const a = ctx.current.get(hh.id);
      const detail = h('div.detail', { hidden: true });
      const entButton = a ? h('button.secondary.show-entitlements', { type: 'button', 'aria-expanded': 'false', on: { click: () => toggleEntitlements(entButton, detail, a) } }, t('ent.show')) : null;
      const actions = [entButton];
      if (writer()) {
        actions.push(h('button.secondary.assess', { type: 'button', on: { click: () => focusAssessment(hh, a) } }, a ? t('as.reedit') : t('as.edit')));
        if (a) actions.push(h('button.secondary.propose', { type: 'button', on: { click: () => showPropose(detail, hh, a, ctx) } }, t('prop.one')));
      }
      return h('li.card.household', { 'data-household-id': hh.id },
        h('h3', hh.head_name),
        h('p.muted', `${ctx.communeNames.get(hh.unit.code) || hh.unit.code} · ${t('hh.members')}: ${hh.members.length} · ${t('pov.' + hh.poverty_status)}`),
        h('p', a ? assessmentSummary(a) : h('span.muted', t('hh.notassessed'))),
        h('div.actions', actions), detail);
    }));
  }

  async function toggleEntitlements(button, detail, a) {
    if (!detail.hidden && detail.dataset.kind === 'ent') {
      detail.hidden = true;
      button.setAttribute('aria-expanded', 'false');
      button.textContent = t('ent.show');
      return;
    }
    detail.dataset.kind = 'ent';
    detail.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    button.textContent = t('ent.hide');
    const cell = detail;
    R.render(cell, R.notice(t('loading'), 'info'));
    try {
      R.render(cell, entitlementView(await R.api('GET', `/v1/assessments/${a.id}/entitlements`)));
    } catch (p) {
      R.render(cell, R.notice(R.problemText(p)));
    }
  }

  /** The entitlement lines with how each was computed and its legal basis. */
  function entitlementView(e) {
    if (!e.lines.length) return h('div.entitlements', R.notice(t('ent.none'), 'info'));
    return h('div.entitlements',
      h('h3', t('ent.title', { d: R.fmtDate(e.rules_on) })),
      h('ul.entitlement-lines', e.lines.map((l) => h('li.entitlement', { 'data-category': l.category },
        h('strong', `${t('cat.' + l.category)}: ${amountText(l.asset, l.amount)}`),
        h('div', h('span.muted', `${t('ent.basis')}: `), l.basis),
        h('div.legal-basis', h('span.muted', `${t('ent.legal')}: `), l.legal_ref, ' — ', h('cite', l.legal_basis))))));
  }

  /** Proposing one household's entitlements, in the row under the household. */
  function showPropose(detail, hh, a, ctx) {
    detail.dataset.kind = 'prop';
    detail.hidden = false;
    const cell = detail;
    if (!ctx.funds.length) { R.render(cell, R.notice(t('prop.nofund'), 'info')); return; }
    const form = h('form.propose-form', { method: 'post' },
      R.formStatus(),
      R.field(t('prop.fund'), 'fund_id', { options: ctx.funds.map((f) => [f.id, f.name]), required: true }),
      R.field(t('prop.purpose'), 'purpose', { required: true, maxlength: 500, value: t('prop.purpose.default', { name: ctx.inc.name }) }),
      h('div.actions', h('button', { type: 'submit' }, t('prop.submit')),
        h('button.secondary', { type: 'button', on: { click: () => { detail.hidden = true; } } }, R.lang === 'en' ? 'Close' : 'Đóng')));
    R.onSubmit(form, async (f, key) => {
      const d = await R.api('POST', '/v1/disbursements', {
        fund_id: R.val(f, 'fund_id'), household_id: hh.id, assessment_id: a.id, purpose: R.val(f, 'purpose') || '',
      }, { idempotencyKey: key });
      R.render(cell, h('p.notice.ok', { role: 'status' }, t('prop.done', { amount: d.lines.map((l) => amountText(l.asset, l.amount)).join(', '), name: hh.head_name }), ' ',
        h('a', { href: `/console/disbursements/${d.id}` }, d.id.slice(0, 8))));
    });
    R.render(cell, form);
    form.elements.fund_id.focus();
  }

  // ---- Registering a household.
  async function householdForm(ctx) {
    const communes = await communeOptions(ctx.inc);
    const members = h('div.members');
    const renumber = () => Array.from(members.children).forEach((block, i) => {
      block.querySelector('legend').textContent = t('hh.member', { n: i + 1 });
      block.querySelector('button.remove-member').setAttribute('aria-label', t('hh.member.remove', { n: i + 1 }));
      block.querySelectorAll('[name^="members["]').forEach((el) => { el.name = el.name.replace(/^members\[\d+\]/, `members[${i}]`); });
    });
    const addMember = () => {
      const i = members.children.length;
      const p = `members[${i}]`;
      const block = h('fieldset.member', h('legend', t('hh.member', { n: i + 1 })),
        R.field(t('hh.member.name'), `${p}.name`, { required: true, maxlength: 200 }),
        h('div.row',
          R.field(t('hh.birth'), `${p}.birth_year`, { type: 'text', inputmode: 'numeric', required: true, maxlength: 4 }),
          R.field(t('hh.sex'), `${p}.sex`, { options: opts(SEXES, 'sex.'), required: true })),
        R.field(t('hh.nid'), `${p}.national_id`, { inputmode: 'numeric', maxlength: 20 }),
        checkboxes(t('hh.flags'), `${p}.flags`, FLAGS, 'flag.'),
        h('button.secondary.remove-member', { type: 'button', on: { click: () => { block.remove(); renumber(); addButton.focus(); } } }, '✕'));
      members.append(block);
      renumber();
      block.querySelector('input').focus();
    };
    const addButton = h('button.secondary', { type: 'button', on: { click: addMember } }, t('hh.member.add'));
    const unitField = communes.length
      ? R.field(t('hh.unit'), 'unit', { options: communes.map((c) => [c.code, t('unit.label', c)]), required: true })
      : R.field(t('hh.unit.code'), 'unit', { required: true, value: C.user.scope_unit ? C.user.scope_unit.code : '' });
    const form = h('form#household-form', { method: 'post' },
      R.formStatus(),
      unitField,
      R.field(t('hh.head_name'), 'head_name', { required: true, maxlength: 200, autocomplete: 'off' }),
      h('div.row',
        R.field(t('hh.birth'), 'head_birth_year', { inputmode: 'numeric', required: true, maxlength: 4 }),
        R.field(t('hh.sex'), 'head_sex', { options: opts(SEXES, 'sex.'), required: true })),
      R.field(t('hh.nid'), 'national_id', { inputmode: 'numeric', maxlength: 20, hint: t('hh.nid.hint') }),
      checkboxes(t('hh.flags'), 'head_flags', FLAGS, 'flag.'),
      R.field(t('hh.address'), 'address', { required: true, maxlength: 500 }),
      R.field(t('hh.poverty'), 'poverty_status', { options: opts(POVERTY, 'pov.'), required: true, value: 'none' }),
      h('fieldset', h('legend', t('hh.others')), members, addButton),
      h('div.actions', h('button#household-submit', { type: 'submit' }, t('hh.create'))));
    R.onSubmit(form, async (f) => {
      const errors = [];
      const body = {
        unit: R.val(f, 'unit') || '', edition: communes.find((c) => c.code === R.val(f, 'unit'))?.edition,
        head_name: R.val(f, 'head_name') || '', head_birth_year: intOf(f, 'head_birth_year', errors),
        head_sex: R.val(f, 'head_sex'), head_flags: checkedValues(f, 'head_flags'),
        national_id: R.val(f, 'national_id') || null, address: R.val(f, 'address') || '',
        poverty_status: R.val(f, 'poverty_status'),
        members: Array.from(members.children, (_, i) => ({
          name: R.val(f, `members[${i}].name`) || '', birth_year: intOf(f, `members[${i}].birth_year`, errors),
          sex: R.val(f, `members[${i}].sex`), flags: checkedValues(f, `members[${i}].flags`),
          national_id: R.val(f, `members[${i}].national_id`) || null,
        })),
      };
      throwIf(errors);
      const hh = await R.api('POST', '/v1/households', body).catch((p) => {
        // A repeated national ID is a 409 whose detail names the field ("members[0].national_id: ..."):
        // show it on that field.
        const m = p.status === 409 && /^([\w.[\]]+): (.*)$/.exec(p.body.detail || '');
        throw m ? new R.Problem(422, { detail: p.body.detail, errors: [{ field: m[1], message: m[2] }] }) : p;
      });
      ctx.households.push(hh);
      sessionStorage.setItem('relief.flash', t('hh.created', { name: hh.head_name }));
      await C.draw();
    });
    return h('details.panel#household-panel', { open: ctx.households.length === 0 ? true : null },
      h('summary', h('h2', t('hh.new'))), form);
  }

  /** A message left by the previous submission (the page is redrawn after a write). */
  function flash() {
    const text = sessionStorage.getItem('relief.flash');
    if (!text) return null;
    sessionStorage.removeItem('relief.flash');
    return h('p.notice.ok', { role: 'status' }, text);
  }

  /** The communes a household of this incident can be registered in, within the caller's scope. */
  async function communeOptions(inc) {
    const out = new Map();
    const scope = C.user.scope_unit;
    for (const u of inc.units) {
      const d = await unitDetail(u);
      if (!d) continue;
      if (d.level === 'commune') out.set(d.code, { code: d.code, name: d.name, edition: d.edition });
      else {
        const kids = await R.listAll(`/v1/units?parent=${encodeURIComponent(u.code)}&edition=${u.edition}&level=commune`, 2).catch(() => []);
        for (const k of kids) out.set(k.code, { code: k.code, name: k.name, edition: k.edition });
      }
    }
    let list = [...out.values()];
    if (scope) {
      const s = await unitDetail(scope);
      if (s && s.level === 'commune') list = list.filter((c) => c.code === s.code);
    }
    return list;
  }

  // ---- Recording a damage assessment.
  function assessmentForm(ctx) {
    if (!ctx.households.length) return null;
    const sorted = ctx.households.slice().sort((a, b) => a.head_name.localeCompare(b.head_name, 'vi'));
    const form = h('form#assessment-form', { method: 'post' },
      h('p.hint', t('as.hint')), R.formStatus(),
      R.field(t('as.household'), 'household_id', { required: true, options: [['', t('as.choose')], ...sorted.map((hh) => [hh.id, `${hh.head_name} — ${hh.address} (${hh.unit.code})`])] }),
      h('div.row',
        R.field(t('as.deaths'), 'deaths', { inputmode: 'numeric', required: true, value: '0' }),
        R.field(t('as.missing'), 'missing', { inputmode: 'numeric', required: true, value: '0' }),
        R.field(t('as.injured'), 'severely_injured', { inputmode: 'numeric', required: true, value: '0' })),
      R.field(t('as.house'), 'house_damage', { options: opts(DAMAGE, 'dmg.'), required: true, value: 'none' }),
      h('div.row',
        R.field(t('as.food'), 'people_needing_food', { inputmode: 'numeric', required: true, value: '0' }),
        R.field(t('as.months'), 'months_of_food', { inputmode: 'numeric', required: true, value: '0' })),
      h('div.row',
        R.field(t('as.assessor'), 'assessor', { required: true, maxlength: 200 }),
        R.field(t('as.on'), 'assessed_on', { type: 'date', value: R.todayVn(), max: R.todayVn() })),
      R.field(t('as.note'), 'note', { rows: 2, maxlength: 1000 }),
      h('div.actions', h('button#assessment-submit', { type: 'submit' }, t('as.create'))));
    R.onSubmit(form, async (f) => {
      const errors = [];
      const n = (name) => intOf(f, name, errors);
      const body = {
        household_id: R.val(f, 'household_id') || '', deaths: n('deaths'), missing: n('missing'), severely_injured: n('severely_injured'),
        house_damage: R.val(f, 'house_damage'), people_needing_food: n('people_needing_food'), months_of_food: n('months_of_food'),
        assessor: R.val(f, 'assessor') || '', assessed_on: R.val(f, 'assessed_on') || null, note: R.val(f, 'note') || null,
      };
      if (!body.household_id) errors.push({ field: 'household_id', message: R.lang === 'en' ? 'required' : 'bắt buộc' });
      throwIf(errors);
      const a = await R.api('POST', `/v1/incidents/${ctx.inc.id}/assessments`, body);
      sessionStorage.setItem('relief.flash', t('as.created', { v: a.version }));
      await C.draw();
      // Show the new entitlements with their legal basis straight away.
      const row = document.querySelector(`li[data-household-id="${CSS.escape(a.household_id)}"] button.show-entitlements`);
      if (row) { row.click(); row.focus(); }
    });
    return h('details.panel#assessment-panel', h('summary', h('h2', t('as.new'))), form);
  }

  /** Opens the assessment form on a household, filled from its current assessment. */
  function focusAssessment(hh, a) {
    const panel = document.getElementById('assessment-panel');
    const form = document.getElementById('assessment-form');
    if (!panel || !form) return;
    panel.open = true;
    form.elements.household_id.value = hh.id;
    if (a) {
      for (const k of ['deaths', 'missing', 'severely_injured', 'house_damage', 'people_needing_food', 'months_of_food', 'assessor']) {
        form.elements[k].value = String(a[k]);
      }
      form.elements.note.value = a.note || '';
    }
    panel.scrollIntoView({ block: 'start' });
    form.elements.deaths.focus();
  }

  // ---- Proposing for a whole commune.
  function bulkForm(ctx, ent) {
    if (ent instanceof Error || !ent.communes.length || !ctx.funds.length) return null;
    const out = h('div#bulk-result');
    const form = h('form#bulk-form', { method: 'post' },
      h('p.hint', t('bulk.hint')), R.formStatus(),
      R.field(t('prop.fund'), 'fund_id', { options: ctx.funds.map((f) => [f.id, f.name]), required: true }),
      R.field(t('bulk.unit'), 'unit', { options: ent.communes.map((c) => [`${c.unit.edition}:${c.unit.code}`, `${c.unit.code} (${c.households_assessed})`]), required: true }),
      R.field(t('prop.purpose'), 'purpose', { maxlength: 500, hint: t('bulk.purpose.hint', { name: ctx.inc.name }) }),
      h('div.actions', h('button#bulk-submit', { type: 'submit' }, t('bulk.submit'))));
    R.onSubmit(form, async (f) => {
      const [edition, unit] = R.val(f, 'unit').split(':');
      const r = await R.api('POST', '/v1/disbursements/bulk', {
        fund_id: R.val(f, 'fund_id'), incident_id: ctx.inc.id, unit, edition: Number(edition), purpose: R.val(f, 'purpose') || null,
      });
      R.showOk(f, t('bulk.result', { p: r.proposed, f: r.failed }));
      const names = new Map(ctx.households.map((hh) => [hh.id, hh.head_name]));
      const failed = r.items.filter((i) => !i.result.ok);
      R.render(out, failed.length ? R.table(t('bulk.failed'), [t('hh.head'), t('inc.status')],
        failed.map((i) => [names.get(i.household_id) || i.household_id, `${i.result.error.code}: ${i.result.error.detail || i.result.error.title}`])) : null);
    });
    return h('details.panel#bulk-panel', h('summary', h('h2', t('bulk.title'))), form, out);
  }
})();
