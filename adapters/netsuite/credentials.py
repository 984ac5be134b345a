"""The grant secret: how a NetSuite grant of any of its three schemes is stored.

The engine stores per grant a client id, a client secret and a refresh token. NetSuite has three
ways to authenticate an integration, and the stored *refresh token* of every NetSuite grant is a
grant secret naming the scheme and holding what it needs: ``"ns1:" + base64url(JSON)`` with

* ``{"scheme": "code", "account", "refresh_token"}`` — OAuth 2.0 authorization code; the refresh
  token lives 7 days
  (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_160855594402.html);
* ``{"scheme": "m2m", "account", "certificate_id", "private_key" (PEM), "algorithm"}`` — OAuth
  2.0 client credentials, a JWT signed with the certificate's private key
  (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_162755359851.html);
* ``{"scheme": "tba", "account", "token_id", "token_secret", "consumer_key",
  "consumer_secret"}`` — token-based authentication, OAuth 1.0a
  (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/chapter_4247329078.html).

The engine encrypts it like any refresh token. Nothing here logs a secret or puts one (or the
private key) in a message.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from arconnect.errors import ConfigError

PREFIX = "ns1:"
SCHEMES = ("code", "m2m", "tba")
RSA_ALGORITHMS = ("PS256", "PS384", "PS512")
EC_ALGORITHMS = ("ES256", "ES384", "ES512")
# The curve each ES algorithm signs with (RFC 7518 section 3.4).
EC_CURVES = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}

# What each scheme's grant secret holds besides scheme and account.
_FIELDS = {
    "code": ("refresh_token",),
    "m2m": ("certificate_id", "private_key", "algorithm"),
    "tba": ("token_id", "token_secret", "consumer_key", "consumer_secret"),
}
# `tenants add netsuite` options of each scheme (besides --account).
_OPTIONS = {
    "code": ("client_id", "client_secret", "refresh_token"),
    "m2m": ("client_id", "certificate_id", "private_key"),
    "tba": ("consumer_key", "consumer_secret", "token_id", "token_secret"),
}
_ANY_SCHEME = ("refresh_token", "certificate_id", "private_key", "consumer_key",
               "consumer_secret", "token_id", "token_secret")


@dataclass(frozen=True)
class Grant:
    """A decoded grant secret.

    Attributes:
        scheme: ``code``, ``m2m`` or ``tba``.
        account: the account id in its original form (``1234567_SB1``).
        values: the scheme's fields (see the module docstring).
    """

    scheme: str
    account: str
    values: Mapping[str, str]

    def get(self, key: str) -> str:
        return str(self.values.get(key) or "")


def is_grant_secret(text: str) -> bool:
    """True when ``text`` looks like a grant secret (``ns1:`` prefix)."""
    return isinstance(text, str) and text.startswith(PREFIX)


def encode(scheme: str, account: str, **values: str) -> str:
    """A grant secret for ``scheme`` in ``account``.

    Raises:
        ConfigError: an unknown scheme, no account, or a field of the scheme missing.
    """
    if scheme not in SCHEMES:
        raise ConfigError(f"unknown NetSuite grant scheme {scheme!r}; one of {', '.join(SCHEMES)}")
    if not account.strip():
        raise ConfigError("a NetSuite grant needs the account id: pass --account")
    missing = [k for k in _FIELDS[scheme] if not values.get(k)]
    if missing:
        raise ConfigError(f"a NetSuite {scheme} grant needs {', '.join(missing)}")
    body = {"scheme": scheme, "account": account.strip(),
            **{k: str(values[k]) for k in _FIELDS[scheme]}}
    return PREFIX + base64.urlsafe_b64encode(orjson.dumps(body)).decode().rstrip("=")


def decode(secret: str) -> Grant:
    """The grant a grant secret stands for.

    Raises:
        ConfigError: not a grant secret, or one that does not decode, names an unknown scheme or
            lacks a field (the message names what, never the secret).
    """
    if not is_grant_secret(secret):
        raise ConfigError("the stored NetSuite grant is not a grant secret (no ns1: prefix): "
                          "add it again with `arconnect tenants add netsuite --account ID ...`")
    text = secret[len(PREFIX):]
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        body = orjson.loads(raw)
    except (binascii.Error, ValueError):
        raise ConfigError("the stored NetSuite grant secret does not decode: add the grant "
                          "again with `arconnect tenants add netsuite`") from None
    if not isinstance(body, dict) or body.get("scheme") not in SCHEMES:
        raise ConfigError("the stored NetSuite grant secret names no known scheme "
                          f"({', '.join(SCHEMES)}): add the grant again")
    scheme = str(body["scheme"])
    account = str(body.get("account") or "").strip()
    missing = [k for k in ("account", *_FIELDS[scheme])
               if not (account if k == "account" else body.get(k))]
    if missing:
        raise ConfigError(f"the stored NetSuite {scheme} grant lacks {', '.join(missing)}: "
                          "add the grant again with `arconnect tenants add netsuite`")
    values = {k: str(body[k]) for k in _FIELDS[scheme]}
    return Grant(scheme, account, values)


def load_private_key(pem: str, algorithm: str) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    """The private key of a PEM text, checked against the JWT algorithm it signs with.

    NetSuite takes PS256/PS384/PS512 (RSA keys) and ES256/ES384/ES512 (EC keys on the matching
    curve); it refuses RS256
    (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_162755359851.html).

    Raises:
        ConfigError: the algorithm is not one NetSuite takes, the text is no unencrypted PEM
            private key, or the key's type does not fit the algorithm (the key never appears in
            the message).
    """
    algorithm = algorithm.strip().upper()
    if algorithm not in RSA_ALGORITHMS + EC_ALGORITHMS:
        refused = " (NetSuite refuses RS256 since 2024.1)" if algorithm.startswith("RS") else ""
        raise ConfigError(
            f"JWT algorithm {algorithm[:12]!r} is not one NetSuite takes{refused}: use one of "
            f"{', '.join(RSA_ALGORITHMS + EC_ALGORITHMS)} (ARCONNECT_NETSUITE_JWT_ALGORITHM)")
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ConfigError(
            "--private-key: not an unencrypted PEM private key (expected a file starting "
            "-----BEGIN PRIVATE KEY-----; decrypt it first, e.g. `openssl pkey -in key.pem "
            "-out plain.pem`)") from None
    if algorithm in RSA_ALGORITHMS:
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ConfigError(f"--private-key: {algorithm} needs an RSA key; this one is "
                              f"{_kind(key)} (for an EC key set "
                              "ARCONNECT_NETSUITE_JWT_ALGORITHM=ES256, ES384 or ES512)")
        if key.key_size < 2048:
            raise ConfigError(f"--private-key: the RSA key has {key.key_size} bits; NetSuite "
                              "needs at least 2048")
        return key
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigError(f"--private-key: {algorithm} needs an EC key; this one is "
                          f"{_kind(key)} (for an RSA key set "
                          "ARCONNECT_NETSUITE_JWT_ALGORITHM=PS256, PS384 or PS512)")
    if key.curve.name != EC_CURVES[algorithm]:
        fits = next((a for a, c in EC_CURVES.items() if c == key.curve.name), None)
        hint = f"; set ARCONNECT_NETSUITE_JWT_ALGORITHM={fits}" if fits else ""
        raise ConfigError(f"--private-key: {algorithm} needs a key on {EC_CURVES[algorithm]}; "
                          f"this one is on {key.curve.name}{hint}")
    return key


def _kind(key: Any) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        return "an RSA key"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "an EC key"
    return f"a {type(key).__name__.removeprefix('_')} key"


def key_algorithm(pem: str) -> str:
    """The JWT algorithm a private key signs with when none is configured: PS256 for an RSA
    key, the ES algorithm of an EC key's curve (RFC 7518 section 3.4).

    Raises:
        ConfigError: the text is no unencrypted PEM private key, or one of another kind.
    """
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ConfigError("--private-key: not an unencrypted PEM private key (RSA or EC). "
                          "Nothing was changed") from None
    if isinstance(key, rsa.RSAPrivateKey):
        return "PS256"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        for algorithm, curve in EC_CURVES.items():
            if key.curve.name == curve:
                return algorithm
    raise ConfigError(f"--private-key: a {_kind(key)} key; NetSuite's client credentials take "
                      "RSA (PS256/384/512) or EC P-256/P-384/P-521 (ES256/384/512) keys. "
                      "Nothing was changed")


def headless_grant(options: Mapping[str, str | None], *, algorithm: str | None = None
                   ) -> tuple[str, str, str]:
    """``(client_id, client_secret, grant_secret)`` for ``tenants add netsuite`` from its
    options: ``account`` and exactly one scheme's full set —

    * code: ``client_id``, ``client_secret``, ``refresh_token``;
    * m2m: ``client_id``, ``certificate_id``, ``private_key`` (PEM text; the client secret is
      not used);
    * tba: ``consumer_key``, ``consumer_secret``, ``token_id``, ``token_secret`` (the consumer
      pair is stored as the grant's client id and secret).

    Args:
        options: the command's options (None or "" where not given).
        algorithm: the JWT algorithm of an m2m grant (settings); None: the key's own
            (:func:`key_algorithm`).

    Raises:
        ConfigError: no account, options of two schemes mixed, a scheme's option missing, or a
            private key that does not load or fit the algorithm.
    """
    given = {k for k, v in options.items() if v and k != "account"}
    account = str(options.get("account") or "").strip()
    if not account:
        raise ConfigError("--account is missing: a NetSuite grant is for one account; give its "
                          "id (1234567, or 1234567_SB1 for a sandbox). Nothing was changed")
    schemes = [s for s in ("m2m", "tba") if given & (set(_OPTIONS[s]) - {"client_id"})]
    if "refresh_token" in given:
        schemes.insert(0, "code")
    if len(schemes) > 1:
        described = " and ".join(
            f"{s} ({', '.join('--' + k.replace('_', '-') for k in _OPTIONS[s] if k in given)})"
            for s in schemes)
        raise ConfigError(f"options of two NetSuite auth schemes are mixed: {described}; give "
                          "one scheme's options only. Nothing was changed")
    scheme = schemes[0] if schemes else "code"
    foreign = sorted(given - set(_OPTIONS[scheme]) - ({"client_secret"} if scheme == "m2m"
                                                      else set()))
    if scheme == "tba":
        foreign = [k for k in foreign if k not in ("client_id", "client_secret")]
    if foreign:
        names = ", ".join("--" + k.replace("_", "-") for k in foreign)
        raise ConfigError(f"{names}: not part of a NetSuite {_label(scheme)} grant. Nothing was "
                          "changed")
    missing = [k for k in _OPTIONS[scheme] if not options.get(k)]
    if missing:
        names = ", ".join("--" + k.replace("_", "-") for k in missing)
        raise ConfigError(f"{names} missing for a NetSuite {_label(scheme)} grant "
                          f"({_usage(scheme)}). Nothing was changed")

    def opt(name: str) -> str:
        return str(options.get(name) or "").strip()

    if scheme == "code":
        secret = encode("code", account, refresh_token=opt("refresh_token"))
        return opt("client_id"), opt("client_secret"), secret
    if scheme == "m2m":
        pem = str(options.get("private_key") or "")
        algorithm = algorithm or key_algorithm(pem)
        load_private_key(pem, algorithm)
        secret = encode("m2m", account, certificate_id=opt("certificate_id"),
                        private_key=pem.strip() + "\n", algorithm=algorithm.strip().upper())
        return opt("client_id"), opt("client_secret"), secret
    secret = encode("tba", account, token_id=opt("token_id"), token_secret=opt("token_secret"),
                    consumer_key=opt("consumer_key"), consumer_secret=opt("consumer_secret"))
    return opt("consumer_key"), opt("consumer_secret"), secret


def _label(scheme: str) -> str:
    return {"code": "authorization-code", "m2m": "client-credentials (M2M)",
            "tba": "token-based authentication"}[scheme]


def _usage(scheme: str) -> str:
    return " ".join(f"--{k.replace('_', '-')} ..." for k in _OPTIONS[scheme])
