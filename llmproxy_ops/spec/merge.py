"""Deterministic layer merge (kustomize-like), keeping every value's provenance.

Rules:
- mappings merge deeply, key by key; the later layer wins for scalars and lists;
- `model_list` merges by deployment identity (model_name + litellm_params.model): a matching
  entry is deep-merged into the earlier one, a new one is appended;
- an entry or mapping value `{"$patch": "delete"}` removes what it matches; in model_list an
  entry with `$patch: delete` and only `model_name` removes the whole model group;
- every other list replaces the earlier list whole.
"""

from __future__ import annotations

from typing import Any

from llmproxy_ops.findings import Finding, JsonPath, Location, Severity
from llmproxy_ops.spec.located import LList, LMap

PATCH_KEY = "$patch"
DELETE = "delete"
MERGE_BY_IDENTITY = {("model_list",)}


def deployment_identity(entry: Any) -> tuple[Any, Any] | None:
    """(model_name, litellm_params.model) of a model_list entry; None if it has no name."""
    if not isinstance(entry, dict) or "model_name" not in entry:
        return None
    params = entry.get("litellm_params")
    model = params.get("model") if isinstance(params, dict) else None
    return (entry["model_name"], model)


def is_delete(value: Any) -> bool:
    return isinstance(value, dict) and value.get(PATCH_KEY) == DELETE


class Merger:
    """Merges layers in order; collects findings for overlay mistakes instead of failing."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []

    def merge(self, base: LMap, overlay: LMap, path: JsonPath = ()) -> LMap:
        for key, value in overlay.items():
            here = overlay.locs[key]
            if is_delete(value):
                self._delete_key(base, key, here, (*path, key))
            elif (
                (*path, key) in MERGE_BY_IDENTITY
                and isinstance(value, LList)
                and isinstance(base.get(key), LList)
            ):
                self._merge_deployments(base[key], value, (*path, key))
            elif isinstance(value, LMap) and isinstance(base.get(key), LMap):
                self.merge(base[key], value, (*path, key))
            else:
                base.put(key, strip_patches(value, self, (*path, key)), here)
        return base

    def _delete_key(self, base: LMap, key: Any, here: Location, path: JsonPath) -> None:
        if key not in base:
            self._problem(here, path, f"'$patch: delete' of '{key}', which no earlier layer sets")
        base.drop(key)

    def _merge_deployments(self, base: LList, overlay: LList, path: JsonPath) -> None:
        index = _IdentityIndex(base)  # linear, not quadratic, in the number of deployments
        for entry, loc in zip(overlay, overlay.locs, strict=True):
            ident = deployment_identity(entry)
            if ident is None:
                base.add(strip_patches(entry, self, path), loc)
                continue
            matches = index.find(ident)
            if is_delete(entry):
                self._delete_deployments(base, matches, ident, loc, path)
                index = _IdentityIndex(base)  # positions shifted
            elif matches and ident[1] is not None:
                self.merge(base[matches[0]], entry, (*path, matches[0]))
            elif ident[1] is None and matches:
                for i in matches:  # a patch naming only the group applies to each deployment
                    self.merge(base[i], entry, (*path, i))
            else:
                base.add(strip_patches(entry, self, path), loc)
                index.add(len(base) - 1, base[-1])

    def _delete_deployments(
        self, base: LList, matches: list[int], ident: tuple[Any, Any], loc: Location, path: JsonPath
    ) -> None:
        if not matches:
            what = f"'{ident[0]}'" + (f" ({ident[1]})" if ident[1] else "")
            self._problem(
                loc, path, f"'$patch: delete' of deployment {what}, which no earlier layer defines"
            )
            return
        for i in sorted(matches, reverse=True):
            del base[i]
            del base.locs[i]

    def _problem(self, loc: Location, path: JsonPath, message: str) -> None:
        self.findings.append(
            Finding(
                Severity.ERROR,
                "bad-patch",
                message,
                loc,
                path,
                hint="check the spelling against the earlier layers (llmproxy-ops config show)",
            )
        )


class _IdentityIndex:
    """Positions of deployments by (model_name, model) and by model_name alone.

    A patch never changes an entry's identity (it matched on it), so only additions and
    deletions need the index updated.
    """

    def __init__(self, base: LList):
        self._by_pair: dict[Any, list[int]] = {}
        self._by_name: dict[Any, list[int]] = {}
        for i, entry in enumerate(base):
            self.add(i, entry)

    def add(self, i: int, entry: Any) -> None:
        ident = deployment_identity(entry)
        if ident is not None:
            self._by_pair.setdefault(_key(ident), []).append(i)
            self._by_name.setdefault(_key(ident[0]), []).append(i)

    def find(self, ident: tuple[Any, Any]) -> list[int]:
        """What `ident` matches: the same pair, or the whole group when it names no model."""
        found = self._by_name if ident[1] is None else self._by_pair
        return list(found.get(_key(ident[0] if ident[1] is None else ident), []))


def _key(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:  # a malformed entry (a list as model_name): still comparable by text
        return repr(value)
    return value


def strip_patches(value: Any, merger: Merger, path: JsonPath) -> Any:
    """A value arriving whole: `$patch` markers in it have nothing to patch."""
    if isinstance(value, LMap):
        if PATCH_KEY in value:
            merger._problem(
                value.locs[PATCH_KEY],
                (*path, PATCH_KEY),
                f"'$patch: {value[PATCH_KEY]}' has nothing to patch here",
            )
            value.drop(PATCH_KEY)
        for key in list(value):
            if is_delete(value[key]):
                merger._problem(
                    value.locs[key],
                    (*path, key),
                    f"'$patch: delete' of '{key}', which no earlier layer sets",
                )
                value.drop(key)
            elif isinstance(value[key], LMap | LList):  # a scalar holds no marker: no call
                strip_patches(value[key], merger, (*path, key))
    elif isinstance(value, LList):
        for i, item in enumerate(value):
            if isinstance(item, LMap | LList):
                strip_patches(item, merger, (*path, i))
    return value
