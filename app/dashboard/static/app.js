// capital-tracker dashboard: a page over the public API (/api/v1), with the key the user pastes
// in, kept in this tab's sessionStorage and sent only in the Authorization header. Amounts stay
// the API's decimal strings; they are formatted with BigInt arithmetic on fen, never floats.
// Nothing is loaded from anywhere but the app; the page builds its DOM with textContent only.
(() => {
  'use strict';

  const WORDS = JSON.parse(document.getElementById('ctk-words').textContent);
  const STORE = { key: 'capital-tracker.key', lang: 'capital-tracker.lang',
    unit: 'capital-tracker.unit', asOf: 'capital-tracker.as-of', programme: 'capital-tracker.programme' };
  const SEVERITY_ORDER = ['critical', 'high', 'medium', 'low'];
  const FLAGS = ['over_budget', 'forecast_over', 'needs_revision', 'behind_schedule'];
  const PAGE_SIZE = 500;

  // The page's own words; the enumerations' Chinese words come from the server (WORDS).
  const T = {
    zh: {
      title: '项目资金监管', skip: '跳到正文', nav: '主导航', overview: '总览', projects: '项目',
      as_of: '截至', forget_key: '退出', login_title: '输入 API 密钥',
      login_help: '密钥只保存在本标签页（sessionStorage），退出或关闭标签页后清除（浏览器恢复标签页时可能一并恢复，公用电脑请点“退出”）；不会出现在网址或日志中。',
      key_label: 'API 密钥', enter: '进入', other_lang: 'English', unit_wan: '金额单位：万元',
      unit_yuan: '金额单位：元', wan: '万元', yuan: '元', loading: '加载中…',
      loaded: '数据截至 {as_of}', bad_key: '密钥无效或已撤销，请重新输入。',
      original_estimate: '概算', revised_estimate: '调整后概算', committed: '已签合同额',
      disbursed: '已拨付', remaining: '剩余概算', financial_completion: '资金完成率',
      physical_completion: '实物完成率', planned_completion: '计划完成率', spi: 'SPI', cpi: 'CPI',
      ev: '挣值 EV', pv: '计划值 PV', ac: '实际成本 AC', eac: '完工估算 EAC',
      no_measure: '无进度计量', by_plan_item: '按专栏：概算与拨付', by_category: '按建设类别：概算与拨付',
      alerts: '预警', no_alerts: '没有预警。', open_project: '查看项目', due_on: '期限',
      download: '下载', csv: 'CSV', xlsx: 'XLSX', portfolio_export: '项目汇总',
      category_export: '按类别汇总', alerts_export: '预警', table_export: '项目表',
      report_export: '项目报表', timeseries_export: 'S 曲线数据', payments_export: '支付明细',
      dues_export: '应付款', code: '编号', name: '名称', category: '建设类别', status: '状态',
      site: '学校/地点', flags: '标记', all: '全部', any_flag: '任一标记', search: '搜索编号或名称',
      shown: '显示 {shown} / {total} 个项目', group: '分组', projects_count: '项目数',
      project_table: '项目表', back: '返回项目表', facts: '基本情况', stages: '学段',
      planned_start: '计划开工', planned_finish: '计划完工', sites: '学校/地点',
      s_curve: 'S 曲线（累计，{unit}）', s_curve_none: '尚无计划、支付或进度，无法绘制 S 曲线。',
      chart_data: '图表数据', period: '期间', budget_lines: '概算明细', funding: '资金来源',
      planned: '计划', contracts: '合同', contract_no: '合同编号', contractor: '承包单位',
      signed_on: '签订日期', paid: '已付', retention_held: '质保金（扣留）',
      retention_release: '质保金退还日', payable_now: '当前可付', milestones: '里程碑',
      weight: '权重', planned_date: '计划日期', actual_date: '实际日期', percent: '完成百分比',
      certified: '已确认金额', certified_on: '确认日期', history: '进度记录',
      no_history: '尚无进度记录。', payments: '支付明细', paid_on: '支付日期', voucher: '凭证号',
      kind: '类型', payee: '收款人', amount: '金额', memo: '摘要', reversed: '已冲销',
      none: '无', my_contracts: '我的合同与里程碑', my_projects: '我的项目',
      report_progress: '报告进度', progress_as_of: '进度日期', note: '说明', submit: '提交',
      reported: '已报告 {code} 进度 {percent}%。', estimate: '概算', no_rows: '没有记录。',
      no_projects: '没有符合条件的项目。', programme: '规划', yes: '是', list_sep: '、',
      offline: '无法连接服务，请检查网络后重试。', future: '截至日期不能晚于今天（{today}）。',
      current_note: '合同和里程碑为当前数据，不随截至日期变化。', all_projects: '全部项目，按编号排序',
    },
    en: {
      title: 'Capital works tracker', skip: 'Skip to content', nav: 'Main', overview: 'Overview',
      projects: 'Projects', as_of: 'As of', forget_key: 'Sign out', login_title: 'Enter an API key',
      login_help: 'The key is kept in this tab only (sessionStorage) and cleared by Sign out or '
        + 'when the tab closes (a browser that restores tabs may restore it: on a shared computer, '
        + 'sign out); it never appears in an address or a log.',
      key_label: 'API key', enter: 'Enter', other_lang: '中文', unit_wan: 'Amounts in 万元 (10k yuan)',
      unit_yuan: 'Amounts in yuan', wan: '万元', yuan: 'yuan', loading: 'Loading…',
      loaded: 'Figures as of {as_of}', bad_key: 'The key is not valid or was revoked; enter it again.',
      original_estimate: 'Approved estimate (概算)', revised_estimate: 'Revised estimate',
      committed: 'Committed', disbursed: 'Disbursed', remaining: 'Remaining',
      financial_completion: 'Financial completion', physical_completion: 'Physical completion',
      planned_completion: 'Planned completion', spi: 'SPI', cpi: 'CPI', ev: 'Earned value EV',
      pv: 'Planned value PV', ac: 'Actual cost AC', eac: 'Estimate at completion',
      no_measure: 'no progress measure', by_plan_item: 'Budget and disbursed by plan item',
      by_category: 'Budget and disbursed by category', alerts: 'Alerts', no_alerts: 'No alerts.',
      open_project: 'Open project', due_on: 'due', download: 'Download', csv: 'CSV', xlsx: 'XLSX',
      portfolio_export: 'Portfolio', category_export: 'By category', alerts_export: 'Alerts',
      table_export: 'Project table', report_export: 'Project report',
      timeseries_export: 'S-curve data', payments_export: 'Payments', dues_export: 'Dues',
      code: 'Code', name: 'Name', category: 'Category', status: 'Status', site: 'Site',
      flags: 'Flags', all: 'All', any_flag: 'Any flag', search: 'Search code or name',
      shown: '{shown} of {total} projects shown', group: 'Group', projects_count: 'Projects',
      project_table: 'Project table', back: 'Back to the project table', facts: 'Facts',
      stages: 'Stages', planned_start: 'Planned start', planned_finish: 'Planned finish',
      sites: 'Sites', s_curve: 'S-curve (cumulative, {unit})',
      s_curve_none: 'No plan, payments or progress yet: no S-curve to draw.',
      chart_data: 'Chart data', period: 'Period', budget_lines: 'Budget lines',
      funding: 'Funding sources', planned: 'Planned', contracts: 'Contracts',
      contract_no: 'Contract', contractor: 'Contractor', signed_on: 'Signed', paid: 'Paid',
      retention_held: 'Retention held', retention_release: 'Retention release',
      payable_now: 'Payable now', milestones: 'Milestones', weight: 'Weight',
      planned_date: 'Planned', actual_date: 'Actual', percent: 'Percent complete',
      certified: 'Certified', certified_on: 'Certified on', history: 'Progress history',
      no_history: 'No progress reported yet.', payments: 'Payments', paid_on: 'Paid on',
      voucher: 'Voucher', kind: 'Kind', payee: 'Payee', amount: 'Amount', memo: 'Memo',
      reversed: 'Reversed', none: 'none', my_contracts: 'My contracts and milestones',
      my_projects: 'My projects', report_progress: 'Report progress',
      progress_as_of: 'Progress as of', note: 'Note', submit: 'Submit',
      reported: 'Progress of {code} reported: {percent}%.', estimate: 'Estimate',
      no_rows: 'Nothing yet.', no_projects: 'No project matches.', programme: 'Programme',
      yes: 'yes', list_sep: ', ',
      offline: 'The service cannot be reached; check the network and try again.',
      future: 'The as-of date cannot be after today ({today}).',
      current_note: 'Contracts and milestones are as they stand today, whatever the as-of date.',
      all_projects: 'every project, by code',
    },
  };

  const state = {
    key: sessionStorage.getItem(STORE.key) || '',
    lang: sessionStorage.getItem(STORE.lang) || 'zh',
    unit: sessionStorage.getItem(STORE.unit) || 'wan',
    asOf: sessionStorage.getItem(STORE.asOf) || '',
    programme: sessionStorage.getItem(STORE.programme) || '',
    me: null,
    programmes: null,
    table: { sort: 'code', dir: 'ascending', category: '', status: '', site: '', flag: '', q: '' },
    lastRoute: null,
    renders: 0,
  };

  const $ = (id) => document.getElementById(id);
  const t = (name, fields = {}) => (T[state.lang][name] ?? name)
    .replace(/\{(\w+)\}/g, (_, field) => String(fields[field] ?? ''));

  // ---- Elements ---------------------------------------------------------------------------
  function h(tag, attrs = {}, ...children) {
    const el = tag === 'svg' || SVG_TAGS.has(tag)
      ? document.createElementNS('http://www.w3.org/2000/svg', tag)
      : document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
      else el.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }
  const SVG_TAGS = new Set(['g', 'line', 'polyline', 'rect', 'text', 'title', 'desc']);

  // ---- Exact numbers ----------------------------------------------------------------------
  // An amount string of the API ("-1234.5", "454004000.00") as fen.
  function fen(text) {
    const m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(String(text));
    if (!m) throw new Error(`not an amount: ${text}`);
    const value = BigInt(m[2]) * 100n + BigInt((m[3] || '').padEnd(2, '0'));
    return m[1] ? -value : value;
  }
  const thousands = (digits) => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  function hundredths(value) { // a BigInt count of hundredths as "1,234.56"
    const negative = value < 0n;
    const abs = negative ? -value : value;
    const text = `${thousands((abs / 100n).toString())}.${(abs % 100n).toString().padStart(2, '0')}`;
    return negative ? `-${text}` : text;
  }
  const yuanText = (amount) => hundredths(fen(amount));
  // 万元 with two decimals: a decimal shift rounded half away from zero once, as the
  // exports' unit=wan does (docs/REPORTS.md).
  function wanText(amount) {
    const value = fen(amount);
    const abs = value < 0n ? -value : value;
    let q = abs / 10000n;
    if ((abs % 10000n) * 2n >= 10000n) q += 1n;
    // The sign stays even when the rounded figure is 0 (-0.01 元 is -0.00 万元, as exported).
    const shown = hundredths(q);
    return value < 0n ? `-${shown}` : shown;
  }
  const unitName = () => (state.unit === 'wan' ? t('wan') : t('yuan'));
  function money(amount) {
    if (amount === null || amount === undefined) return h('span', { class: 'muted' }, '—');
    const shown = state.unit === 'wan' ? wanText(amount) : yuanText(amount);
    return h('span', { class: 'money', 'data-yuan': amount, title: `${yuanText(amount)} 元` }, shown);
  }
  // A share ("0.3893") as a percentage ("38.93%"), by moving the point: exact.
  function percent(share) {
    if (share === null || share === undefined) return '—';
    const m = /^(-?)(\d+)(?:\.(\d*))?$/.exec(String(share));
    if (!m) return String(share);
    const decimals = (m[3] || '').padEnd(2, '0');
    const whole = (BigInt(m[2]) * 100n + BigInt(decimals.slice(0, 2))).toString();
    const rest = decimals.slice(2);
    return `${m[1]}${whole}${rest ? `.${rest}` : ''}%`;
  }
  // A decimal string as a BigInt scaled by 10^6, for sorting.
  function sortable(text) {
    if (text === null || text === undefined) return null;
    const m = /^(-?)(\d+)(?:\.(\d*))?$/.exec(String(text));
    if (!m) return null;
    const value = BigInt(m[2]) * 1000000n + BigInt((m[3] || '').slice(0, 6).padEnd(6, '0'));
    return m[1] ? -value : value;
  }

  // The word for an enumeration's value: Chinese from the server's labels, English its code.
  function word(kind, code) {
    if (code === null || code === undefined) return '—';
    if (state.lang === 'zh') return (WORDS[kind] && WORDS[kind][code]) || code;
    const text = String(code).replace(/_/g, ' ');
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  // ---- The API ----------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, problem) {
      super(problem.detail || problem.title || `HTTP ${status}`);
      this.status = status;
      this.problem = problem;
    }
  }

  async function api(path, params = {}, options = {}) {
    const url = new URL(`api/v1/${path}`, document.baseURI);
    for (const [name, value] of Object.entries(params)) {
      if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, value);
    }
    const headers = { Authorization: `Bearer ${state.key}` };
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    let response;
    try {
      response = await fetch(url, {
        method: options.method || 'GET',
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        cache: 'no-store',
        credentials: 'omit',
      });
    } catch {
      throw new ApiError(0, { title: t('offline') });
    }
    if (!response.ok) {
      const problem = await response.json().catch(() => ({ title: response.statusText }));
      if (response.status === 401) {
        forgetKey(t('bad_key'));
        throw new ApiError(401, { title: t('bad_key') });
      }
      throw new ApiError(response.status, problem);
    }
    return options.raw ? response : response.json();
  }

  // Every page of a list endpoint.
  async function all(path, params = {}) {
    const items = [];
    for (let offset = 0; ; offset += PAGE_SIZE) {
      const page = await api(path, { ...params, limit: PAGE_SIZE, offset });
      items.push(...page.items);
      if (items.length >= page.total || page.items.length === 0) return items;
    }
  }

  // An export of the API saved as a file: fetched with the key in its header (never in the
  // address), then handed to the browser as a download.
  async function download(path, params, format) {
    try {
      const response = await api(path, { ...params, format }, { raw: true });
      const disposition = response.headers.get('Content-Disposition') || '';
      const match = /filename="([^"]+)"/.exec(disposition);
      const blob = await response.blob();
      const link = h('a', { href: URL.createObjectURL(blob), download: match ? match[1] : `export.${format}` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 60000);
    } catch (error) {
      showProblem(error);
    }
  }

  function downloads(label, path, params) {
    return h('div', { class: 'downloads', role: 'group', 'aria-label': `${t('download')}: ${label}` },
      ['csv', 'xlsx'].map((format) => h('button', {
        type: 'button',
        class: 'download',
        'data-export': `${path}:${format}`,
        onclick: () => download(path, params, format),
      }, `${label} ${t(format)}`)));
  }

  // Report exports in the unit on screen; JSON keeps 元.
  const reportParams = (params) => ({ ...params, lang: state.lang, unit: state.unit === 'wan' ? 'wan' : undefined });

  // ---- Status, problems -------------------------------------------------------------------
  function setStatus(text) { $('status').textContent = text; }
  function showProblem(error) {
    const box = $('problem');
    box.replaceChildren();
    if (!error) { box.hidden = true; return; }
    const problem = error.problem || { title: String(error.message || error) };
    box.append(h('strong', {}, problem.title || ''), problem.detail ? ` ${problem.detail}` : '');
    if (Array.isArray(problem.errors) && problem.errors.length) {
      box.append(h('ul', {}, problem.errors.map((e) => h('li', {}, `${e.field}: ${e.message}`))));
    }
    box.hidden = false;
  }

  // ---- Chrome: language, unit, as-of, key ---------------------------------------------------
  function applyChrome() {
    document.documentElement.lang = state.lang === 'zh' ? 'zh-CN' : 'en';
    document.title = t('title');
    for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
    for (const el of document.querySelectorAll('[data-t-aria]')) el.setAttribute('aria-label', t(el.dataset.tAria));
    for (const id of ['lang-switch', 'lang-switch-login']) {
      $(id).textContent = t('other_lang');
      $(id).lang = state.lang === 'zh' ? 'en' : 'zh-CN';
    }
    $('unit-switch').textContent = state.unit === 'wan' ? t('unit_wan') : t('unit_yuan');
    $('unit-switch').setAttribute('aria-pressed', state.unit === 'wan' ? 'true' : 'false');
    $('as-of').value = state.asOf;
    $('as-of').max = today();
    const signedIn = Boolean(state.key);
    $('nav').hidden = !signedIn;
    $('controls').hidden = !signedIn;
    $('controls-login').hidden = signedIn;
    $('login').hidden = signedIn;
  }

  // Today in the service's time zone, as the page was served: the date the API calls today.
  const today = () => document.body.dataset.today;

  function forgetKey(message) {
    state.renders += 1; // a page still loading for the old key is never shown
    state.key = '';
    state.me = null;
    state.programmes = null;
    state.asOf = '';
    sessionStorage.removeItem(STORE.key);
    sessionStorage.removeItem(STORE.asOf);
    $('view').replaceChildren();
    $('programme-name').textContent = '';
    setStatus('');
    applyChrome();
    showProblem(message ? { problem: { title: message } } : null);
  }

  function switchLanguage() {
    state.lang = state.lang === 'zh' ? 'en' : 'zh';
    sessionStorage.setItem(STORE.lang, state.lang);
    render();
  }

  // ---- Charts (SVG drawn here: no chart library, nothing fetched) -------------------------
  // Lengths on screen only: an amount's share of the largest, in whole pixels, from fen.
  const scale = (amount, largest, pixels) => (largest > 0n
    ? Number((fen(amount) < 0n ? 0n : fen(amount)) * BigInt(pixels) / largest) : 0);
  const largestOf = (amounts) => amounts.filter((a) => a !== null && a !== undefined)
    .map(fen).reduce((a, b) => (b > a ? b : a), 0n);

  function barChart(groups, titleText) {
    const rowHeight = 44;
    const width = 480;
    const barsFrom = 8;
    const barsWidth = 280;
    const largest = largestOf(groups.flatMap((g) => [g.revised_estimate, g.disbursed]));
    const svg = h('svg', {
      class: 'chart bars', viewBox: `0 0 ${width} ${rowHeight * groups.length + 8}`, role: 'img',
      'aria-label': titleText,
    }, h('title', {}, titleText));
    groups.forEach((group, index) => {
      const y = index * rowHeight + 4;
      const budget = scale(group.revised_estimate, largest, barsWidth);
      const paid = scale(group.disbursed, largest, barsWidth);
      svg.append(
        h('text', { x: barsFrom, y: y + 11 }, `${group.label}`),
        h('rect', { class: 'bar budget', x: barsFrom, y: y + 16, width: Math.max(budget, 1), height: 10 }),
        h('rect', { class: 'bar disbursed', x: barsFrom, y: y + 28, width: Math.max(paid, 1), height: 10 }),
        h('text', { x: barsFrom + Math.max(budget, paid) + 6, y: y + 36 },
          `${money(group.disbursed).textContent} / ${money(group.revised_estimate).textContent}`),
      );
    });
    const data = h('table', {},
      h('caption', {}, `${t('chart_data')} (${unitName()})`),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('group')),
        ['revised_estimate', 'disbursed'].map((name) => h('th', { scope: 'col', class: 'num' }, t(name))),
        h('th', { scope: 'col', class: 'num' }, t('financial_completion')))),
      h('tbody', {}, groups.map((g) => h('tr', {}, h('th', { scope: 'row' }, g.label),
        h('td', { class: 'num' }, money(g.revised_estimate)), h('td', { class: 'num' }, money(g.disbursed)),
        h('td', { class: 'num' }, percent(g.financial_completion))))));
    return h('figure', {},
      h('ul', { class: 'legend' }, h('li', { class: 'budget' }, t('revised_estimate')),
        h('li', { class: 'disbursed' }, t('disbursed'))),
      svg,
      h('details', {}, h('summary', {}, t('chart_data')), h('div', { class: 'table-wrap' }, data)));
  }

  function sCurve(points, code) {
    const series = ['pv', 'ev', 'ac'].filter((name) => points.some((p) => p[name] !== null));
    const width = 720;
    const height = 300;
    const left = 70;
    const bottom = 30;
    const top = 10;
    const right = 40;
    const plotWidth = width - left - right;
    const plotHeight = height - top - bottom;
    const largest = largestOf(points.flatMap((p) => [p.pv, p.ev, p.ac, p.bac]));
    const x = (i) => left + (points.length > 1 ? Math.round((i * plotWidth) / (points.length - 1)) : 0);
    const y = (amount) => top + plotHeight - scale(amount, largest, plotHeight);
    const titleText = `${code} ${t('s_curve', { unit: unitName() })}`;
    const svg = h('svg', {
      class: 'chart s-curve', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': titleText,
    }, h('title', {}, titleText));
    for (let quarter = 0; quarter <= 4; quarter += 1) {
      const level = top + plotHeight - Math.round((quarter * plotHeight) / 4);
      const amountFen = (largest * BigInt(quarter)) / 4n;
      const amount = `${amountFen / 100n}.${(amountFen % 100n).toString().padStart(2, '0')}`;
      svg.append(h('line', { class: 'grid', x1: left, x2: width - right, y1: level, y2: level }),
        h('text', { x: left - 6, y: level + 4, 'text-anchor': 'end' }, money(amount).textContent));
    }
    svg.append(h('line', { class: 'axis', x1: left, x2: left, y1: top, y2: top + plotHeight }),
      h('line', { class: 'axis', x1: left, x2: width - right, y1: top + plotHeight, y2: top + plotHeight }));
    const every = Math.max(1, Math.ceil(points.length / 8));
    points.forEach((point, i) => {
      // Every few periods, and the last one unless it would overlap the one before it.
      const last = i === points.length - 1;
      if ((i % every === 0 && (last || points.length - 1 - i >= every)) || last) {
        svg.append(h('text', { x: x(i), y: height - 8, 'text-anchor': 'middle' }, point.period));
      }
    });
    for (const name of series) {
      const coordinates = points.map((p, i) => (p[name] === null ? null : `${x(i)},${y(p[name])}`))
        .filter(Boolean).join(' ');
      svg.append(h('polyline', { class: `series ${name}`, 'data-series': name, points: coordinates },
        h('title', {}, t(name))));
    }
    const table = h('table', {},
      h('caption', {}, `${t('chart_data')} (${unitName()})`),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('period')),
        series.map((name) => h('th', { scope: 'col', class: 'num' }, t(name))))),
      h('tbody', {}, points.map((p) => h('tr', {}, h('th', { scope: 'row' }, p.period),
        series.map((name) => h('td', { class: 'num' }, money(p[name])))))));
    return h('figure', {},
      h('ul', { class: 'legend' }, series.map((name) => h('li', { class: name }, t(name)))),
      svg,
      h('details', {}, h('summary', {}, t('chart_data')), h('div', { class: 'table-wrap' }, table)));
  }

  // ---- Tables -----------------------------------------------------------------------------
  // columns: [{ label, num?, cell(row) }]
  function table(caption, columns, rows, attrs = {}) {
    if (!rows.length) return h('p', { class: 'muted' }, t('no_rows'));
    return h('div', { class: 'table-wrap' }, h('table', attrs,
      caption ? h('caption', {}, caption) : null,
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label)))),
      h('tbody', {}, rows.map((row) => h('tr', {}, columns.map((c) => h('td', { class: c.num ? 'num' : c.date ? 'date' : null }, c.cell(row))))))));
  }
  const flagBadges = (flags) => FLAGS.filter((f) => flags[f]).map((f) => h('span', { class: `badge ${f}`, 'data-flag': f }, word('flag', f)));
  const projectLink = (code, text) => h('a', { href: `#/projects/${encodeURIComponent(code)}` }, text || code);

  function card(name, value) {
    return h('div', { class: 'card', 'data-figure': name }, h('div', { class: 'name' }, t(name)),
      h('div', { class: 'value' }, value));
  }
  const amountCard = (name, amount) => card(name, [money(amount), h('span', { class: 'unit' }, unitName())]);
  // The figures of a report (a project's, or a portfolio's totals), then any others.
  const figureCards = (figures, ...more) => h('div', { class: 'cards', id: 'figures' },
    ['original_estimate', 'revised_estimate', 'committed', 'disbursed', 'remaining']
      .map((name) => amountCard(name, figures[name])),
    card('financial_completion', percent(figures.financial_completion)),
    card('physical_completion', figures.physical_completion === null ? t('no_measure') : percent(figures.physical_completion)),
    more);

  // ---- Views ------------------------------------------------------------------------------
  const put = (el, ...children) => el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));

  async function overview(view) {
    const chosen = programme();
    const params = { programme: chosen ? chosen.code : undefined, as_of: state.asOf };
    const [byItem, byCategory, alerts] = await Promise.all([
      api('reports/portfolio', { ...params, group_by: 'plan_item', lang: state.lang }),
      api('reports/portfolio', { ...params, group_by: 'category', lang: state.lang }),
      api('reports/alerts', { as_of: state.asOf, lang: state.lang }),
    ]);
    const totals = byItem.totals;
    // The alerts cover every programme the key sees; with several, those of the one shown.
    const codes = state.programmes.length > 1
      ? new Set((await all('projects', { programme: params.programme })).map((p) => p.code)) : null;
    const sorted = alerts.alerts.filter((a) => !codes || !a.project_code || codes.has(a.project_code)).sort((a, b) => SEVERITY_ORDER.indexOf(a.severity) - SEVERITY_ORDER.indexOf(b.severity));
    const categories = byCategory.groups.map((g) => ({ ...g, label: word('category', g.key) }));
    put(view, 
      h('h1', { tabindex: '-1' }, `${t('overview')}${chosen ? ` · ${chosen.name}` : ''}`),
      figureCards(totals),
      downloads(t('portfolio_export'), 'reports/portfolio', reportParams({ ...params, group_by: 'plan_item' })),
      h('div', { class: 'two' },
        h('section', { 'aria-labelledby': 'by-item' }, h('h2', { id: 'by-item' }, t('by_plan_item')),
          barChart(byItem.groups, t('by_plan_item'))),
        h('section', { 'aria-labelledby': 'by-category' }, h('h2', { id: 'by-category' }, t('by_category')),
          barChart(categories, t('by_category')),
          downloads(t('category_export'), 'reports/portfolio', reportParams({ ...params, group_by: 'category' })))),
      h('section', { 'aria-labelledby': 'alerts-heading' },
        h('h2', { id: 'alerts-heading' }, `${t('alerts')} (${sorted.length})`),
        sorted.length ? h('ul', { class: 'alerts', id: 'alerts' }, sorted.map((alert) => h('li', { 'data-severity': alert.severity },
          h('span', { class: `badge ${alert.severity}` }, word('severity', alert.severity)),
          h('span', { class: `badge ${alert.kind}` }, word('alert_kind', alert.kind)), ' ',
          alert.message, ' ',
          alert.due_on ? h('span', { class: 'muted' }, `(${t('due_on')} ${alert.due_on}) `) : null,
          alert.project_code ? projectLink(alert.project_code, `${t('open_project')} ${alert.project_code}`) : null)))
          : h('p', {}, t('no_alerts')),
        downloads(t('alerts_export'), 'reports/alerts', reportParams({ as_of: state.asOf }))),
    );
    return byItem.as_of;
  }

  const TABLE_COLUMNS = [
    { key: 'code', label: 'code', sort: (r) => r.code },
    { key: 'name', label: 'name', sort: (r) => r.name },
    { key: 'category', label: 'category', sort: (r) => word('category', r.category) },
    { key: 'status', label: 'status', sort: (r) => word('status', r.status) },
    { key: 'sites', label: 'site', sort: (r) => r.sites.join(t('list_sep')) },
    { key: 'revised_estimate', label: 'revised_estimate', num: true, amount: true },
    { key: 'committed', label: 'committed', num: true, amount: true },
    { key: 'disbursed', label: 'disbursed', num: true, amount: true },
    { key: 'financial_completion', label: 'financial_completion', num: true, share: true },
    { key: 'physical_completion', label: 'physical_completion', num: true, share: true },
    { key: 'spi', label: 'spi', num: true },
    { key: 'flags', label: 'flags', sort: (r) => r.flagCount },
  ];

  async function projectTable(view) {
    const chosen = programme();
    const params = { programme: chosen ? chosen.code : undefined, as_of: state.asOf };
    const [report, projects] = await Promise.all([
      api('reports/portfolio', { ...params, group_by: 'project', lang: state.lang }),
      all('projects', { programme: params.programme }),
    ]);
    const byCode = new Map(projects.map((p) => [p.code, p]));
    const rows = report.groups.map((group) => {
      const project = byCode.get(group.key) || { category: null, status: null, sites: [] };
      const flags = Object.fromEntries(FLAGS.map((f) => [f, group.flags[f] > 0]));
      return { ...group, code: group.key, name: group.label, category: project.category,
        status: project.status, sites: project.sites.map((s) => s.name), flags,
        flagCount: FLAGS.filter((f) => flags[f]).length };
    });
    const options = (values, kind) => [...new Set(values.filter(Boolean))].sort()
      .map((v) => h('option', { value: v }, kind ? word(kind, v) : v));
    const filter = (name, label, choices) => {
      const select = h('select', { id: `filter-${name}`, onchange: (e) => { state.table[name] = e.target.value; fill(); } },
        h('option', { value: '' }, t('all')), choices);
      select.value = state.table[name];
      return h('label', {}, label, select);
    };
    const body = h('tbody');
    const caption = h('caption', { id: 'table-count' });
    const head = h('tr');
    const tableEl = h('table', { id: 'project-table' }, caption, h('thead', {}, head), body);

    function fill() {
      const s = state.table;
      const q = s.q.trim().toLowerCase();
      const shown = rows.filter((r) => (!s.category || r.category === s.category)
        && (!s.status || r.status === s.status) && (!s.site || r.sites.includes(s.site))
        && (!s.flag || (s.flag === 'any' ? r.flagCount > 0 : r.flags[s.flag]))
        && (!q || r.code.toLowerCase().includes(q) || r.name.toLowerCase().includes(q)));
      const column = TABLE_COLUMNS.find((c) => c.key === s.sort) || TABLE_COLUMNS[0];
      const key = column.sort || ((r) => sortable(r[column.key]));
      const direction = s.dir === 'ascending' ? 1 : -1;
      shown.sort((a, b) => {
        const ka = key(a);
        const kb = key(b);
        if (ka === null || kb === null) return ka === kb ? 0 : ka === null ? 1 : -1;
        if (typeof ka === 'bigint') return (ka < kb ? -1 : ka > kb ? 1 : 0) * direction;
        if (typeof ka === 'number') return (ka - kb) * direction;
        return String(ka).localeCompare(String(kb), state.lang === 'zh' ? 'zh-CN' : 'en', { numeric: true }) * direction;
      });
      head.replaceChildren(...TABLE_COLUMNS.map((c) => h('th', {
        scope: 'col', class: c.num ? 'num' : null, 'aria-sort': c.key === s.sort ? s.dir : null,
      }, h('button', {
        type: 'button', 'data-sort': c.key,
        onclick: () => {
          s.dir = s.sort === c.key && s.dir === 'ascending' ? 'descending' : 'ascending';
          s.sort = c.key;
          fill();
          tableEl.querySelector(`[data-sort="${c.key}"]`).focus();
        },
      }, c.amount ? `${t(c.label)}（${unitName()}）` : t(c.label)))));
      body.replaceChildren(...shown.map((r) => h('tr', { 'data-code': r.code },
        h('td', {}, projectLink(r.code)), h('td', {}, r.name), h('td', {}, word('category', r.category)),
        h('td', {}, word('status', r.status)), h('td', {}, r.sites.join(t('list_sep')) || '—'),
        h('td', { class: 'num' }, money(r.revised_estimate)), h('td', { class: 'num' }, money(r.committed)),
        h('td', { class: 'num' }, money(r.disbursed)), h('td', { class: 'num' }, percent(r.financial_completion)),
        h('td', { class: 'num' }, percent(r.physical_completion)), h('td', { class: 'num' }, r.spi ?? '—'),
        h('td', {}, flagBadges(r.flags)))));
      caption.textContent = shown.length ? t('shown', { shown: shown.length, total: rows.length }) : t('no_projects');
    }

    const flagChoices = [h('option', { value: 'any' }, t('any_flag')),
      ...FLAGS.map((f) => h('option', { value: f }, word('flag', f)))];
    put(view, 
      h('h1', { tabindex: '-1' }, t('project_table')),
      h('div', { class: 'filters' },
        filter('category', t('category'), options(rows.map((r) => r.category), 'category')),
        filter('status', t('status'), options(rows.map((r) => r.status), 'status')),
        filter('site', t('site'), options(rows.flatMap((r) => r.sites))),
        filter('flag', t('flags'), flagChoices),
        h('label', {}, t('search'), h('input', {
          type: 'search', id: 'filter-q', value: state.table.q,
          oninput: (e) => { state.table.q = e.target.value; fill(); },
        }))),
      h('div', { class: 'table-wrap' }, tableEl),
      h('p', { class: 'muted' }, `${t('table_export')}: ${t('all_projects')}`),
      downloads(t('table_export'), 'reports/portfolio', reportParams({ ...params, group_by: 'project' })),
    );
    fill();
    return report.as_of;
  }

  // The contracts list with each contractor's name (the caller's own, for a contractor).
  async function named(contracts) {
    const ids = [...new Set(contracts.map((c) => c.contractor_id))];
    const found = await Promise.all(ids.map((id) => api(`contractors/${id}`)));
    const names = new Map(found.map((c) => [c.id, c.name]));
    return contracts.map((c) => ({ ...c, contractor: names.get(c.contractor_id) }));
  }

  // Rows of the project report (as of the date) or of the contracts list (today), by name.
  function contractsTable(contracts) {
    return table(null, [
      { label: t('contract_no'), cell: (c) => c.contract_no },
      { label: t('contractor'), cell: (c) => c.contractor || '—' },
      { label: t('signed_on'), date: true, cell: (c) => c.signed_on },
      { label: `${t('committed')}（${unitName()}）`, num: true, cell: (c) => money(c.committed) },
      { label: `${t('paid')}（${unitName()}）`, num: true, cell: (c) => money(c.paid) },
      { label: `${t('retention_held')}（${unitName()}）`, num: true, cell: (c) => money(c.retention_held) },
      { label: t('retention_release'), date: true, cell: (c) => c.retention_release_date || '—' },
      { label: `${t('payable_now')}（${unitName()}）`, num: true, cell: (c) => money(c.payable_now) },
    ], contracts, { id: 'contracts' });
  }

  function progressForm(milestone, onDone) {
    const id = `m${milestone.id}`;
    const form = h('form', { class: 'progress-form', 'data-milestone-id': milestone.id, 'aria-label': `${t('report_progress')}：${milestone.code} ${milestone.name}` },
      h('label', { for: `${id}-percent` }, t('percent'),
        h('input', { id: `${id}-percent`, name: 'percent_complete', type: 'number', min: '0', max: '100', step: '0.01', required: true, value: milestone.percent_complete ?? '' })),
      h('label', { for: `${id}-as-of` }, t('progress_as_of'),
        h('input', { id: `${id}-as-of`, name: 'as_of', type: 'date', required: true, max: today(), value: today() })),
      h('label', { for: `${id}-note` }, t('note'), h('input', { id: `${id}-note`, name: 'note', type: 'text', maxlength: '2000' })),
      h('button', { type: 'submit' }, t('report_progress')));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const body = { percent_complete: String(data.get('percent_complete')), as_of: String(data.get('as_of')) };
      if (String(data.get('note')).trim()) body.note = String(data.get('note'));
      try {
        await api(`milestones/${milestone.id}/progress`, {}, { method: 'POST', body });
        showProblem(null);
        await onDone(`form[data-milestone-id="${milestone.id}"] button`);
        setStatus(t('reported', { code: milestone.code, percent: body.percent_complete }));
      } catch (error) {
        showProblem(error);
      }
    });
    return form;
  }

  async function milestonesSection(milestones, canReport, onDone) {
    const histories = await Promise.all(milestones.map((m) => api(`milestones/${m.id}/progress`)));
    const history = (entries) => h('details', {}, h('summary', {}, `${t('history')} (${entries.length})`),
      entries.length ? h('ul', {}, entries.map((p) => h('li', {}, `${p.as_of}: ${p.percent_complete}%${p.note ? ` — ${p.note}` : ''}`)))
        : h('p', { class: 'muted' }, t('no_history')));
    const columns = [
      { label: t('milestones'), cell: (m) => `${m.code} ${m.name}` },
      { label: t('weight'), num: true, cell: (m) => m.weight },
      { label: t('planned_date'), date: true, cell: (m) => m.planned_date || '—' },
      { label: t('actual_date'), date: true, cell: (m) => m.actual_date || '—' },
      { label: t('percent'), num: true, cell: (m) => (m.percent_complete === null ? '—' : `${m.percent_complete}%`) },
      { label: `${t('certified')}（${unitName()}）`, num: true, cell: (m) => money(m.certified_amount) },
      { label: t('certified_on'), date: true, cell: (m) => m.certified_on || '—' },
      { label: t('history'), cell: (m) => [history(histories[milestones.indexOf(m)]), canReport ? progressForm(m, onDone) : null] },
    ];
    return table(null, columns, milestones, { id: 'milestones' });
  }

  function paymentsTable(entries) {
    return table(null, [
      { label: t('paid_on'), date: true, cell: (e) => e.paid_on },
      { label: t('voucher'), cell: (e) => e.voucher_no },
      { label: t('kind'), cell: (e) => word('entry_kind', e.kind) },
      { label: t('payee'), cell: (e) => e.payee },
      { label: `${t('amount')}（${unitName()}）`, num: true, cell: (e) => money(e.amount) },
      { label: `${t('reversed')}（${unitName()}）`, num: true, cell: (e) => (e.reversed && fen(e.reversed) !== 0n ? money(e.reversed) : '') },
      { label: t('memo'), cell: (e) => e.memo || '' },
    ], entries, { id: 'payments' });
  }

  async function projectPage(view, code) {
    const staff = state.me.role !== 'contractor';
    const project = await api(`projects/${encodeURIComponent(code)}`);
    const ledgerParams = { project_id: project.id, to: state.asOf, sort: 'paid_on' };
    const [report, series, contracts, milestones, entries] = await Promise.all([
      staff ? api(`projects/${encodeURIComponent(code)}/report`, { as_of: state.asOf, lang: state.lang }) : null,
      staff ? api('reports/timeseries', { project: project.code, interval: 'quarter', as_of: state.asOf }) : null,
      staff ? null : all('contracts', { project_id: project.id }),
      all('milestones', { project_id: project.id }),
      all('disbursements', ledgerParams),
    ]);
    const contractRows = report ? report.contracts : await named(contracts);
    const todayOnly = state.asOf ? h('p', { class: 'muted' }, t('current_note')) : null;
    const rerender = (focus) => render({ focus });
    put(view, 
      h('p', {}, h('a', { href: staff ? '#/projects' : '#/' }, t(staff ? 'back' : 'my_projects'))),
      h('h1', { tabindex: '-1' }, `${project.code} ${project.name}`),
      report ? h('p', {}, flagBadges(report.flags)) : null,
      h('section', { 'aria-labelledby': 'facts' }, h('h2', { id: 'facts' }, t('facts')),
        h('dl', { class: 'facts' },
          h('dt', {}, t('category')), h('dd', {}, word('category', project.category)),
          h('dt', {}, t('status')), h('dd', {}, word('status', project.status)),
          h('dt', {}, t('stages')), h('dd', {}, project.stages.map((s) => word('stage', s)).join(t('list_sep')) || '—'),
          h('dt', {}, t('sites')), h('dd', {}, project.sites.map((s) => s.name).join(t('list_sep')) || '—'),
          h('dt', {}, t('planned_start')), h('dd', {}, project.planned_start || '—'),
          h('dt', {}, t('planned_finish')), h('dd', {}, project.planned_finish || '—'))),
      report ? figureCards(report, card('spi', report.spi ?? '—'), card('cpi', report.cpi ?? '—')) : null,
      report ? downloads(t('report_export'), `projects/${encodeURIComponent(project.code)}/report`, reportParams({ as_of: state.asOf })) : null,
      series ? h('section', { 'aria-labelledby': 's-curve' },
        h('h2', { id: 's-curve' }, t('s_curve', { unit: unitName() })),
        series.points.length ? sCurve(series.points, project.code) : h('p', {}, t('s_curve_none')),
        downloads(t('timeseries_export'), 'reports/timeseries', reportParams({ project: project.code, interval: 'quarter', as_of: state.asOf }))) : null,
      report ? h('div', { class: 'two' },
        h('section', { 'aria-labelledby': 'lines' }, h('h2', { id: 'lines' }, t('budget_lines')),
          table(null, [
            { label: t('code'), cell: (l) => l.code }, { label: t('name'), cell: (l) => l.name },
            { label: `${t('estimate')}（${unitName()}）`, num: true, cell: (l) => money(l.estimate) },
            { label: `${t('disbursed')}（${unitName()}）`, num: true, cell: (l) => money(l.disbursed) },
            { label: t('financial_completion'), num: true, cell: (l) => percent(l.financial_completion) },
          ], report.budget_lines, { id: 'budget-lines' })),
        h('section', { 'aria-labelledby': 'funding' }, h('h2', { id: 'funding' }, t('funding')),
          table(null, [
            { label: t('funding'), cell: (f) => f.name },
            { label: `${t('planned')}（${unitName()}）`, num: true, cell: (f) => money(f.planned) },
            { label: `${t('disbursed')}（${unitName()}）`, num: true, cell: (f) => money(f.disbursed) },
          ], report.funding, { id: 'funding-table' }))) : null,
      h('section', { 'aria-labelledby': 'contracts-heading' }, h('h2', { id: 'contracts-heading' }, t('contracts')),
        report ? null : todayOnly, contractsTable(contractRows)),
      h('section', { 'aria-labelledby': 'milestones-heading' }, h('h2', { id: 'milestones-heading' }, t('milestones')),
        todayOnly ? todayOnly.cloneNode(true) : null,
        await milestonesSection(milestones, state.me.role === 'contractor', rerender)),
      h('section', { 'aria-labelledby': 'payments-heading' }, h('h2', { id: 'payments-heading' }, t('payments')),
        paymentsTable(entries),
        downloads(t('payments_export'), 'disbursements', { ...ledgerParams, lang: state.lang })),
    );
    return report ? report.as_of : null;
  }

  async function contractorHome(view) {
    const [projects, contracts, milestones, entries] = await Promise.all([
      all('projects'), all('contracts'), all('milestones'), all('disbursements', { to: state.asOf, sort: 'paid_on' }),
    ]);
    const rows = await named(contracts);
    const codes = new Map(projects.map((p) => [p.id, p.code]));
    const mine = (rows.find((c) => c.contractor_id === state.me.contractor_id) || {}).contractor;
    put(view, 
      h('h1', { tabindex: '-1' }, `${t('my_contracts')}${mine ? ` · ${mine}` : ''}`),
      h('section', { 'aria-labelledby': 'my-projects' }, h('h2', { id: 'my-projects' }, t('my_projects')),
        table(null, [
          { label: t('code'), cell: (p) => projectLink(p.code) }, { label: t('name'), cell: (p) => p.name },
          { label: t('status'), cell: (p) => word('status', p.status) },
        ], projects, { id: 'project-table' })),
      h('section', { 'aria-labelledby': 'contracts-heading' }, h('h2', { id: 'contracts-heading' }, t('contracts')),
        state.asOf ? h('p', { class: 'muted' }, t('current_note')) : null,
        contractsTable(rows), downloads(t('dues_export'), 'reports/dues', reportParams({ as_of: state.asOf }))),
      h('section', { 'aria-labelledby': 'milestones-heading' }, h('h2', { id: 'milestones-heading' }, t('milestones')),
        await milestonesSection(milestones.map((m) => ({ ...m, code: m.code, name: `${m.name}（${codes.get(m.project_id) || ''}）` })), true, (focus) => render({ focus }))),
      h('section', { 'aria-labelledby': 'payments-heading' }, h('h2', { id: 'payments-heading' }, t('payments')),
        paymentsTable(entries), downloads(t('payments_export'), 'disbursements', { to: state.asOf, sort: 'paid_on', lang: state.lang })),
    );
    return null;
  }

  // ---- Routing ----------------------------------------------------------------------------
  function currentRoute() {
    let path;
    try {
      path = decodeURIComponent(location.hash.replace(/^#/, '')) || '/';
    } catch {
      path = '/';
    }
    const project = /^\/projects\/(.+)$/.exec(path);
    if (project) return { name: 'project', code: project[1] };
    if (path === '/projects') return { name: 'projects' };
    return { name: 'overview' };
  }

  // The programme the overview and the table cover: the one chosen, else the first.
  const programme = () => state.programmes.find((p) => p.code === state.programme) || state.programmes[0];

  async function render(options = {}) {
    applyChrome();
    const seq = ++state.renders;
    const key = state.key;
    if (!key) { setStatus(''); return; }
    const current = () => seq === state.renders && key === state.key;
    const route = currentRoute();
    const routeKey = JSON.stringify(route);
    // A move within the page takes focus to the new heading; a page (re)load leaves it at the top.
    const moved = state.lastRoute !== null && routeKey !== state.lastRoute;
    setStatus(t('loading'));
    try {
      const me = state.me || await api('me');
      const programmes = state.programmes || await all('programmes');
      if (!current()) return;
      state.me = me;
      state.programmes = programmes;
      fillProgrammes();
      for (const link of document.querySelectorAll('nav a')) link.removeAttribute('aria-current');
      const staff = state.me.role !== 'contractor';
      $('nav-projects').hidden = !staff;
      const here = route.name === 'projects' && staff ? 'nav-projects' : route.name === 'overview' ? 'nav-overview' : null;
      if (here) $(here).setAttribute('aria-current', 'page');
      const view = h('div');
      let asOf;
      if (route.name === 'project') asOf = await projectPage(view, route.code);
      else if (!staff) asOf = await contractorHome(view);
      else if (route.name === 'projects') asOf = await projectTable(view);
      else asOf = await overview(view);
      if (!current()) return;
      $('view').replaceChildren(view);
      showProblem(null);
      setStatus(asOf ? t('loaded', { as_of: asOf }) : '');
      state.lastRoute = routeKey;
      if (options.focus) {
        const target = view.querySelector(options.focus);
        if (target) target.focus();
      } else if (moved && !options.keepFocus) {
        const heading = view.querySelector('h1');
        if (heading) heading.focus();
      }
      document.body.dataset.ready = String(seq);
    } catch (error) {
      if (!current()) return;
      // Nothing of the page asked for before stays on screen under the new address or date.
      $('view').replaceChildren();
      state.lastRoute = null;
      setStatus('');
      showProblem(error);
      document.body.dataset.ready = String(seq);
    }
  }

  function fillProgrammes() {
    const chosen = programme();
    $('programme-name').textContent = chosen ? chosen.name : '';
    const select = $('programme-select');
    const several = state.programmes.length > 1 && state.me.role !== 'contractor';
    select.closest('label').hidden = !several;
    if (several && select.options.length !== state.programmes.length) {
      select.replaceChildren(...state.programmes.map((p) => h('option', { value: p.code }, p.name)));
    }
    if (chosen) select.value = chosen.code;
  }

  // ---- Wiring -----------------------------------------------------------------------------
  $('login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const key = $('key-input').value.trim();
    if (!key) return;
    $('key-input').value = '';
    state.key = key;
    sessionStorage.setItem(STORE.key, key);
    showProblem(null);
    render({ focus: 'h1' });
  });
  $('forget-key').addEventListener('click', () => { forgetKey(); $('key-input').focus(); });
  $('lang-switch').addEventListener('click', switchLanguage);
  $('lang-switch-login').addEventListener('click', switchLanguage);
  $('unit-switch').addEventListener('click', () => {
    state.unit = state.unit === 'wan' ? 'yuan' : 'wan';
    sessionStorage.setItem(STORE.unit, state.unit);
    render({ keepFocus: true });
  });
  $('as-of').addEventListener('change', (event) => {
    const value = event.target.value;
    if (value && value > today()) {
      event.target.value = state.asOf;
      showProblem({ problem: { title: t('future', { today: today() }) } });
      return;
    }
    state.asOf = value;
    sessionStorage.setItem(STORE.asOf, state.asOf);
    render({ keepFocus: true });
  });
  $('programme-select').addEventListener('change', (event) => {
    state.programme = event.target.value;
    sessionStorage.setItem(STORE.programme, state.programme);
    render({ keepFocus: true });
  });
  // The skip link moves focus to the content without touching the address (the router's).
  document.querySelector('.skip').addEventListener('click', (event) => {
    event.preventDefault();
    $('main').focus();
  });
  // Printed, the chart tables and progress histories are open.
  const closed = [];
  window.addEventListener('beforeprint', () => {
    for (const details of document.querySelectorAll('details:not([open])')) {
      details.open = true;
      closed.push(details);
    }
  });
  window.addEventListener('afterprint', () => { closed.splice(0).forEach((details) => { details.open = false; }); });
  window.addEventListener('hashchange', () => render());
  render();
})();
