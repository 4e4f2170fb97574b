// appeal: keeps an appeal's figures live (Server-Sent Events): its total, and each member's
// figure in its own currency and converted. The page works without it. Needs format.js.
(function () {
  "use strict";

  function when(lang, iso) {
    if (!iso) return "";
    try {
      return new Intl.DateTimeFormat(lang, { dateStyle: "long", timeStyle: "short", timeZone: "UTC" }).format(new Date(iso)) + " UTC";
    } catch (e) {
      return iso;
    }
  }

  function day(lang, iso) {
    if (!iso) return "";
    try {
      return new Intl.DateTimeFormat(lang, { dateStyle: "long", timeZone: "UTC" }).format(new Date(iso + "T00:00:00Z"));
    } catch (e) {
      return iso;
    }
  }

  function render(section, i18n, currencies, p) {
    var lang = document.documentElement.lang || "en";
    function formatter(code) {
      var money = currencies[code] || { symbol: code, digits: 2 };
      return appealFormatter(Object.assign({}, i18n, { symbol: money.symbol, digits: money.digits }));
    }
    var f = formatter(p.currency);
    function set(node, field, text) {
      var target = node.querySelector('[data-field="' + field + '"]');
      if (target) target.textContent = text;
      return target;
    }
    set(section, "raised", f.money(f.minor(p.raised)));
    set(section, "raised_of", f.fill(f.s["progress.raised_of"], { goal: f.money(f.minor(p.goal)) }));
    var bar = section.querySelector('[data-field="bar"]');
    if (bar) {
      bar.value = Math.max(0, Math.min(100, p.percent));
      bar.setAttribute("aria-valuetext", f.ofGoal(p.percent));
      bar.textContent = f.ofGoal(p.percent);
    }
    set(section, "percent", f.ofGoal(p.percent));
    set(section, "donors", f.plural("progress.donors", p.donors));
    var incomplete = section.querySelector('[data-field="incomplete"]');
    if (incomplete) incomplete.hidden = p.complete;
    p.members.forEach(function (member, index) {
      var item = section.querySelector('[data-member="' + index + '"]');
      if (!item) return;
      var own = member.currency ? formatter(member.currency) : null;
      set(item, "member_raised", own && member.raised !== null ? own.money(own.minor(member.raised)) : f.s["appeal.not_heard"]);
      var converted = "";
      if (member.raised_converted !== null && member.currency !== p.currency) {
        converted = f.fill(f.s["appeal.converted"], {
          amount: f.money(f.minor(member.raised_converted)),
          rate: member.rate,
          source: member.rate_source === "fixed at launch" ? f.s["appeal.fixed_at_launch"] : (member.rate_source || ""),
          date: day(lang, member.rate_date)
        });
      } else if (member.raised_converted === null && member.raised !== null && member.problem) {
        converted = f.fill(f.s["appeal.not_counted"], { problem: member.problem });
      }
      set(item, "member_converted", converted);
      set(item, "member_as_of", member.as_of ? f.fill(f.s["appeal.as_of"], { time: when(lang, member.as_of) }) : "");
      var stale = item.querySelector('[data-field="member_stale"]');
      if (stale) stale.hidden = !member.stale;
      item.classList.toggle("stale", member.stale);
      var memberBar = item.querySelector('[data-field="member_bar"]');
      if (memberBar && own && member.goal && member.raised !== null) {
        var pct = (own.minor(member.raised) * 100) / (own.minor(member.goal) || 1);
        memberBar.value = Math.max(0, Math.min(100, pct));
        memberBar.setAttribute("aria-valuetext", own.ofGoal(Math.round(pct * 10) / 10));
      }
    });
    section.setAttribute("data-updated", p.updated_at);
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("section.appeal-progress[data-live]"), function (section) {
      var i18n = JSON.parse(section.getAttribute("data-i18n"));
      var currencies = JSON.parse(section.getAttribute("data-currencies"));
      if (!window.EventSource) return;
      var source = new EventSource(section.getAttribute("data-live"));
      source.addEventListener("progress", function (event) {
        render(section, i18n, currencies, JSON.parse(event.data));
      });
    });
  });
})();
