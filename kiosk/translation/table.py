"""The bank's translation table as data: the intent catalogue, phrasings per language and critical-word lexicons
(docs/translation-memory.md), read from a directory (`memory/intents.toml`, `memory/<lang>.toml`,
`lexicon/<lang>.toml`) or from one TOML file holding all of it (`[intents.<id>]`, `[phrasings.<lang>.<id>]`,
`[lexicon.<lang>]`), and written back as one file (what is signed and sent to the fleet).

Pure data and I/O; what a table means and whether it is safe is `memory`'s business.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import ErrorCode, KioskError

DEFAULT_TABLE = Path(__file__).resolve().parent / "data"


class TableError(KioskError):
    """A table that cannot be read at all (missing file, TOML syntax): `problems` say where."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(ErrorCode.CONFIG_INVALID, "; ".join(problems[:3]) + (" …" if len(problems) > 3 else ""))
        self.problems = problems


@dataclass(frozen=True)
class Intent:
    id: str
    topic: str
    speaker: str  # teller | customer | either
    gloss: str
    slots: tuple[str, ...] = ()  # slot names: a type, or a type and a digit for a second slot of that type
    contrasts: tuple[str, ...] = ()  # intents that differ from this one only in a critical word, declared reviewed


@dataclass(frozen=True)
class Phrasings:
    say: str
    also: tuple[str, ...] = ()
    slips: tuple[str, ...] = ()

    def all(self) -> list[tuple[str, str]]:
        """(kind, text) for every phrasing: say first."""
        return [("say", self.say)] + [("also", t) for t in self.also] + [("slips", t) for t in self.slips]


@dataclass
class Table:
    intents: dict[str, Intent] = field(default_factory=dict)
    phrasings: dict[str, dict[str, Phrasings]] = field(default_factory=dict)  # language → intent → phrasings
    lexicons: dict[str, dict] = field(default_factory=dict)  # language → raw lexicon tables
    sources: dict[str, str] = field(default_factory=dict)  # "intents" / "memory:zh" / "lexicon:zh" → file
    problems: list[str] = field(default_factory=list)  # shape problems found while reading (file:intent:lang: …)

    @property
    def languages(self) -> list[str]:
        return sorted(self.phrasings)

    def source(self, part: str) -> str:
        return self.sources.get(part, self.sources.get("table", "<table>"))


def _read(path: Path) -> dict:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise TableError([f"{path}: file not found"]) from None
    except tomllib.TOMLDecodeError as e:
        raise TableError([f"{path}: TOML syntax error: {e}"]) from None
    except OSError as e:
        raise TableError([f"{path}: cannot read: {e}"]) from None


