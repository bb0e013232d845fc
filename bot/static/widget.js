/*
 * Shop chat widget. Embed with one tag:
 *   <script src="https://<gateway>/widget.js" data-lang="zh"
 *           data-customer-token="<JWT signed by the shop, optional>"></script>
 * Public API: window.ShopChat.open(), .close(), .setCustomerToken(token|null),
 * .setLanguage("zh"|"en"), .conversationId(), .hasCustomerToken().
 *
 * Messages go over one WebSocket (/ws). Unacknowledged messages wait in an outbox in
 * localStorage and are re-sent with the same client_message_id after a reconnect (the
 * gateway stores each id once). History comes back from the gateway on every load.
 * Every message is rendered as text (textContent), never as HTML.
 */
(function () {
  "use strict";
  if (window.ShopChat && window.ShopChat.loaded) {
    return;
  }

  var script = document.currentScript;
  if (!script) {
    var all = document.getElementsByTagName("script");
    for (var i = all.length - 1; i >= 0; i--) {
      if (/\/widget\.js(\?|$)/.test(all[i].src)) {
        script = all[i];
        break;
      }
    }
  }
  var origin = script && script.src ? new URL(script.src, location.href).origin : location.origin;
  var preset = window.ShopChatConfig || {};
  var data = (script && script.dataset) || {};

  var MAX_CHARS = 2000;
  var TEXT = {
    zh: {
      title: "在线客服",
      launcher: "联系客服",
      placeholder: "请输入您的问题…",
      send: "发送",
      close: "关闭",
      other: "EN",
      typing: "正在输入…",
      agentTyping: "客服正在输入…",
      connecting: "正在连接…",
      reconnecting: "网络已断开，正在重新连接…",
      queued: "正在为您转接人工客服：第 {position} 位，预计等待 {minutes} 分钟",
      agent: "人工客服 {name} 正在为您服务",
      welcome: "您好！我是智能客服，可以帮您查订单、物流、退换货、积分等。请问有什么可以帮您？",
      tooLong: "消息太长了，最多 2000 字。",
      failed: "发送失败",
      you: "我",
      bot: "智能客服",
      system: "系统消息",
      agentLabel: "人工客服"
    },
    en: {
      title: "Customer service",
      launcher: "Chat with us",
      placeholder: "Type your question…",
      send: "Send",
      close: "Close",
      other: "中文",
      typing: "Typing…",
      agentTyping: "The agent is typing…",
      connecting: "Connecting…",
      reconnecting: "Connection lost, reconnecting…",
      queued: "Waiting for a person: number {position}, about {minutes} min",
      agent: "{name} is helping you",
      welcome: "Hi! I can help with orders, deliveries, returns, refunds and points. What can I do for you?",
      tooLong: "The message is too long (at most 2000 characters).",
      failed: "Not sent",
      you: "Me",
      bot: "Assistant",
      system: "Notice",
      agentLabel: "Agent"
    }
  };

  var CSS = [
    ":host{all:initial}",
    "*{box-sizing:border-box;font-family:-apple-system,BlinkMacSystemFont,'PingFang SC','Microsoft YaHei','Segoe UI',sans-serif}",
    ".launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;border:0;border-radius:24px;padding:12px 18px;background:#e4393c;color:#fff;font-size:15px;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25)}",
    ".panel{position:fixed;right:20px;bottom:20px;z-index:2147483001;width:370px;height:560px;max-height:calc(100vh - 40px);display:none;flex-direction:column;background:#fff;border-radius:12px;overflow:hidden;box-shadow:0 8px 30px rgba(0,0,0,.3)}",
    ".panel.open{display:flex}",
    ".head{display:flex;align-items:center;gap:8px;padding:12px 14px;background:#e4393c;color:#fff}",
    ".head .t{flex:1;font-size:16px;font-weight:600}",
    ".head button{background:rgba(255,255,255,.2);color:#fff;border:0;border-radius:6px;padding:4px 8px;cursor:pointer;font-size:13px}",
    ".status{display:none;padding:6px 12px;font-size:12px;background:#fff7e6;color:#8a5300;border-bottom:1px solid #f0e0c0}",
    ".status.show{display:block}",
    ".list{flex:1;overflow-y:auto;padding:12px;background:#f5f5f7}",
    ".row{display:flex;flex-direction:column;margin:6px 0}",
    ".row.customer{align-items:flex-end}",
    ".row.system{align-items:center}",
    ".who{font-size:11px;color:#888;margin:0 4px 2px}",
    ".bubble{max-width:80%;padding:8px 11px;border-radius:12px;font-size:14px;line-height:1.45;white-space:pre-wrap;word-break:break-word;background:#fff;color:#222;border:1px solid #e6e6e6}",
    ".customer .bubble{background:#e4393c;color:#fff;border-color:#e4393c}",
    ".system .bubble{background:transparent;border:0;color:#777;font-size:12px;text-align:center;max-width:95%}",
    ".agent .bubble{border-color:#4a90e2}",
    ".pending .bubble{opacity:.6}",
    ".failed .bubble{background:#999;border-color:#999}",
    ".err{font-size:11px;color:#c00;margin-top:2px}",
    ".bubble img{max-width:100%;display:block;margin-top:6px;border-radius:6px}",
    ".quick{display:flex;flex-wrap:wrap;gap:6px;padding:6px 12px 0;background:#f5f5f7}",
    ".quick button{border:1px solid #e4393c;color:#e4393c;background:#fff;border-radius:14px;padding:5px 11px;font-size:13px;cursor:pointer}",
    ".typing{display:none;padding:4px 14px;font-size:12px;color:#888;background:#f5f5f7}",
    ".typing.show{display:block}",
    "form{display:flex;gap:8px;padding:10px;border-top:1px solid #eee;background:#fff}",
    "textarea{flex:1;resize:none;height:40px;max-height:120px;border:1px solid #ddd;border-radius:8px;padding:9px;font-size:14px;outline:none}",
    "textarea:focus{border-color:#e4393c}",
    "form button{border:0;border-radius:8px;background:#e4393c;color:#fff;padding:0 16px;font-size:14px;cursor:pointer}",
    "@media (max-width:480px){.panel{right:0;bottom:0;width:100vw;height:100%;max-height:100%;border-radius:0}.launcher{right:12px;bottom:12px}}"
  ].join("\n");

  function claimsOf(token) {
    try {
      var part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      while (part.length % 4) {
        part += "=";
      }
      return JSON.parse(decodeURIComponent(escape(atob(part))));
    } catch (e) {
      return null;
    }
  }

  function randomId(prefix) {
    var bytes = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    var hex = "";
    for (var i = 0; i < bytes.length; i++) {
      hex += ("0" + bytes[i].toString(16)).slice(-2);
    }
    return prefix + hex;
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) {
      node.className = cls;
    }
    if (text !== undefined && text !== null) {
      node.textContent = text;
    }
    return node;
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) {
      return values[key] === undefined ? "" : String(values[key]);
    });
  }

  var storage = {
    get: function (key) {
      try {
        return JSON.parse(window.localStorage.getItem(key) || "null");
      } catch (e) {
        return null;
      }
    },
    set: function (key, value) {
      try {
        window.localStorage.setItem(key, JSON.stringify(value));
      } catch (e) {
        /* private mode: history then lasts for the page only */
      }
    }
  };

  function Widget() {
    this.lang = (preset.language || data.lang || (navigator.language || "zh")).slice(0, 2) === "en" ? "en" : "zh";
    this.token = preset.customerToken || data.customerToken || null;
    this.ws = null;
    this.retry = 0;
    this.reconnectTimer = null;
    this.pingTimer = null;
    this.typingTimer = null;
    this.lastId = 0;
    this.rendered = {};
    this.pendingRows = {};
    this.payloadTitles = {};
    this.state = "bot";
    this.stateInfo = {};
    this.build();
    this.loadIdentity();
    this.connect();
  }

  Widget.prototype.t = function (key) {
    return TEXT[this.lang][key];
  };

  Widget.prototype.build = function () {
    var self = this;
    this.host = el("div");
    this.host.id = "shopchat-widget";
    document.body.appendChild(this.host);
    var root = this.host.attachShadow({ mode: "open" });
    root.appendChild(el("style", null, CSS));

    this.launcher = el("button", "launcher");
    this.launcher.type = "button";
    this.launcher.setAttribute("data-testid", "chat-launcher");
    this.launcher.addEventListener("click", function () {
      self.open();
    });

    this.panel = el("div", "panel");
    this.panel.setAttribute("data-testid", "chat-panel");
    this.panel.setAttribute("role", "dialog");
    var head = el("div", "head");
    this.titleEl = el("span", "t");
    this.langBtn = el("button");
    this.langBtn.type = "button";
    this.langBtn.setAttribute("data-testid", "chat-lang");
    this.langBtn.addEventListener("click", function () {
      self.setLanguage(self.lang === "zh" ? "en" : "zh");
    });
    this.closeBtn = el("button");
    this.closeBtn.type = "button";
    this.closeBtn.addEventListener("click", function () {
      self.close();
    });
    head.appendChild(this.titleEl);
    head.appendChild(this.langBtn);
    head.appendChild(this.closeBtn);

    this.statusEl = el("div", "status");
    this.statusEl.setAttribute("data-testid", "chat-status");
    this.list = el("div", "list");
    this.list.setAttribute("data-testid", "chat-messages");
    this.list.setAttribute("aria-live", "polite");
    this.quick = el("div", "quick");
    this.quick.setAttribute("data-testid", "chat-quick-replies");
    this.typingEl = el("div", "typing");
    this.typingEl.setAttribute("data-testid", "chat-typing");

    this.form = el("form");
    this.input = el("textarea");
    this.input.setAttribute("data-testid", "chat-input");
    this.input.setAttribute("maxlength", String(MAX_CHARS));
    this.input.rows = 1;
    this.sendBtn = el("button");
    this.sendBtn.type = "submit";
    this.sendBtn.setAttribute("data-testid", "chat-send");
    this.form.appendChild(this.input);
    this.form.appendChild(this.sendBtn);
    this.form.addEventListener("submit", function (event) {
      event.preventDefault();
      self.submit();
    });
    this.input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        self.submit();
      }
    });

    this.panel.appendChild(head);
    this.panel.appendChild(this.statusEl);
    this.panel.appendChild(this.list);
    this.panel.appendChild(this.quick);
    this.panel.appendChild(this.typingEl);
    this.panel.appendChild(this.form);
    root.appendChild(this.launcher);
    root.appendChild(this.panel);
    this.applyLanguage();
  };

  Widget.prototype.applyLanguage = function () {
    this.titleEl.textContent = this.t("title");
    this.launcher.textContent = this.t("launcher");
    this.langBtn.textContent = this.t("other");
    this.closeBtn.textContent = this.t("close");
    this.closeBtn.setAttribute("aria-label", this.t("close"));
    this.input.placeholder = this.t("placeholder");
    this.sendBtn.textContent = this.t("send");
    this.typingEl.textContent = this.t("typing");
    this.renderStatus();
  };

  Widget.prototype.identityKey = function () {
    var claims = this.token ? claimsOf(this.token) : null;
    return "shopchat:" + (claims && claims.sub ? "c:" + claims.sub : "anonymous");
  };

  Widget.prototype.loadIdentity = function () {
    this.key = this.identityKey();
    var saved = storage.get(this.key) || {};
    this.sender = saved.sender || randomId("w_");
    this.conversationId = saved.conversation_id || null;
    this.outbox = saved.outbox || [];
    this.save();
  };

  Widget.prototype.save = function () {
    storage.set(this.key, {
      sender: this.sender,
      conversation_id: this.conversationId,
      outbox: this.outbox
    });
  };

  Widget.prototype.open = function () {
    this.panel.classList.add("open");
    this.launcher.style.display = "none";
    this.scroll();
    this.input.focus();
  };

  Widget.prototype.close = function () {
    this.panel.classList.remove("open");
    this.launcher.style.display = "";
  };

  Widget.prototype.setLanguage = function (lang) {
    this.lang = lang === "en" ? "en" : "zh";
    this.applyLanguage();
    if (!this.lastId && this.greetingRow) {
      this.greetingRow.querySelector(".bubble").textContent = this.t("welcome");
    }
  };

  Widget.prototype.setCustomerToken = function (token) {
    this.token = token || null;
    if (this.identityKey() === this.key) {
      return; /* same customer (e.g. a refreshed token): keep the conversation */
    }
    this.disconnect();
    this.clearMessages();
    this.loadIdentity();
    this.connect();
  };

  Widget.prototype.clearMessages = function () {
    this.list.textContent = "";
    this.quick.textContent = "";
    this.rendered = {};
    this.pendingRows = {};
    this.payloadTitles = {};
    this.lastId = 0;
    this.greetingRow = null;
    this.state = "bot";
    this.stateInfo = {};
    this.renderStatus();
  };

  /* ---- connection ---- */

  Widget.prototype.connect = function () {
    var self = this;
    var url = origin.replace(/^http/, "ws") + "/ws";
    var ws;
    try {
      ws = new WebSocket(url);
    } catch (e) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.connected = false;
    this.renderStatus();
    ws.onopen = function () {
      ws.send(
        JSON.stringify({
          type: "hello",
          sender: self.sender,
          customer_token: self.token,
          language: self.lang,
          last_id: self.lastId
        })
      );
    };
    ws.onmessage = function (event) {
      var frame;
      try {
        frame = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      self.onFrame(frame);
    };
    ws.onclose = function (event) {
      if (self.ws !== ws) {
        return;
      }
      self.ws = null;
      self.connected = false;
      clearInterval(self.pingTimer);
      if (event.code === 4409 || event.code === 4400) {
        /* The stored thread belongs to someone else or is unusable: start a new one. */
        self.sender = randomId("w_");
        self.conversationId = null;
        self.save();
        self.clearMessages();
      }
      self.renderStatus();
      self.scheduleReconnect();
    };
    ws.onerror = function () {
      /* onclose follows */
    };
  };

  Widget.prototype.disconnect = function () {
    clearTimeout(this.reconnectTimer);
    clearInterval(this.pingTimer);
    var ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = null;
      ws.close();
    }
  };

  Widget.prototype.scheduleReconnect = function () {
    var self = this;
    clearTimeout(this.reconnectTimer);
    var delay = Math.min(15000, 500 * Math.pow(2, this.retry)) + Math.random() * 300;
    this.retry += 1;
    this.reconnectTimer = setTimeout(function () {
      self.connect();
    }, delay);
  };

  Widget.prototype.sendFrame = function (frame) {
    if (this.ws && this.connected && this.ws.readyState === 1) {
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  };

  Widget.prototype.flushOutbox = function () {
    for (var i = 0; i < this.outbox.length; i++) {
      var item = this.outbox[i];
      this.sendFrame({ type: "message", text: item.text, client_message_id: item.id, language: this.lang });
    }
  };

  Widget.prototype.onFrame = function (frame) {
    var self = this;
    switch (frame.type) {
      case "welcome":
        this.connected = true;
        this.retry = 0;
        if (frame.conversation_id) {
          this.conversationId = frame.conversation_id;
          this.save();
        }
        this.setState(frame);
        if (!this.lastId && !this.greetingRow && !frame.conversation_id) {
          this.greetingRow = this.renderRow({ author: "bot", text: this.t("welcome") }, null);
        }
        clearInterval(this.pingTimer);
        this.pingTimer = setInterval(function () {
          self.sendFrame({ type: "ping" });
        }, 25000);
        this.flushOutbox();
        break;
      case "message":
        this.onMessage(frame.message);
        break;
      case "ack":
        this.onAck(frame);
        break;
      case "state":
        this.setState(frame);
        break;
      case "typing":
        this.showTyping(frame.on, frame.who);
        break;
      case "error":
        this.onError(frame);
        break;
      default:
        break;
    }
  };

  /* ---- messages ---- */

  Widget.prototype.submit = function () {
    var text = this.input.value.replace(/^\s+|\s+$/g, "");
    if (!text) {
      return;
    }
    this.input.value = "";
    this.send(text, text);
  };

  Widget.prototype.send = function (text, shown) {
    var id = randomId("m_");
    this.outbox.push({ id: id, text: text });
    this.save();
    var row = this.renderRow({ author: "customer", text: shown }, null);
    row.classList.add("pending");
    this.pendingRows[id] = row;
    this.quick.textContent = "";
    if (text.length > MAX_CHARS) {
      this.failPending(id, this.t("tooLong"));
      return;
    }
    this.sendFrame({ type: "message", text: text, client_message_id: id, language: this.lang });
  };

  Widget.prototype.dropFromOutbox = function (id) {
    this.outbox = this.outbox.filter(function (item) {
      return item.id !== id;
    });
    this.save();
  };

  Widget.prototype.onAck = function (frame) {
    var id = frame.client_message_id;
    if (!id) {
      return;
    }
    this.dropFromOutbox(id);
    var row = this.pendingRows[id];
    if (row) {
      row.classList.remove("pending");
      delete this.pendingRows[id];
      if (frame.message_id) {
        this.rendered[frame.message_id] = row;
        this.lastId = Math.max(this.lastId, frame.message_id);
      }
    }
  };

  Widget.prototype.failPending = function (id, why) {
    this.dropFromOutbox(id);
    var row = this.pendingRows[id];
    if (row) {
      row.classList.remove("pending");
      row.classList.add("failed");
      row.appendChild(el("div", "err", why));
      delete this.pendingRows[id];
    }
  };

  Widget.prototype.onError = function (frame) {
    if (!frame.client_message_id) {
      return;
    }
    var why = frame.code === "message_too_large" ? this.t("tooLong") : this.t("failed");
    this.failPending(frame.client_message_id, why);
  };

  Widget.prototype.onMessage = function (message) {
    if (!message || !message.id) {
      return;
    }
    this.lastId = Math.max(this.lastId, message.id);
    if (this.rendered[message.id]) {
      return;
    }
    if (this.greetingRow) {
      this.greetingRow.remove();
      this.greetingRow = null;
    }
    var cid = message.client_message_id;
    if (message.author === "customer" && cid && this.pendingRows[cid]) {
      var row = this.pendingRows[cid];
      row.classList.remove("pending");
      delete this.pendingRows[cid];
      this.dropFromOutbox(cid);
      this.rendered[message.id] = row;
      return;
    }
    if (message.author === "customer" && cid) {
      /* Sent from this browser before a reload and acknowledged meanwhile. */
      this.dropFromOutbox(cid);
    }
    if (message.author !== "customer") {
      this.showTyping(false);
    }
    this.rendered[message.id] = this.renderRow(message, message.id);
    this.renderQuickReplies(message);
  };

  Widget.prototype.renderRow = function (message, id) {
    var author = message.author || "bot";
    var row = el("div", "row " + author);
    row.setAttribute("data-author", author);
    if (id) {
      row.setAttribute("data-message-id", String(id));
    }
    var label =
      author === "customer"
        ? this.t("you")
        : author === "agent"
        ? message.agent_name || this.t("agentLabel")
        : author === "system"
        ? null
        : this.t("bot");
    if (label) {
      row.appendChild(el("div", "who", label));
    }
    var text = message.text || "";
    if (author === "customer" && text.charAt(0) === "/" && this.payloadTitles[text]) {
      text = this.payloadTitles[text];
    }
    var bubble = el("div", "bubble", text);
    if (message.image && /^https?:\/\//.test(message.image)) {
      var img = el("img");
      img.src = message.image;
      img.alt = "";
      bubble.appendChild(img);
    }
    row.appendChild(bubble);
    this.list.appendChild(row);
    this.scroll();
    return row;
  };

  Widget.prototype.renderQuickReplies = function (message) {
    var self = this;
    if (message.author === "customer") {
      return;
    }
    this.quick.textContent = "";
    var buttons = message.buttons || [];
    buttons.forEach(function (button) {
      self.payloadTitles[button.payload] = button.title;
      var b = el("button", null, button.title);
      b.type = "button";
      b.setAttribute("data-testid", "chat-quick-reply");
      b.addEventListener("click", function () {
        self.send(button.payload, button.title);
      });
      self.quick.appendChild(b);
    });
  };

  Widget.prototype.showTyping = function (on, who) {
    var self = this;
    clearTimeout(this.typingTimer);
    this.typingEl.textContent = who === "agent" ? this.t("agentTyping") : this.t("typing");
    this.typingEl.classList.toggle("show", !!on);
    if (on) {
      this.typingTimer = setTimeout(function () {
        self.typingEl.classList.remove("show");
      }, who === "agent" ? 4000 : 30000);
    }
  };

  Widget.prototype.setState = function (frame) {
    this.state = frame.state || "bot";
    this.stateInfo = frame;
    this.renderStatus();
  };

  Widget.prototype.renderStatus = function () {
    var text = "";
    if (!this.connected) {
      text = this.retry > 0 ? this.t("reconnecting") : this.t("connecting");
    } else if (this.state === "queued" && this.stateInfo.queue) {
      text = fill(this.t("queued"), {
        position: this.stateInfo.queue.position,
        minutes: this.stateInfo.queue.expected_wait_minutes
      });
    } else if (this.state === "agent") {
      text = fill(this.t("agent"), { name: this.stateInfo.agent_name || this.t("agentLabel") });
    }
    this.statusEl.textContent = text;
    this.statusEl.classList.toggle("show", !!text);
    this.host.setAttribute("data-state", this.state);
    this.host.setAttribute("data-connected", this.connected ? "1" : "0");
  };

  Widget.prototype.scroll = function () {
    this.list.scrollTop = this.list.scrollHeight;
  };

  function start() {
    var widget = new Widget();
    window.ShopChat = {
      loaded: true,
      open: function () {
        widget.open();
      },
      close: function () {
        widget.close();
      },
      setCustomerToken: function (token) {
        widget.setCustomerToken(token);
      },
      setLanguage: function (lang) {
        widget.setLanguage(lang);
      },
      conversationId: function () {
        return widget.conversationId;
      },
      hasCustomerToken: function () {
        return Boolean(widget.token);
      }
    };
    if (preset.open || data.open === "1") {
      widget.open();
    }
  }

  if (document.body) {
    start();
  } else {
    document.addEventListener("DOMContentLoaded", start);
  }
})();
