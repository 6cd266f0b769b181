"""A local RFC 3161 time-stamping authority for the tests, with real certificates.

``make_tsa_pki`` creates a root CA and a TSA certificate with the critical ``timeStamping``
extended key usage (``cryptography``); ``LocalTsa`` answers ``application/timestamp-query``
POSTs on 127.0.0.1 (a free port, stdlib threaded server in a background thread) with a
TimeStampResp whose token is a CMS SignedData over a TSTInfo, built with ``asn1crypto`` the way
a production TSA builds it: signed attributes with the content type, the message digest and an
ESS signing-certificate-v2 attribute, so ``openssl ts -verify`` accepts it too.

``LocalTsa.mode`` makes it misbehave, so every failure a client must catch can be caused:

``"grant"``            a valid, granted response (the default);
``"reject"``           status rejection (2) with a status string and ``badAlg`` failure info;
``"untrusted"``        granted, but signed by a TSA certificate from a different root;
``"wrong-nonce"``      granted and validly signed, but for another nonce;
``"wrong-imprint"``    granted and validly signed, but over another digest;
``"http-error"``       HTTP 500 with no body.

Fixtures ``tsa``, ``other_tsa``, ``tsa_pki`` and ``untrusted_pki`` are registered nowhere; a
test module imports the functions it uses::

    from tests.tsa_server import tsa_fixture  # noqa: F401

Their ``_fixture`` suffix keeps test parameters named after the fixtures from shadowing the
imports.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, cast

import pytest
from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "TSA_POLICY_OID",
    "LocalTsa",
    "TsaMode",
    "TsaPki",
    "make_tsa_pki",
    "other_tsa_fixture",
    "tsa_fixture",
    "tsa_pki_fixture",
    "untrusted_pki_fixture",
]

TsaMode = Literal["grant", "reject", "untrusted", "wrong-nonce", "wrong-imprint", "http-error"]

# An OID under the arc that RFC 7229 reserves for examples and tests, so no real policy is named.
TSA_POLICY_OID = "1.3.6.1.5.5.7.13.1"
QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"


@dataclass(frozen=True)
class TsaPki:
    """A root CA and the TSA certificate it issued, with the TSA's signing key."""

    root_cert: x509.Certificate
    tsa_cert: x509.Certificate
    tsa_key: ec.EllipticCurvePrivateKey

    @property
    def root_pem(self) -> bytes:
        """The root as PEM: what an operator would put in ``OSINT_ARCHIVE_TSA_CA_FILE``."""
        return self.root_cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "osint-archive tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=not cert_sign,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def make_tsa_pki(label: str = "test", *, timestamping_eku: bool = True) -> TsaPki:
    """Create a root CA and a TSA certificate (critical ``timeStamping`` EKU) under it.

    ``timestamping_eku=False`` gives the TSA certificate a ``serverAuth`` EKU instead: a
    certificate its CA never meant for timestamps, which verifiers must refuse.
    """
    now = datetime.now(UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name(f"osint-archive {label} TSA root")
    root_cert = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), False)
        .sign(root_key, hashes.SHA256())
    )
    tsa_key = ec.generate_private_key(ec.SECP256R1())
    tsa_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"osint-archive {label} TSA"))
        .issuer_name(root_name)
        .public_key(tsa_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        # RFC 3161 §2.3: the TSA certificate has exactly this EKU, marked critical.
        .add_extension(
            x509.ExtendedKeyUsage(
                [
                    ExtendedKeyUsageOID.TIME_STAMPING
                    if timestamping_eku
                    else ExtendedKeyUsageOID.SERVER_AUTH
                ]
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(tsa_key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False
        )
        .sign(root_key, hashes.SHA256())
    )
    return TsaPki(root_cert=root_cert, tsa_cert=tsa_cert, tsa_key=tsa_key)


def _signed_attributes(tst_info_der: bytes, tsa_cert_der: bytes) -> cms.CMSAttributes:
    attributes = [
        cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
        cms.CMSAttribute(
            {"type": "message_digest", "values": [hashlib.sha256(tst_info_der).digest()]}
        ),
        # RFC 5816: binds the signer certificate to the signature; openssl ts -verify wants it.
        cms.CMSAttribute(
            {
                "type": "signing_certificate_v2",
                "values": [
                    {"certs": [{"cert_hash": hashlib.sha256(tsa_cert_der).digest()}]},
                ],
            }
        ),
    ]
    # DER orders a SET OF by encoding; verifiers re-encode the attributes before checking.
    attributes.sort(key=lambda attribute: attribute.dump())
    return cms.CMSAttributes(attributes)


def build_response(
    request_der: bytes, pki: TsaPki, serial: int, *, nonce_delta: int = 0, other_imprint: bool
) -> bytes:
    """A granted TimeStampResp for a DER TimeStampReq, signed with ``pki``'s TSA key."""
    request = tsp.TimeStampReq.load(request_der)
    imprint = request["message_imprint"]
    if other_imprint:
        imprint = tsp.MessageImprint(
            {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": hashlib.sha256(b"something else").digest(),
            }
        )
    tsa_cert_der = pki.tsa_cert.public_bytes(serialization.Encoding.DER)
    tsa_cert = asn1_x509.Certificate.load(tsa_cert_der)
    tst_fields: dict[str, Any] = {
        "version": "v1",
        "policy": TSA_POLICY_OID,
        "message_imprint": imprint,
        "serial_number": serial,
        "gen_time": datetime.now(UTC).replace(microsecond=0),
        "accuracy": {"seconds": 1},
        "tsa": asn1_x509.GeneralName(name="directory_name", value=tsa_cert.subject),
    }
    if request["nonce"].native is not None:
        tst_fields["nonce"] = request["nonce"].native + nonce_delta
    tst_info_der = tsp.TSTInfo(tst_fields).dump()
    signed_attrs = _signed_attributes(tst_info_der, tsa_cert_der)
    signature = pki.tsa_key.sign(signed_attrs.dump(), ec.ECDSA(hashes.SHA256()))
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value={"issuer": tsa_cert.issuer, "serial_number": tsa_cert.serial_number},
            ),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
            "signed_attrs": signed_attrs,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
            "signature": signature,
        }
    )
    signed_fields: dict[str, Any] = {
        "version": "v3",
        "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
        "encap_content_info": {
            "content_type": "tst_info",
            "content": core.ParsableOctetString(tst_info_der),
        },
        "signer_infos": [signer_info],
    }
    # RFC 3161 §2.4.1: the TSA certificate is included only when the request asked for it.
    if request["cert_req"].native:
        signed_fields["certificates"] = [tsa_cert]
    signed_data = cms.SignedData(signed_fields)
    response = tsp.TimeStampResp(
        {
            "status": {"status": "granted"},
            "time_stamp_token": {"content_type": "signed_data", "content": signed_data},
        }
    )
    return response.dump()


