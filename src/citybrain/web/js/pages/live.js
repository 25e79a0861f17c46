// Live wall: anonymised live tiles in 1, 4, 9 or 16 layouts (saved per user), each with a
// health overlay; click or Enter enlarges a tile, f shows the wall full screen. Only tiles on
// screen stream: the page asks the wall stream for exactly the cameras whose tiles are visible.
import { listCameras } from '../api.js';
import { h, replace } from '../dom.js';
import { WallStream } from '../wall-stream.js';

const LAYOUTS = [1, 4, 9, 16];

export async function mount(root, ctx, params) {
  const cameras = (await listCameras()).filter((c) => c.enabled);
  let layout = LAYOUTS.includes(ctx.prefs.get('layout')) ? ctx.prefs.get('layout') : 4;
  let page = 0;
  let enlarged = Number(params.query.get('camera')) || null;
  const tiles = new Map();
  const visible = new Set();
  const grid = h('div', { class: 'wall', role: 'list', 'aria-label': 'Live tiles' });
  const pager = h('span', { class: 'muted pager' });
  const layoutButtons = LAYOUTS.map((n) =>
    h(
      'button',
      { 'aria-pressed': String(n === layout), onclick: () => setLayout(n), title: `${n} tiles` },
      String(n),
    ),
  );
  const prev = h('button', { onclick: () => turn(-1) }, 'Previous');
  const next = h('button', { onclick: () => turn(1) }, 'Next');
  const back = h('button', { onclick: () => enlarge(null), hidden: true }, 'Back to the wall');
  replace(
    root,
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, 'Live'),
      h(
        'div',
        { class: 'toolbar', role: 'group', 'aria-label': 'Layout' },
        'Layout',
        layoutButtons,
      ),
      h(
        'div',
        { class: 'toolbar' },
        prev,
        pager,
        next,
        back,
        h('button', { onclick: fullScreen }, 'Full screen (f)'),
      ),
    ),
    cameras.length ? grid : h('p', { class: 'muted' }, 'No enabled camera to show.'),
  );

  const stream = new WallStream((id, blob) => tiles.get(id)?.show(blob));
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const id = Number(entry.target.dataset.camera);
      if (entry.isIntersecting) visible.add(id);
      else visible.delete(id);
    }
    refreshStream();
  });

  function refreshStream() {
    if (document.hidden) stream.stop();
    else stream.show([...visible].filter((id) => tiles.has(id)));
  }

  function render() {
    observer.disconnect();
    visible.clear();
    for (const tile of tiles.values()) tile.dispose();
    tiles.clear();
    const shown = enlarged
      ? cameras.filter((c) => c.id === enlarged)
      : pageOf(cameras, page, layout);
    const n = enlarged ? 1 : layout;
    grid.className = `wall wall-${n}`;
    for (const camera of shown) {
      const tile = makeTile(camera, ctx.feed.health.get(camera.id) ?? camera.health, () =>
        enlarge(camera.id),
      );
      tiles.set(camera.id, tile);
      observer.observe(tile.el);
    }
    replace(
      grid,
      [...tiles.values()].map((t) => t.el),
    );
    const pages = Math.max(1, Math.ceil(cameras.length / layout));
    pager.textContent = enlarged ? '' : `Page ${page + 1} of ${pages}`;
    prev.disabled = Boolean(enlarged) || page === 0;
    next.disabled = Boolean(enlarged) || page >= pages - 1;
    back.hidden = !enlarged;
    for (const button of layoutButtons)
      button.setAttribute(
        'aria-pressed',
        String(Number(button.textContent) === layout && !enlarged),
      );
    refreshStream();
  }

  function setLayout(n) {
    layout = n;
    enlarged = null;
    page = 0;
    ctx.prefs.set('layout', n);
    render();
  }

  function turn(step) {
    page = Math.max(0, Math.min(page + step, Math.ceil(cameras.length / layout) - 1));
    render();
  }

  function enlarge(id) {
    const returnTo = enlarged;
    enlarged = id;
    render();
    const target = tiles.get(id ?? returnTo)?.el ?? grid.firstElementChild;
    target?.focus();
  }

  function fullScreen() {
    if (document.fullscreenElement) document.exitFullscreen();
    else grid.requestFullscreen?.().catch(() => {});
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    if (event.target instanceof HTMLInputElement) return;
    if (event.key === 'f') fullScreen();
    else if (event.key === 'Escape' && enlarged) enlarge(null);
    else if (event.key === 'ArrowRight' && !enlarged) turn(1);
    else if (event.key === 'ArrowLeft' && !enlarged) turn(-1);
    else return;
    event.preventDefault();
  }

  const stopHealth = ctx.feed.on('health', (health) =>
    tiles.get(health.camera_id)?.setHealth(health),
  );
  document.addEventListener('keydown', onKey);
  document.addEventListener('visibilitychange', refreshStream);
  ctx.shortcuts.setPage('Live', [
    ['Tab', 'Move between tiles'],
    ['Enter', 'Enlarge the focused tile'],
    ['Esc', 'Back to the wall'],
    ['f', 'Full screen'],
    ['← / →', 'Previous or next page of cameras'],
  ]);
  render();
  return () => {
    stream.stop();
    observer.disconnect();
    for (const tile of tiles.values()) tile.dispose();
    document.removeEventListener('keydown', onKey);
    document.removeEventListener('visibilitychange', refreshStream);
    stopHealth();
  };
}

