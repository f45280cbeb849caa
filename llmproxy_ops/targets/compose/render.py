"""The files the `compose` target adds to a build: the compose file, nginx's, the database's
init script and the launcher the containers run (render/build.py calls `build_files`)."""

from __future__ import annotations

from pathlib import Path

from llmproxy_ops.render import prometheus
from llmproxy_ops.render.build import CONFIG_FILE
from llmproxy_ops.render.compose import (
    COMPOSE_FILE,
    NGINX_CERTS_PATH,
    NGINX_FILE,
    NGINX_UPSTREAM_FILE,
    NGINX_UPSTREAM_LIVE,
    compose_paths,
    litellm_names,
    prometheus_config,
    render_compose,
)
from llmproxy_ops.render.initdb import INITDB_FILE, render_initdb
from llmproxy_ops.render.launcher import launcher_files
from llmproxy_ops.render.litellm_config import litellm_config
from llmproxy_ops.render.litellm_hooks import hook_files
from llmproxy_ops.render.nginx import render_nginx, render_upstream
from llmproxy_ops.render.service_secrets import runs_prometheus
from llmproxy_ops.spec.model import Spec


def build_files(spec: Spec, out_dir: Path, env_file: Path | None,
                request_timeout: float, config_yaml: str) -> dict[str, str]:
    cs = spec.stack.compose(spec.name)
    files: dict[str, str] = {}
    if cs.db.enabled:
        files[INITDB_FILE] = render_initdb()
    if cs.nginx.enabled:
        files[NGINX_FILE] = render_nginx(
            cs.nginx_settings, upstreams=litellm_names(cs), request_timeout=request_timeout,
            certs_path=NGINX_CERTS_PATH, upstream_include=NGINX_UPSTREAM_LIVE,
            api_only=cs.nginx_settings.api_only_for(spec.production),
        )
        files[NGINX_UPSTREAM_FILE] = render_upstream([(n, False) for n in litellm_names(cs)])
    if runs_prometheus(spec):
        files[prometheus.PROMETHEUS_FILE] = prometheus_config(spec)
        files[prometheus.RULES_FILE] = prometheus.shipped_rules()
    files.update(launcher_files())
    # config_yaml: as render_files serialised it (its digest is a compose label)
    mounted = {CONFIG_FILE: config_yaml, **hook_files(litellm_config(spec)), **files}
    paths = compose_paths(spec, out_dir, env_file, mounted)
    return {COMPOSE_FILE: render_compose(spec, paths), **files}
