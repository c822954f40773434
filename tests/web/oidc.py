"""Google-style OIDC ID tokens signed offline with a local RSA key, and a google-auth verifier
that trusts that key: the real signature and claim checks, no network."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import crypt, jwt

SA = "pusher@proj.iam.gserviceaccount.com"
AUDIENCE = "https://worker.example/pubsub/push"


class Keys:
    """One signing key (kid `k1`) and the certificate map a verifier trusts."""

    def __init__(self, kid: str = "k1") -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = kid
        self.private_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self.public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, **overrides: Any) -> str:
        """A Pub/Sub push token for SA and AUDIENCE; keyword arguments replace claims (None
        removes one)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": "https://accounts.google.com",
            "aud": AUDIENCE,
            "sub": "1234567890",
            "email": SA,
            "email_verified": True,
            "iat": now,
            "exp": now + 600,
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        signer = crypt.RSASigner.from_string(self.private_pem, key_id=self.kid)
        return jwt.encode(signer, claims).decode()

    def verifier(self, *, check_audience: bool = True) -> Any:
        """google-auth's JWT verification against this key (as `verify_oauth2_token` does with
        Google's certificates); `check_audience=False` gives a lax verifier."""
        certs = {self.kid: self.public_pem}

        def verify(token: str, audience: str) -> Mapping[str, Any]:
            claims: Mapping[str, Any] = jwt.decode(
                token, certs=certs, audience=audience if check_audience else None
            )
            return claims

        return verify
