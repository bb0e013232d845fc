/* Agent inbox: queue, conversations, handoff card, replies, notes, transfer, resolve.
 * Talks to the JSON API under /api/v1/inbox (session cookie) and listens on /inbox/ws.
 * Everything from customers is rendered with textContent, never as HTML. */
(function () {
  "use strict";

  var TEXT = {
    zh: {
      loginTitle: "客服工作台登录", username: "用户名", password: "密码", login: "登录",
      badLogin: "用户名或密码错误", tooMany: "尝试次数过多，请稍后再试",
      appTitle: "客服工作台", logout: "退出", other: "EN",
      tabQueue: "排队", tabMine: "我的会话", tabTickets: "留言工单", tabAll: "全部会话", tabAgents: "坐席负载",
      pick: "从左侧选择一个会话。", emptyList: "暂无", online: "已连接", offline: "连接断开，正在重连…",
      claim: "接入", resolve: "结束会话", transfer: "转接", transferTo: "转接给…", send: "发送",
      replyPlaceholder: "输入回复，Enter 发送，Shift+Enter 换行", notClaimed: "接入后才能回复",
      notes: "内部备注（客户看不到）", addNote: "添加", notePlaceholder: "写一条备注…",
      take: "处理", waiting: "等待", customer: "客户", anonymous: "匿名", verified: "已验证",
      notVerified: "未验证", byToken: "商城登录", byOrder: "订单号+手机尾号", language: "语言",
      reason: "转人工原因", intent: "意图", slots: "对话信息", order: "相关订单", status: "状态",
      items: "商品", shipment: "物流", address: "收货地址", phone: "联系电话", total: "金额",
      orderUnavailable: "订单数据暂时无法读取", orderNotFound: "未找到该订单", noOrder: "无",
      notOwner: "注意：该订单不属于已验证的顾客", trackerDown: "机器人对话数据暂不可用",
      channel: "渠道", assigned: "处理人", state: "状态", activeCount: "进行中",
      you: "客户", bot: "机器人", agent: "客服", system: "系统", buttons: "按钮",
      stateNames: { bot: "机器人", queued: "排队中", agent: "人工处理中", resolved: "已解决" },
      reasons: {
        customer_request: "客户要求人工", fallback: "机器人连续无法理解", complaint: "投诉/情绪激动",
        policy_exception: "超出机器人权限", logistics_exception: "物流异常", identity_failed: "身份验证失败",
        bot_unavailable: "机器人故障"
      },
      conflict: "操作失败：会话状态已变化", minutes: "分钟", seconds: "秒"
    },
    en: {
      loginTitle: "Agent inbox login", username: "Username", password: "Password", login: "Log in",
      badLogin: "Wrong username or password", tooMany: "Too many attempts, try again later",
      appTitle: "Agent inbox", logout: "Log out", other: "中文",
      tabQueue: "Queue", tabMine: "Mine", tabTickets: "Tickets", tabAll: "All", tabAgents: "Agents",
      pick: "Pick a conversation on the left.", emptyList: "Nothing here", online: "Live", offline: "Disconnected, reconnecting…",
      claim: "Claim", resolve: "Resolve", transfer: "Transfer", transferTo: "Transfer to…", send: "Send",
      replyPlaceholder: "Reply; Enter sends, Shift+Enter for a new line", notClaimed: "Claim it to reply",
      notes: "Internal notes (not shown to the customer)", addNote: "Add", notePlaceholder: "Write a note…",
      take: "Take", waiting: "Waiting", customer: "Customer", anonymous: "anonymous", verified: "verified",
      notVerified: "not verified", byToken: "shop login", byOrder: "order + phone digits", language: "Language",
      reason: "Reason", intent: "Intent", slots: "Conversation data", order: "Order", status: "Status",
      items: "Items", shipment: "Shipment", address: "Address", phone: "Phone", total: "Total",
      orderUnavailable: "Order data unavailable right now", orderNotFound: "Order not found", noOrder: "none",
      notOwner: "Warning: this order does not belong to the verified customer", trackerDown: "Bot data unavailable",
      channel: "Channel", assigned: "Agent", state: "State", activeCount: "Active",
      you: "Customer", bot: "Bot", agent: "Agent", system: "System", buttons: "Buttons",
      stateNames: { bot: "bot", queued: "queued", agent: "with agent", resolved: "resolved" },
      reasons: {
        customer_request: "Customer asked for a person", fallback: "Bot did not understand twice",
        complaint: "Complaint / angry", policy_exception: "Beyond the bot's authority",
        logistics_exception: "Logistics exception", identity_failed: "Identity check failed",
        bot_unavailable: "Bot unavailable"
      },
      conflict: "Failed: the conversation changed meanwhile", minutes: "min", seconds: "s"
    }
  };

  var lang = localStorage.getItem("inbox:lang") || "zh";
  var me = null;
  var tab = "queue";
  var current = null;
  var detail = null;
  var agents = [];
  var ws = null;
  var wsRetry = 0;
  var refreshTimer = null;
  var lastTyping = 0;
  var listRows = [];

  function t(key) { return TEXT[lang][key]; }
  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "class") { node.className = attrs[k]; } else { node.setAttribute(k, attrs[k]); }
    });
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function api(method, path, body) {
    return fetch("/api/v1/inbox" + path, {
      method: method,
      credentials: "same-origin",
      headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.status === 401 && path !== "/login") { showLogin(); }
        if (!response.ok) {
          var err = new Error((data.error && data.error.message) || "HTTP " + response.status);
          err.status = response.status;
          throw err;
        }
        return data;
      });
    });
  }

  function waitText(seconds) {
    return seconds >= 60 ? Math.floor(seconds / 60) + t("minutes") : seconds + t("seconds");
  }

  function since(iso) {
    return Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000));
  }

  function reasonName(reason) { return (reason && t("reasons")[reason]) || reason || ""; }
  function stateName(state) { return t("stateNames")[state] || state; }

  function agentName(id) {
    for (var i = 0; i < agents.length; i++) { if (agents[i].id === id) { return agents[i].display_name; } }
    return id ? "#" + id : "";
  }

  /* ---- language ---- */

  function applyLanguage() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n]"), function (node) {
      node.textContent = t(node.getAttribute("data-i18n"));
    });
    $("lang").textContent = t("other");
    renderConnection();
    renderList();
    if (detail) { renderDetail(); }
  }

  /* ---- login ---- */

  function showLogin() {
    me = null;
    if (ws) { ws.onclose = null; ws.close(); ws = null; }
    $("app").classList.add("hidden");
    $("login").classList.remove("hidden");
  }

  $("login-form").addEventListener("submit", function (event) {
    event.preventDefault();
    $("login-error").textContent = "";
    api("POST", "/login", { username: $("login-username").value, password: $("login-password").value })
      .then(function (data) {
        $("login-password").value = "";
        startApp(data.agent);
      })
      .catch(function (err) {
        $("login-error").textContent = err.status === 429 ? t("tooMany") : t("badLogin");
      });
  });

  $("logout").addEventListener("click", function () {
    api("POST", "/logout").catch(function () {}).then(showLogin);
  });

  $("lang").addEventListener("click", function () {
    lang = lang === "zh" ? "en" : "zh";
    localStorage.setItem("inbox:lang", lang);
    applyLanguage();
  });

  /* ---- app ---- */

  function startApp(agent) {
    me = agent;
    $("login").classList.add("hidden");
    $("app").classList.remove("hidden");
    $("me").textContent = agent.display_name + " (" + agent.role + ")";
    Array.prototype.forEach.call(document.querySelectorAll(".sup"), function (node) {
      node.classList.toggle("hidden", agent.role !== "supervisor");
    });
    applyLanguage();
    loadAgents();
    selectTab("queue");
    connect();
    /* Deep link from the dashboard: /inbox#conversation=<id> opens that transcript. */
    var linked = /^#conversation=([0-9a-f]{1,64})$/.exec(location.hash);
    if (linked) { openConversation(linked[1]); }
  }

  function loadAgents() {
    return api("GET", "/agents").then(function (data) { agents = data.agents; if (tab === "agents") { renderList(); } });
  }

  document.getElementById("tabs").addEventListener("click", function (event) {
    var name = event.target.getAttribute && event.target.getAttribute("data-tab");
    if (name) { selectTab(name); }
  });

  function selectTab(name) {
    tab = name;
    Array.prototype.forEach.call(document.querySelectorAll("#tabs button"), function (b) {
      b.classList.toggle("active", b.getAttribute("data-tab") === name);
    });
    loadList();
  }

  function loadList() {
    var request;
    if (tab === "queue") {
      request = api("GET", "/queue").then(function (d) { return d.queue; });
    } else if (tab === "mine") {
      request = api("GET", "/conversations?scope=mine&state=open").then(function (d) { return d.conversations; });
    } else if (tab === "all") {
      request = api("GET", "/conversations?scope=all&state=all").then(function (d) { return d.conversations; });
    } else if (tab === "tickets") {
      request = api("GET", "/tickets").then(function (d) { return d.tickets; });
    } else {
      request = loadAgents().then(function () { return agents; });
    }
    request.then(function (rows) { listRows = rows; renderList(); }).catch(function () {});
  }

  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(loadList, 150);
  }

  function renderList() {
    var list = $("list");
    list.textContent = "";
    if (tab === "agents") {
      var table = el("table", { "class": "loads", "data-testid": "agent-loads" });
      var head = el("tr");
      [t("agent"), t("state"), t("activeCount")].forEach(function (h) { head.appendChild(el("th", {}, h)); });
      table.appendChild(head);
      agents.forEach(function (a) {
        var row = el("tr", { "data-testid": "agent-load", "data-username": a.username });
        row.appendChild(el("td", {}, a.display_name));
        row.appendChild(el("td", {}, a.role));
        row.appendChild(el("td", { "data-testid": "agent-load-count" }, a.active_conversations));
        table.appendChild(row);
      });
      var li = el("li");
      li.appendChild(table);
      list.appendChild(li);
      return;
    }
    if (!listRows.length) {
      list.appendChild(el("li", { "class": "empty" }, t("emptyList")));
      return;
    }
    listRows.forEach(function (row) {
      var id = row.conversation_id || row.id;
      var item = el("li", { "data-conversation-id": id });
      var line1 = el("div", { "class": "line1" });
      var line2 = el("div", { "class": "line2" });
      if (tab === "queue") {
        item.setAttribute("data-testid", "queue-item");
        line1.appendChild(el("span", {}, row.customer_id || t("anonymous")));
        line1.appendChild(el("span", { "class": "wait", "data-since": row.queued_at }, t("waiting") + " " + waitText(since(row.queued_at))));
        line2.appendChild(el("span", { "class": "tag" }, reasonName(row.reason)));
        line2.appendChild(el("span", {}, row.channel));
        line2.appendChild(el("span", {}, row.language || ""));
      } else if (tab === "tickets") {
        item.setAttribute("data-testid", "ticket-item");
        line1.appendChild(el("span", {}, "T" + row.id + " · " + (row.customer_id || t("anonymous"))));
        var take = el("button", { type: "button", "data-testid": "ticket-take" }, t("take"));
        take.addEventListener("click", function (event) {
          event.stopPropagation();
          api("POST", "/tickets/" + row.id + "/take").then(function (d) {
            selectTab("mine");
            openConversation(d.conversation_id);
          }).catch(function () { alert(t("conflict")); loadList(); });
        });
        line1.appendChild(take);
        line2.appendChild(el("span", {}, row.text || ""));
        line2.appendChild(el("span", { "class": "tag" }, reasonName(row.reason)));
      } else {
        item.setAttribute("data-testid", "conversation-item");
        line1.appendChild(el("span", {}, row.customer_id || t("anonymous")));
        line1.appendChild(el("span", { "class": "tag " + row.state }, stateName(row.state)));
        line2.appendChild(el("span", {}, row.channel));
        if (row.handoff) { line2.appendChild(el("span", {}, reasonName(row.handoff.reason))); }
        if (row.assigned_agent_id) { line2.appendChild(el("span", {}, agentName(row.assigned_agent_id))); }
      }
      item.appendChild(line1);
      item.appendChild(line2);
      if (id === current) { item.classList.add("active"); }
      item.addEventListener("click", function () { openConversation(id); });
      list.appendChild(item);
    });
  }

  setInterval(function () {
    Array.prototype.forEach.call(document.querySelectorAll(".wait[data-since]"), function (node) {
      node.textContent = t("waiting") + " " + waitText(since(node.getAttribute("data-since")));
    });
  }, 5000);

  /* ---- conversation ---- */

  function openConversation(id) {
    current = id;
    watch();
    return api("GET", "/conversations/" + encodeURIComponent(id)).then(function (data) {
      if (current !== id) { return; }
      detail = data;
      renderDetail();
      renderList();
    }).catch(function () {});
  }

  function reloadDetail() {
    if (current) { openConversation(current); }
  }

  function mine() {
    return detail && detail.conversation.state === "agent" && detail.conversation.assigned_agent_id === me.id;
  }

  function renderDetail() {
    var box = $("detail");
    var conv = detail.conversation;
    var old = box.querySelector("[data-testid=reply-input]");
    var draft = old && box.getAttribute("data-conversation-id") === conv.id ? old.value : "";
    var hadFocus = old && document.activeElement === old;
    box.textContent = "";
    box.setAttribute("data-conversation-id", conv.id);
    box.setAttribute("data-state", conv.state);
    var head = el("div", { "class": "dhead" });
    head.appendChild(el("span", { "class": "title" }, (conv.customer_id || t("anonymous")) + " · " + conv.channel));
    head.appendChild(el("span", { "class": "tag " + conv.state, "data-testid": "conversation-state" }, stateName(conv.state)));
    if (conv.state === "queued") {
      var claim = el("button", { type: "button", "class": "primary", "data-testid": "claim-button" }, t("claim"));
      claim.addEventListener("click", function () { act("/claim"); });
      head.appendChild(claim);
    }
    if (conv.state === "agent" && (mine() || me.role === "supervisor")) {
      var select = el("select", { "data-testid": "transfer-select" });
      select.appendChild(el("option", { value: "" }, t("transferTo")));
      agents.forEach(function (a) {
        if (a.id !== conv.assigned_agent_id) { select.appendChild(el("option", { value: String(a.id) }, a.display_name)); }
      });
      var transfer = el("button", { type: "button", "data-testid": "transfer-button" }, t("transfer"));
      transfer.addEventListener("click", function () {
        if (select.value) { act("/transfer", { agent_id: parseInt(select.value, 10) }); }
      });
      head.appendChild(select);
      head.appendChild(transfer);
    }
    if ((conv.state === "agent" && mine()) || (me.role === "supervisor" && (conv.state === "agent" || conv.state === "queued"))) {
      var resolve = el("button", { type: "button", "class": "danger", "data-testid": "resolve-button" }, t("resolve"));
      resolve.addEventListener("click", function () { act("/resolve"); });
      head.appendChild(resolve);
    }
    box.appendChild(head);

    var transcript = el("div", { "class": "transcript", "data-testid": "transcript" });
    detail.messages.forEach(function (m) { transcript.appendChild(messageRow(m)); });
    box.appendChild(transcript);

    var composer = el("form", { "class": "composer" });
    var input = el("textarea", { "data-testid": "reply-input", maxlength: "2000" });
    input.placeholder = mine() ? t("replyPlaceholder") : t("notClaimed");
    input.disabled = !mine();
    input.value = draft;
    var send = el("button", { type: "submit", "class": "primary", "data-testid": "reply-send" }, t("send"));
    send.disabled = !mine();
    composer.appendChild(input);
    composer.appendChild(send);
    composer.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = input.value.trim();
      if (!text) { return; }
      send.disabled = true;
      api("POST", "/conversations/" + encodeURIComponent(current) + "/reply", { text: text })
        .then(function (d) { input.value = ""; appendMessage(d.message); })
        .catch(function () { alert(t("conflict")); reloadDetail(); })
        .then(function () { send.disabled = !mine(); input.focus(); });
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        composer.requestSubmit ? composer.requestSubmit() : send.click();
      }
    });
    input.addEventListener("input", function () {
      if (Date.now() - lastTyping > 2000 && ws && ws.readyState === 1) {
        lastTyping = Date.now();
        ws.send(JSON.stringify({ type: "typing", conversation_id: current }));
      }
    });
    box.appendChild(composer);
    if (hadFocus && !input.disabled) { input.focus(); }
    transcript.scrollTop = transcript.scrollHeight;
    renderCard();
  }

  function messageRow(m) {
    var row = el("div", { "class": "msg " + m.author, "data-author": m.author, "data-message-id": String(m.id) });
    var who = m.author === "agent" ? (m.agent_name || t("agent")) : t(m.author === "customer" ? "you" : m.author);
    row.appendChild(el("div", { "class": "who" }, who + " · " + new Date(m.created_at).toLocaleTimeString()));
    row.appendChild(el("div", { "class": "text" }, m.text));
    if (m.buttons && m.buttons.length) {
      row.appendChild(el("div", { "class": "btns" }, t("buttons") + ": " + m.buttons.map(function (b) { return b.title; }).join(" | ")));
    }
    return row;
  }

  function appendMessage(message) {
    if (!detail) { return; }
    var transcript = document.querySelector("[data-testid=transcript]");
    if (!transcript || transcript.querySelector('[data-message-id="' + message.id + '"]')) { return; }
    detail.messages.push(message);
    transcript.appendChild(messageRow(message));
    transcript.scrollTop = transcript.scrollHeight;
  }

  function act(path, body) {
    var id = current;
    api("POST", "/conversations/" + encodeURIComponent(id) + path, body || {})
      .then(function () { loadList(); loadAgents(); return openConversation(id); })
      .catch(function () { alert(t("conflict")); loadList(); reloadDetail(); });
  }

  /* ---- handoff card ---- */

  function dl(pairs, testids) {
    var list = el("dl");
    pairs.forEach(function (pair, i) {
      if (pair[1] === null || pair[1] === undefined || pair[1] === "") { return; }
      list.appendChild(el("dt", {}, pair[0]));
      var dd = el("dd", testids && testids[i] ? { "data-testid": testids[i] } : {}, pair[1]);
      list.appendChild(dd);
    });
    return list;
  }

  function renderCard() {
    var box = $("card");
    box.textContent = "";
    var card = detail.card;
    if (!card) { return; }
    var c = card.customer;
    var identity = c.identity.verified
      ? t("verified") + " (" + (c.identity.method === "token" ? t("byToken") : t("byOrder")) + ")"
      : t("notVerified");
    box.appendChild(el("h3", {}, t("customer")));
    box.appendChild(dl([
      [t("customer"), c.id ? (c.name ? c.name + " · " : "") + c.id : t("anonymous")],
      [t("verified"), identity],
      [t("language"), card.language],
      [t("channel"), card.channel],
      [t("reason"), reasonName(card.reason)],
      [t("intent"), card.intent],
      [t("assigned"), card.assigned_agent ? card.assigned_agent.display_name : ""]
    ], ["card-customer", "card-identity", "card-language", "card-channel", "card-reason", "card-intent", "card-agent"]));

    box.appendChild(el("h3", {}, t("order")));
    var orderBox = el("div", { "data-testid": "card-order" });
    if (card.order) {
      var o = card.order;
      var items = (o.items || []).map(function (i) {
        return (lang === "en" && i.name_en ? i.name_en : i.name) + " ×" + i.qty;
      }).join(", ");
      var ship = o.shipment
        ? (lang === "en" ? o.shipment.carrier_en : o.shipment.carrier) + " " + o.shipment.tracking_no +
          (o.shipment.events && o.shipment.events.length ? " · " + (lang === "en" ? o.shipment.events[0].text_en : o.shipment.events[0].text) : "")
        : "";
      orderBox.appendChild(dl([
        ["#", o.id],
        [t("status"), o.status],
        [t("items"), items],
        [t("total"), o.total],
        [t("shipment"), ship],
        [t("address"), o.address],
        [t("phone"), o.recipient_phone]
      ], [null, "card-order-status", null, null, null, "card-order-address", "card-order-phone"]));
      if (!o.belongs_to_customer) { orderBox.appendChild(el("p", { "class": "warn" }, t("notOwner"))); }
    } else {
      var why = card.order_status === "unavailable" ? t("orderUnavailable")
        : card.order_status === "not_found" ? t("orderNotFound") + " (" + card.order_id + ")" : t("noOrder");
      orderBox.appendChild(el("p", {}, why));
    }
    box.appendChild(orderBox);

    box.appendChild(el("h3", {}, t("slots")));
    if (!card.tracker_available) { box.appendChild(el("p", { "class": "warn" }, t("trackerDown"))); }
    var slotPairs = Object.keys(card.slots || {}).map(function (k) {
      var v = card.slots[k];
      return [k, typeof v === "object" ? JSON.stringify(v) : String(v)];
    });
    var slots = dl(slotPairs);
    slots.setAttribute("data-testid", "card-slots");
    box.appendChild(slots);

    box.appendChild(el("h3", {}, t("notes")));
    var notes = el("ul", { "class": "notes", "data-testid": "notes-list" });
    (detail.notes || []).forEach(function (n) { notes.appendChild(noteRow(n)); });
    box.appendChild(notes);
    var form = el("form", { "class": "noteform" });
    var input = el("input", { "data-testid": "note-input", maxlength: "2000" });
    input.placeholder = t("notePlaceholder");
    form.appendChild(input);
    form.appendChild(el("button", { type: "submit", "data-testid": "note-add" }, t("addNote")));
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = input.value.trim();
      if (!text) { return; }
      api("POST", "/conversations/" + encodeURIComponent(current) + "/notes", { text: text })
        .then(function (d) { input.value = ""; addNote(d.note); })
        .catch(function () {});
    });
    box.appendChild(form);
  }

  function noteRow(n) {
    var li = el("li", { "data-note-id": String(n.id) });
    li.appendChild(el("div", { "class": "who" }, n.agent_name + " · " + new Date(n.created_at).toLocaleString()));
    li.appendChild(el("div", {}, n.text));
    return li;
  }

  function addNote(note) {
    var list = document.querySelector("[data-testid=notes-list]");
    if (!list || list.querySelector('[data-note-id="' + note.id + '"]')) { return; }
    detail.notes.push(note);
    list.appendChild(noteRow(note));
  }

  /* ---- live socket ---- */

  function renderConnection() {
    var live = ws && ws.readyState === 1;
    var node = $("conn");
    node.textContent = live ? t("online") : t("offline");
    node.classList.toggle("ok", !!live);
    node.setAttribute("data-live", live ? "1" : "0");
  }

  function watch() {
    if (ws && ws.readyState === 1) {
      ws.send(JSON.stringify(current ? { type: "watch", conversation_id: current } : { type: "unwatch" }));
    }
  }

  function connect() {
    if (!me) { return; }
    var socket = new WebSocket(location.origin.replace(/^http/, "ws") + "/inbox/ws");
    ws = socket;
    socket.onopen = function () {
      wsRetry = 0;
      renderConnection();
      watch();
      loadList();
      if (current) { reloadDetail(); }
    };
    socket.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (frame.type === "message" && frame.conversation_id === current) {
        appendMessage(frame.message);
      } else if (frame.type === "note" && frame.conversation_id === current) {
        addNote(frame.note);
      } else if (frame.type === "conversation") {
        scheduleRefresh();
        if (frame.conversation_id === current && detail && detail.conversation.state !== frame.state) {
          reloadDetail();
        }
      } else if (frame.type === "queue" || frame.type === "activity") {
        scheduleRefresh();
      }
    };
    socket.onclose = function (event) {
      if (ws !== socket) { return; }
      ws = null;
      renderConnection();
      if (event.code === 4401) { showLogin(); return; }
      wsRetry += 1;
      setTimeout(connect, Math.min(15000, 500 * Math.pow(2, wsRetry)));
    };
  }

  setInterval(function () { if (ws && ws.readyState === 1) { ws.send('{"type":"ping"}'); } }, 25000);

  /* ---- start ---- */

  api("GET", "/me").then(function (data) { startApp(data.agent); }).catch(function () { showLogin(); applyLanguage(); });
})();
