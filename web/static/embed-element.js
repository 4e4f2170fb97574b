// appeal: the <appeal-progress campaign="slug" lang="fr"> element (or appeal="slug", an
// appeal's total and members). Served inside /embed.js,
// wrapped with format.js and the translations (LANGUAGES, CURRENCIES, ORIGIN) so that
// nothing leaks into the host page; its look lives in a Shadow DOM.
var STYLE =
  ":host{display:block;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:#1c1b1f}" +
  ".w{border:1px solid #d9d8de;border-radius:.6rem;padding:.9rem 1rem;background:#fff}" +
  ".t{margin:0 0 .4rem;font-weight:700}.t a{color:inherit;text-decoration:none}" +
  ".r{margin:0 0 .4rem}.r strong{font-size:1.6rem}" +
  "progress{appearance:none;-webkit-appearance:none;width:100%;height:.9rem;border:0;border-radius:999px;background:#ebe9ef;overflow:hidden;display:block}" +
  "progress::-webkit-progress-bar{background:#ebe9ef}progress::-webkit-progress-value{background:#b3261e;transition:width .6s}" +
  "progress::-moz-progress-bar{background:#b3261e}" +
  ".m{margin:.4rem 0 .6rem;color:#55545c}" +
  ".g{display:inline-block;background:#b3261e;color:#fff;font-weight:700;padding:.45rem 1rem;border-radius:.45rem;text-decoration:none}" +
  ".g[hidden]{display:none}" +
  ".b{position:relative}.b svg{position:absolute;inset:0;width:100%;height:.9rem;border-radius:999px;overflow:hidden;pointer-events:none}" +
  ".b svg[hidden]{display:none}.b rect{fill:#e3887f}" +
  ".ms{list-style:none;margin:.2rem 0 .6rem;padding:0;display:grid;gap:.35rem}.ms li{display:flex;flex-wrap:wrap;justify-content:space-between;gap:.2rem .6rem;font-size:.9rem}" +
  ".ms progress{height:.45rem;flex-basis:100%}.ms .s{color:#b3261e;font-weight:600;flex-basis:100%;font-size:.8rem}";

function pickLanguage(attribute) {
  var wanted = (attribute || (navigator.language || "en")).toLowerCase().split("-")[0];
  return LANGUAGES[wanted] ? wanted : "en";
}

function i18nFor(language, currency) {
  var meta = LANGUAGES[language];
  var money = CURRENCIES[currency] || { symbol: currency, digits: 2 };
  return Object.assign({}, meta, { symbol: money.symbol, digits: money.digits });
}

