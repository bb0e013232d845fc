/* Demo shop page: picks a demo customer, gets a token from the dev-only endpoint and
 * embeds the widget with the same one tag a real shop uses. */
(function () {
  "use strict";
  var TEXT = {
    zh: { customer: "演示顾客", anonymous: "匿名访客", hero: "双十一好物节 · 全场包邮",
      sub: "有问题随时点右下角「联系客服」：查订单、物流、退换货、积分，7×24 小时智能客服，工作时间人工客服在线。",
      embed: "如何嵌入", other: "EN", nodemo: "演示模式未开启（DEMO_MODE=1）：只能以匿名访客身份聊天。" },
    en: { customer: "Demo customer", anonymous: "Anonymous visitor", hero: "Singles' Day deals · free shipping",
      sub: "Questions? Click \"Chat with us\" at the bottom right: orders, deliveries, returns, points. The assistant answers 24/7, people during opening hours.",
      embed: "How to embed", other: "中文", nodemo: "Demo mode is off (DEMO_MODE=1): you can only chat anonymously." }
  };
  var select = document.getElementById("demo-customer");
  var langBtn = document.getElementById("demo-lang");
  var note = document.getElementById("demo-note");
  var lang = localStorage.getItem("demo:lang") || "zh";
  var demoMode = false;

  function applyLanguage() {
    var words = TEXT[lang];
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n]"), function (node) {
      node.textContent = words[node.getAttribute("data-i18n")];
    });
    langBtn.textContent = words.other;
    note.textContent = demoMode ? "" : words.nodemo;
  }

  function tokenFor(customer) {
    if (!customer || !demoMode) {
      return Promise.resolve(null);
    }
    return fetch("/demo/token?customer=" + encodeURIComponent(customer))
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) { return body ? body.token : null; })
      .catch(function () { return null; });
  }

  /* The customer can change while a token request or the widget script is still on its
   * way: only the newest request counts, and the widget takes the newest token once it
   * has loaded (setting the same token again is a no-op). */
  var tokenRequest = 0;
  var currentToken = null;

  function chooseCustomer(customer) {
    var request = ++tokenRequest;
    return tokenFor(customer).then(function (token) {
      if (request !== tokenRequest) {
        return;
      }
      currentToken = token;
      if (window.ShopChat) {
        window.ShopChat.setCustomerToken(token);
      }
    });
  }

  function embedWidget() {
    var tag = document.createElement("script");
    tag.src = "/widget.js";
    tag.setAttribute("data-lang", lang);
    if (currentToken) {
      tag.setAttribute("data-customer-token", currentToken);
    }
    tag.addEventListener("load", function () {
      if (window.ShopChat) {
        window.ShopChat.setCustomerToken(currentToken);
      }
    });
    document.body.appendChild(tag);
  }

  langBtn.addEventListener("click", function () {
    lang = lang === "zh" ? "en" : "zh";
    localStorage.setItem("demo:lang", lang);
    applyLanguage();
    if (window.ShopChat) {
      window.ShopChat.setLanguage(lang);
    }
  });

  select.addEventListener("change", function () {
    localStorage.setItem("demo:customer", select.value);
    chooseCustomer(select.value);
  });

  fetch("/demo/config")
    .then(function (r) { return r.json(); })
    .catch(function () { return { demo_mode: false, customers: [] }; })
    .then(function (config) {
      demoMode = !!config.demo_mode;
      config.customers.forEach(function (c) {
        var option = document.createElement("option");
        option.value = c.id;
        option.textContent = c.name + " (" + c.id + ")";
        select.appendChild(option);
      });
      var saved = localStorage.getItem("demo:customer") || "";
      if (config.customers.some(function (c) { return c.id === saved; })) {
        select.value = saved;
      }
      applyLanguage();
      return chooseCustomer(select.value);
    })
    .then(embedWidget);
})();
