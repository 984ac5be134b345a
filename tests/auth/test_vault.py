"""The token vault: round trips, key rotation, wrong and missing keys, the demo key file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from arconnect.auth.vault import (
    TokenVault,
    derive_key,
    generate_key,
    get_reading_vault,
    get_vault,
)
from arconnect.errors import ConfigError
from arconnect.settings import load_settings

SECRET = "refresh-token-abc123"


@pytest.mark.parametrize(
    "key", [generate_key(), "a long passphrase, not a Fernet key"], ids=["fernet", "passphrase"]
)
def test_round_trip(key: str) -> None:
    vault = TokenVault([key])
    ciphertext = vault.encrypt(SECRET)
    assert SECRET not in ciphertext
    assert vault.decrypt(ciphertext) == SECRET
    assert TokenVault([key]).decrypt(ciphertext) == SECRET  # derivation is deterministic


def test_passphrase_and_fernet_key_derivation() -> None:
    key = generate_key()
    assert derive_key(key) == key.encode()
    assert derive_key("passphrase") == derive_key("passphrase")
    assert derive_key("passphrase") != derive_key("passphrase2")


def test_old_key_still_decrypts_and_rotate_moves_to_the_new_key() -> None:
    old, new = generate_key(), "the new passphrase"
    stored = TokenVault([old]).encrypt(SECRET)
    both = TokenVault([new, old])
    assert both.decrypt(stored) == SECRET
    rotated = both.rotate(stored)
    assert TokenVault([new]).decrypt(rotated) == SECRET
    with pytest.raises(ConfigError):
        TokenVault([old]).decrypt(rotated)


def test_wrong_key_says_the_key_changed() -> None:
    stored = TokenVault([generate_key()]).encrypt(SECRET)
    with pytest.raises(ConfigError) as info:
        TokenVault([generate_key()]).decrypt(stored)
    message = str(info.value)
    assert message.startswith("cannot decrypt stored tokens: ARCONNECT_SECRET_KEY changed?")
    assert SECRET not in message
    with pytest.raises(ConfigError, match="cannot decrypt"):
        TokenVault(["other"]).rotate(stored)
    with pytest.raises(ConfigError, match="cannot decrypt"):
        TokenVault(["other"]).decrypt("not a token")


def test_missing_key_says_how_to_make_one() -> None:
    with pytest.raises(ConfigError) as info:
        get_vault(load_settings())
    assert str(info.value).startswith(
        "ARCONNECT_SECRET_KEY is not set: generate one with `arconnect secrets generate`"
    )
    with pytest.raises(ConfigError, match="is not set"):
        TokenVault([])


def test_keys_from_the_environment_newest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = generate_key(), generate_key()
    stored = TokenVault([old]).encrypt(SECRET)
    monkeypatch.setenv("ARCONNECT_SECRET_KEYS", f"{new},{old}")
    vault = get_vault(load_settings())
    assert vault.decrypt(stored) == SECRET
    assert TokenVault([new]).decrypt(vault.encrypt(SECRET)) == SECRET
    monkeypatch.setenv("ARCONNECT_SECRET_KEY", "passphrase")
    monkeypatch.delenv("ARCONNECT_SECRET_KEYS")
    assert TokenVault(["passphrase"]).decrypt(get_vault(load_settings()).encrypt("x")) == "x"


def test_demo_key_file_is_created_once_and_reused(tmp_path: Path) -> None:
    path = Path(os.environ["ARCONNECT_DEMO_KEY_FILE"])  # tests point it into tmp_path
    assert not path.exists()
    with pytest.raises(ConfigError, match="is not set"):
        get_reading_vault(load_settings())  # never creates the file
    assert not path.exists()
    stored = get_vault(load_settings(), allow_demo=True).encrypt(SECRET)
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert get_vault(load_settings(), allow_demo=True).decrypt(stored) == SECRET
    assert get_reading_vault(load_settings()).decrypt(stored) == SECRET
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".demo-key-")] == []


def test_a_configured_key_wins_over_the_demo_key(monkeypatch: pytest.MonkeyPatch) -> None:
    demo_stored = get_vault(load_settings(), allow_demo=True).encrypt(SECRET)
    monkeypatch.setenv("ARCONNECT_SECRET_KEY", generate_key())
    with pytest.raises(ConfigError, match="cannot decrypt"):
        get_vault(load_settings(), allow_demo=True).decrypt(demo_stored)
