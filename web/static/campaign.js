// appeal: keeps a campaign's figures live (Server-Sent Events) and shows the exact fee in
// the donation form. The page works without it; this only adds comfort. Needs format.js.
(function () {
  "use strict";

  function render(section, f, p) {
    function set(field, text) {
      var node = section.querySelector('[data-field="' + field + '"]');
      if (node && text !== null) node.textContent = text;
      return node;
    }
    set("raised", f.money(f.minor(p.raised)));
    set("raised_of", f.fill(f.s["progress.raised_of"], { goal: f.money(f.minor(p.goal)) }));
    var bar = section.querySelector('[data-field="bar"]');
    if (bar) {
      bar.value = Math.max(0, Math.min(100, p.percent));
      bar.setAttribute("aria-valuetext", f.ofGoal(p.percent));
      bar.textContent = f.ofGoal(p.percent);
    }
    set("percent", f.ofGoal(p.percent));
    var segment = section.querySelector('[data-field="match_segment"]');
    var matched = appealMatchSegment(f, p);
    if (segment && matched) {
      segment.setAttribute("x", matched.x);
      segment.setAttribute("width", matched.width);
      set("matching", f.fill(f.s["progress.matching"], {
        matched: f.money(f.minor(p.matching.matched)),
        cap: f.money(f.minor(p.matching.cap)),
        remaining: f.money(f.minor(p.matching.remaining))
      }));
    }
    set("donors", f.plural("progress.donors", p.donors));
    set("time_left", appealTimeLeft(f, p.ends_at));
    set("online", f.money(f.minor(p.by_source.online)));
    set("offline", f.money(f.minor(p.by_source.offline)));
    var recurring = section.querySelector('[data-field="recurring"]');
    if (recurring) {
      recurring.hidden = p.recurring.active === 0;
      recurring.textContent = f.plural("progress.recurring", p.recurring.active, { monthly: f.money(f.minor(p.recurring.monthly)) });
    }
    (p.branches || []).forEach(function (branch) {
      // A branch's page shows its bar twice: on top, and in the list.
      Array.prototype.forEach.call(section.querySelectorAll('[data-branch="' + branch.slug + '"]'), function (item) {
        var raised = f.money(f.minor(branch.raised));
        var figure = item.querySelector('[data-field="branch_raised"]');
        if (figure) figure.textContent = branch.goal ? raised + " " + f.fill(f.s["progress.raised_of"], { goal: f.money(f.minor(branch.goal)) }) : raised;
        var branchBar = item.querySelector('[data-field="branch_bar"]');
        if (branchBar && branch.goal) {
          var pct = (f.minor(branch.raised) * 100) / f.minor(branch.goal);
          branchBar.value = Math.max(0, Math.min(100, pct));
          branchBar.setAttribute("aria-valuetext", f.ofGoal(pct));
        }
      });
    });
    section.setAttribute("data-updated", p.updated_at);
    if (p.status !== "active") closeForm(f);
  }

  // The campaign closed while the page was open (its end came): the form says so.
  function closeForm(f) {
    Array.prototype.forEach.call(document.querySelectorAll("[data-give]"), function (link) { link.hidden = true; });
    var form = document.querySelector("section.give form");
    if (!form) return;
    var note = document.createElement("p");
    note.className = "muted";
    note.setAttribute("role", "status");
    note.textContent = f.s["form.closed"];
    form.parentNode.replaceChild(note, form);
  }

  function live(section) {
    var i18n = JSON.parse(section.getAttribute("data-i18n"));
    var f = appealFormatter(i18n);
    render(section, f, JSON.parse(section.getAttribute("data-progress")));
    if (!window.EventSource) return f;
    var source = new EventSource(section.getAttribute("data-live"));
    source.addEventListener("progress", function (event) {
      render(section, f, JSON.parse(event.data));
    });
    return f;
  }

  function enhanceForm(form, campaignFormatter, i18n) {
    var f = campaignFormatter;
    var custom = form.querySelector("#custom-amount");
    var other = form.querySelector('input[name="preset"][value="other"]');
    var cover = form.querySelector('input[name="cover_fees"]');
    var coverLabel = form.querySelector('[data-field="cover_label"]');
    var total = form.querySelector('[data-field="total"]');
    var bp = parseInt(form.getAttribute("data-fee-percent-bp"), 10);
    var fixed = parseInt(form.getAttribute("data-fee-fixed-minor"), 10);
    // What Stripe can charge moves in steps (0.010 for three-decimal currencies).
    var step = parseInt(form.getAttribute("data-charge-step"), 10) || 1;
    // Another currency chosen: the amounts, fee and total are written in it.
    var chooser = form.querySelector('select[name="currency"]');
    var currencies = JSON.parse(form.getAttribute("data-currencies") || "{}");
    var own = chooser ? chooser.options[0].value : null;
    function choose() {
      var chosen = chooser && currencies[chooser.value];
      if (!chosen) return;
      if (!i18n) throw new Error("the page's figures carry no language settings");
      f = appealFormatter(Object.assign({}, i18n, { symbol: chosen.symbol, digits: chosen.digits }));
      fixed = chosen.fixed;
      step = chosen.step || 1;
      // The buttons' amounts in the chosen currency, and the server told which.
      var presets = form.querySelectorAll('input[name="preset"]:not([value="other"])');
      Array.prototype.forEach.call(presets, function (preset, index) {
        if (!chosen.presets[index]) return;
        preset.value = chosen.presets[index];
        var label = preset.parentNode.lastChild;
        if (label && label.nodeType === 3) label.textContent = " " + f.money(f.minor(preset.value));
      });
      var presetsIn = form.querySelector('input[name="presets_in"]');
      if (presetsIn) presetsIn.value = chooser.value;
      var minimum = form.querySelector('[data-field="minimum"]');
      if (minimum) minimum.textContent = chosen.minimum;
      // Monthly and yearly gifts are in the campaign's currency only.
      var foreign = chooser.value !== own;
      Array.prototype.forEach.call(form.querySelectorAll('input[name="interval"]'), function (interval) {
        interval.disabled = foreign && interval.value !== "once";
        if (foreign && interval.value === "once") interval.checked = true;
      });
    }
    if (chooser) chooser.addEventListener("change", function () { choose(); update(); });
    choose();
    function amount() {
      var checked = form.querySelector('input[name="preset"]:checked');
      var text = checked && checked.value !== "other" ? checked.value : custom.value;
      text = f.read(text || "");
      if (!/^\d+(\.\d+)?$/.test(text)) return 0;
      return f.minor(text);
    }
    function update() {
      var gift = amount();
      if (gift <= 0) { total.textContent = ""; return; }
      var fee = Math.ceil(((gift + fixed) * 10000) / (10000 - bp) / step) * step - gift;
      coverLabel.textContent = f.fill(f.s["form.cover_fees"], { fee: f.money(fee) });
      total.textContent = f.fill(f.s["form.total"], { total: f.money(gift + (cover.checked ? fee : 0)) });
    }
    custom.addEventListener("input", function () { if (custom.value) other.checked = true; update(); });
    form.addEventListener("change", update);
    update();
    var errors = document.getElementById("form-errors");
    if (errors) errors.focus();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var f = null;
    var i18n = null;
    Array.prototype.forEach.call(document.querySelectorAll("section.progress[data-live]"), function (section) {
      f = live(section);
      i18n = JSON.parse(section.getAttribute("data-i18n"));
    });
    var form = document.querySelector("form[data-fee-percent-bp]");
    if (form && f) enhanceForm(form, f, i18n);
  });
})();