class AppealProgress extends HTMLElement {
  connectedCallback() {
    if (this.shadowRoot) return;
    if (this.hasAttribute("appeal")) return this.showAppeal();
    var slug = encodeURIComponent(this.getAttribute("campaign") || "");
    var language = pickLanguage(this.getAttribute("lang"));
    var page = ORIGIN + "/c/" + slug + "?lang=" + language;
    // The push this site belongs to, for the campaign's sources report.
    var ref = this.getAttribute("ref");
    if (ref && /^[A-Za-z0-9_-]{1,64}$/.test(ref)) page += "&ref=" + ref;
    var widget = this.mount(language,
      '<div class="b"><progress max="100" value="0"></progress>' +
      '<svg viewBox="0 0 1000 10" preserveAspectRatio="none" aria-hidden="true" focusable="false" hidden><rect height="10"></rect></svg></div>' +
      '<p class="m" aria-live="polite"></p>' +
      '<a class="g" target="_blank" rel="noopener"></a>');
    var title = widget.querySelector(".t a");
    title.href = page;
    var give = widget.querySelector(".g");
    give.href = page + "#give";
    give.textContent = LANGUAGES[language].strings["embed.give"];
    var self = this;
    fetch(ORIGIN + "/api/v1/campaigns/" + slug).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (campaign) {
      if (campaign) title.textContent = campaign.title[language] || campaign.title.en || campaign.title.fr || "";
    });
    function render(p) {
      var f = appealFormatter(i18nFor(language, p.currency));
      widget.querySelector(".r strong").textContent = f.money(f.minor(p.raised));
      widget.querySelector(".r span").textContent = f.fill(f.s["progress.raised_of"], { goal: f.money(f.minor(p.goal)) });
      var bar = widget.querySelector("progress");
      bar.value = Math.max(0, Math.min(100, p.percent));
      bar.setAttribute("aria-label", title.textContent || f.s["progress.label"]);
      bar.setAttribute("aria-valuetext", f.percent(p.percent));
      var parts = [f.percent(p.percent), f.plural("progress.donors", p.donors)];
      var left = appealTimeLeft(f, p.ends_at);
      if (left) parts.push(left);
      widget.querySelector(".m").textContent = parts.join(" · ");
      // Matched money not yet paid: its own segment of the bar.
      var matched = appealMatchSegment(f, p);
      var segment = widget.querySelector(".b svg");
      segment.toggleAttribute("hidden", !matched);
      if (matched) {
        segment.firstChild.setAttribute("x", matched.x);
        segment.firstChild.setAttribute("width", matched.width);
      }
      give.hidden = p.status !== "active";
      self.setAttribute("data-raised", p.raised);
    }
    this.follow(ORIGIN + "/api/v1/campaigns/" + slug + "/progress", render);
  }

  // The widget's box in its own Shadow DOM, in `language` and its direction: the title and
  // figure lines, then `rest`.
  mount(language, rest) {
    var root = this.attachShadow({ mode: "open" });
    var style = document.createElement("style");
    style.textContent = STYLE;
    var widget = document.createElement("div");
    widget.className = "w";
    widget.setAttribute("part", "widget");
    widget.setAttribute("dir", LANGUAGES[language].dir || "ltr");
    widget.setAttribute("lang", language);
    widget.innerHTML =
      '<p class="t"><a target="_blank" rel="noopener"></a></p>' +
      '<p class="r"><strong></strong> <span></span></p>' + rest;
    root.appendChild(style);
    root.appendChild(widget);
    return widget;
  }

  // Renders the progress document at `url` now, and again at every change (its stream).
  follow(url, render) {
    fetch(url).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (progress) {
      if (progress) render(progress);
    });
    if (window.EventSource) {
      this.source = new EventSource(url + "/stream");
      this.source.addEventListener("progress", function (event) { render(JSON.parse(event.data)); });
    }
  }

  // <appeal-progress appeal="slug">: an appeal's total and each member's bar, live.
  showAppeal() {
    var slug = encodeURIComponent(this.getAttribute("appeal") || "");
    var language = pickLanguage(this.getAttribute("lang"));
    var widget = this.mount(language,
      '<div class="b"><progress max="100" value="0"></progress></div>' +
      '<p class="m" aria-live="polite"></p><ul class="ms"></ul>');
    var title = widget.querySelector(".t a");
    title.href = ORIGIN + "/a/" + slug + "?lang=" + language;
    var self = this;
    function render(p) {
      var f = appealFormatter(i18nFor(language, p.currency));
      title.textContent = p.title[language] || p.title.en || p.title.fr || "";
      widget.querySelector(".r strong").textContent = f.money(f.minor(p.raised));
      widget.querySelector(".r span").textContent = f.fill(f.s["progress.raised_of"], { goal: f.money(f.minor(p.goal)) });
      var bar = widget.querySelector("progress");
      bar.value = Math.max(0, Math.min(100, p.percent));
      bar.setAttribute("aria-label", title.textContent || f.s["progress.label"]);
      bar.setAttribute("aria-valuetext", f.percent(p.percent));
      widget.querySelector(".m").textContent = [f.percent(p.percent), f.plural("progress.donors", p.donors)].join(" · ");
      var list = widget.querySelector(".ms");
      list.textContent = "";
      p.members.forEach(function (member) {
        var item = document.createElement("li");
        var name = document.createElement("span");
        name.textContent = member.name;
        var figure = document.createElement("span");
        if (member.currency && member.raised !== null) {
          var own = appealFormatter(i18nFor(language, member.currency));
          figure.textContent = own.money(own.minor(member.raised));
          if (member.goal) {
            var memberBar = document.createElement("progress");
            memberBar.max = 100;
            memberBar.value = Math.max(0, Math.min(100, (own.minor(member.raised) * 100) / (own.minor(member.goal) || 1)));
            memberBar.setAttribute("aria-label", member.name);
            item.appendChild(name);
            item.appendChild(figure);
            item.appendChild(memberBar);
          }
        } else {
          figure.textContent = f.s["appeal.not_heard"];
        }
        if (!item.firstChild) {
          item.appendChild(name);
          item.appendChild(figure);
        }
        if (member.stale) {
          var stale = document.createElement("span");
          stale.className = "s";
          stale.textContent = f.s["appeal.stale"];
          item.appendChild(stale);
        }
        list.appendChild(item);
      });
      self.setAttribute("data-raised", p.raised);
    }
    this.follow(ORIGIN + "/api/v1/appeals/" + slug + "/progress", render);
  }

  disconnectedCallback() {
    if (this.source) this.source.close();
  }
}

if (!customElements.get("appeal-progress")) customElements.define("appeal-progress", AppealProgress);
