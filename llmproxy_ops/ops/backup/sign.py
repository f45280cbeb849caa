"""`backup sign`: vouch for a backup this machine did not make (another machine's, or one made
before backups were authenticated), after the operator checked where it came from.

Signing checks what can be checked without trusting the folder: the manifest's shape (names,
paths), every file's size and sha256, nothing unlisted. It cannot tell a crafted dump from a
real one: that is the operator's call, which is why it is a command of its own.
"""

from __future__ import annotations

from pathlib import Path

from llmproxy_ops.errors import BackupError
from llmproxy_ops.ops.backup.auth import BackupKey, key_id, sign_folder
from llmproxy_ops.ops.backup.manifest import check_files, manifest_bytes, parse_manifest


def sign_backup(folder: Path, key: BackupKey) -> str:
    """Sign `folder`'s manifest with this machine's key; the key id."""
    if folder.is_symlink() or not folder.is_dir():
        raise BackupError(f"{folder}: not a backup folder (a real folder, not a symlink)")
    data = manifest_bytes(folder)
    manifest = parse_manifest(folder, data)
    problems = check_files(folder, manifest)
    if problems:
        raise BackupError(
            f"{folder.name}: refusing to sign a damaged backup",
            details="\n".join(problems),
        )
    secret = key.load_or_create()
    sign_folder(folder, secret, data)
    return key_id(secret)
