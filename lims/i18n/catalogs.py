"""Maintain the message catalogs: ``python -m lims.i18n.catalogs update|check``.

Vietnamese is the source language (the msgids are Vietnamese), so the ``vi`` catalog maps each message to itself and
is complete by construction; ``en`` holds the English translations. ``update`` extracts the messages from the code and
templates, merges them into both catalogs (keeping existing translations) and compiles the ``.mo`` files that
Flask-Babel loads. ``check`` lists what is missing; the test suite runs it.
"""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[2]
FOLDER = Path(__file__).resolve().parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None,
            "lazy_ngettext": (1, 2)}
METHODS = [("lims/**.py", "python"), ("templates/**.html", "jinja2")]
LOCALES = ("vi", "en")
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]")


def extract() -> Catalog:
    """Every translatable message in lims/ and templates/."""
    catalog = Catalog(project="lims", locale=None, charset="utf-8")
    method_map = METHODS
    options = {"templates/**.html": {"extensions": "jinja2.ext.do"}}
    for filename, lineno, message, comments, context in extract_from_dir(
            str(ROOT), method_map=method_map, options_map=options, keywords=KEYWORDS, strip_comment_tags=True):
        if "/i18n/" in filename or filename.startswith(("tests", ".venv")):
            continue
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def po_path(locale: str) -> Path:
    return FOLDER / locale / "LC_MESSAGES" / "messages.po"


def load(locale: str) -> Catalog:
    path = po_path(locale)
    if not path.exists():
        return Catalog(locale=locale, project="lims", charset="utf-8")
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def update() -> None:
    for locale in LOCALES:
        catalog = load(locale)
        # A fresh template each time: Catalog.update adopts the template's message objects.
        catalog.update(extract(), no_fuzzy_matching=True)
        for message in catalog:
            if not message.id:
                continue
            if locale == "vi":
                message.string = message.id
            message.flags.discard("fuzzy")
        catalog.obsolete.clear()
        path = po_path(locale)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write_po(handle, catalog, width=120, sort_output=True, omit_header=False)
        with path.with_suffix(".mo").open("wb") as handle:
            write_mo(handle, catalog)


def _ids(message) -> tuple[str, ...]:
    return message.id if isinstance(message.id, tuple) else (message.id,)


def _strings(message) -> tuple[str, ...]:
    return message.string if isinstance(message.string, tuple) else (message.string,)


def problems() -> list[str]:
    """What keeps the catalogs from being complete and current, one line each."""
    found = []
    template = extract()
    for locale in LOCALES:
        catalog = load(locale)
        for message in template:
            if not message.id:
                continue
            translated = catalog.get(message.id, context=message.context)
            where = f"{locale}: {_ids(message)[0]!r} ({message.locations[0][0]}:{message.locations[0][1]})"
            if translated is None:
                found.append(f"{where}: missing")
                continue
            strings = _strings(translated)
            if not all(s.strip() for s in strings) or translated.fuzzy:
                found.append(f"{where}: not translated")
                continue
            wanted = set(_PLACEHOLDER.findall(" ".join(_ids(message))))
            if any(set(_PLACEHOLDER.findall(s)) != wanted for s in strings):
                found.append(f"{where}: placeholders differ ({sorted(wanted)})")
        compiled = po_path(locale).with_suffix(".mo")
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        if not compiled.exists() or compiled.read_bytes() != buffer.getvalue():
            found.append(f"{locale}: {compiled.name} is not compiled from the current .po (run make babel)")
    return found


def main(argv: list[str]) -> int:
    if argv[1:] == ["update"]:
        update()
    found = problems()
    for line in found:
        print(line)
    return 1 if found and argv[1:] == ["check"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
