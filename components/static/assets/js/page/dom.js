/* The page's elements (ui, found by findElements() at start, not when
 * this module loads) and small DOM helpers. */

var ACTION_STATUS_MS = 20000;      // how long the result of a removal or mute stays shown
var actionTimer = null;

export var ui = {};

function $(id) { return document.getElementById(id); }
export function findElements() {
  Object.assign(ui, {
    status: $('status'), statusLive: $('status-live'), reconnect: $('reconnect'), identity: $('identity'), whoami: $('whoami'),
    changeName: $('change-name'), signOut: $('sign-out'), guestBadge: $('guest-badge'),
    changePassword: $('change-password'), membersOnly: $('members-only'),
    roomList: $('room-list'), roomsNav: document.querySelector('.rooms'), roomsLess: $('rooms-less'), roomsMore: $('rooms-more'), roomsError: $('rooms-error'), roomTitle: $('room-title'),
    notice: $('notice'), scroller: $('messages'), loadOlder: $('load-older'),
    historyStart: $('history-start'), empty: $('empty'), list: $('message-list'), jump: $('jump'),
    joinForm: $('join-form'), nameInput: $('name-input'), remember: $('remember'),
    joinButton: $('join-button'), joinCancel: $('join-cancel'), joinError: $('join-error'),
    joinLabel: $('join-label'), passwordInput: $('password-input'), createAccount: $('create-account'),
    joinHint: $('join-hint'), joinPassword: $('join-password'), closed: $('closed'), closedText: $('closed-text'), closedSignIn: $('closed-sign-in'),
    composer: $('composer'), input: $('message-input'), composerError: $('composer-error'),
    sendButton: $('send-button'), replyBar: $('reply-bar'), replyText: $('reply-text'), replyCancel: $('reply-cancel'),
    // presence, message actions, moderation
    presence: $('presence'), presenceCount: $('presence-count'), presenceEmpty: $('presence-empty'),
    actionStatus: $('action-status'), menu: $('message-menu'),
    settingsButton: $('settings-button'), themeButton: $('theme-button'), adminBadge: $('admin-badge'),
    settings: $('settings'), settingsForm: $('settings-form'), adminInput: $('admin-token'),
    settingsClear: $('settings-clear'), settingsClose: $('settings-close'),
    confirm: $('confirm-dialog'), confirmText: $('confirm-text'), confirmQuote: $('confirm-quote'),
    confirmError: $('confirm-error'), confirmOk: $('confirm-ok'), confirmCancel: $('confirm-cancel'),
    mute: $('mute-dialog'), muteForm: $('mute-form'), muteName: $('mute-name'),
    muteDuration: $('mute-duration'), muteScope: $('mute-scope'), muteScopeRoom: $('mute-scope-room'),
    muteError: $('mute-error'), muteConfirm: $('mute-confirm'), muteCancel: $('mute-cancel'),
    pw: $('password-dialog'), pwForm: $('password-form'), pwName: $('pw-name'), pwCurrent: $('pw-current'),
    pwCurrentLabel: $('pw-current-label'), pwReset: $('pw-reset'), pwNew: $('pw-new'), pwError: $('pw-error'),
    pwSave: $('pw-save'), pwCancel: $('pw-cancel')
  });
}

export function make(tag, cls, text) {
  var n = document.createElement(tag);
  if (cls) n.className = cls;
  if (text != null) n.textContent = String(text);
  return n;
}

export function isAtBottom() {
  var s = ui.scroller;
  return s.scrollHeight - s.scrollTop - s.clientHeight < 48;
}

export function showNotice(text) {
  ui.notice.textContent = text || '';
  ui.notice.hidden = !text;
}

// The outcome of an action (a removal, a mute, a settings change), in the
// visible live region #action-status; it clears itself after a while.
export function announce(text, isError) {
  clearTimeout(actionTimer);
  ui.actionStatus.textContent = text || '';
  ui.actionStatus.classList.toggle('is-error', !!(text && isError));
  if (text) actionTimer = setTimeout(function () { ui.actionStatus.textContent = ''; }, ACTION_STATUS_MS);
}
