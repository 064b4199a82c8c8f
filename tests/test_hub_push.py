"""infra/hub.py against a fake HfApi (no Hub here): the push mirrors the folder, skips hidden files, never runs
offline, and every failure is one HubError line."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from infra import hub
from infra.hub import HubError, plan_upload, upload
from infra.outputs import mark


class FakeApi:
    def __init__(self, fail: Exception | None = None):
        self.calls: list[tuple[str, dict]] = []
        self.fail = fail

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))
        if self.fail:
            raise self.fail

    def upload_folder(self, **kwargs):
        self.calls.append(("upload_folder", kwargs))
        return SimpleNamespace(commit_url=f"https://huggingface.co/{kwargs['repo_id']}/commit/abc", oid="abc123")


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.safetensors").write_bytes(b"weights")
    (tmp_path / "model" / "README.md").write_text("card")
    mark(tmp_path / "model", "python -m training.sft", kind="model")
    return tmp_path / "model"


def test_push_mirrors_the_folder_and_skips_hidden_files(folder, monkeypatch):
    api = FakeApi()
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "hub_api", lambda token: api)
    pushed = upload(folder, "me/model", "model")
    assert pushed.revision == "abc123" and "pushed 2 files to model repo me/model" in pushed.summary
    (_, create), (_, call) = api.calls
    assert create == {"repo_id": "me/model", "repo_type": "model", "private": False, "exist_ok": True}
    # one upload_folder call: the resumable multi-commit uploader in huggingface_hub 2.4 (no upload_large_folder)
    assert call["folder_path"] == str(folder) and call["repo_type"] == "model"
    assert call["delete_patterns"] == "*", "stale remote files must go: the repo mirrors the folder"
    assert ".*" in call["ignore_patterns"] and "*/.*" in call["ignore_patterns"]
    assert call["allow_patterns"] == ["README.md", "model.safetensors"], "exactly the marker's files"
    assert "hf_secret" not in repr(pushed)


def test_an_explicit_token_pushes_without_hf_token(folder, monkeypatch):
    seen = []
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "hub_api", lambda token: seen.append(token) or FakeApi())
    assert upload(folder, "me/model", "model", token="hf_given").revision == "abc123" and seen == ["hf_given"]


def test_the_plan_is_what_the_command_wrote_nothing_else(folder, tmp_path):
    """A user's file dropped in later and a symlink to a file outside are not in the plan; the folder is unchanged."""
    (folder / "notes.txt").write_text("the user's notes")
    (tmp_path / "gitconfig").write_text("[user] secret")
    (folder / "link.cfg").symlink_to(tmp_path / "gitconfig")
    assert [f.path for f in plan_upload(folder, "model")] == ["README.md", "model.safetensors"]


@pytest.mark.parametrize(
    ("setup", "words"),
    [
        (lambda f: (f / ".written-by.json").unlink(), "was not written by this project's commands"),
        (lambda f: (f / ".written-by.json").write_text("{"), "was not written by this project's commands"),
        (lambda f: mark(f, "python -m dataset_builder build", kind="dataset"), "is not a model repo"),
        (lambda f: (f / "model.safetensors").write_bytes(b"other weights"), "changed since"),
        (lambda f: (f / "model.safetensors").unlink(), "is missing or a link"),
        (lambda f: ((f / "model.safetensors").unlink(), (f / "model.safetensors").symlink_to("/etc/hostname")),
         "is missing or a link"),
    ],
    ids=["no-marker", "unreadable-marker", "dataset-as-model", "changed-file", "missing-file", "file-now-a-symlink"],
)  # fmt: skip
def test_a_folder_the_plan_cannot_vouch_for_is_refused(folder, setup, words):
    setup(folder)
    with pytest.raises(HubError, match=words):
        plan_upload(folder, "model")


def test_push_while_offline_is_one_error_and_no_request(folder, monkeypatch):
    api = FakeApi()
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub, "hub_api", lambda token: api)
    with pytest.raises(HubError, match="HF_HUB_OFFLINE is set; unset HF_HUB_OFFLINE to push") as err:
        upload(folder, "me/model", "model")
    assert api.calls == [] and "hf_secret" not in str(err.value)


def test_hub_refusal_and_bad_repo_id_are_hub_errors(folder, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "hub_api", lambda token: FakeApi(fail=ConnectionError("connection refused")))
    with pytest.raises(HubError, match="failed .connection refused.; check the network"):
        upload(folder, "me/model", "model")
    with pytest.raises(HubError, match="is not a valid Hub id"):
        upload(folder, "me/bad name!", "model")


def test_dry_run_prints_the_mirror_plan_without_hidden_files(folder, monkeypatch, capsys):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    assert upload(folder, "me/model", "model").revision is None
    out = capsys.readouterr().out
    assert "would upload 2 files" in out and ".written-by.json" not in out and "remote files not listed" in out
