"""The report dict rendered as Markdown or as a standalone printable HTML page; both show the same
tables (`_sections`), and every text from the report is escaped."""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hub.commissioning.texts import _DELAY_LABELS, Language, _language, _seconds, text, word, words


def _signal_cell(item: Mapping[str, Any]) -> str:
    if item["signal"] is None:
        return "—"
    return f"{item['signal']} LQI" if item.get("signal_unit") == "lqi" else f"{item['signal']} dBm"


def _cell(value: object, lang: Language) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return text("yes" if value else "no", lang)
    return str(value)


@dataclass(frozen=True)
class _Mark:
    """A pass/fail cell: the HTML page colours it."""

    text: str
    ok: bool

    def __str__(self) -> str:
        return self.text


Row = Sequence[str | _Mark]


# The alarm modes as the dashboard names them (hub/web/static/i18n.js).
_MODE_NAMES: dict[str, dict[Language, str]] = {
    "disarmed": {"it": "Disinserito", "en": "Disarmed"},
    "arming_home": {"it": "Inserimento in corso (casa)", "en": "Arming (home)"},
    "arming_away": {"it": "Inserimento in corso (fuori casa)", "en": "Arming (away)"},
    "armed_home": {"it": "Inserito (casa)", "en": "Armed (home)"},
    "armed_away": {"it": "Inserito (fuori casa)", "en": "Armed (away)"},
    "arming_night": {"it": "Inserimento in corso (notte)", "en": "Arming (night)"},
    "arming_vacation": {"it": "Inserimento in corso (vacanza)", "en": "Arming (vacation)"},
    "armed_night": {"it": "Inserito (notte)", "en": "Armed (night)"},
    "armed_vacation": {"it": "Inserito (vacanza)", "en": "Armed (vacation)"},
    "pending": {"it": "Ritardo di ingresso", "en": "Entry delay"},
    "triggered": {"it": "Allarme in corso", "en": "Alarm"},
}


def _sections(report: dict[str, Any]) -> list[tuple[str, list[str], Sequence[Row]]]:
    """The report's tables as (title, header, rows) of display strings, shared by both renderers."""
    lang = _language(report.get("language"))

    def t(key: str) -> str:
        return text(key, lang)

    hub = report["hub"]
    sections: list[tuple[str, list[str], Sequence[Row]]] = []
    sections.append(
        (
            t("hub"),
            [t("item"), t("value")],
            [
                [t("name"), hub["name"]],
                [t("id"), hub["id"]],
                [t("version"), hub["version"]],
                [t("fingerprint"), hub["tls_fingerprint"] or t("no_tls")],
                [t("time"), hub["time"]],
                [t("mode"), _MODE_NAMES.get(hub["mode"], {}).get(lang, hub["mode"])],
            ],
        )
    )
    sections.append(
        (
            t("checklist"),
            [t("item"), t("value"), t("result")],
            [
                [c["item"], c["value"], _Mark(t("pass") if c["pass"] else t("fail"), c["pass"])]
                for c in report["checklist"]
            ],
        )
    )

    def interval(sup: dict[str, Any]) -> str:
        if not sup["wireless"] and sup["interval"] is None:
            return t("wired")
        if sup["interval"] is None:
            return t("none")
        return text("every", lang, s=f"{sup['interval']:g}")

    def tested(at: str | None) -> _Mark:
        return _Mark(f"{t('pass')} {at}", True) if at else _Mark(f"{t('fail')}: {t('not_tested')}", False)

    zone_rows = [
        [
            z["name"],
            word("kind", z["kind"], lang),
            word("behaviour", z["behaviour"], lang),
            z["room"],
            z["model"] or "—",
            _signal_cell(z),
            "—" if z["battery"] is None else f"{z['battery']:g} %",
            interval(z["supervision"]),
            tested(z["walk_tested_at"]),
            z["tamper_tested_at"] or t("not_tested"),
        ]
        for z in report["zones"]
    ]
    sections.append(
        (
            t("zones"),
            [
                t("zone"),
                t("kind"),
                t("behaviour"),
                t("room"),
                t("model"),
                t("signal"),
                t("battery"),
                t("supervision"),
                t("walk_test"),
                t("tamper_test"),
            ],
            zone_rows,
        )
    )
    output_rows = [
        [
            o["name"],
            word("kind", o["kind"], lang),
            o["room"],
            words("incident", o["on"], lang),
            _cell(o["online"], lang),
            tested(o["tested_at"]),
        ]
        for o in report.get("outputs") or ()
    ]
    if output_rows:  # a hub without outputs shows no empty table (the checklist says what is missing)
        header = [t("output"), t("kind"), t("room"), t("drives"), t("online"), t("output_test")]
        sections.append((t("outputs"), header, output_rows))
    device_rows = [
        [
            d["name"],
            d["driver"],
            d["model"] or "—",
            d["room"],
            _signal_cell(d),
            "—" if d["battery"] is None else f"{d['battery']:g} %",
            _cell(d["online"], lang),
            interval(d["supervision"]),
        ]
        for d in report["devices"]
    ]
    sections.append(
        (
            t("devices"),
            [t("device"), t("driver"), t("model"), t("room"), t("signal"), t("battery"), t("online"), t("supervision")],
            device_rows,
        )
    )
    delays = report["delays"]
    delay_rows = [[_DELAY_LABELS[k][lang], str(v) if k == "swinger_limit" else _seconds(v)] for k, v in delays.items()]
    sections.append((t("delays"), [t("item"), t("value")], delay_rows))
    channel_rows = []
    for ch in report["channels"]:
        test = ch["last_test"]
        result = (
            t("not_tested")
            if test is None
            else f"{t(test['state'])} {test['at']}" + (f" ({test['error']})" if test["error"] else "")
        )
        channel_rows.append(
            [
                word("channel", ch["channel"], lang),
                ch["transport"]
                if ch["configured"]
                else f"log — {t('log_only')}"
                if ch.get("demo")
                else t("not_configured"),
                ", ".join(word("recipient", r, lang) for r in ch["recipients"]) or "—",
                result,
            ]
        )
    sections.append((t("channels"), [t("channel"), t("transport"), t("recipients"), t("tests")], channel_rows))
    contact_rows = [
        [c["name"], c["phone"] or "—", c["email"] or "—", c["language"], words("channel", c["channels"], lang)]
        for c in report["contacts"]
    ]
    sections.append((t("contacts"), [t("name"), t("phone"), t("email"), t("language"), t("channels")], contact_rows))
    centre = report["centre"]
    if centre is None:
        centre_rows = [[t("centre"), t("no_centre")]]
    else:
        where = f"{centre['host']}:{centre['port']}" if centre["host"] else centre["protocol"]
        centre_rows = [
            [t("centre"), f"{centre['protocol']} {where}"],
            [t("centre_ids"), f"{centre['account']} / {centre['receiver']} / {centre['line']}"],
            [t("kind"), f"{centre['format']}, {t('encrypted') if centre['encrypted'] else t('unencrypted')}"],
            [t("supervision"), text("every", lang, s=f"{centre['supervision_interval']:g}")],
        ]
        if centre["backup"]:
            centre_rows.append([t("centre_backup"), centre["backup"]])
    sections.append((t("centre"), [t("item"), t("value")], centre_rows))

    def code(has: bool, ok: bool | None) -> str:
        if not has:
            return t("no_code")
        return t("code_ok") if ok else t("code_short") if ok is False else t("code_unknown")

    user_rows = [
        [u["username"], word("role", u["role"], lang), code(u["has_code"], u["code_grade2"])]
        + ([code(True, u["duress_grade2"])] if u["has_duress"] else ["—"])
        for u in report["users"]
    ]
    sections.append((t("users"), [t("user"), t("role"), t("code"), t("duress")], user_rows))
    return sections


