/* Supervisor dashboard: headline figures with the change against the previous period, a
 * daily trend chart (hand-written SVG), topics, handoff reasons, channels, agents and the
 * latest low ratings. Reads /api/v1/metrics and /api/v1/metrics/low-ratings with the
 * inbox session cookie. Customer text (comments) is only ever set with textContent. */
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var TEXT = {
    zh: {
      title: "服务质量看板", loginTitle: "服务质量看板", loginHint: "请用主管账号登录。",
      username: "用户名", password: "密码", login: "登录", badLogin: "用户名或密码错误",
      tooMany: "尝试次数过多，请稍后再试", forbiddenTitle: "无权查看",
      forbidden: "看板只对客服主管开放。", backToInbox: "返回工作台", from: "从", to: "到",
      apply: "查看", csv: "导出 CSV", inbox: "工作台", other: "EN", trend: "每日趋势",
      contacts: "会话数", topics: "话题", topicsHint: "标红：转人工或差评明显偏多",
      topic: "话题", handoffRate: "转人工率", lowRatings: "差评率", containment: "自助解决率",
      reasons: "转人工原因", channels: "渠道", channel: "渠道", lowTitle: "最近的差评",
      agents: "客服", agent: "客服", handled: "处理数", firstResponse: "首次响应",
      handling: "处理时长", loading: "加载中…", failed: "数据加载失败", noData: "暂无数据",
      noComment: "（没有留言）", transcript: "查看对话", vsPrevious: "对比上一周期",
      provisional: "最近 {n} 天的 FCR 还不完整（顾客可能还会回来），虚线表示。",
      hotHandoff: "转人工多", hotLow: "差评多", bot: "机器人", agentContacts: "人工",
      kpi: {
        contacts: "会话数", csat: "满意度 CSAT", fcr: "一次解决率 FCR",
        containment: "自助解决率", satisfied_containment: "满意的自助解决",
        handoff_rate: "转人工率", csat_response_rate: "评价率", fallback_rate: "未理解率",
        agent_first_response_seconds: "人工首次响应", agent_handling_seconds: "人工处理时长"
      },
      topicNames: {
        order_tracking: "物流查询", returns_refunds: "退换货/退款", order_change: "修改订单",
        order_cancel: "取消订单", problem_report: "商品问题/投诉", payment: "支付",
        loyalty: "积分/优惠券", human_agent: "找人工", greeting: "问候", other: "其他"
      },
      channelNames: { web: "网站", wechat: "微信公众号", wecom: "企业微信", rest: "API" },
      reasonNames: {
        customer_request: "客户要求人工", fallback: "机器人连续无法理解", complaint: "投诉/情绪激动",
        policy_exception: "超出机器人权限", logistics_exception: "物流异常",
        identity_failed: "身份验证失败", bot_unavailable: "机器人故障"
      },
      min: "分钟", sec: "秒", pt: "个百分点"
    },
    en: {
      title: "Service dashboard", loginTitle: "Service dashboard", loginHint: "Log in with a supervisor account.",
      username: "Username", password: "Password", login: "Log in", badLogin: "Wrong username or password",
      tooMany: "Too many attempts, try again later", forbiddenTitle: "Not allowed",
      forbidden: "The dashboard is for supervisors.", backToInbox: "Back to the inbox", from: "From", to: "To",
      apply: "Show", csv: "Export CSV", inbox: "Inbox", other: "中文", trend: "Daily trend",
      contacts: "Contacts", topics: "Topics", topicsHint: "Red: far more handoffs or low ratings than usual",
      topic: "Topic", handoffRate: "Handoff", lowRatings: "Low ratings", containment: "Containment",
      reasons: "Handoff reasons", channels: "Channels", channel: "Channel", lowTitle: "Latest low ratings",
      agents: "Agents", agent: "Agent", handled: "Handled", firstResponse: "First response",
      handling: "Handling", loading: "Loading…", failed: "Could not load the figures", noData: "No data",
      noComment: "(no comment)", transcript: "Open transcript", vsPrevious: "vs previous period",
      provisional: "FCR of the last {n} days is not final yet (customers may still come back): dashed.",
      hotHandoff: "many handoffs", hotLow: "many low ratings", bot: "bot", agentContacts: "agent",
      kpi: {
        contacts: "Contacts", csat: "CSAT", fcr: "First-contact resolution",
        containment: "Containment", satisfied_containment: "Satisfied containment",
        handoff_rate: "Handoff rate", csat_response_rate: "Rating response rate",
        fallback_rate: "Not understood", agent_first_response_seconds: "Agent first response",
        agent_handling_seconds: "Agent handling time"
      },
      topicNames: {
        order_tracking: "Order tracking", returns_refunds: "Returns & refunds", order_change: "Order changes",
        order_cancel: "Cancellations", problem_report: "Problems & complaints", payment: "Payment",
        loyalty: "Points & coupons", human_agent: "Asked for a person", greeting: "Greeting", other: "Other"
      },
      channelNames: { web: "Website", wechat: "WeChat", wecom: "WeCom", rest: "API" },
      reasonNames: {
        customer_request: "Customer asked", fallback: "Not understood twice", complaint: "Complaint / angry",
        policy_exception: "Beyond the bot's authority", logistics_exception: "Logistics exception",
        identity_failed: "Identity check failed", bot_unavailable: "Bot unavailable"
      },
      min: "min", sec: "s", pt: "pt"
    }
  };
  /* name, kind, which direction is better (1 up, -1 down, 0 neither) */
  var KPIS = [
    ["contacts", "count", 0], ["csat", "share", 1], ["fcr", "share", 1],
    ["containment", "share", 1], ["satisfied_containment", "share", 1],
    ["handoff_rate", "share", -1], ["csat_response_rate", "share", 1],
    ["fallback_rate", "share", -1], ["agent_first_response_seconds", "seconds", -1],
    ["agent_handling_seconds", "seconds", 0]
  ];

  var lang = localStorage.getItem("inbox:lang") || "zh";
  var data = null;
  var low = [];

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
  function svg(tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }
  function name(table, key) { return (t(table) || {})[key] || key; }

  function fmt(value, kind) {
    if (value === null || value === undefined) { return "–"; }
    if (kind === "share") { return (value * 100).toFixed(1) + "%"; }
    if (kind === "seconds") {
      return value < 120 ? Math.round(value) + " " + t("sec") : (value / 60).toFixed(1) + " " + t("min");
    }
    return String(Math.round(value)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  function delta(now, before, kind, better) {
    if (now === null || before === null || now === undefined || before === undefined) { return null; }
    var diff = now - before;
    var text;
    if (kind === "share") {
      text = (diff >= 0 ? "▲ " : "▼ ") + Math.abs(diff * 100).toFixed(1) + " " + t("pt");
    } else {
      if (!before) { return null; }
      text = (diff >= 0 ? "▲ " : "▼ ") + Math.abs(diff / before * 100).toFixed(1) + "%";
    }
    var tone = Math.abs(diff) < 1e-9 || better === 0 ? "flat" : diff * better > 0 ? "good" : "bad";
    return { text: text, tone: tone };
  }

  function api(method, path, body) {
    return fetch(path, {
      method: method, credentials: "same-origin",
      headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (json) {
        if (!r.ok) { var err = new Error("HTTP " + r.status); err.status = r.status; throw err; }
        return json;
      });
    });
  }

  /* ---- screens ---- */

  function show(id) {
    ["login", "forbidden", "app"].forEach(function (s) { $(s).classList.toggle("hidden", s !== id); });
  }

  function applyLanguage() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n]"), function (node) {
      node.textContent = t(node.getAttribute("data-i18n"));
    });
    $("lang").textContent = t("other");
    if (data) { render(); }
  }

  $("lang").addEventListener("click", function () {
    lang = lang === "zh" ? "en" : "zh";
    localStorage.setItem("inbox:lang", lang);
    applyLanguage();
  });

  $("login-form").addEventListener("submit", function (event) {
    event.preventDefault();
    $("login-error").textContent = "";
    api("POST", "/api/v1/inbox/login", {
      username: $("login-username").value.trim(), password: $("login-password").value
    }).then(function () { load(); }).catch(function (err) {
      $("login-error").textContent = err.status === 429 ? t("tooMany") : t("badLogin");
    });
  });

  $("range").addEventListener("submit", function (event) {
    event.preventDefault();
    load($("from").value, $("to").value);
  });
  Array.prototype.forEach.call(document.querySelectorAll("[data-days]"), function (button) {
    button.addEventListener("click", function () {
      var to = $("to").value || (data && data.to);
      if (!to) { return; }
      var end = new Date(to + "T00:00:00Z");
      var start = new Date(end.getTime() - (Number(button.getAttribute("data-days")) - 1) * 86400000);
      load(start.toISOString().slice(0, 10), to);
    });
  });

  function query(from, to) {
    var q = [];
    if (from) { q.push("from=" + encodeURIComponent(from)); }
    if (to) { q.push("to=" + encodeURIComponent(to)); }
    return q.join("&");
  }

  function load(from, to) {
    $("status").textContent = t("loading");
    var q = query(from, to);
    return api("GET", "/api/v1/metrics?compare=1" + (q ? "&" + q : "")).then(function (metrics) {
      data = metrics;
      show("app");
      $("from").value = metrics.from;
      $("to").value = metrics.to;
      $("csv").setAttribute("href", "/api/v1/metrics/export.csv?" + query(metrics.from, metrics.to));
      return api("GET", "/api/v1/metrics/low-ratings?limit=15&" + query(metrics.from, metrics.to));
    }).then(function (lows) {
      low = lows.ratings || [];
      $("status").textContent = "";
      render();
      document.body.setAttribute("data-loaded", "1");
    }).catch(function (err) {
      if (err.status === 401) { show("login"); return; }
      if (err.status === 403) { show("forbidden"); return; }
      $("status").textContent = t("failed");
    });
  }

  /* ---- rendering ---- */

  function render() {
    renderCards();
    renderChart();
    renderTopics();
    renderReasons();
    renderChannels();
    renderAgents();
    renderLow();
  }

  function renderCards() {
    var box = $("cards");
    box.textContent = "";
    var previous = data.previous || {};
    KPIS.forEach(function (kpi) {
      var key = kpi[0];
      var value = data[key];
      var card = el("div", { "class": "card", "data-testid": "kpi-" + key,
        "data-value": value === null || value === undefined ? "" : String(value) });
      card.appendChild(el("div", { "class": "name" }, t("kpi")[key]));
      card.appendChild(el("div", { "class": "value", "data-testid": "kpi-value" }, fmt(value, kpi[1])));
      var change = delta(value, previous[key], kpi[1], kpi[2]);
      var line = el("div", { "class": "delta " + (change ? change.tone : "flat"), "data-testid": "kpi-delta",
        title: t("vsPrevious") + " " + (previous.from || "") + "…" + (previous.to || "") });
      line.textContent = change ? change.text : "–";
      if (key === "fcr") {
        line.textContent += "  · " + t("bot") + " " + fmt(data.fcr_bot, "share") + " / " +
          t("agentContacts") + " " + fmt(data.fcr_agent, "share");
      }
      card.appendChild(line);
      box.appendChild(card);
    });
  }

  function renderChart() {
    var box = $("chart");
    box.textContent = "";
    var days = data.by_day || [];
    var width = Math.max(480, box.clientWidth || 900);
    var height = 270;
    var pad = { left: 48, right: 46, top: 12, bottom: 28 };
    var plotW = width - pad.left - pad.right;
    var plotH = height - pad.top - pad.bottom;
    var root = svg("svg", { viewBox: "0 0 " + width + " " + height, "data-testid": "trend-chart",
      role: "img", "aria-label": t("trend") });
    var maxContacts = 1;
    days.forEach(function (d) { maxContacts = Math.max(maxContacts, d.contacts || 0); });
    var step = days.length ? plotW / days.length : plotW;
    function x(i) { return pad.left + step * i + step / 2; }
    function yCount(v) { return pad.top + plotH - (v / maxContacts) * plotH; }
    function yShare(v) { return pad.top + plotH - v * plotH; }
    root.appendChild(svg("line", { "class": "axis", x1: pad.left, y1: pad.top + plotH, x2: pad.left + plotW, y2: pad.top + plotH }));
    [0, 0.5, 1].forEach(function (f) {
      var y = pad.top + plotH - f * plotH;
      root.appendChild(svg("line", { "class": "axis", x1: pad.left, y1: y, x2: pad.left + plotW, y2: y, "stroke-dasharray": f ? "2 3" : "" }));
      var left = svg("text", { "class": "tick", x: pad.left - 6, y: y + 4, "text-anchor": "end" });
      left.textContent = fmt(maxContacts * f, "count");
      root.appendChild(left);
      var right = svg("text", { "class": "tick", x: pad.left + plotW + 6, y: y + 4 });
      right.textContent = Math.round(f * 100) + "%";
      root.appendChild(right);
    });
    var barW = Math.max(1, step * 0.7);
    days.forEach(function (d, i) {
      var h = ((d.contacts || 0) / maxContacts) * plotH;
      var rect = svg("rect", { "class": "bar", x: x(i) - barW / 2, y: pad.top + plotH - h, width: barW,
        height: Math.max(0, h), "data-day": d.key, "data-contacts": d.contacts || 0 });
      var title = svg("title", {});
      title.textContent = d.key + "  " + t("contacts") + " " + fmt(d.contacts, "count") +
        "  CSAT " + fmt(d.csat, "share") + "  FCR " + fmt(d.fcr, "share");
      rect.appendChild(title);
      root.appendChild(rect);
    });
    var labelEvery = Math.max(1, Math.ceil(days.length / 10));
    days.forEach(function (d, i) {
      if (i % labelEvery !== 0) { return; }
      var label = svg("text", { "class": "tick", x: x(i), y: height - 8, "text-anchor": "middle" });
      label.textContent = d.key.slice(5);
      root.appendChild(label);
    });
    var provisional = data.fcr_provisional_from || null;
    function line(metric, cls, keep) {
      var dpath = "";
      var pen = false;
      var points = 0;
      days.forEach(function (d, i) {
        var v = d[metric];
        if (v === null || v === undefined || !keep(d)) { pen = false; return; }
        dpath += (pen ? " L " : " M ") + x(i).toFixed(1) + " " + yShare(v).toFixed(1);
        pen = true;
        points += 1;
      });
      if (!points) { return; }
      root.appendChild(svg("path", { "class": cls, d: dpath.trim(), "data-points": points }));
    }
    line("csat", "csat-line", function () { return true; });
    line("fcr", "fcr-line", function (d) { return !provisional || d.key < provisional; });
    /* The dashed part starts at the last final day, so the two parts join. */
    var lastFinal = null;
    days.forEach(function (d) { if (provisional && d.key < provisional && d.fcr !== null) { lastFinal = d.key; } });
    line("fcr", "fcr-line provisional", function (d) {
      return provisional && (d.key >= provisional || d.key === lastFinal);
    });
    box.appendChild(root);
    $("provisional").textContent = provisional
      ? t("provisional").replace("{n}", String(Math.round(data.fcr_window_days))) : "";
  }

  function renderTopics() {
    var body = $("topics");
    body.textContent = "";
    var rows = (data.by_topic || []).slice();
    var handoff = data.handoff_rate || 0;
    var lowRate = data.low_rating_rate || 0;
    rows.sort(function (a, b) {
      return ((b.handoff_rate || 0) + (b.low_rating_rate || 0)) - ((a.handoff_rate || 0) + (a.low_rating_rate || 0));
    });
    if (!rows.length) { body.appendChild(emptyRow(7)); return; }
    rows.forEach(function (r) {
      var hotHandoff = r.contacts >= 5 && handoff > 0 && (r.handoff_rate || 0) >= 1.5 * handoff;
      var hotLow = (r.counts.ratings || 0) >= 5 && lowRate > 0 && (r.low_rating_rate || 0) >= 1.5 * lowRate;
      var tr = el("tr", { "data-topic": r.key, "data-testid": "topic-row", "class": hotHandoff || hotLow ? "hot" : "" });
      var first = el("td", {}, name("topicNames", r.key));
      if (hotHandoff) { first.appendChild(el("span", { "class": "badge" }, t("hotHandoff"))); }
      if (hotLow) { first.appendChild(el("span", { "class": "badge" }, t("hotLow"))); }
      tr.appendChild(first);
      tr.appendChild(el("td", { "data-col": "contacts" }, fmt(r.contacts, "count")));
      tr.appendChild(el("td", { "data-col": "handoff_rate", "class": hotHandoff ? "hot" : "" }, fmt(r.handoff_rate, "share")));
      tr.appendChild(el("td", { "data-col": "low_rating_rate", "class": hotLow ? "hot" : "" }, fmt(r.low_rating_rate, "share")));
      tr.appendChild(el("td", { "data-col": "csat" }, fmt(r.csat, "share")));
      tr.appendChild(el("td", { "data-col": "fcr" }, fmt(r.fcr, "share")));
      tr.appendChild(el("td", { "data-col": "containment" }, fmt(r.containment, "share")));
      body.appendChild(tr);
    });
  }

  function renderReasons() {
    var box = $("reasons");
    box.textContent = "";
    var reasons = data.handoff_reasons || {};
    var keys = Object.keys(reasons);
    var max = 1;
    keys.forEach(function (k) { max = Math.max(max, reasons[k]); });
    if (!keys.length) { box.appendChild(el("p", { "class": "muted" }, t("noData"))); return; }
    keys.forEach(function (k) {
      var row = el("div", { "class": "row", "data-reason": k });
      row.appendChild(el("span", {}, name("reasonNames", k)));
      var track = el("div", { "class": "track" });
      var fill = el("div", { "class": "fill" });
      fill.style.width = Math.round((reasons[k] / max) * 100) + "%";
      track.appendChild(fill);
      row.appendChild(track);
      row.appendChild(el("span", {}, fmt(reasons[k], "count")));
      box.appendChild(row);
    });
  }

  function renderChannels() {
    var body = $("channels");
    body.textContent = "";
    (data.by_channel || []).forEach(function (r) {
      var tr = el("tr", { "data-channel": r.key });
      tr.appendChild(el("td", {}, name("channelNames", r.key)));
      tr.appendChild(el("td", {}, fmt(r.contacts, "count")));
      tr.appendChild(el("td", {}, fmt(r.csat, "share")));
      tr.appendChild(el("td", {}, fmt(r.fcr, "share")));
      tr.appendChild(el("td", {}, fmt(r.containment, "share")));
      body.appendChild(tr);
    });
    if (!body.children.length) { body.appendChild(emptyRow(5)); }
  }

  function renderAgents() {
    var body = $("agents");
    body.textContent = "";
    (data.by_agent || []).forEach(function (r) {
      var tr = el("tr", { "data-agent": String(r.key) });
      tr.appendChild(el("td", {}, r.agent_name));
      tr.appendChild(el("td", {}, fmt(r.contacts, "count")));
      tr.appendChild(el("td", {}, fmt(r.csat, "share")));
      tr.appendChild(el("td", {}, fmt(r.fcr, "share")));
      tr.appendChild(el("td", {}, fmt(r.agent_first_response_seconds, "seconds")));
      tr.appendChild(el("td", {}, fmt(r.agent_handling_seconds, "seconds")));
      body.appendChild(tr);
    });
    if (!body.children.length) { body.appendChild(emptyRow(6)); }
  }

  function renderLow() {
    var list = $("low");
    list.textContent = "";
    if (!low.length) { list.appendChild(el("li", { "class": "muted" }, t("noData"))); return; }
    low.forEach(function (r) {
      var item = el("li", { "data-testid": "low-rating", "data-contact-id": String(r.contact_id) });
      var head = el("div", { "class": "head" });
      head.appendChild(el("span", { "class": "stars" }, "★★★★★".slice(0, r.rating) + "☆☆☆☆☆".slice(0, 5 - r.rating)));
      head.appendChild(el("span", {}, name("topicNames", r.topic || "other")));
      head.appendChild(el("span", {}, name("channelNames", r.channel)));
      if (r.agent_name) { head.appendChild(el("span", {}, r.agent_name)); }
      head.appendChild(el("span", {}, localTime(r.rated_at)));
      item.appendChild(head);
      item.appendChild(el("div", { "class": "comment", "data-testid": "low-rating-comment" }, r.comment || t("noComment")));
      item.appendChild(el("a", { href: r.transcript_url, "data-testid": "low-rating-link" }, t("transcript")));
      list.appendChild(item);
    });
  }

  function localTime(iso) {
    if (!iso) { return ""; }
    var d = new Date(iso);
    function two(n) { return n < 10 ? "0" + n : String(n); }
    return d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate()) + " " +
      two(d.getHours()) + ":" + two(d.getMinutes());
  }

  function emptyRow(span) {
    var tr = el("tr");
    tr.appendChild(el("td", { colspan: String(span), "class": "muted" }, t("noData")));
    return tr;
  }

  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { if (data) { renderChart(); } }, 150);
  });

  applyLanguage();
  load();
})();
