"""The paper's GPT-3.5 Turbo path: submit the dataset builder's OpenAI JSONL as an OpenAI fine-tuning job.

    .venv/bin/python -m training.openai_finetune --train build/dataset/openai/simple_kv/train.jsonl

With ``OPENAI_API_KEY`` set this uploads the file (``POST /v1/files``, purpose ``fine-tune``) and creates the job
(``POST /v1/fine_tuning/jobs``), printing the job id; follow it at https://platform.openai.com/finetune or with
``GET /v1/fine_tuning/jobs/<id>``. Without the key it prints the exact two requests it would send and exits 0.
The key is never printed. Only the standard library is used (no ``openai`` package).

Each JSONL line is one chat, as the dataset builder writes it::

    {"messages": [{"role": "system", "content": "Write a response that appropriately completes the request."},
                  {"role": "user", "content": "Do a task using the list of dictionaries below. ..."},
                  {"role": "assistant", "content": "The value of key 4818 is 4782 and it is in Dictionary [1]."}]}
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

API = "https://api.openai.com/v1"
KEY_ENV = "OPENAI_API_KEY"
# The GPT-3.5 Turbo snapshot that was fine-tunable when the paper was written (mid-2024).
DEFAULT_MODEL = "gpt-3.5-turbo-1106"


class JobError(ValueError):
    pass


def check_jsonl(path: Path) -> int:
    """Number of chats in ``path``; each must be ``{"messages": [...]}`` ending with an assistant turn."""
    if not path.is_file():
        raise JobError(f"{path} does not exist; `make dataset` writes build/dataset/openai/<config>/train.jsonl")
    count = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            messages = json.loads(line)["messages"]
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise JobError(f"{path}:{number}: not a {{'messages': [...]}} chat ({err})") from err
        roles = [m.get("role") for m in messages]
        if not roles or roles[-1] != "assistant" or not set(roles) <= {"system", "user", "assistant"}:
            raise JobError(f"{path}:{number}: roles {roles}; OpenAI needs system/user/assistant ending in assistant")
        count += 1
    if count < 10:
        raise JobError(f"{path} has {count} chats; OpenAI fine-tuning requires at least 10")
    return count


def multipart(fields: dict[str, str], file_field: str, filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{filename}"\r\n'
        "Content-Type: application/jsonl\r\n\r\n".encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def job_body(training_file: str, model: str, n_epochs: int | None, suffix: str | None, seed: int) -> dict:
    body: dict = {"training_file": training_file, "model": model, "seed": seed}
    if n_epochs is not None:
        body["hyperparameters"] = {"n_epochs": n_epochs}
    if suffix:
        body["suffix"] = suffix  # at most 64 characters; OpenAI adds it to the fine-tuned model's name
    return body


def post(url: str, data: bytes, content_type: str, key: str) -> dict:
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Authorization": f"Bearer {key}", "Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as err:
        raise JobError(f"POST {url} failed: HTTP {err.code} {err.read().decode(errors='replace')[:500]}") from err


def describe_requests(train: Path, count: int, body: dict) -> str:
    content = train.read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    return "\n".join(
        [
            f"dry run ({KEY_ENV} is not set); these are the requests that would be sent:",
            "",
            f"1. POST {API}/files",
            f"   Authorization: Bearer ${KEY_ENV}",
            "   Content-Type: multipart/form-data",
            "   purpose=fine-tune",
            f"   file=@{train} ({len(content):,} bytes, {count} chats, sha256:{digest})",
            "",
            f"2. POST {API}/fine_tuning/jobs",
            f"   Authorization: Bearer ${KEY_ENV}",
            "   Content-Type: application/json",
            "   " + json.dumps(body, sort_keys=True),
            "   (training_file: the id returned by request 1)",
            "",
            f"set {KEY_ENV} to submit the job",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, required=True, help="OpenAI chat JSONL from the dataset builder")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--n-epochs", type=int, default=None, help="default: OpenAI's 'auto'")
    parser.add_argument("--suffix", default=None, help="label added to the fine-tuned model name, e.g. simple-kv")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    try:
        count = check_jsonl(args.train)
        key = os.environ.get(KEY_ENV, "").strip()
        if not key:
            body = job_body("<file id from request 1>", args.model, args.n_epochs, args.suffix, args.seed)
            print(describe_requests(args.train, count, body))
            return 0
        data, content_type = multipart({"purpose": "fine-tune"}, "file", args.train.name, args.train.read_bytes())
        uploaded = post(f"{API}/files", data, content_type, key)
        print(f"uploaded {args.train} ({count} chats) as {uploaded['id']}")
        body = job_body(uploaded["id"], args.model, args.n_epochs, args.suffix, args.seed)
        job = post(f"{API}/fine_tuning/jobs", json.dumps(body).encode(), "application/json", key)
        print(
            f"created fine-tuning job {job['id']} (status {job.get('status')}); GET {API}/fine_tuning/jobs/{job['id']}"
        )
    except JobError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
