#!/usr/bin/env bash
# Regenerates the example keys and certificates in this folder. They are EXAMPLES for local use
# with the README walkthrough and the test suite: never use them to protect anything real.
set -euo pipefail
cd "$(dirname "$0")"
days=3650

# A local certificate authority and a server certificate for 127.0.0.1 / localhost.
openssl ecparam -name prime256v1 -genkey -noout -out ca.key
openssl req -x509 -new -key ca.key -sha256 -days "$days" -subj "/CN=signet example CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -out ca.crt
openssl ecparam -name prime256v1 -genkey -noout -out server.key.sec1
openssl pkcs8 -topk8 -nocrypt -in server.key.sec1 -out server.key && rm server.key.sec1
openssl req -new -key server.key -subj "/CN=localhost" -out server.csr
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days "$days" \
    -extfile <(printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n') \
    -out server.crt
rm -f server.csr ca.srl

# An example delegation key pair: the private key is a notary-format encrypted key file
# (passphrase below), the public key a PEM SubjectPublicKeyInfo to pass to `delegation add`.
openssl ecparam -name prime256v1 -genkey -noout -out delegation.sec1
openssl pkcs8 -topk8 -v2 aes-256-cbc -v2prf hmacWithSHA1 -iter 2048 -passout pass:example-passphrase \
    -in delegation.sec1 -out delegation-key.pem
openssl ec -in delegation.sec1 -pubout -out delegation.pem 2>/dev/null
rm -f delegation.sec1
chmod 600 *.key delegation-key.pem
