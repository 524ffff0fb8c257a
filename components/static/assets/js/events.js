/* Edits and removals: how events change the messages they target.
 *
 * Edits and removals arrive in a room's id sequence like messages. The page
 * keeps each message in its current state and an event changes the message
 * it targets, when that message is loaded. Applying anything twice changes
 * nothing: a removal is final, and an edit applies only if it is newer than
 * the message's last edit (a message read "as it is now" may already hold
 * it, and then an earlier edit event must not bring back an older text).
 * No DOM here. */

export const MAX_LATE_EVENTS = 200; // per room, see rememberLate()

export function isRemoved(m) { return !!(m && (m.removed_at || m.removed_by)); }

// Is time a later than time b (RFC 3339)? Anything is later than nothing.
export function newer(a, b) {
  if (!a) return false;
  if (!b) return true;
  const ta = Date.parse(a), tb = Date.parse(b);
  return isNaN(ta) || isNaN(tb) ? a !== b : ta > tb;
}

// The state that an update (an event, or a fresher copy of the message)
// gives message m; null when it changes nothing.
export function updatedState(m, upd, now = () => new Date().toISOString()) {
  if (isRemoved(m)) return null;
  if (isRemoved(upd)) {
    return Object.assign({}, m, {
      body: '', removed_at: upd.removed_at || upd.sent_at || now(),
      removed_by: upd.removed_by === 'moderator' ? 'moderator' : 'author'
    });
  }
  if (upd.edited_at && newer(upd.edited_at, m.edited_at)) {
    return Object.assign({}, m, { body: String(upd.body == null ? '' : upd.body), edited_at: upd.edited_at });
  }
  return null;
}

// An event (kind "edit" or "removal") as an update of its target.
export function eventUpdate(ev, now = () => new Date().toISOString()) {
  if (ev.kind === 'removal') {
    return { removed_at: ev.removed_at || ev.sent_at || now(), removed_by: ev.removed_by || 'author' };
  }
  return { body: ev.body, edited_at: ev.edited_at || ev.sent_at || '' };
}

// An event whose message is not loaded is otherwise ignored. It is kept in
// `late` (a Map, at most `max` per room, the oldest dropped first) for one
// case: a page of older messages read before the event was made but
// answered after it; that page must not bring back the old text.
export function rememberLate(late, target, upd, max = MAX_LATE_EVENTS) {
  const prev = late.get(target);
  if (prev && (isRemoved(prev) || (!isRemoved(upd) && !newer(upd.edited_at, prev.edited_at)))) return;
  late.delete(target);
  late.set(target, upd);
  if (late.size > max) late.delete(late.keys().next().value);
}

// Message m as it arrives, with a remembered late event applied.
export function settleLate(late, m) {
  const upd = late.get(m.id);
  if (!upd) return m;
  late.delete(m.id);
  return updatedState(m, upd) || m;
}
