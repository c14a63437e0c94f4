import 'uplot/dist/uPlot.min.css';
import './style.css';
import { isSignedIn, logout, resumeSession, whenSignedOut } from './api';
import { button, h } from './dom';
import { renderLogin } from './pages/login';
import { pages } from './pages/registry';

const app = document.getElementById('app')!;
/** Stops the timers of the page on screen when another one replaces it. */
let leavePage: (() => void) | undefined;

function showLogin(): void {
  leavePage?.();
  leavePage = undefined;
  app.replaceChildren(renderLogin(() => showDashboard()));
}

function currentPageId(): string {
  const id = window.location.hash.replace(/^#\/?/, '');
  return pages.some((page) => page.id === id) ? id : 'overview';
}

function showDashboard(): void {
  if (!isSignedIn()) {
    showLogin();
    return;
  }
  const id = currentPageId();
  const page = pages.find((candidate) => candidate.id === id)!;
  const nav = h(
    'nav',
    { 'aria-label': 'Sections' },
    h(
      'ul',
      {},
      ...pages.map((candidate) =>
        h(
          'li',
          {},
          h(
            'a',
            { href: `#/${candidate.id}`, 'aria-current': candidate.id === id ? 'page' : undefined },
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
  leavePage?.();
  app.replaceChildren(
    h('a', { href: '#main', class: 'skip' }, 'Skip to content'),
    header,
    h('div', { class: 'layout' }, nav, main),
  );
  document.title = `${page.title} · Beauty Crafter Platform`;
  leavePage = page.render(main);
}

window.addEventListener('hashchange', () => {
  if (isSignedIn()) showDashboard();
});
whenSignedOut(showLogin);

// A session from an earlier visit lives on in the refresh cookie: try it before asking to log in.
void resumeSession().then((signedIn) => (signedIn ? showDashboard() : showLogin()));
