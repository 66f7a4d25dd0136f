#!/usr/bin/env python3
"""Regenerates the seed corpora (fuzz/corpus/<target>/seed-*) from the project's fixtures.

Seeds are real inputs: metadata, key files, certificates, change files and notary-signer rows
from the test data, each prefixed with the selector byte its target expects (see the module
docs in fuzz/src/targets/). Needs python3 with `cryptography` (to decrypt the notary-signer
fixture rows) and `openssl`. Run from the repository root: python3 fuzz/make-seeds.py
"""

import base64
import glob
import hashlib
import json
import os
import subprocess

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
TUF = "crates/tuf/tests/data"
NOTARY03 = f"{TUF}/notary-compat/notary0.3/tuf/docker.com/notary0.3/tst/metadata"
NOTARY01 = f"{TUF}/notary-compat/notary0.1/tuf/docker.com/notary0.1/samplerepo/metadata"
SIGNER = "crates/signer/tests/data"


def read(path):
    with open(os.path.join(ROOT, path), "rb") as f:
        return f.read()


def openssl(*args, data=None):
    return subprocess.run(["openssl", *args], input=data, capture_output=True, check=True).stdout


class Seeds:
    def __init__(self, target):
        self.dir = os.path.join(CORPUS, target)
        for old in glob.glob(os.path.join(self.dir, "seed-*")):
            os.remove(old)
        os.makedirs(self.dir, exist_ok=True)

    def add(self, name, data):
        with open(os.path.join(self.dir, f"seed-{name}"), "wb") as f:
            f.write(data)


def pem_body(text):
    lines = [l for l in text.decode().splitlines() if l and not l.startswith("-----") and ":" not in l]
    return base64.b64decode("".join(lines))


def metadata():
    s = Seeds("metadata")
    s.add("root-0.3", b"\x00" + read(f"{NOTARY03}/root.json"))
    s.add("targets-0.3", b"\x01" + read(f"{NOTARY03}/targets.json"))
    s.add("snapshot-0.3", b"\x02" + read(f"{NOTARY03}/snapshot.json"))
    s.add("timestamp-0.3", b"\x03" + read(f"{NOTARY03}/timestamp.json"))
    s.add("delegation-0.3", b"\x04" + read(f"{NOTARY03}/targets/releases.json"))
    s.add("root-0.1", b"\x00" + read(f"{NOTARY01}/root.json"))
    s.add("targets-0.1", b"\x01" + read(f"{NOTARY01}/targets.json"))
    d = f"{TUF}/notary07/delegations/server"
    s.add("root-0.7", b"\x00" + read(f"{d}/1.root.json"))
    for path in sorted(glob.glob(os.path.join(ROOT, d, "targets", "team.*.json")))[:1]:
        s.add("delegation-0.7-team", b"\x04" + read(os.path.relpath(path, ROOT)))
    r = f"{TUF}/notary07/rotated-root/server"
    for path in sorted(glob.glob(os.path.join(ROOT, r, "*.root.json")))[-1:]:
        s.add("root-0.7-rotated", b"\x00" + read(os.path.relpath(path, ROOT)))
    return s


def cjson():
    s = Seeds("cjson")
    s.add("targets-0.3", read(f"{NOTARY03}/targets.json"))
    s.add("root-0.3-signed", json.dumps(json.loads(read(f"{NOTARY03}/root.json"))["signed"]).encode())
    s.add("snapshot-0.3", read(f"{NOTARY03}/snapshot.json"))
    s.add("strings", '{"b":"<&>\\u2028 \\"q\\" \\\\ \\u00e9 e\\u0301","a":[1,-2,3.0,1e2,null,true,false,{}]}'.encode())
    s.add("custom", b'{"custom":{"n":12345678901234567890,"x":[{"z":1,"y":{"b":[],"a":""}}]},"length":1}')