def _strings(value, where: str, problems: list[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{where}: expected a list of strings")
        return ()
    return tuple(value)


def _intents(data: dict, src: str, table: Table) -> None:
    for iid, d in data.items():
        if not isinstance(d, dict):
            table.problems.append(f"{src}:{iid}: expected a table")
            continue
        unknown = set(d) - {"topic", "speaker", "gloss", "slots", "contrasts"}
        for k in sorted(unknown):
            table.problems.append(f"{src}:{iid}: unknown key {k!r}")
        table.intents[iid] = Intent(
            iid, str(d.get("topic", "")), str(d.get("speaker", "")), str(d.get("gloss", "")),
            _strings(d.get("slots", []), f"{src}:{iid}:slots", table.problems),
            _strings(d.get("contrasts", []), f"{src}:{iid}:contrasts", table.problems))


def _phrasings(lang: str, data: dict, src: str, table: Table) -> None:
    out = table.phrasings.setdefault(lang, {})
    for iid, d in data.items():
        where = f"{src}:{iid}:{lang}"
        if not isinstance(d, dict):
            table.problems.append(f"{where}: expected a table with say/also/slips")
            continue
        for k in sorted(set(d) - {"say", "also", "slips"}):
            table.problems.append(f"{where}: unknown key {k!r}")
        say = d.get("say")
        if not isinstance(say, str) or not say.strip():
            table.problems.append(f"{where}: `say` missing")
            continue
        out[iid] = Phrasings(say, _strings(d.get("also", []), where, table.problems),
                             _strings(d.get("slips", []), where, table.problems))


def load_table(path: Path | str = DEFAULT_TABLE) -> Table:
    """A table from a directory (memory/ and lexicon/ inside) or from one TOML file. Raises TableError when a file
    cannot be read; problems of shape are collected in `table.problems` (the validator reports them)."""
    path = Path(path)
    table = Table()
    if path.is_dir():
        mem = path / "memory" if (path / "memory").is_dir() else path
        lex = path / "lexicon"
        src = str(mem / "intents.toml")
        table.sources["intents"] = src
        _intents(_read(mem / "intents.toml"), src, table)
        for f in sorted(mem.glob("*.toml")):
            if f.stem != "intents":
                table.sources[f"memory:{f.stem}"] = str(f)
                _phrasings(f.stem, _read(f), str(f), table)
        for f in sorted(lex.glob("*.toml"), key=lambda f: (f.stem.count("."), f.stem)) if lex.is_dir() else []:
            lang = f.stem.split(".")[0]  # ar.review.toml adds to ar.toml: entries a review added, kept apart
            table.sources.setdefault(f"lexicon:{lang}", str(f))
            table.lexicons[lang] = _merge_lexicon(table.lexicons.get(lang, {}), _read(f))
        return table
    return parse_table(_read(path), str(path))


def _merge_lexicon(base: dict, extra: dict) -> dict:
    """Lists are joined, tables merged."""
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, dict):
            out[k] = _merge_lexicon(out.get(k, {}), v)
        elif isinstance(v, list):
            out[k] = list(out.get(k, [])) + [w for w in v if w not in out.get(k, [])]
        else:
            out[k] = v
    return out


def parse_table(data: dict, src: str) -> Table:
    """A table from the single-file form, already parsed (`src` names it in problems)."""
    table = Table()
    table.sources["table"] = src
    _intents(data.get("intents", {}), src, table)
    for lang, d in data.get("phrasings", {}).items():
        _phrasings(lang, d, src, table)
    table.lexicons = dict(data.get("lexicon", {}))
    for k in sorted(set(data) - {"intents", "phrasings", "lexicon", "format"}):
        table.problems.append(f"{src}: unknown top-level key {k!r}")
    return table


def loads_table(text: str, src: str) -> Table:
    try:
        return parse_table(tomllib.loads(text), src)
    except tomllib.TOMLDecodeError as e:
        raise TableError([f"{src}: TOML syntax error: {e}"]) from None


def _s(v: str) -> str:
    return json.dumps(v, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def _key(k: str) -> str:
    return k if k.replace("-", "").replace("_", "").isalnum() and k.isascii() else _s(k)


def _value(v) -> str:
    if isinstance(v, str):
        return _s(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def dump_table(table: Table) -> str:
    """The whole table as one TOML document (the single-file form `load_table` reads back)."""
    lines = ['format = "kiosk-translation-table/1"', ""]
    for i in table.intents.values():
        lines.append(f"[intents.{_key(i.id)}]")
        lines += [f"topic = {_s(i.topic)}", f"speaker = {_s(i.speaker)}", f"gloss = {_s(i.gloss)}",
                  f"slots = {_value(list(i.slots))}"]
        if i.contrasts:
            lines.append(f"contrasts = {_value(list(i.contrasts))}")
        lines.append("")
    for lang in table.languages:
        for iid, p in table.phrasings[lang].items():
            lines.append(f"[phrasings.{_key(lang)}.{_key(iid)}]")
            lines.append(f"say = {_s(p.say)}")
            if p.also:
                lines.append(f"also = {_value(list(p.also))}")
            if p.slips:
                lines.append(f"slips = {_value(list(p.slips))}")
            lines.append("")
    for lang, lex in sorted(table.lexicons.items()):
        flat = {k: v for k, v in lex.items() if not isinstance(v, dict)}
        lines.append(f"[lexicon.{_key(lang)}]")
        lines += [f"{_key(k)} = {_value(v)}" for k, v in flat.items()]
        lines.append("")
        for cls, concepts in lex.items():
            if isinstance(concepts, dict):
                lines.append(f"[lexicon.{_key(lang)}.{_key(cls)}]")
                lines += [f"{_key(k)} = {_value(v)}" for k, v in concepts.items()]
                lines.append("")
    return "\n".join(lines)
