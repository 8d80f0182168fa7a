"""`make figures`: every figure is listed in docs/gallery.md with its command, and one figure is made end to end."""

from pathlib import Path

from dlbasics import figures

ROOT = Path(__file__).resolve().parents[1]


def test_gallery_in_the_repository_is_the_generated_one_and_lists_every_figure():
    text = (ROOT / "docs" / "gallery.md").read_text(encoding="utf-8")
    assert text == figures.gallery(), "docs/gallery.md is stale: run `make figures`"
    for f in figures.FIGURES:
        assert f"](figures/{f.name}.png)" in text
        assert all(c in text for c in f.commands)
        assert (ROOT / "docs" / "figures" / f"{f.name}.png").is_file(), f"{f.name}.png missing: run `make figures`"
    assert len({f.name for f in figures.FIGURES}) == len(figures.FIGURES)
    assert {f.topic for f in figures.FIGURES} <= set(figures.TOPICS)


def test_one_figure_is_made_by_its_command_into_the_folder_given(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    assert figures.main(["--only", "schedule-onecycle", "--out", str(tmp_path)]) == 0
    png = tmp_path / "figures" / "schedule-onecycle.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "1 of 1 figures" in capsys.readouterr().out
    assert not (tmp_path / "gallery.md").exists()  # --only leaves the index alone


def test_unknown_figure_name_is_a_one_line_error(capsys):
    assert figures.main(["--only", "no-such-figure"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no-such-figure" in err and "train-curves" in err
