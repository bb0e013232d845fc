"""WeChat's callback protocol primitives: signatures, AES safe mode and XML.

Shared by the Official Account channel (``wechat.py``) and WeCom customer service
(``wecom.py``), which use the same rules:

* signature: SHA-1 (hex) of the sorted, concatenated strings ``[token, timestamp,
  nonce]``; in safe mode ``msg_signature`` adds the ``Encrypt`` value to the list.
* AES-256-CBC with ``key = base64decode(EncodingAESKey + "=")`` and ``iv = key[:16]``;
  the plaintext is 16 random bytes, the 4-byte network-order length of the message,
  the message, then the app id (WeCom: the corp id); PKCS#7 padding to 32 bytes; the
  ciphertext travels base64-encoded.

Every comparison of a signature is constant-time. Nothing here logs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import struct
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32  # WeChat pads to 32 bytes, not to the AES block size
_FORBIDDEN_XML = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)
_SIGNATURE = re.compile(r"^[0-9a-f]{40}$")


class CryptoError(ValueError):
    """A message that cannot be decrypted, or whose app id is not ours."""


class XmlError(ValueError):
    """A body that is not the small, flat XML document WeChat sends."""


def signature(token: str, *parts: str) -> str:
    """Return WeChat's signature of ``token`` and the other parts.

    Args:
        token: The token configured in the admin console.
        *parts: ``timestamp``, ``nonce`` and, for ``msg_signature``, ``Encrypt``.

    Returns:
        The lower-case hex SHA-1 of the sorted, concatenated strings.
    """
    joined = "".join(sorted([token, *parts]))
    return hashlib.sha1(joined.encode("utf-8")).hexdigest()


def check_signature(given: str | None, token: str, *parts: str) -> bool:
    """Whether ``given`` is the signature of the token and parts (constant-time).

    Args:
        given: The signature from the request (may be missing).
        token: The configured token.
        *parts: The signed values from the request.

    Returns:
        True only for a well-formed, matching signature.
    """
    if not given or not _SIGNATURE.match(given.lower()):
        return False
    expected = signature(token, *parts)
    return hmac.compare_digest(expected.encode("ascii"), given.lower().encode("ascii"))


def _pad(data: bytes) -> bytes:
    amount = BLOCK - len(data) % BLOCK
    return data + bytes([amount]) * amount


def _unpad(data: bytes) -> bytes:
    if not data:
        raise CryptoError("empty plaintext")
    amount = data[-1]
    if amount < 1 or amount > BLOCK or amount > len(data):
        raise CryptoError("bad padding")
    return data[:-amount]


def decode_aes_key(encoding_aes_key: str) -> bytes:
    """Turn the 43-character EncodingAESKey into the 32-byte AES key.

    Raises:
        ValueError: the value is not a 43-character base64 key.
    """
    if len(encoding_aes_key) != 43:
        raise ValueError("the EncodingAESKey must have 43 characters")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the EncodingAESKey is not base64") from exc
    if len(key) != 32:
        raise ValueError("the EncodingAESKey must decode to 32 bytes")
    return key


class MessageCipher:
    """Encrypts and decrypts safe-mode messages for one app id (or corp id)."""

    def __init__(self, encoding_aes_key: str, receive_id: str) -> None:
        """Prepare the key.

        Args:
            encoding_aes_key: The 43-character key from the admin console.
            receive_id: The Official Account's AppID, or WeCom's CorpID.

        Raises:
            ValueError: the key is malformed.
        """
        self._key = decode_aes_key(encoding_aes_key)
        self._receive_id = receive_id.encode("utf-8")

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def encrypt(self, text: str, random_prefix: bytes | None = None) -> str:
        """Encrypt a message for WeChat.

        Args:
            text: The XML (or echo string) to encrypt.
            random_prefix: 16 bytes to start with (random when None; tests fix it).

        Returns:
            The base64 ciphertext.
        """
        body = text.encode("utf-8")
        prefix = random_prefix if random_prefix is not None else os.urandom(16)
        plain = prefix + struct.pack("!I", len(body)) + body + self._receive_id
        encryptor = self._cipher().encryptor()
        sealed = encryptor.update(_pad(plain)) + encryptor.finalize()
        return base64.b64encode(sealed).decode("ascii")

    def decrypt(self, encrypted: str) -> str:
        """Decrypt a message from WeChat and check that it was meant for us.

        Args:
            encrypted: The base64 ``Encrypt`` value (or encrypted echo string).

        Returns:
            The plaintext message.

        Raises:
            CryptoError: not base64, wrong length, bad padding, or another app id.
        """
        try:
            sealed = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CryptoError("not base64") from exc
        if not sealed or len(sealed) % 16:
            raise CryptoError("bad ciphertext length")
        decryptor = self._cipher().decryptor()
        plain = _unpad(decryptor.update(sealed) + decryptor.finalize())
        if len(plain) < 20:
            raise CryptoError("plaintext too short")
        (length,) = struct.unpack("!I", plain[16:20])
        body, receive_id = plain[20 : 20 + length], plain[20 + length :]
        if len(body) != length or not hmac.compare_digest(receive_id, self._receive_id):
            raise CryptoError("message is not for this account")
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CryptoError("plaintext is not UTF-8") from exc


def parse_xml(body: bytes) -> dict[str, str]:
    """Parse WeChat's flat XML into a dict of the root's child elements.

    Document type declarations and entities are refused before parsing, so neither
    external entities nor entity expansion can be abused.

    Args:
        body: The raw request body.

    Returns:
        Tag name to text (nested elements are flattened into their text).

    Raises:
        XmlError: not a ``<xml>`` document or not parseable.
    """
    if not body or _FORBIDDEN_XML.search(body):
        raise XmlError("refused XML")
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise XmlError("unparseable XML") from exc
    if root.tag != "xml":
        raise XmlError("not a WeChat message")
    return {child.tag: (child.text or "").strip() for child in root}


def cdata(value: str) -> str:
    """Wrap text in CDATA, splitting any ``]]>`` inside it."""
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


@dataclass(frozen=True)
class Envelope:
    """The signed wrapper of an encrypted passive reply."""

    encrypt: str
    msg_signature: str
    timestamp: str
    nonce: str

    def xml(self) -> str:
        """Render the reply body."""
        return (
            f"<xml><Encrypt>{cdata(self.encrypt)}</Encrypt>"
            f"<MsgSignature>{cdata(self.msg_signature)}</MsgSignature>"
            f"<TimeStamp>{self.timestamp}</TimeStamp>"
            f"<Nonce>{cdata(self.nonce)}</Nonce></xml>"
        )


def seal_reply(cipher: MessageCipher, token: str, reply_xml: str, nonce: str) -> Envelope:
    """Encrypt and sign a passive reply for safe mode.

    Args:
        cipher: The account's cipher.
        token: The configured token.
        reply_xml: The plaintext reply.
        nonce: The nonce to sign with (the request's).

    Returns:
        The envelope to send back.
    """
    timestamp = str(int(time.time()))
    encrypted = cipher.encrypt(reply_xml)
    return Envelope(
        encrypt=encrypted,
        msg_signature=signature(token, timestamp, nonce, encrypted),
        timestamp=timestamp,
        nonce=nonce,
    )
