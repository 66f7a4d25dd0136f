#!/usr/bin/env python3
"""Writes N target changes into a notary trust dir's changelist, in notary 0.7's file format.

Usage: stage.py TRUST_DIR GUN COUNT

Each change is one `%020d_<uuid>.change` file holding
{"action":"create","role":"targets","type":"target","path":...,"data":<b64 FileMeta JSON>},
exactly what `notary addhash` writes, so `notary publish` and `signet publish` read the same input.
"""
import base64
import hashlib
import json
import os
import sys
import time
import uuid


def main() -> None:
    trust_dir, gun, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    changelist = os.path.join(trust_dir, "tuf", gun, "changelist")
    os.makedirs(changelist, mode=0o700, exist_ok=True)
    base = time.time_ns()
    for i in range(count):
        content = f"payload {i}".encode()
        meta = {
            "length": len(content),
            "hashes": {
                "sha256": base64.b64encode(hashlib.sha256(content).digest()).decode(),
                "sha512": base64.b64encode(hashlib.sha512(content).digest()).decode(),
            },
        }
        change = {
            "action": "create",
            "role": "targets",
            "type": "target",
            "path": f"releases/v{i // 1000}/artifact-{i:06d}.tar.gz",
            "data": base64.b64encode(json.dumps(meta, separators=(",", ":")).encode()).decode(),
        }
        name = f"{base + i:020d}_{uuid.uuid4()}.change"
        fd = os.open(os.path.join(changelist, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(change, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
