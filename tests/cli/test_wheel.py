"""The package as users install it: a built wheel (not editable) renders every shipped environment.

The wheel goes into a fresh venv with --no-deps; the dependencies come from this venv's
site-packages through a .pth file, so the test takes seconds instead of a litellm install.
The editable install of this checkout is not on that path (its .pth is not processed there).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from llmproxy_ops.envfile import example_names
from tests.cli.test_shipped_configs import SHIPPED
from tests.conftest import REPO


def _run(*argv: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None):
    proc = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, f"{argv}: {proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bin/ of a fresh venv holding only the built wheel (plus this venv's dependencies)."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"  # a clean copy: no build/ or egg-info of the checkout leaks in
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "*.egg-info", ".run", "__pycache__", ".*_cache", "backups"))
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", root / "dist", src)
    [wheel] = (root / "dist").glob("llmproxy_ops-*.whl")
    venv.create(root / "venv", with_pip=False)
    py = root / "venv" / "bin" / "python"
    purelib = _run(py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    Path(purelib.stdout.strip(), "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(sys.executable, "-m", "pip", "--python", py, "install", "-q", "--no-deps", wheel)
    names = zipfile.ZipFile(wheel).namelist()
    assert "llmproxy_ops/render/templates/nginx.conf.j2" in names
    assert "llmproxy_ops/validate/litellm_schema.json" in names
    return root / "venv" / "bin"


def test_the_installed_package_is_the_wheel_not_the_checkout(installed):
    where = _run(installed / "python", "-c", "import llmproxy_ops; print(llmproxy_ops.__file__)",
                 cwd=installed)
    assert where.stdout.startswith(str(installed.parent / "lib"))


def _project(root: Path, configs: Path) -> tuple[Path, dict[str, str]]:
    """A user's project (configs, .env.example, a 0600 .env; no source tree) and its environ."""
    shutil.copytree(configs, root / "configs")
    shutil.copy(REPO / ".env.example", root / ".env.example")
    names = example_names(REPO / ".env.example")
    env_file = root / ".env"
    env_file.write_text("".join(f"{n}=sk-test-{n.lower()}-Zq8vN2xK7pLm4RtY9wBc\n" for n in names))
    env_file.chmod(0o600)
    environ = {k: v for k, v in os.environ.items() if k not in names}
    return root, {**environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}


def test_the_installed_console_script_renders_prod_with_nginx(installed, tmp_path):
    # the case users hit: "nginx template not found: .../site-packages/nginx/nginx.conf.j2"
    project, environ = _project(tmp_path, REPO / "configs/examples/home-gateway")
    done = _run(installed / "llmproxy-ops", "render", "--env", "prod", cwd=project, env=environ)
    # (a warning may come first: home-gateway prod has Copilot models and no login here)
    assert done.stdout.splitlines()[-1].startswith("rendered prod → build/prod/ (")
    assert "proxy_pass" in (project / "build" / "prod" / "nginx.conf").read_text()


# Each CLI process imports litellm (~5-20 s here): one process renders every environment
# through the installed entry point, argv as a user types it.
_RENDER_ALL = """
import sys
from llmproxy_ops.cli.main import app
for configs, env in (pair.split(":") for pair in sys.argv[1:]):
    try:
        app(["render", "--configs", configs, "--env", env, "--out", f"out/{configs}/{env}"])
    except SystemExit as exc:
        if exc.code:
            sys.exit(f"render {configs}:{env} exited {exc.code}")
"""


def test_the_installed_package_renders_every_shipped_environment(installed, tmp_path):
    project, environ = _project(tmp_path, REPO / "configs")
    shutil.rmtree(project / "configs")
    for configs in {c for c, _ in SHIPPED}:
        shutil.copytree(configs, project / configs.relative_to(REPO), dirs_exist_ok=True)
    pairs = [f"{c.relative_to(REPO)}:{e}" for c, e in SHIPPED]
    _run(installed / "python", "-c", _RENDER_ALL, *pairs, cwd=project, env=environ)
    for pair in pairs:
        configs, env = pair.split(":")
        assert (project / "out" / configs / env / "config.yaml").is_file(), pair
