from pathlib import Path

import pytest
from typer.testing import CliRunner

from kiosk.cli import app
from kiosk.core.config import DEFAULT_CONFIG, ConfigError, Side, effective_items, load_config


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def problems(*files: Path) -> list[str]:
    with pytest.raises(ConfigError) as e:
        load_config(list(files))
    return e.value.problems


def test_defaults_are_valid_and_frozen():
    loaded = load_config()
    cfg = loaded.config
    assert cfg.languages.teller == "zh"
    assert "ja" in cfg.languages.customer
    assert cfg.display.mirror_customer is True
    with pytest.raises(Exception):
        cfg.display.width = 10  # frozen
    assert loaded.source_of("display.width") == str(DEFAULT_CONFIG)


def test_later_file_wins_and_sources_are_tracked(tmp_path):
    a = write(tmp_path, "a.toml", '[display]\nwidth = 1280\n[languages]\nteller = "en"\ncustomer_default = "ja"\n')
    b = write(tmp_path, "b.toml", "[display]\nwidth = 1366\n")
    loaded = load_config([a, b])
    assert loaded.config.display.width == 1366
    assert loaded.config.display.height == 1080
    assert loaded.config.languages.teller == "en"
    items = {k: (v, src) for k, v, src in effective_items(loaded)}
    assert items["display.width"] == (1366, str(b))
    assert items["languages.teller"] == ("en", str(a))


def test_unknown_key(tmp_path):
    f = write(tmp_path, "site.toml", '[audio.customer]\nsorce = "file"\n')
    assert problems(f) == [f"{f}:audio.customer.sorce: unknown key"]


def test_unknown_section(tmp_path):
    f = write(tmp_path, "site.toml", "[screen]\nwidth = 3\n")
    assert problems(f) == [f"{f}:screen: unknown key"]


def test_wrong_type(tmp_path):
    f = write(tmp_path, "site.toml", '[display]\nwidth = "wide"\n')
    (p,) = problems(f)
    assert p.startswith(f"{f}:display.width: wrong type")


def test_out_of_range(tmp_path):
    f = write(tmp_path, "site.toml", "[vad]\nthreshold = 1.5\n")
    (p,) = problems(f)
    assert p.startswith(f"{f}:vad.threshold: ") and "less than 1" in p


def test_bad_language_in_list_names_the_list_key(tmp_path):
    f = write(tmp_path, "site.toml", '[languages]\ncustomer = ["en", "klingon"]\n')
    (p,) = problems(f)
    assert p.startswith(f"{f}:languages.customer") and "klingon" in p


def test_cross_field_rule(tmp_path):
    f = write(tmp_path, "site.toml", '[audio.teller]\nsource = "file"\n')
    (p,) = problems(f)
    assert p.startswith(f"{f}:audio.teller: ") and "needs file" in p


def test_toml_syntax_error_and_missing_file(tmp_path):
    bad = write(tmp_path, "bad.toml", "[display\nwidth = 1\n")
    missing = tmp_path / "nope.toml"
    ps = problems(bad, missing)
    assert ps[0].startswith(f"{bad}: TOML syntax error")
    assert ps[1] == f"{missing}: file not found"


def test_several_problems_reported_together(tmp_path):
    f = write(tmp_path, "site.toml", '[display]\nfps = 0\norientation = "diagonal"\n')
    ps = problems(f)
    assert {p.split(": ")[0] for p in ps} == {f"{f}:display.fps", f"{f}:display.orientation"}


def test_relative_paths_resolve_against_the_file(tmp_path):
    f = write(tmp_path, "site.toml", '[audio.customer]\nsource = "file"\nfile = "clips/c.wav"\n')
    cfg = load_config([f]).config
    assert cfg.audio.customer.file == tmp_path / "clips" / "c.wav"


def test_languages_for_side():
    cfg = load_config().config
    assert cfg.languages.for_side(Side.TELLER) == ("zh",)
    assert cfg.languages.for_side(Side.CUSTOMER)[-1] == "zh"


def test_cli_validate_exit_codes(tmp_path):
    good = write(tmp_path, "good.toml", "[display]\nwidth = 1280\n")
    bad = write(tmp_path, "bad.toml", "[display]\nwidht = 1280\n")
    runner = CliRunner()
    ok = runner.invoke(app, ["config", "validate", str(good)])
    assert ok.exit_code == 0, ok.output
    res = runner.invoke(app, ["config", "validate", str(bad)])
    assert res.exit_code == 2
    assert f"{bad}:display.widht: unknown key" in res.output


def test_cli_show_json(tmp_path):
    f = write(tmp_path, "s.toml", "[display]\nwidth = 1280\n")
    res = CliRunner().invoke(app, ["config", "show", "--json", "--config", str(f)])
    assert res.exit_code == 0, res.output
    assert '"display.width": 1280' in res.output
