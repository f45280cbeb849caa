"""The env file in a backup: encrypted with a passphrase (Fernet, key derived with scrypt).

`cryptography` does the cryptography; this module only chooses parameters and a file layout
(JSON: KDF parameters, salt, Fernet token), so the file can be opened without this project.
"""

from __future__ import annotations

import base64
import json
import os

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from llmproxy_ops.errors import BackupError

SECRETS_FILE = "secrets/env.enc"
MIN_PASSPHRASE = 12
# scrypt work factors (RFC 7914 recommends N=2**15+ for interactive use); ~0.1 s here.
_N, _R, _P = 2**15, 8, 1


def _key(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    raw = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode())
    return base64.urlsafe_b64encode(raw)


def encrypt(plaintext: bytes, passphrase: str) -> bytes:
    if len(passphrase) < MIN_PASSPHRASE:
        raise BackupError(f"the passphrase must have at least {MIN_PASSPHRASE} characters")
    salt = os.urandom(16)
    token = Fernet(_key(passphrase, salt, _N, _R, _P)).encrypt(plaintext)
    doc = {
        "kdf": "scrypt",
        "n": _N,
        "r": _R,
        "p": _P,
        "cipher": "fernet",
        "salt": base64.b64encode(salt).decode(),
        "token": token.decode(),
    }
    return (json.dumps(doc, indent=2) + "\n").encode()


def decrypt(blob: bytes, passphrase: str) -> bytes:
    try:
        doc = json.loads(blob)
        key = _key(passphrase, base64.b64decode(doc["salt"]), doc["n"], doc["r"], doc["p"])
        return Fernet(key).decrypt(doc["token"].encode())
    except InvalidToken:
        raise BackupError("cannot decrypt the env file: wrong passphrase or damaged file") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"the encrypted env file is malformed ({exc})") from None
