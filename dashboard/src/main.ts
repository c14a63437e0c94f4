import 'uplot/dist/uPlot.min.css';
import './style.css';
import { describeError, isSignedIn, logout, type Me, resumeSession, whenSignedOut, whoAmI } from './api';
import { button, h } from './dom';
import { renderAccept } from './pages/accept';
import { renderLogin } from './pages/login';
import { maintenanceBanner } from './pages/maintenance-banner';
import { type Page, pages, refusal } from './pages/registry';

const app = document.getElementById('app')!;
/** Stops the timers of the page on screen when another one replaces it. */
let leavePage: (() => void) | undefined;
/** Counts the pages drawn: an answer for an earlier one (who am I) draws nothing. */
let drawn = 0;

/** The route in the hash: `#/users` is the page `users`; `#/accept?token=…` carries a query. */
function route(): { id: string; query: URLSearchParams } {
  const [id = '', query = ''] = window.location.hash.replace(/^#\/?/, '').split('?', 2);
  return { id, query: new URLSearchParams(query) };
}

function replaceApp(...children: Node[]): void {
  leavePage?.();
  leavePage = undefined;
  drawn++;
  app.replaceChildren(...children);
}

function showLogin(): void {
  replaceApp(renderLogin(() => showDashboard()));
}

/**
 * An invitation is accepted without signing in: whoever holds the link sets a password, then is
 * signed in as the new user. The token leaves the address bar at once (history, screenshots).
 */
function showAccept(query: URLSearchParams): void {
  const token = query.get('token') ?? '';
  window.history.replaceState(null, '', `${window.location.pathname}#/accept`);
  replaceApp(
    // Signed in as the new member: the hash change draws the dashboard.
    renderAccept(token, () => {
      window.location.hash = '#/overview';
    }),
  );
}

function showDashboard(): void {
  if (!isSignedIn()) {
    showLogin();
    return;
  }
  const ticket = ++drawn;
  whoAmI().then(
    (me) => {
      if (ticket === drawn) drawDashboard(me);
    },
    (error) => {
      // An ended session brings back the login page by itself (whenSignedOut).
      if (ticket !== drawn || !isSignedIn()) return;
      replaceApp(
        h(
          'main',
          { id: 'main', class: 'unavailable' },
          h('h1', {}, 'The platform did not answer'),
          h('p', { class: 'error', role: 'alert' }, describeError(error)),
          button('Try again', () => showDashboard(), { class: 'primary' }),
        ),
      );
    },
  );
}

function drawDashboard(me: Me): void {
  const visible = pages.filter((page) => refusal(page, me) === null);
  const wanted = route().id;
  const page: Page =
    pages.find((candidate) => candidate.id === wanted) ??
    pages.find((candidate) => candidate.id === 'overview')!;
  const nav = h(
    'nav',
    { 'aria-label': 'Sections' },
    h(
      'ul',
      {},
      ...visible.map((candidate) =>
        h(
          'li',
          {},
          h(
            'a',
            { href: `#/${candidate.id}`, 'aria-current': candidate.id === page.id ? 'page' : undefined },
            candidate.title,
          ),
        ),
      ),
    ),
  );
  const main = h('main', { id: 'main', tabindex: '-1' });
  const header = h(
    'header',
    {},
    h('span', { class: 'brand' }, 'Beauty Crafter Platform'),
    // The session's end (whenSignedOut) brings back the login page, even if the server is away.
    button('Sign out', () => void logout().catch(() => {})),
  );
  const maintenance = maintenanceBanner();
  replaceApp(
    h('a', { href: '#main', class: 'skip' }, 'Skip to content'),
    header,
    maintenance.element,
    h('div', { class: 'layout' }, nav, main),
  );
  leavePage = maintenance.stop;
  document.title = `${page.title} · Beauty Crafter Platform`;
  const refused = refusal(page, me);
  if (refused) {
    // A link kept from another account, or typed: say why, rather than show the server refusing.
    main.replaceChildren(
      h('h1', {}, page.title),
      h('p', { class: 'notice-muted', 'data-testid': 'page-refused' }, `This page is ${refused}.`),
    );
    return;
  }
  const leaveContent = page.render(main, me);
  leavePage = () => {
    maintenance.stop();
    leaveContent();
  };
}

window.addEventListener('hashchange', () => {
  const current = route();
  if (current.id === 'accept') showAccept(current.query);
  else showDashboard();
});
whenSignedOut(showLogin);

if (route().id === 'accept') showAccept(route().query);
// A session from an earlier visit lives on in the refresh cookie: try it before asking to log in.
else void resumeSession().then((signedIn) => (signedIn ? showDashboard() : showLogin()));
