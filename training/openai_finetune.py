"""The paper's GPT-3.5 Turbo path: submit the dataset builder's OpenAI JSONL as an OpenAI fine-tuning job.

    .venv/bin/python -m training.openai_finetune --train build/dataset/openai/multi_subkey_kv_gpt35/train.jsonl

With ``OPENAI_API_KEY`` set this uploads the file (``POST /v1/files``, purpose ``fine-tune``) and creates the job
(``POST /v1/fine_tuning/jobs``), printing the job id; follow it at https://platform.openai.com/finetune or with
``GET /v1/fine_tuning/jobs/<id>``. Without the key it prints the exact two requests it would send and exits 0.
The key is never printed. Only the standard library is used (no ``openai`` package). The defaults are the paper's
GPT-3.5 Turbo setting: the multi-subkey data of ``multi_subkey_kv_gpt35`` (150 rows, 49 dictionaries, its budget
measured with GPT-3.5's cl100k_base on this very chat format) for 3 epochs.

Each JSONL line is one chat, as the dataset builder writes it::

    {"messages": [{"role": "system", "content": "Write a response that appropriately completes the request."},
                  {"role": "user", "content": "Do a task using the list of dictionaries below. ..."},
                  {"role": "assistant", "content": "The value of key 4818 is 4782 and it is in Dictionary [1]."}]}
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from infra.cli import UserError, entry_point, parse_config

API = "https://api.openai.com/v1"
KEY_ENV = "OPENAI_API_KEY"
# The GPT-3.5 Turbo snapshot that was fine-tunable when the paper was written (mid-2024).
DEFAULT_MODEL = "gpt-3.5-turbo-1106"
# The paper's GPT-3.5 Turbo finetuning ran 3 epochs (as this project's Mistral multi-subkey recipes cite it).
PAPER_EPOCHS = 3


ROLES = ("system", "user", "assistant")


class JobError(UserError):
    """A training file or request OpenAI would reject; the message names the line and the fix."""


def chat_problem(row: object) -> str | None:
    """Why ``row`` is not an OpenAI chat (``{"messages": [{"role": ..., "content": str}, ...]}``), or None."""
    if not isinstance(row, dict) or not isinstance(row.get("messages"), list) or not row["messages"]:
        return "not a {'messages': [...]} chat"
    if not all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in row["messages"]):
        return "every message must be an object with a string 'content'"
    roles = [m.get("role") for m in row["messages"]]
    if roles[-1] != "assistant" or not set(roles) <= set(ROLES):
        return f"roles {roles}; OpenAI needs system/user/assistant ending in assistant"
    return None


def check_jsonl(path: Path) -> int:
    """Number of chats in ``path``; each line must be a chat ending with an assistant turn, the file UTF-8."""
    if path.is_dir():
        raise JobError(
            f"{path} is a folder; give its chat file, e.g. {path}/openai/<config>/train.jsonl (what `make dataset` "
            "writes)"
        )
    if not path.is_file():
        raise JobError(f"{path} does not exist; `make dataset` writes build/dataset/openai/<config>/train.jsonl")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise JobError(f"{path}:{line}: not UTF-8 ({err.reason}); OpenAI reads UTF-8 JSONL, re-export it") from err
    count = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise JobError(f"{path}:{number}: not JSON ({err}); write one chat object per line") from err
        problem = chat_problem(row)
        if problem:
            raise JobError(f"{path}:{number}: {problem}; fix the line (dataset_builder writes valid ones)")
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


def job_body(training_file: str, model: str, n_epochs: int, suffix: str | None, seed: int) -> dict:
    body: dict = {"training_file": training_file, "model": model, "seed": seed}
    if n_epochs:  # 0: no hyperparameters, OpenAI chooses ('auto')
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
    except urllib.error.URLError as err:  # no network, DNS, proxy
        raise JobError(f"POST {url} failed ({err.reason}); check the network and retry") from err


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


@dataclass
class FinetuneJobConfig:
    train: Path = field(metadata={"help": "OpenAI chat JSONL from the dataset builder (build/dataset/openai/...)."})
    model: str = field(default=DEFAULT_MODEL, metadata={"help": "The OpenAI model to fine-tune."})
    n_epochs: int = field(
        default=PAPER_EPOCHS,
        metadata={"help": "Epochs (default 3, the paper's GPT-3.5 setting); 0 = OpenAI's 'auto'."},
    )
    suffix: str | None = field(
        default=None, metadata={"help": "Label added to the fine-tuned model name (at most 64 characters)."}
    )
    seed: int = field(default=42, metadata={"help": "OpenAI's training seed."})

    def __post_init__(self) -> None:
        if self.n_epochs < 0:
            raise JobError(f"n_epochs={self.n_epochs}; give a positive number of epochs, or 0 for OpenAI's 'auto'")
        if self.suffix is not None and len(self.suffix) > 64:
            raise JobError(f"suffix is {len(self.suffix)} characters; OpenAI allows at most 64")


@entry_point("a request already sent may have made a file or a job: list them (GET /v1/files, /v1/fine_tuning/jobs)")
def main(argv: list[str] | None = None) -> None:
    cfg = parse_config(FinetuneJobConfig, argv, "python -m training.openai_finetune", __doc__.splitlines()[0])
    count = check_jsonl(cfg.train)
    key = os.environ.get(KEY_ENV, "").strip()
    if not key:
        body = job_body("<file id from request 1>", cfg.model, cfg.n_epochs, cfg.suffix, cfg.seed)
        print(describe_requests(cfg.train, count, body))
        return
    data, content_type = multipart({"purpose": "fine-tune"}, "file", cfg.train.name, cfg.train.read_bytes())
    uploaded = post(f"{API}/files", data, content_type, key)
    print(f"uploaded {cfg.train} ({count} chats) as {uploaded['id']}")
    body = job_body(uploaded["id"], cfg.model, cfg.n_epochs, cfg.suffix, cfg.seed)
    job = post(f"{API}/fine_tuning/jobs", json.dumps(body).encode(), "application/json", key)
    status = job.get("status")
    print(f"created fine-tuning job {job['id']} (status {status}); GET {API}/fine_tuning/jobs/{job['id']}")


if __name__ == "__main__":
    sys.exit(main())
