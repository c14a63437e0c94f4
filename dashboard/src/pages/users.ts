import type { Me } from '../api';
import { h } from '../dom';
import { renderUserAdmin } from './user-admin';
import { renderInvitations } from './user-invitations';
import { renderSecondFactor } from './user-second-factor';
import { renderSessions } from './user-sessions';

/**
 * Everyone's own sessions and password; for admins, the organization's members and invitations
 * too. Those sections are not drawn at all for other roles (the server would refuse their calls).
 */
export function renderUsers(main: HTMLElement, me: Me): () => void {
  const sessions = h('section', { class: 'users-section', 'aria-labelledby': 'sessions-title' });
  const factor = h('section', { class: 'users-section', 'aria-labelledby': 'second-factor-title' });
  main.replaceChildren(h('h1', {}, 'Users and sessions'), sessions, factor);
  const stops = [renderSessions(sessions), renderSecondFactor(factor, me)];
  if (me.role === 'admin') {
    const users = h('section', { class: 'users-section', 'aria-labelledby': 'users-title' });
    const invitations = h('section', { class: 'users-section', 'aria-labelledby': 'invitations-title' });
    main.append(users, invitations);
    stops.push(renderUserAdmin(users, me.userId), renderInvitations(invitations));
  }
  return () => {
    for (const stop of stops) stop();
  };
}
