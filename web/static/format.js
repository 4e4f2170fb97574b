// appeal: how figures are written in each language (numbers, money, percentages, plurals),
// shared by the campaign page and the embeddable widget so that both read the same.
// `i18n` carries the language's separators and patterns, the currency's symbol and digits,
// and the strings needed, as the server sends them.
function appealFormatter(i18n) {
  var s = i18n.strings;
  function fill(text, args) {
    return Object.keys(args || {}).reduce(function (out, key) {
      return out.split("{" + key + "}").join(args[key]);
    }, text || "");
  }
  // Digits grouped as CLDR does in the language (Intl), as the server does (ICU4X).
  function group(digits) {
    if (i18n.lang && window.Intl && Intl.NumberFormat) {
      try {
        return new Intl.NumberFormat(i18n.lang, { maximumFractionDigits: 0 }).format(Number(digits));
      } catch (e) { /* an old browser: group by three below */ }
    }
    var out = "";
    for (var i = 0; i < digits.length; i++) {
      if (i > 0 && (digits.length - i) % 3 === 0) out += i18n.group;
      out += digits.charAt(i);
    }
    return out;
  }
  // Minor units from a decimal string such as "90000.00", without floating point.
  function minor(text) {
    var negative = text.charAt(0) === "-";
    var parts = (negative ? text.slice(1) : text).split(".");
    var fraction = (parts[1] || "").concat("000").slice(0, i18n.digits);
    var value = parseInt(parts[0] || "0", 10) * Math.pow(10, i18n.digits) + parseInt(fraction || "0", 10);
    return negative ? -value : value;
  }
  function money(amountMinor) {
    var scale = Math.pow(10, i18n.digits);
    var abs = Math.abs(amountMinor);
    var amount = group(String(Math.floor(abs / scale)));
    var fraction = abs % scale;
    if (fraction !== 0) amount += i18n.decimal + String(fraction).padStart(i18n.digits, "0");
    var text = i18n.money.split("{symbol}").join(i18n.symbol).split("{amount}").join(amount);
    text = amountMinor < 0 ? "-" + text : text;
    // Right to left (Urdu): the amount isolated left to right, as the server writes it.
    return i18n.dir === "rtl" ? "\u2066" + text + "\u2069" : text;
  }
  function percent(value) {
    var rounded = Math.round(value * 10) / 10;
    return i18n.percent.split("{n}").join(String(rounded).replace(".", i18n.decimal));
  }
  // The form CLDR's plural rule picks in the language (Intl), "other" when the file lacks it.
  function plural(key, n, args) {
    var category = n === 1 ? "one" : "other";
    if (i18n.lang && window.Intl && Intl.PluralRules) {
      try { category = new Intl.PluralRules(i18n.lang).select(n); } catch (e) { /* keep one/other */ }
    }
    var all = Object.assign({ n: group(String(n)) }, args || {});
    return fill(s[key + "." + category] || s[key + ".other"], all);
  }
  // "90% of the goal", as the page writes it.
  function ofGoal(value) {
    return fill(s["progress.percent"], { percent: percent(value) });
  }
  // An amount as a person types it in the page's language, written plainly ("2,500" is 2500
  // in English, 2.5 in French), as the server reads it too.
  function read(text) {
    var plain = text.replace(/[\s\u202f]/g, "");
    if (i18n.decimal === ",") {
      if (plain.indexOf(",") >= 0) return plain.split(".").join("").replace(",", ".");
      // Spanish "2.500" is two thousand five hundred, as the server reads it.
      if (i18n.group === "." && /^\d{1,3}(\.\d{3})+$/.test(plain)) return plain.split(".").join("");
      return plain;
    }
    return plain.split(i18n.group).join("");
  }
  return { fill: fill, minor: minor, money: money, percent: percent, ofGoal: ofGoal, plural: plural, read: read, s: s };
}

// Matched money not yet paid, as its own segment after the gifts' part of the bar: where it
// starts and how wide it is, in thousandths of the bar (null without matching).
function appealMatchSegment(f, p) {
  if (!p.matching) return null;
  var goal = f.minor(p.goal) || 1;
  var pledged = f.minor(p.matching.pledged);
  var gifts = f.minor(p.raised) - (p.matching.counted === "pledged" ? pledged : 0);
  var at = function (minor) { return Math.max(0, Math.min(1000, Math.trunc((minor * 1000) / goal))); };
  return { x: at(gifts), width: at(gifts + pledged) - at(gifts) };
}

function appealTimeLeft(f, endsAt) {
  if (!endsAt) return null;
  var ms = new Date(endsAt).getTime() - Date.now();
  if (ms <= 0) return f.s["progress.ended"];
  var hours = Math.ceil(ms / 3600000);
  if (hours <= 24) return f.plural("progress.hours_left", hours);
  return f.plural("progress.days_left", Math.ceil(ms / 86400000));
}
