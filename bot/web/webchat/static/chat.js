/* Web chat client for Rasa's socket.io channel.
 *
 * Bot text is only ever put into the page with textContent / createTextNode: never
 * innerHTML. Links are built as anchors for http(s) URLs only.
 */
(function () {
  "use strict";

  var STORAGE_SESSION = "webchat.session_id";
  var STORAGE_SESSION_TOKEN = "webchat.session_token";
  var STORAGE_TOKEN = "webchat.link_token";
  var STORAGE_TRANSCRIPT = "webchat.transcript";
  var TRANSCRIPT_MAX = 200;
  var TYPING_TIMEOUT_MS = 60000;

  var config = JSON.parse(document.getElementById("chat-config").textContent);
  var t = config.strings;

  var log = document.getElementById("chat-log");
  var form = document.getElementById("chat-form");
  var input = document.getElementById("chat-input");
  var sendButton = document.getElementById("chat-send");
  var statusEl = document.getElementById("chat-status");
  var typing = document.getElementById("chat-typing");
  var emptyState = document.getElementById("chat-empty");

  // --- storage (sessionStorage may be unavailable, e.g. disabled cookies) ---------
  var memoryStore = {};
  var store = {
    get: function (key) {
      try {
        return window.sessionStorage.getItem(key);
      } catch (e) {
        return Object.prototype.hasOwnProperty.call(memoryStore, key) ? memoryStore[key] : null;
      }
    },
    set: function (key, value) {
      try {
        window.sessionStorage.setItem(key, value);
      } catch (e) {
        memoryStore[key] = value;
      }
    },
    remove: function (key) {
      try {
        window.sessionStorage.removeItem(key);
      } catch (e) { /* memory only */ }
      delete memoryStore[key];
    }
  };

  // The conversation id and its signed token come from the backend (POST /chat/session); the
  // server only lets this tab into the conversation its token names. Kept per tab, so a reload
  // reconnects to the same conversation.
  var sessionId = store.get(STORAGE_SESSION);
  var sessionToken = store.get(STORAGE_SESSION_TOKEN);

  function newSession() {
    return window.fetch("/chat/session", { method: "POST", credentials: "same-origin", cache: "no-store" })
      .then(function (reply) {
        if (!reply.ok) throw new Error("session " + reply.status);
        return reply.json();
      })
      .then(function (data) {
        sessionId = data.session_id;
        sessionToken = data.token;
        store.set(STORAGE_SESSION, sessionId);
        store.set(STORAGE_SESSION_TOKEN, sessionToken);
      });
  }

  function ensureSession() {
    if (sessionId && sessionToken) return Promise.resolve();
    return newSession();
  }

  // --- link token and language from the URL ------------------------------------------
  var params = new URLSearchParams(window.location.search);
  var linkToken = params.get("t");
  if (linkToken) {
    store.set(STORAGE_TOKEN, linkToken);
    // Keep the personal token out of the address bar and the history entry.
    params.delete("t");
    var rest = params.toString();
    try {
      window.history.replaceState(null, "", window.location.pathname + (rest ? "?" + rest : "") + window.location.hash);
    } catch (e) { /* not fatal */ }
  } else {
    linkToken = store.get(STORAGE_TOKEN);
  }
  var requestedLanguage = new URLSearchParams(window.location.search).get("lang");

  function metadata() {
    var meta = {};
    if (linkToken) meta.link_token = linkToken;
    if (requestedLanguage) meta.language = requestedLanguage;
    return meta;
  }

  // --- rendering -----------------------------------------------------------------------
  var URL_RE = /https?:\/\/[^\s<>"'`]+/gi;
  var TRAILING_PUNCTUATION = /[.,;:!?)\]}'"]+$/;

  function safeHttpUrl(candidate) {
    if (typeof candidate !== "string") return null;
    try {
      var url = new URL(candidate, window.location.href);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function makeLink(href, label) {
    var a = document.createElement("a");
    a.href = href;
    a.textContent = label;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  }

  /* Append text to parent, turning http(s) URLs into anchors. */
  function appendLinkified(parent, text) {
    var last = 0;
    var match;
    URL_RE.lastIndex = 0;
    while ((match = URL_RE.exec(text)) !== null) {
      var raw = match[0];
      var trailing = raw.match(TRAILING_PUNCTUATION);
      if (trailing) raw = raw.slice(0, raw.length - trailing[0].length);
      var href = safeHttpUrl(raw);
      if (!href) continue;
      if (match.index > last) parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      parent.appendChild(makeLink(href, raw));
      last = match.index + raw.length;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function scrollToEnd() {
    log.scrollTop = log.scrollHeight;
  }

  function addBubble(kind, build) {
    var li = document.createElement("li");
    li.className = "msg msg-" + kind;
    var who = document.createElement("span");
    who.className = "visually-hidden";
    who.textContent = (kind === "user" ? t.you : t.assistant) + ": ";
    li.appendChild(who);
    var body = document.createElement("span");
    body.className = "msg-text";
    build(body);
    li.appendChild(body);
    log.appendChild(li);
    emptyState.hidden = true;
    scrollToEnd();
    return li;
  }

  function addText(kind, text) {
    return addBubble(kind, function (li) { appendLinkified(li, String(text)); });
  }

  function addActions(buttons, enabled) {
    var valid = (buttons || []).filter(function (b) { return b && (b.title || b.payload); });
    if (!valid.length) return;
    var li = document.createElement("li");
    li.className = "msg-actions";
    li.setAttribute("role", "group");
    if (t.suggestions) li.setAttribute("aria-label", t.suggestions);
    valid.forEach(function (b) {
      var title = String(b.title || b.payload);
      var url = safeHttpUrl(b.url);
      if (url && !b.payload) {
        var link = makeLink(url, title);
        link.className = "msg-action";
        li.appendChild(link);
        return;
      }
      var button = document.createElement("button");
      button.type = "button";
      button.className = "msg-action";
      button.textContent = title;
      button.disabled = !enabled;
      button.addEventListener("click", function () {
        sendMessage(String(b.payload || title), title);
        input.focus();
      });
      li.appendChild(button);
    });
    log.appendChild(li);
    scrollToEnd();
  }

  function addAttachment(attachment, live) {
    if (!attachment) return;
    if (typeof attachment === "string") {
      var href = safeHttpUrl(attachment);
      if (href) addBubble("bot", function (li) { li.appendChild(makeLink(href, t.open_attachment)); });
      return;
    }
    var payload = attachment.payload || {};
    if (payload.template_type === "generic" && payload.elements) {
      var elements = Array.isArray(payload.elements) ? payload.elements : [payload.elements];
      elements.forEach(function (element) {
        addBubble("bot", function (li) {
          if (element.title) {
            var title = document.createElement("span");
            title.className = "msg-title";
            title.textContent = String(element.title);
            li.appendChild(title);
          }
          if (element.subtitle) {
            var subtitle = document.createElement("span");
            subtitle.className = "msg-subtitle";
            appendLinkified(subtitle, String(element.subtitle));
            li.appendChild(subtitle);
          }
        });
        addActions(element.buttons, live);
      });
      return;
    }
    var src = safeHttpUrl(payload.src || payload.url || attachment.url);
    if (src) {
      addBubble("bot", function (li) {
        li.appendChild(makeLink(src, payload.title ? String(payload.title) : t.open_attachment));
      });
    }
  }

  /* Render one bot_uttered payload; `live` is false when replaying the transcript. */
  function renderBot(message, live) {
    if (message == null) return;
    if (typeof message === "string") message = { text: message };
    if (message.text != null && message.text !== "") addText("bot", message.text);
    var buttons = [].concat(message.quick_replies || [], message.buttons || []);
    addActions(buttons, live);
    if (message.attachment) addAttachment(message.attachment, live);
    if (message.image) addAttachment(String(message.image), live);
  }

  // --- transcript (per tab, so a reload shows the conversation again) -------------------
  var transcript = [];
  try {
    transcript = JSON.parse(store.get(STORAGE_TRANSCRIPT) || "[]");
    if (!Array.isArray(transcript)) transcript = [];
  } catch (e) {
    transcript = [];
  }

  function remember(entry) {
    transcript.push(entry);
    if (transcript.length > TRANSCRIPT_MAX) transcript = transcript.slice(-TRANSCRIPT_MAX);
    store.set(STORAGE_TRANSCRIPT, JSON.stringify(transcript));
  }

  transcript.forEach(function (entry, index) {
    if (entry.from === "user") addText("user", entry.text);
    else renderBot(entry.message, index === transcript.length - 1);
  });

  // --- typing indicator and status ---------------------------------------------------------
  var typingTimer = null;

  function showTyping() {
    typing.hidden = false;
    log.setAttribute("aria-busy", "true"); // screen readers announce a multi-part reply once it is complete
    scrollToEnd();
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, TYPING_TIMEOUT_MS);
  }

  function hideTyping() {
    typing.hidden = true;
    log.setAttribute("aria-busy", "false");
    clearTimeout(typingTimer);
  }

  function setStatus(state) {
    statusEl.setAttribute("data-state", state);
    if (state === "ready") {
      statusEl.hidden = true;
      statusEl.textContent = "";
      return;
    }
    statusEl.hidden = false;
    statusEl.textContent = state === "lost" ? t.reconnecting : state === "unavailable" ? t.unavailable : t.connecting;
  }

  // --- socket ----------------------------------------------------------------------------
  var socket = null;
  var confirmed = false;
  var everConfirmed = false;
  var pending = [];

  function emitUtterance(text) {
    socket.emit("user_uttered", { message: text, session_id: sessionId, metadata: metadata() });
  }

  function flushPending() {
    while (confirmed && pending.length) emitUtterance(pending.shift());
  }

  /* Send `payload` to the bot, showing `shown` (a button's title) in the log. */
  function sendMessage(payload, shown) {
    var text = shown || payload;
    // Quick replies answer the latest question only: retire them once the user speaks.
    Array.prototype.forEach.call(log.querySelectorAll(".msg-actions button"), function (button) {
      button.disabled = true;
    });
    addText("user", text);
    remember({ from: "user", text: text });
    pending.push(payload);
    showTyping();
    flushPending();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) {
      input.focus();
      return;
    }
    input.value = "";
    sendMessage(text);
    input.focus();
  });

  if (typeof window.io !== "function") {
    setStatus("unavailable");
    sendButton.setAttribute("aria-disabled", "true");
    return;
  }

  function connect() {
    socket = window.io(config.rasaUrl, {
      path: config.socketPath,
      transports: ["websocket", "polling"],
      tryAllTransports: true, // fall back to long-polling where WebSockets are blocked
      reconnection: true,
      reconnectionDelay: 1000,
      reconnectionDelayMax: 10000,
      auth: function (send) { send({ token: sessionToken }); }
    });
    listen();
  }

  /* The server refused our token (expired, or from another deployment): start a new conversation. */
  function renewSession() {
    store.remove(STORAGE_SESSION);
    store.remove(STORAGE_SESSION_TOKEN);
    store.remove(STORAGE_TRANSCRIPT);
    transcript = [];
    log.textContent = "";
    emptyState.hidden = false;
    sessionId = null;
    sessionToken = null;
    newSession().then(function () { socket.connect(); }, function () { setStatus("unavailable"); });
  }

  ensureSession().then(connect, function () {
    setStatus("unavailable");
    sendButton.setAttribute("aria-disabled", "true");
  });

  /* Listeners for one socket; socket.io reconnects it on its own and asks for the session again. */
  function listen() {
    socket.on("connect", function () {
      // Ask for our session on every (re)connect so replies reach this socket again.
      socket.emit("session_request", { session_id: sessionId });
    });

    socket.on("session_confirm", function (data) {
      var confirmedId = typeof data === "string" ? data : data && data.session_id;
      if (confirmedId && confirmedId !== sessionId) {
        sessionId = confirmedId;
        store.set(STORAGE_SESSION, sessionId);
      }
      confirmed = true;
      everConfirmed = true;
      setStatus("ready");
      flushPending();
    });

    socket.on("bot_uttered", function (message) {
      hideTyping();
      remember({ from: "bot", message: message });
      renderBot(message, true);
    });

    socket.on("disconnect", function (reason) {
      confirmed = false;
      if (reason !== "io client disconnect") setStatus(everConfirmed ? "lost" : "connecting");
    });

    socket.on("connect_error", function (error) {
      confirmed = false;
      if (error && error.message === "invalid_session") {
        renewSession();
        return;
      }
      setStatus(everConfirmed ? "lost" : "connecting");
    });
  }
})();
