"""Signed checkpoints of the chain head, and signed receipts: proof that holds outside the database.

A hash chain alone shows that records were not altered one by one; someone with write access
can still rewrite the whole tail and re-chain it. A checkpoint is the head (seq, hash) signed
with an Ed25519 key the database does not hold; kept elsewhere (a file, an e-mail, a notary),
it lets anyone prove later that the chain still extends it. Receipts are signed the same way,
so a person can check theirs offline (Kantara's ``publicKey``).
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..errors import LedgerError
from .records import utc_now
from .store import Head

CHECKPOINT_TYPE = "optin-ledger-checkpoint/1"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _canonical(payload: dict[str, Any]) -> bytes:
    """The bytes that are signed: JSON with sorted keys, no spaces, UTF-8."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def load_key(path: str | Path, *, create: bool = True) -> Ed25519PrivateKey:
    """The signing key in ``path`` (PKCS#8 PEM); generated there (mode 0600) when missing and
    ``create``. Keep it away from the database: whoever holds it can sign checkpoints."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if not create:
            raise LedgerError(f"no signing key at {path}") from None
        key = Ed25519PrivateKey.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
        return key
    try:
        loaded = serialization.load_pem_private_key(data, password=None)
    except ValueError as exc:
        raise LedgerError(f"{path}: not a PEM private key ({exc})") from None
    if not isinstance(loaded, Ed25519PrivateKey):
        raise LedgerError(f"{path}: not an Ed25519 key")
    return loaded


def public_key_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The raw 32-byte public key, base64: what a verifier pins."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return _b64(public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def _public_key(text: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except ValueError as exc:
        raise LedgerError(f"not an Ed25519 public key (base64 of 32 bytes): {exc}") from None


def _sign(payload: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    return {**payload, "signature": _b64(key.sign(_canonical(payload)))}


def _check(signed: dict[str, Any], key_text: str) -> None:
    payload = {k: v for k, v in signed.items() if k != "signature"}
    try:
        signature = base64.b64decode(str(signed.get("signature", "")), validate=True)
        _public_key(key_text).verify(signature, _canonical(payload))
    except (InvalidSignature, ValueError):
        raise LedgerError("the signature does not match (altered, or another key)") from None


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement: the chain held ``records`` records ending at ``seq`` with ``hash``."""

    seq: int
    records: int
    hash: str
    at: str
    public_key: str


def make_checkpoint(head: Head, key: Ed25519PrivateKey) -> dict[str, Any]:
    """The signed checkpoint of ``head``, as JSON-ready data."""
    if not head.hash:
        raise LedgerError("the ledger is empty: nothing to checkpoint yet")
    payload = {
        "type": CHECKPOINT_TYPE,
        "seq": head.seq,
        "records": head.records,
        "hash": head.hash,
        "at": utc_now(),
        "public_key": public_key_text(key),
    }
    return _sign(payload, key)


def read_checkpoint(text: str, trusted_key: str | None = None) -> Checkpoint:
    """Parse and check a checkpoint: its signature, by ``trusted_key`` (base64) when given,
    else by the key it names (then compare that key with one you trust)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise LedgerError(f"not a checkpoint (JSON): {exc}") from None
    if not isinstance(data, dict) or data.get("type") != CHECKPOINT_TYPE:
        raise LedgerError(f"not a checkpoint: expected type {CHECKPOINT_TYPE!r}")
    key = trusted_key or str(data.get("public_key", ""))
    if trusted_key is not None and data.get("public_key") != trusted_key:
        raise LedgerError("the checkpoint was signed by another key than the one trusted")
    _check(data, key)
    try:
        return Checkpoint(
            int(data["seq"]), int(data["records"]), str(data["hash"]), str(data["at"]), key
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise LedgerError(f"not a checkpoint: {exc}") from None


def sign_receipt(receipt: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """The receipt with Kantara's ``publicKey`` and a ``signature`` over everything else."""
    return _sign({**receipt, "publicKey": public_key_text(key)}, key)


def verify_receipt(receipt: dict[str, Any], trusted_key: str | None = None) -> None:
    """Raise ``LedgerError`` unless the receipt's signature holds (offline: no ledger needed),
    by ``trusted_key`` when given, else by the ``publicKey`` it carries."""
    key = trusted_key or str(receipt.get("publicKey", ""))
    if trusted_key is not None and receipt.get("publicKey") != trusted_key:
        raise LedgerError("the receipt was signed by another key than the one trusted")
    _check(receipt, key)