class _StatusOnlyResp(core.Sequence):
    """TimeStampResp without its token, as RFC 3161 sends a refusal; asn1crypto's own
    ``TimeStampResp`` declares the token mandatory."""

    _fields = [("status", tsp.PKIStatusInfo)]  # noqa: RUF012 - asn1crypto's declaration style


def rejection_response(text: str) -> bytes:
    """A TimeStampResp with status rejection, a status string and a failure reason."""
    return _StatusOnlyResp(
        {
            "status": {
                "status": "rejection",
                "status_string": [text],
                "fail_info": tsp.PKIFailureInfo({"bad_alg"}),
            }
        }
    ).dump()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    tsa: LocalTsa


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: pytest shows failures, not access logs."""

    def do_POST(self) -> None:
        tsa = self.server.tsa
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        tsa.record_request(self.headers.get("Content-Type", ""), body)
        if tsa.mode == "http-error":
            self.send_reply(500, b"", "text/plain")
            return
        if self.headers.get("Content-Type") != QUERY_TYPE:
            self.send_reply(415, b"expected " + QUERY_TYPE.encode(), "text/plain")
            return
        self.send_reply(200, tsa.answer(body), REPLY_TYPE)

    def send_reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@dataclass
class LocalTsa:
    """An RFC 3161 TSA on ``http://127.0.0.1:<port>/tsr``; use it as a context manager."""

    pki: TsaPki
    untrusted_pki: TsaPki | None = None
    mode: TsaMode = "grant"
    requests: list[tuple[str, bytes]] = field(default_factory=list)
    # Serials are unique per TSA (RFC 3161 §2.4.2); a random start keeps instances that share
    # one PKI from repeating each other's.
    _serials: Iterator[int] = field(default_factory=lambda: itertools.count(secrets.randbits(32)))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: _Server | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Where to POST queries."""
        if self._server is None:
            raise RuntimeError("the TSA is not running")
        host, port = cast(tuple[str, int], self._server.server_address)
        return f"http://{host}:{port}/tsr"

    def record_request(self, content_type: str, body: bytes) -> None:
        """Keep what a client sent, for assertions on the query."""
        with self._lock:
            self.requests.append((content_type, body))

    def answer(self, request_der: bytes) -> bytes:
        """The DER TimeStampResp for one query, shaped by ``mode``."""
        if self.mode == "reject":
            return rejection_response("request rejected by test TSA")
        with self._lock:
            serial = next(self._serials)
        pki = self.pki
        if self.mode == "untrusted":
            if self.untrusted_pki is None:
                self.untrusted_pki = make_tsa_pki("untrusted")
            pki = self.untrusted_pki
        return build_response(
            request_der,
            pki,
            serial,
            nonce_delta=1 if self.mode == "wrong-nonce" else 0,
            other_imprint=self.mode == "wrong-imprint",
        )

    def __enter__(self) -> LocalTsa:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.tsa = self
        self._thread = threading.Thread(
            target=functools.partial(self._server.serve_forever, poll_interval=0.05),
            name="local-tsa",
            daemon=True,
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


@pytest.fixture(scope="session", name="tsa_pki")
def tsa_pki_fixture() -> TsaPki:
    """The trusted test PKI: one root and one TSA certificate for the whole session."""
    return make_tsa_pki("trusted")


@pytest.fixture(scope="session", name="untrusted_pki")
def untrusted_pki_fixture() -> TsaPki:
    """A second, unrelated PKI: tokens it signs must not verify against ``tsa_pki``'s root."""
    return make_tsa_pki("untrusted")


@pytest.fixture(name="tsa")
def tsa_fixture(tsa_pki: TsaPki, untrusted_pki: TsaPki) -> Iterator[LocalTsa]:
    """A fresh TSA per test (mode ``grant``), signing with ``tsa_pki``."""
    with LocalTsa(pki=tsa_pki, untrusted_pki=untrusted_pki) as server:
        yield server


@pytest.fixture(name="other_tsa")
def other_tsa_fixture() -> Iterator[LocalTsa]:
    """A second TSA with its own root, for configurations with two authorities."""
    with LocalTsa(pki=make_tsa_pki("second")) as server:
        yield server
