"""End-to-end encryption of submissions as FIT-Connect does it (docs.fitko.de, details/crypto).

The sender encrypts each part (metadata, data) as a compact JWE to the destination's public
key: key management RSA-OAEP-256, content A256GCM, RSA keys of 4096 bits. joserfc flags
RSA-OAEP-256 as "not recommended" by default (it prefers ECDH-ES), so its registry is told
explicitly which algorithms FIT-Connect requires; nothing else is accepted.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from joserfc import jwe
from joserfc.jwe import JWERegistry
from joserfc.jwk import RSAKey

KEY_ALGORITHM = "RSA-OAEP-256"
CONTENT_ENCRYPTION = "A256GCM"
MIN_KEY_BITS = 4096
REGISTRY = JWERegistry(algorithms=[KEY_ALGORITHM, CONTENT_ENCRYPTION])
METADATA_SCHEMA = "https://schema.fitko.de/fit-connect/metadata/1.2.0/metadata.schema.json"


class UnusableKey(ValueError):
    """The destination's published key is not one FIT-Connect allows."""


def new_destination_key() -> RSAKey:
    key = RSAKey.generate_key(MIN_KEY_BITS, parameters={"alg": KEY_ALGORITHM, "use": "enc"},
                              private=True)
    key.ensure_kid()
    return key


def published(key: RSAKey) -> dict[str, Any]:
    """The public JWK as a FIT-Connect destination publishes it."""
    return {**key.as_dict(private=False), "key_ops": ["wrapKey"]}


def encryption_key(jwk: dict[str, Any]) -> RSAKey:
    """The destination's public key, checked before anything is encrypted to it."""
    if jwk.get("kty") != "RSA" or jwk.get("alg") != KEY_ALGORITHM or not jwk.get("kid"):
        raise UnusableKey(f"expected an RSA key with alg {KEY_ALGORITHM} and a kid")
    if "d" in jwk:
        raise UnusableKey("the destination published its private key")
    if "wrapKey" not in jwk.get("key_ops", ["wrapKey"]):
        raise UnusableKey("the key is not meant for wrapping content keys")
    # joserfc names the operation "encrypt"; FIT-Connect's "wrapKey" was checked above
    key = RSAKey.import_key({k: v for k, v in jwk.items() if k != "key_ops"})
    if key.raw_value.key_size < MIN_KEY_BITS:
        raise UnusableKey(f"RSA key of {key.raw_value.key_size} bits; "
                          f"at least {MIN_KEY_BITS} required")
    return key


def encrypt(plaintext: bytes, key: RSAKey) -> str:
    return jwe.encrypt_compact({"alg": KEY_ALGORITHM, "enc": CONTENT_ENCRYPTION,
                                "kid": key.kid, "cty": "application/json"},
                               plaintext, key, registry=REGISTRY)


def decrypt(token: str, key: RSAKey) -> bytes:
    plaintext = jwe.decrypt_compact(token, key, registry=REGISTRY).plaintext
    if plaintext is None:  # joserfc sets it on every successful decryption
        raise ValueError("the JWE decrypted to no plaintext")
    return plaintext


def canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode()


def metadata_for(data: bytes, schema_uri: str) -> dict[str, Any]:
    """The submission's metadata: which schema the data follow and their SHA-512 hash, so the
    receiver can check that the data it decrypted are the data announced."""
    return {"$schema": METADATA_SCHEMA,
            "contentStructure": {
                "data": {"submissionSchema": {"schemaUri": schema_uri,
                                              "mimeType": "application/json"},
                         "hash": {"type": "sha512",
                                  "content": hashlib.sha512(data).hexdigest()}},
                "attachments": []}}
