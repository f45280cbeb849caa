"""PyYAML's tag resolution, remembered: libyaml parses and emits in C, but asks Python for the
tag of every scalar (a regex per candidate), and a config of 5,000 deployments has ~80,000.

With no path resolvers (the safe loader and dumper have none) a tag depends only on the
node kind, the text and the implicit flags, so the answer is cached per distinct scalar.
"""

from __future__ import annotations

from typing import Any

import yaml

_RESOLVER = yaml.resolver.Resolver()
assert not _RESOLVER.yaml_path_resolvers  # else a tag would depend on the path too


_TAGS: dict[tuple[str, Any], str] = {}
_MAX_TAGS = 65536  # distinct scalars remembered; then the cache starts over


class CachedResolve:
    """Mixin for a Loader or Dumper class: `resolve` through the cache."""

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is not yaml.ScalarNode or type(value) is not str:
            return str(_RESOLVER.resolve(kind, None, implicit))  # a collection: by kind only
        key = (value, implicit if type(implicit) is tuple else tuple(implicit))
        tag = _TAGS.get(key)
        if tag is None:
            if len(_TAGS) >= _MAX_TAGS:
                _TAGS.clear()
            tag = _TAGS[key] = str(_RESOLVER.resolve(kind, value, key[1]))
        return tag
