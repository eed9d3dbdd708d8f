"""The console's one i18n mechanism: two complete catalogues (i18n-en.js, i18n-zh-CN.js) with the
same keys, every key a view uses present in them, and no module keeping strings of its own."""

from __future__ import annotations

import json
import re
from pathlib import Path

from chalicelib.console import service as console

STATIC = console.STATIC
LANGS = ("en", "zh-CN")
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# t("key" …) — a literal key; t(`prefix.${…}`) and label("prefix", …) — a family of keys.
LITERAL = re.compile(r"""\bt\(\s*"([^"]+)"\s*[,)]""")
TEMPLATE = re.compile(r"""\bt\(\s*`([a-zA-Z0-9_.]+)\.\$\{""")
LABEL = re.compile(r"""\blabel\(\s*"([a-zA-Z0-9_.]+)"\s*,""")


def catalogue(lang: str) -> dict[str, str]:
    text = (STATIC / f"i18n-{lang}.js").read_text(encoding="utf-8")
    body = text[text.index("\nexport default ") + len("\nexport default ") :].strip()
    assert body.endswith(";")
    data = json.loads(body[:-1])
    assert isinstance(data, dict) and all(isinstance(v, str) and v for v in data.values())
    return data


def own_modules() -> list[Path]:
    return sorted(p for p in STATIC.glob("*.js") if p.name != "widget.js" and not p.name.startswith("i18n-"))


def code(path: Path) -> str:
    """The module without its comment lines (they quote examples like t("send"))."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("//"))


def test_both_catalogues_have_exactly_the_same_keys_and_placeholders():
    en, zh = catalogue("en"), catalogue("zh-CN")
    assert len(en) > 300
    assert sorted(set(en) - set(zh)) == []
    assert sorted(set(zh) - set(en)) == []
    differ = [k for k in en if set(PLACEHOLDER.findall(en[k])) != set(PLACEHOLDER.findall(zh[k]))]
    assert differ == []


def test_the_chinese_catalogue_is_translated_not_copied():
    en, zh = catalogue("en"), catalogue("zh-CN")
    # names that are the same in both languages (brands, channel names, "App", "ID", "JSON")
    same = [
        k for k in en if en[k] == zh[k] and re.search(r"[a-z]{4,}", en[k]) and not k.startswith("channel.")
    ]
    assert len(same) <= 5, same
    assert sum(bool(re.search(r"[\u4e00-\u9fff]", v)) for v in zh.values()) > 0.9 * len(zh) - 15


def test_every_key_a_view_uses_is_in_the_catalogues():
    keys = set(catalogue("en"))
    missing, families = [], []
    for path in own_modules():
        text = code(path)
        missing += [f"{path.name}: {k}" for k in LITERAL.findall(text) if k not in keys]
        for prefix in TEMPLATE.findall(text) + LABEL.findall(text):
            if not any(k.startswith(prefix + ".") for k in keys):
                families.append(f"{path.name}: {prefix}.*")
    assert missing == []
    assert families == []
    # the checks above saw the views' keys at all
    used = {k for p in own_modules() for k in LITERAL.findall(code(p))}
    assert len(used) > 200


def test_no_module_keeps_strings_of_its_own():
    offenders = [p.name for p in own_modules() if "addStrings" in p.read_text(encoding="utf-8")]
    assert offenders == []
