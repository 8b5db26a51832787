// The public transparency site at /: no login, only the public API (/v1/public/...).
'use strict';

(() => {
  const { h, t } = R;
  R.strings({
    vi: { 'site.name': 'Minh bạch quỹ cứu trợ', 'home.title': 'Tiền cứu trợ đi đâu' },
    en: { 'site.name': 'Relief fund transparency', 'home.title': 'Where the relief money went' },
  });

  function header() {
    R.render(document.getElementById('top'), h('a.brand', { href: '/' }, t('site.name')), R.langSwitch());
  }

  async function home() {
    R.page(t('home.title'));
  }

  async function draw() {
    header();
    const ok = await R.route([[/^\/$/, home]], location.pathname);
    if (!ok) R.page(t('error.notfound'));
  }

  document.addEventListener('DOMContentLoaded', () => {
    R.interceptLinks((p) => p === '/' || /^\/(funds|campaigns|incidents)\//.test(p), draw);
    draw();
  });
})();
