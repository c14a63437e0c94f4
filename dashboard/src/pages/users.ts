import { client } from '../api';
import { h } from '../dom';
import { renderUserAdmin } from './user-admin';
import { renderSessions } from './user-sessions';

/**
 * Everyone's own sessions and password; for admins, the organization's users too. The users
 * section is not drawn at all for other roles (the server would refuse its calls anyway).
 */
export function renderUsers(main: HTMLElement): () => void {
  const sessions = h('section', { class: 'users-section', 'aria-labelledby': 'sessions-title' });
  main.replaceChildren(h('h1', {}, 'Users and sessions'), sessions);
  const stops = [renderSessions(sessions)];
  let left = false;
  client.auth.me.query().then(
    (me) => {
      if (left || me.role !== 'admin') return;
      const users = h('section', { class: 'users-section', 'aria-labelledby': 'users-title' });
      main.appendChild(users);
      stops.push(renderUserAdmin(users, me.userId));
    },
    // The sessions section shows why calls fail; without a role, nothing more is drawn.
    () => {},
  );
  return () => {
    left = true;
    for (const stop of stops) stop();
  };
}
