// The staff console at /console: login, the layout and menu by role, the dashboard of funds in
// scope, and the router that the area scripts (console-*.js) add their pages to. Every read and
// write goes through the JSON API with the session cookie, so the role and scope checks are the
// API's own; writes carry the session's CSRF token (R.setCsrf).
'use strict';

const C = (() => {
  const { h, t } = R;
  R.strings({
    vi: {
      'site.name': 'Bảng điều hành quỹ cứu trợ', 'console.title': 'Quỹ cứu trợ · Nhân viên',
      'login.title': 'Đăng nhập', 'login.username': 'Tên đăng nhập', 'login.password': 'Mật khẩu',
      'login.submit': 'Đăng nhập', 'login.failed': 'Sai tên đăng nhập hoặc mật khẩu.',
      'logout': 'Đăng xuất', 'nav.dashboard': 'Tổng quan', 'nav.public': 'Trang công khai',
      'role.admin': 'Quản trị', 'role.fund_manager': 'Quản lý quỹ', 'role.approver': 'Người duyệt',
      'role.auditor': 'Kiểm toán', 'role.commune_officer': 'Cán bộ xã',
      'dash.title': 'Các quỹ trong phạm vi của bạn', 'dash.none': 'Chưa có quỹ nào trong phạm vi của bạn.',
      'dash.fund': 'Quỹ', 'dash.unit': 'Đơn vị', 'dash.posted': 'Số dư', 'dash.reserved': 'Đã giữ chỗ',
      'dash.available': 'Khả dụng', 'dash.asset': 'Tài sản', 'dash.entries': 'Số bút toán',
      'dash.more': 'Xem thêm', 'signed.in': 'Đăng nhập: {user} ({role})', 'page.missing': 'Không có trang này.',
    },
    en: {
      'site.name': 'Relief fund console', 'console.title': 'Relief fund · Staff',
      'login.title': 'Log in', 'login.username': 'Username', 'login.password': 'Password',
      'login.submit': 'Log in', 'login.failed': 'Wrong username or password.',
      'logout': 'Log out', 'nav.dashboard': 'Dashboard', 'nav.public': 'Public site',
      'role.admin': 'Administrator', 'role.fund_manager': 'Fund manager', 'role.approver': 'Approver',
      'role.auditor': 'Auditor', 'role.commune_officer': 'Commune officer',
      'dash.title': 'Funds in your scope', 'dash.none': 'No fund in your scope yet.',
      'dash.fund': 'Fund', 'dash.unit': 'Unit', 'dash.posted': 'Balance', 'dash.reserved': 'Reserved',
      'dash.available': 'Available', 'dash.asset': 'Asset', 'dash.entries': 'Entries',
      'dash.more': 'More', 'signed.in': 'Signed in: {user} ({role})', 'page.missing': 'No such page.',
    },
  });

  /** The logged-in user ({id, username, role, scope_unit}) or null. */
  let user = null;
  /** Menu entries added by area scripts: {path, label (string key), roles}. */
  const menu = [{ path: '/console', label: 'nav.dashboard', roles: null }];
  /** Pages: [regexp on the path, roles or null, render(...groups)]. */
  const pages = [];

  /** Adds a page. `roles` null means every logged-in user; the API still checks every call. */
  function page(re, roles, render) { pages.push([re, roles, render]); }
  /** Adds a menu entry shown to `roles` (null: everyone). */
  function nav(path, label, roles) { menu.push({ path, label, roles }); }
  const allowed = (roles) => !roles || (user && roles.includes(user.role));

  function header() {
    const top = document.getElementById('top');
    R.render(top,
      h('a.brand', { href: '/console' }, t('console.title')),
      user ? h('nav', { 'aria-label': 'menu' },
        menu.filter((m) => allowed(m.roles)).map((m) => h('a', { href: m.path, 'aria-current': location.pathname === m.path ? 'page' : null }, t(m.label)))) : null,
      user ? h('span.who', t('signed.in', { user: user.username, role: t('role.' + user.role) })) : null,
      user ? h('button.link', { type: 'button', on: { click: logout } }, t('logout')) : null,
      R.langSwitch());
    R.render(document.getElementById('foot'), h('a', { href: '/' }, t('nav.public')));
  }

  async function logout() {
    try { await R.api('POST', '/v1/auth/logout'); } catch (_) { /* the cookie goes either way */ }
    user = null;
    R.setCsrf(null);
    R.navigate('/console/login');
  }

  function loginPage() {
    header();
    const form = h('form#login-form', { method: 'post', action: '/console/login' },
      R.formStatus(),
      R.field(t('login.username'), 'username', { required: true, autocomplete: 'username' }),
      R.field(t('login.password'), 'password', { type: 'password', required: true, autocomplete: 'current-password' }),
      h('div.actions', h('button#login-submit', { type: 'submit' }, t('login.submit'))));
    R.onSubmit(form, async (f) => {
      try {
        const s = await R.api('POST', '/v1/auth/session', { username: R.val(f, 'username') || '', password: f.elements.password.value });
        user = s.user;
        R.setCsrf(s.csrf_token);
        const next = new URLSearchParams(location.search).get('next');
        R.navigate(next && next.startsWith('/console') ? next : '/console');
      } catch (p) {
        if (p.status === 401) throw new R.Problem(422, { detail: t('login.failed'), errors: [] });
        throw p;
      }
    });
    R.page(t('login.title'), form);
    form.elements.username.focus();
  }

  async function dashboard() {
    const main = R.page(t('dash.title'), R.notice(t('loading'), 'info'));
    const funds = await R.api('GET', '/v1/funds?limit=200');
    if (!funds.items.length) { R.render(main, h('h1', t('dash.title')), R.notice(t('dash.none'), 'info')); return; }
    const rows = await Promise.all(funds.items.map(async (f) => {
      const b = await R.api('GET', `/v1/funds/${f.id}/balances`);
      return [f, b.balances];
    }));
    R.render(main, h('h1', t('dash.title')),
      h('ul.cards#fund-cards', rows.map(([f, balances]) => h('li.card', { 'data-fund-id': f.id },
        h('h2', h('a', { href: `/funds/${f.id}` }, f.name)),
        h('p.muted', `${t('dash.unit')}: ${f.unit.code} (${f.unit.edition}) · ${t('dash.entries')}: ${R.fmtNumber(f.chain_seq)}`),
        R.table('', [t('dash.asset'), t('dash.posted'), t('dash.reserved'), t('dash.available')],
          balances.map((b) => [b.asset, R.fmtNumber(b.posted), R.fmtNumber(b.reserved), R.fmtNumber(b.available)]), [1, 2, 3])))));
  }

  /** Draws the page for the current path; without a session, the login page. */
  async function draw() {
    const path = location.pathname.replace(/\/+$/, '') || '/console';
    if (path === '/console/login') { loginPage(); return; }
    if (!user) {
      try {
        const s = await R.api('GET', '/v1/auth/session');
        user = s.user;
        R.setCsrf(s.csrf_token);
      } catch (p) {
        // A 401 has already brought the login page (the onUnauthorized hook below).
        if (p.status !== 401) R.page(t('site.name'), R.notice(R.problemText(p)));
        return;
      }
    }
    header();
    try {
      if (path === '/console') { await dashboard(); return; }
      for (const [re, roles, render] of pages) {
        const m = re.exec(path);
        if (m && allowed(roles)) { await render(...m.slice(1).map(decodeURIComponent)); return; }
      }
      R.page(t('page.missing'));
    } catch (p) {
      if (p.status !== 401) R.page(t('site.name'), R.notice(R.problemText(p)));
    }
  }

  // A session that ends (expired, or the user disabled) sends the user back to the login page.
  R.onUnauthorized.push(() => {
    if (location.pathname === '/console/login') return;
    user = null;
    R.setCsrf(null);
    history.replaceState(null, '', '/console/login?next=' + encodeURIComponent(location.pathname + location.search));
    loginPage();
  });

  document.addEventListener('DOMContentLoaded', () => {
    R.interceptLinks((p) => p === '/console' || p.startsWith('/console/'), draw);
    draw();
  });

  return { page, nav, get user() { return user; }, draw };
})();
