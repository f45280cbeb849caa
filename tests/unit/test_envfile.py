import stat

from llmproxy_ops.envfile import (
    ensure_env_file,
    example_names,
    generate_master_key,
    read_env_file,
    write_env_file,
)


def test_ensure_creates_0600_file_with_a_strong_master_key(tmp_path):
    path = tmp_path / ".env"
    assert ensure_env_file(path) is True
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = read_env_file(path)["LITELLM_MASTER_KEY"]
    assert key.startswith("sk-") and len(key) >= 3 + 43
    assert ensure_env_file(path) is False  # never overwrites
    assert read_env_file(path)["LITELLM_MASTER_KEY"] == key


def test_master_keys_differ():
    assert generate_master_key() != generate_master_key()


def test_write_round_trips_awkward_values(tmp_path):
    path = tmp_path / ".env"
    values = {"A": "plain", "B": "with space and $dollar", "C": 'dq"inside', "D": ""}
    write_env_file(path, values)
    assert read_env_file(path) == values
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_missing_env_file_reads_empty(tmp_path):
    assert read_env_file(tmp_path / "nope") == {}


def test_example_names(tmp_path):
    path = tmp_path / ".env.example"
    path.write_text("# comment\nA=1\nexport B=\n  C = x\nnot a line\n", encoding="utf-8")
    assert example_names(path) == {"A", "B", "C"}
