from cli_checks import assert_refused

from gsoc_helpers.cli import build_parser, main


def test_data_info_prints_summary(data_root, capsys):
    assert main(["data-info", "--split", "test", "--source", "exact"]) == 0
    assert "30 images 32x32 from cifar10-exact:test" in capsys.readouterr().out


def test_user_errors_are_messages_not_tracebacks(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("GSOC_DATA_ROOT", raising=False)
    assert_refused(["data-info", "--source", str(tmp_path / "missing")], capsys, "does not exist", [tmp_path])


def test_every_registered_command_has_a_handler():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():
        assert p.get_default("func") is not None, name