def upload():
    s = Seeds("upload")
    boundary = "f0a1b2c3d4e5"

    def body(*files):
        out = b""
        for role, data in files:
            out += (
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{role}\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode() + data + b"\r\n"
        out += f"--{boundary}--\r\n".encode()
        return f"multipart/form-data; boundary={boundary}\n".encode() + out

    # The store holds root, snapshot and timestamp of the notary 0.3 repository (see upload.rs).
    s.add(
        "targets-0.3",
        body(
            ("targets", read(f"{NOTARY03}/targets.json")),
            ("targets/releases", read(f"{NOTARY03}/targets/releases.json")),
        ),
    )
    s.add("root-0.3", body(("root", read(f"{NOTARY03}/root.json"))))
    s.add("targets-only-0.3", body(("targets.json", read(f"{NOTARY03}/targets.json"))))
    s.add(
        "publish-0.3",
        body(
            ("targets", read(f"{NOTARY03}/targets.json")),
            ("targets/releases", read(f"{NOTARY03}/targets/releases.json")),
            ("snapshot", read(f"{NOTARY03}/snapshot.json")),
        ),
    )


def keyfile():
    s = Seeds("keyfile")
    for path in sorted(glob.glob(os.path.join(ROOT, SIGNER, "notary0.3", "private", "**", "*.key"), recursive=True)):
        s.add("notary0.3-" + os.path.basename(path)[:8], b"\x00" + read(os.path.relpath(path, ROOT)))
    for path in sorted(glob.glob(os.path.join(ROOT, SIGNER, "notary0.1", "private", "**", "*.key"), recursive=True)):
        s.add("notary0.1-" + os.path.basename(path)[:8], b"\x01" + read(os.path.relpath(path, ROOT)))
    for path in sorted(glob.glob(os.path.join(ROOT, SIGNER, "go-pkcs8", "*.key"))):
        s.add("go-pkcs8-" + os.path.basename(path)[:8], b"\x00" + read(os.path.relpath(path, ROOT)))
    alice = read(f"{SIGNER}/go-pkcs8/alice-key.pem")
    s.add("alice", b"\x00" + alice)
    # Every block of a two-block file (mode 1).
    s.add("blocks", b"\x02" + read("keys-example/server.key") + read("keys-example/ca.key"))
    # Raw DER forms (modes 2 to 5).
    s.add("pkcs8-der", b"\x04" + pem_body(read("keys-example/server.key")))
    s.add("encrypted-pkcs8-der", b"\x06" + pem_body(alice))
    s.add("sec1-der", b"\x08" + pem_body(read("keys-example/ca.key")))
    rsa = openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048")
    s.add("pkcs1-der", b"\x0a" + openssl("rsa", "-traditional", "-outform", "DER", data=rsa))
    seed = hashlib.sha256(b"signet fuzz ed25519 seed").digest()
    ed = openssl("pkey", "-inform", "DER", "-pubout", "-outform", "DER",
                 data=bytes.fromhex("302e020100300506032b657004220420") + seed)
    public = ed[-32:]
    s.add("ed25519-raw", b"\x0a" + public + seed + public)


def x509():
    s = Seeds("x509")
    s.add("ca", read("keys-example/ca.crt"))
    s.add("chain", read("keys-example/server.crt") + read("keys-example/ca.crt"))
    for path in glob.glob(os.path.join(ROOT, SIGNER, "notary0.1", "trusted_certificates", "**", "*.crt"), recursive=True):
        s.add("notary0.1-trusted", read(os.path.relpath(path, ROOT)))
    root = json.loads(read(f"{NOTARY03}/root.json"))["signed"]
    for key in root["keys"].values():
        public = base64.b64decode(key["keyval"]["public"])
        if key["keytype"].endswith("x509"):
            s.add("root-0.3-cert", public)
            s.add("root-0.3-cert-der", pem_body(public))
        elif key["keytype"] == "ecdsa":
            s.add("spki-ecdsa", public)
    s.add("spki-pem", read("keys-example/delegation.pem"))


def changelist():
    s = Seeds("changelist")
    for path in sorted(glob.glob(os.path.join(ROOT, "crates/client/tests/data/changelist/*/*.change"))):
        data = read(os.path.relpath(path, ROOT))
        name = os.path.basename(os.path.dirname(path)) + "-" + os.path.basename(path)[:20]
        s.add(name, data)
        payload = json.loads(data).get("data")
        if payload:
            s.add(name + "-payload", base64.b64decode(payload))


def auth():
    s = Seeds("auth")
    s.add("bearer", b'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull"')
    s.add("bearer-error", b'Bearer realm="https://notary.example.com/auth", service="notary", error="invalid_token", error_description="expired \\"token\\""')
    s.add("basic", b'Basic realm="Registry Realm"')
    s.add("several", b'Negotiate, Basic realm=x, Bearer realm=https://a/token,service=svc')
    s.add("token", b'{"token":"eyJhbGciOiJFUzI1NiJ9.e30.sig","expires_in":300,"issued_at":"2016-07-28T00:00:00Z"}')
    s.add("access-token", b'{"access_token":"tok","token":"other","refresh_token":"r"}')


def jwe():
    s = Seeds("jwe")
    rows = json.loads(read("crates/server/tests/data/notary-signer/keys.json"))
    passphrase = b"signet fixture passphrase"
    done = set()
    for row in rows:
        compact = row["private"]
        s.add(f"row-{row['key_id'][:8]}", b"\x00" + compact.encode())
        if row["algorithm"] in done:
            continue
        done.add(row["algorithm"])
        header_b64, wrapped, iv, ciphertext, tag = compact.split(".")
        unb64 = lambda t: base64.urlsafe_b64decode(t + "=" * (-len(t) % 4))
        header = json.loads(unb64(header_b64))
        salt = header["alg"].encode() + b"\x00" + unb64(header["p2s"])
        kek = hashlib.pbkdf2_hmac("sha256", passphrase, salt, header["p2c"], 16)
        cek = aes_key_unwrap(kek, unb64(wrapped))
        plain = AESGCM(cek).decrypt(unb64(iv), unb64(ciphertext) + unb64(tag), header_b64.encode())
        s.add(f"plain-{row['algorithm']}", b"\x01" + plain)
        s.add(f"column-{row['algorithm']}", b"\x02" + plain)


if __name__ == "__main__":
    for make in (metadata, cjson, upload, keyfile, x509, changelist, auth, jwe):
        make()