def _md_cell(value: str) -> str:
    # A pipe or a newline in a zone name would break the table; backslash-escape markdown marks.
    escaped = "".join(f"\\{ch}" if ch in "\\`*_[]<>|#" else ch for ch in value)
    return " ".join(escaped.split())


def to_markdown(report: dict[str, Any]) -> str:
    lang = _language(report.get("language"))
    hub = report["hub"]
    lines = [f"# {text('title', lang)}: {_md_cell(hub['name'])}", "", f"{text('time', lang)}: {hub['time']}", ""]
    for title, header, rows in _sections(report):
        lines += [f"## {title}", ""]
        lines.append("| " + " | ".join(_md_cell(h) for h in header) + " |")
        lines.append("|" + "|".join("---" for _ in header) + "|")
        lines += ["| " + " | ".join(_md_cell(str(c)) for c in row) + " |" for row in rows]
        lines.append("")
    lines.append(f"_{text('footer', lang)}_")
    return "\n".join(lines) + "\n"


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #111; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #999; }
table { border-collapse: collapse; width: 100%; font-size: 0.9em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #eee; }
td.pass { color: #075e07; font-weight: bold; }
td.fail { color: #a00000; font-weight: bold; }
footer { margin-top: 2em; font-size: 0.85em; color: #444; }
@media print { body { margin: 1cm; } h2 { break-after: avoid; } tr { break-inside: avoid; } }
"""


# The page's only style element, allowed by its hash: the hub serves the page under its strict CSP
# (no 'unsafe-inline'), and a saved copy opened from disk shows the same.
STYLE_SOURCE = "'sha256-" + base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode() + "'"


def to_html(report: dict[str, Any]) -> str:
    """A standalone printable page: inline CSS in one <style>, no script, every text escaped."""
    lang = _language(report.get("language"))
    e = html.escape
    hub = report["hub"]
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{lang}">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{e(text('title', lang))}: {e(hub['name'])}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{e(text('title', lang))}: {e(hub['name'])}</h1>",
        f"<p>{e(text('time', lang))}: {e(str(hub['time']))}</p>",
    ]
    for title, header, rows in _sections(report):
        parts.append(f"<h2>{e(title)}</h2>")
        parts.append("<table>")
        parts.append("<tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>")
        for row in rows:
            cells = []
            for c in row:
                cls = f' class="{"pass" if c.ok else "fail"}"' if isinstance(c, _Mark) else ""
                cells.append(f"<td{cls}>{e(str(c))}</td>")
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</table>")
    parts += [f"<footer>{e(text('footer', lang))}</footer>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"