function pageOf(cameras, page, size) {
  return cameras.slice(page * size, page * size + size);
}

/** One tile: the frame, the camera's name and its health (online, fps, lag, last error). */
function makeTile(camera, health, onOpen) {
  const img = h('img', { alt: `Live view of ${camera.name}` });
  const overlay = h('div', { class: 'tile-health' });
  const waiting = h('div', { class: 'tile-wait' }, 'Waiting for frames…');
  const el = h(
    'figure',
    {
      class: 'tile',
      role: 'listitem',
      tabindex: '0',
      dataset: { camera: camera.id },
      'aria-label': `${camera.name}: press Enter to enlarge`,
      onclick: onOpen,
      onkeydown: (event) => {
        if (event.key === 'Enter') {
          event.preventDefault();
          onOpen();
        }
      },
    },
    img,
    waiting,
    h('figcaption', {}, camera.name),
    overlay,
  );
  let url = null;
  let frames = [];
  let current = health;
  function setHealth(report) {
    current = report;
    const now = performance.now();
    frames = frames.filter((t) => now - t < 5000);
    const shownFps =
      frames.length > 1 ? ((frames.length - 1) * 1000) / (frames.at(-1) - frames[0]) : 0;
    const parts = [];
    if (!report) parts.push(h('span', { class: 'pill unknown' }, 'no report'));
    else
      parts.push(
        h(
          'span',
          { class: `pill ${report.online ? 'online' : 'offline'}` },
          report.online ? 'online' : 'offline',
        ),
      );
    if (report) parts.push(` ${report.fps_in.toFixed(1)} fps in`);
    parts.push(` · ${shownFps.toFixed(1)} fps shown`);
    if (report?.lag_seconds !== null && report?.lag_seconds !== undefined)
      parts.push(` · lag ${report.lag_seconds.toFixed(1)} s`);
    if (report?.last_error) parts.push(h('div', { class: 'tile-error' }, report.last_error));
    replace(overlay, parts);
    el.classList.toggle('offline', Boolean(report && !report.online));
  }
  setHealth(health);
  const timer = setInterval(() => setHealth(current), 2000);
  return {
    el,
    setHealth,
    show(blob) {
      const previous = url;
      url = URL.createObjectURL(blob);
      img.src = url;
      frames.push(performance.now());
      waiting.hidden = true;
      if (previous) setTimeout(() => URL.revokeObjectURL(previous), 1000);
    },
    dispose() {
      clearInterval(timer);
      img.removeAttribute('src');
      if (url) URL.revokeObjectURL(url);
    },
  };
}
