/* Unread counts. Every room's newest event id comes with each poll; a
 * room's unread count is how far that is past the later of what the person
 * has seen (kept in localStorage across visits) and what this page has
 * read of it. `seen` maps room id to an event id. No DOM here. */

// The unread count of room r (an entry of the room list) while room `open`
// is shown; `cursor` is how far this page has read r (0 if not at all).
export function unreadCount(r, open, seen, cursor) {
  if (r.id === open || typeof r.last_message_id !== 'number') return 0;
  const last = Math.max(seen[r.id] || 0, cursor || 0);
  return Math.max(0, r.last_message_id - last);
}

// A room seen for the first time counts as unread only what arrives after
// that moment: where the person starts is its newest id now, not the
// beginning of its history. True when `seen` changed.
export function seedSeen(seen, rooms) {
  let changed = false;
  for (const r of rooms) {
    if (typeof r.last_message_id === 'number' && typeof seen[r.id] !== 'number') {
      seen[r.id] = r.last_message_id;
      changed = true;
    }
  }
  return changed;
}

// Seen up to `id` in a room; never moves back. True when `seen` changed.
export function markSeen(seen, room, id) {
  if (!(id > (seen[room] || 0))) return false;
  seen[room] = id;
  return true;
}

// The badge's text and the words a screen reader hears after it.
export function badge(n) {
  return { text: n > 99 ? '99+' : String(n), spoken: n === 1 ? ' unread message' : ' unread messages' };
}
