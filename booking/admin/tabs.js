// The admin page's tabs: a click or the arrow keys switch, the URL's #hash remembers the open
// one, and a tab with a loader loads its list the first time it opens.
import { byId } from '../dom.js';
import * as UI from '../ui.js';

export const TABS = ['events', 'venues', 'users', 'reservations', 'sales', 'audit', 'webhooks', 'codes'];

const opened = new Set();
let loaders = {};

export function selectTab(name, focus) {
  TABS.forEach((t) => {
    const on = t === name;
    const tab = byId('tab-' + t);
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    byId('panel-' + t).hidden = !on;
  });
  if (focus) byId('tab-' + name).focus();
  if (location.hash !== '#' + name) history.replaceState(null, '', '#' + name);
  UI.clear();
  if (!opened.has(name)) {
    opened.add(name);
    if (loaders[name]) loaders[name]();
  }
}

/** Wires the tab buttons; `firstOpen[name]` loads that tab's list when it first opens. */
export function setupTabs(firstOpen) {
  loaders = firstOpen;
  TABS.forEach((t, i) => {
    const tab = byId('tab-' + t);
    tab.addEventListener('click', () => selectTab(t));
    tab.addEventListener('keydown', (e) => {
      if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
      e.preventDefault();
      const next = TABS[(i + (e.key === 'ArrowRight' ? 1 : TABS.length - 1)) % TABS.length];
      selectTab(next, true);
    });
  });
}

/** The tab named by the URL's #hash, else the first. */
export function tabFromUrl() {
  const wanted = location.hash.slice(1);
  return TABS.includes(wanted) ? wanted : TABS[0];
}
