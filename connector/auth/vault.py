"""The token vault: encryption at rest for OAuth tokens and client secrets.

Keys come from ``ARCONNECT_SECRET_KEY`` or ``ARCONNECT_SECRET_KEYS`` (comma-separated, newest
first; setting both is refused). The newest key encrypts; every listed key decrypts, so rotating a
key is: put the new key first in ``ARCONNECT_SECRET_KEYS``, keep the old one after it, run
``arconnect secrets rotate``, then drop the old key. Keys are shown only by their fingerprint
(:func:`key_fingerprint`).

A key is either a Fernet key (``arconnect secrets generate``) or any passphrase. A passphrase is
stretched into a Fernet key with HKDF-SHA256 over the fixed application salt :data:`APP_SALT`, so
the same passphrase always gives the same key (a passphrase should be long and random: HKDF is a
key derivation function, not a password hash).

Demo only: with ``allow_demo=True`` and no key configured, :func:`get_vault` uses a local key file
(``~/.arconnect/demo.key``, or ``$ARCONNECT_DEMO_KEY_FILE``), created on first use, so
``arconnect demo`` needs no setup. Never run a real deployment on it: set a key.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from arconnect.errors import ConfigError
from arconnect.settings import Settings, get_settings

APP_SALT = b"arconnect/token-vault/v1"
"""The fixed HKDF salt for passphrase keys (changing it would orphan every stored token)."""
_HKDF_INFO = b"arconnect token encryption"
DEMO_KEY_ENV = "ARCONNECT_DEMO_KEY_FILE"

_MISSING_KEY = (
    "ARCONNECT_SECRET_KEY is not set: generate one with `arconnect secrets generate` and set "
    "ARCONNECT_SECRET_KEY (environment or .env); it encrypts the stored tokens"
)
_WRONG_KEY = (
    "cannot decrypt stored tokens: ARCONNECT_SECRET_KEY changed? Set the key they were "
    "encrypted with (or list it after the new one in ARCONNECT_SECRET_KEYS), or reconnect the "
    "tenants with `arconnect tenants add` / `arconnect tenants connect`"
)


def generate_key() -> str:
    """A new random Fernet key for ``ARCONNECT_SECRET_KEY``."""
    return Fernet.generate_key().decode("ascii")


def key_fingerprint(key: str) -> str:
    """A short public name for a configured key: the first 8 hex digits of its SHA-256.

    Lets an operator tell which key is in use without showing it; reproduce it with
    ``printf %s "$ARCONNECT_SECRET_KEY" | sha256sum | cut -c1-8``.
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]


def _is_fernet_key(key: str) -> bool:
    try:
        raw = base64.b64decode(key.encode("ascii"), altchars=b"-_", validate=True)
        return len(key) == 44 and len(raw) == 32
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return False


def derive_key(key: str) -> bytes:
    """The Fernet key for a configured key: itself when it is one, else HKDF of the passphrase.

    Args:
        key: a Fernet key (urlsafe base64 of 32 bytes) or any non-empty passphrase.

    Returns:
        A urlsafe-base64 Fernet key.
    """
    if _is_fernet_key(key):
        return key.encode("ascii")
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=APP_SALT, info=_HKDF_INFO).derive(
        key.encode("utf-8")
    )
    return base64.urlsafe_b64encode(raw)


class TokenVault:
    """Encrypts and decrypts secrets with the configured keys (newest first).

    Args:
        keys: the configured keys, newest first; the first encrypts, all of them decrypt.

    The vault owns nothing but the keys; it never logs and never puts a secret in an error
    (only the keys' fingerprints).
    """

    def __init__(self, keys: Sequence[str]) -> None:
        usable = [k for k in keys if k]
        if not usable:
            raise ConfigError(_MISSING_KEY)
        self._fernet = MultiFernet([Fernet(derive_key(k)) for k in usable])
        self.fingerprints = [key_fingerprint(k) for k in usable]

    @property
    def fingerprint(self) -> str:
        """The fingerprint of the key that encrypts (the newest)."""
        return self.fingerprints[0]

    def _wrong_key(self) -> ConfigError:
        return ConfigError(f"{_WRONG_KEY} (configured key fingerprints: "
                           f"{', '.join(self.fingerprints)})")

    def encrypt(self, plaintext: str) -> str:
        """``plaintext`` encrypted with the newest key (a url-safe text token)."""
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        """The plaintext of ``ciphertext``, encrypted under any configured key.

        Raises:
            ConfigError: no configured key opens it (the secret key was changed).
        """
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise self._wrong_key() from None

    def rotate(self, ciphertext: str) -> str:
        """``ciphertext`` re-encrypted under the newest key (same plaintext).

        Raises:
            ConfigError: no configured key opens it.
        """
        try:
            return self._fernet.rotate(ciphertext.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            raise self._wrong_key() from None


def demo_key_path() -> Path:
    """Where the demo key lives: ``$ARCONNECT_DEMO_KEY_FILE`` or ``~/.arconnect/demo.key``."""
    return Path(os.environ.get(DEMO_KEY_ENV) or Path.home() / ".arconnect" / "demo.key")


def _read_or_create_demo_key(path: Path, *, create: bool) -> str | None:
    if path.exists():
        key = path.read_text(encoding="ascii").strip()
        if key:
            return key
    if not create:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".demo-key-")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(generate_key() + "\n")
        os.chmod(tmp, 0o600)
        # os.link is an atomic "create if absent": concurrent first runs agree on one key.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)
    return path.read_text(encoding="ascii").strip()


def get_vault(settings: Settings | None = None, *, allow_demo: bool = False) -> TokenVault:
    """The vault over the configured keys.

    Args:
        settings: settings to read the keys from (default: the process-wide ones).
        allow_demo: with no key configured, use (and create if needed) the local demo key file
            instead of failing. Only the demo passes True.

    Raises:
        ConfigError: no key is configured (and ``allow_demo`` is False).
    """
    settings = settings or get_settings()
    keys = settings.secret_key_list()
    if keys:
        return TokenVault(keys)
    if allow_demo:
        key = _read_or_create_demo_key(demo_key_path(), create=True)
        assert key is not None
        return TokenVault([key])
    raise ConfigError(_MISSING_KEY)


def get_reading_vault(settings: Settings | None = None) -> TokenVault:
    """The vault for tokens already stored: the configured keys, else an existing demo key.

    Lets ``arconnect sync`` work on the demo's store without a key being set, while a store
    with no key anywhere still fails with the "not set" message. Never creates a key file.

    Raises:
        ConfigError: no key is configured and there is no demo key file.
    """
    settings = settings or get_settings()
    keys = settings.secret_key_list()
    if keys:
        return TokenVault(keys)
    key = _read_or_create_demo_key(demo_key_path(), create=False)
    if key is None:
        raise ConfigError(_MISSING_KEY)
    return TokenVault([key])
