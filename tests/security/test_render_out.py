"""Finding 7: rendering replaces its output folder, so it only ever replaces its own."""

from __future__ import annotations

from pathlib import Path

import pytest

ENV = """\
model_list:
  - model_name: mock
    litellm_params: {model: openai/mock, mock_response: hi, api_key: dummy}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs/environments").mkdir(parents=True)
    (tmp_path / "configs/environments/dev.yaml").write_text(ENV)
    (tmp_path / ".env").write_text("LITELLM_MASTER_KEY=sk-x\n")
    (tmp_path / ".env").chmod(0o600)
    victim = tmp_path / "home"
    victim.mkdir()
    (victim / ".bashrc").write_text("precious\n")
    return tmp_path


def test_finding_07_render_out_refuses_a_folder_it_did_not_make(project: Path, cli) -> None:  # noqa: ANN001
    result = cli("render", "--env", "dev", "--out", "home")
    assert result.exit_code == 1
    assert ("error: home exists, is not empty and is not a build folder (no "
            ".llmproxy-ops-build); refusing to replace it") in result.output
    assert (project / "home/.bashrc").read_text() == "precious\n"


def test_finding_07_a_build_dir_from_yaml_is_refused_the_same_way(project: Path, cli) -> None:  # noqa: ANN001
    (project / "configs/environments/home.yaml").write_text(ENV + "stack: {build_dir: .}\n")
    result = cli("render", "--env", "home")  # would be ./home: the victim
    assert result.exit_code == 1
    assert "error: home exists, is not empty and is not a build folder" in result.output
    assert (project / "home/.bashrc").read_text() == "precious\n"


def test_finding_07_its_own_build_folder_is_replaced(project: Path, cli) -> None:  # noqa: ANN001
    assert cli("render", "--env", "dev", "--out", "out").exit_code == 0
    assert (project / "out/.llmproxy-ops-build").is_file()
    (project / "configs/environments/dev.yaml").write_text(ENV.replace("hi", "hello"))
    again = cli("render", "--env", "dev", "--out", "out")
    assert again.exit_code == 0, again.output
    assert "hello" in (project / "out/config.yaml").read_text()
    empty = project / "empty"
    empty.mkdir()
    assert cli("render", "--env", "dev", "--out", "empty").exit_code == 0
