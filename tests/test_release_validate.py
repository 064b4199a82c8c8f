"""Release validation on a tiny fixture: a staged dataset repo that loads, a model repo that generates, cards
that parse — and clear failures when a piece is missing. Also the resumable stage runner."""

import json
import shutil

import pytest
from fixture_data import liu_kv_rows, write_fixture_results, write_oracle, write_synthetic_dataset
from huggingface_hub import ModelCard
from tiny_model import save_tiny_model

from hub_release import pipeline
from hub_release.pipeline import ReleaseConfig, run_release
from hub_release.validate import ReleaseValidationError, validate_dataset_repo, validate_model_repo
from infra.model_folder import ModelFolderError
from infra.outputs import mark
from model_cards.render import inputs_from_folders, write_card


@pytest.fixture
def staged(tmp_path):
    dataset = write_synthetic_dataset(tmp_path / "release" / "dataset")
    model = save_tiny_model(tmp_path / "release" / "model")
    base, ft = tmp_path / "results" / "base", tmp_path / "results" / "ft"
    write_fixture_results(base, "mdqa_10docs", {"1": 6, "5": 2, "10": 4})
    write_fixture_results(ft, "mdqa_10docs", {"1": 7, "5": 5, "10": 5})
    cards = write_card(inputs_from_folders(base, ft, "someone/tiny"), tmp_path / "cards").parent
    shutil.copytree(cards, model, ignore=shutil.ignore_patterns(".*"), dirs_exist_ok=True)  # as the stage stage does
    mark(dataset, pipeline.STAGE_COMMAND, kind="dataset", hash_files=False)
    mark(model, pipeline.STAGE_COMMAND, kind="model", hash_files=False)
    return dataset, model


def push_config(tmp_path, **kwargs) -> ReleaseConfig:
    """A release of the ``staged`` fixture whose staged repos passed the validate stage."""
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("output_dir: x\n")
    cfg = ReleaseConfig(
        recipe=str(recipe),
        release_dir=str(tmp_path / "release"),
        state_dir=str(tmp_path / "state"),
        model_repo="me/m",
        dataset_repo="me/d",
        **kwargs,
    )
    assert run_release(cfg, only=["validate"]) == ["validate"]
    return cfg


def test_valid_release_passes(staged):
    dataset, model = staged
    counts = validate_dataset_repo(dataset)
    assert counts == {"smollm2_kv_600/test": 4, "smollm2_kv_600_sweep/test": 4}
    assert isinstance(validate_model_repo(model), str)


def test_missing_plot_fails(staged):
    _, model = staged
    (model / "position_accuracy.png").unlink()
    with pytest.raises(ReleaseValidationError, match="position_accuracy.png"):
        validate_model_repo(model)


def test_missing_weights_fail(staged):
    _, model = staged
    (model / "model.safetensors").unlink()
    with pytest.raises(ModelFolderError, match="is not a model folder .no weights."):
        validate_model_repo(model)


def test_empty_dataset_repo_fails(staged, tmp_path):
    dataset, _ = staged
    shutil.rmtree(dataset / "data")
    with pytest.raises(ReleaseValidationError, match="no data"):
        validate_dataset_repo(dataset)


def test_stages_resume_from_markers(tmp_path, monkeypatch):
    calls = []
    fake = [(name, (lambda n: lambda cfg: calls.append(n) or {"ok": n})(name)) for name in pipeline.STAGE_NAMES]
    monkeypatch.setattr(pipeline, "STAGES", fake)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"output_dir: {tmp_path / 'models' / 'x'}\n")
    cfg = ReleaseConfig(recipe=str(recipe), **tmp_dirs(tmp_path))

    assert run_release(cfg) == pipeline.STAGE_NAMES
    calls.clear()
    # finished stages are skipped; the push (a dry run without a token) always runs again
    assert run_release(cfg) == ["push"] and calls == ["push"]
    assert run_release(cfg, force=["cards"]) == ["cards", "push"]
    assert json.loads((tmp_path / "state_dir" / "train.done").read_text())["ok"] == "train"
    with pytest.raises(ValueError, match="unknown stage"):
        run_release(cfg, force=["nope"])


def tmp_dirs(root) -> dict[str, str]:
    """Every folder a release writes, under ``root`` (the defaults are relative to the repository)."""
    names = ("dataset_dir", "base_model_dir", "results_dir", "cards_dir", "release_dir", "state_dir")
    return {name: str(root / name) for name in names}


def test_bad_eval_plan_is_one_clear_error(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("output_dir: x\n")
    with pytest.raises(ValueError, match="task:limit"):
        ReleaseConfig(recipe=str(recipe), eval_plan=["nq_closed"])


def test_push_without_token_prints_plan_and_never_a_token(staged, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    cfg = push_config(tmp_path)
    record = pipeline.stage_push(cfg)
    out = capsys.readouterr().out
    assert record["pushed"] is False
    assert "to dataset repo me/d" in out and "to model repo me/m" in out and "README.md" in out


def test_dataset_validation_reads_the_files_not_a_stale_cache(tmp_path):
    # datasets caches a local folder by its name + config; a rebuilt folder of the same name must still be read.
    first = write_synthetic_dataset(tmp_path / "a" / "dataset", rows_per_config=4)
    assert validate_dataset_repo(first)["smollm2_kv_600/test"] == 4
    second = write_synthetic_dataset(tmp_path / "b" / "dataset", rows_per_config=6)
    assert validate_dataset_repo(second)["smollm2_kv_600/test"] == 6


@pytest.mark.integration
def test_release_stages_end_to_end_on_tiny_fixture(tmp_path, monkeypatch, capsys):
    """eval both models → card + plot → stage → validate → dry-run push, with the real stage functions."""
    import gzip

    monkeypatch.delenv("HF_TOKEN", raising=False)
    data = tmp_path / "data"
    data.mkdir()
    write_oracle(data / "nq-open-oracle-dev.jsonl.gz")
    with gzip.open(data / "kv-retrieval-75_keys.jsonl.gz", "wt") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in liu_kv_rows(1))
    dataset = write_synthetic_dataset(tmp_path / "build" / "dataset")
    base = save_tiny_model(tmp_path / "build" / "base", seed=0)
    finetuned = save_tiny_model(tmp_path / "build" / "ft", seed=1)
    mark(finetuned, "training.sft", kind="model")  # as training leaves its output_dir
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"output_dir: {finetuned}\n")
    cfg = ReleaseConfig(
        dataset_dir=str(dataset),
        base_model_dir=str(base),
        recipe=str(recipe),
        data_dir=str(data),
        results_dir=str(tmp_path / "results"),
        cards_dir=str(tmp_path / "cards"),
        release_dir=str(tmp_path / "release"),
        state_dir=str(tmp_path / "state"),
        eval_plan=["synthetic_kv:1", "mdqa_10docs:1", "nq_closed:2"],
        model_repo="me/tiny-kv",
        dataset_repo="me/tiny-kv-data",
    )
    stages = ["eval_base", "eval_finetuned", "cards", "stage", "validate", "push"]
    assert run_release(cfg, only=stages) == stages

    model_repo = tmp_path / "release" / "model"
    card = ModelCard.load(model_repo / "README.md")
    ft = json.loads((model_repo / "eval_results" / "finetuned" / "mdqa_10docs.json").read_text())
    got = {(r.dataset_config, r.metric_config): r.metric_value for r in card.data.eval_results}
    assert got["mdqa_10docs", "overall"] == round(ft["overall"]["best_subspan_em"]["score"], 4)
    assert (model_repo / "position_accuracy.png").is_file() and (model_repo / "model.safetensors").is_file()
    assert (tmp_path / "release" / "dataset" / "data" / "smollm2_kv_600").is_dir()
    out = capsys.readouterr().out
    assert "would upload" in out and "model repo me/tiny-kv" in out
    # resumable: a second run only repeats the dry-run push
    assert run_release(cfg, only=stages) == ["push"]


def test_train_stage_reuses_a_finished_model(tmp_path, monkeypatch):
    finetuned = save_tiny_model(tmp_path / "ft")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"output_dir: {finetuned}\n")
    monkeypatch.setattr(pipeline, "run_command", lambda cmd: pytest.fail(f"retrained: {cmd}"))
    assert pipeline.stage_train(ReleaseConfig(recipe=str(recipe)))["reused"] is True
    (finetuned / "checkpoint-10").mkdir()  # an interrupted run is resumed, not reused
    calls = []
    monkeypatch.setattr(pipeline, "run_command", calls.append)
    pipeline.stage_train(ReleaseConfig(recipe=str(recipe)))
    assert calls and calls[0][-2:] == ["--config", str(recipe)]


def test_stage_checks_its_inputs_before_touching_the_staged_release(staged, tmp_path):
    _, model = staged
    before = sorted(p.relative_to(model) for p in model.rglob("*"))
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"output_dir: {tmp_path / 'never-trained'}\n")
    cfg = ReleaseConfig(
        recipe=str(recipe), dataset_dir=str(tmp_path / "release" / "dataset"), release_dir=str(tmp_path / "release")
    )
    with pytest.raises(ValueError, match="holds no finished model; run the train stage"):
        pipeline.stage_stage(cfg)
    assert sorted(p.relative_to(model) for p in model.rglob("*")) == before, "the staged model was not touched"


def test_outputs_of_every_selected_stage_are_checked_before_the_first_runs(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(
        pipeline, "STAGES", [(n, lambda cfg, n=n: calls.append(n) or {}) for n in pipeline.STAGE_NAMES]
    )
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"output_dir: {tmp_path / 'ft'}\n")
    dirs = tmp_dirs(tmp_path)
    (tmp_path / "cards_dir").write_text("a file where the cards folder goes")
    with pytest.raises(ValueError, match="cards_dir is a file"):
        run_release(ReleaseConfig(recipe=str(recipe), **dirs))
    assert calls == [], "nothing ran: the dataset stage would have been wasted"


def test_push_pins_the_card_to_the_dataset_commit_it_pushed(staged, tmp_path, monkeypatch):
    from types import SimpleNamespace

    from infra import hub

    pushed = []

    class FakeApi:
        def create_repo(self, repo_id, **kwargs):
            pass

        def upload_folder(self, **kwargs):
            pushed.append((kwargs["repo_id"], ModelCard.load(tmp_path / "release" / "model" / "README.md")))
            return SimpleNamespace(
                commit_url="https://huggingface.co/x/commit/1", oid=f"commit-of-{kwargs['repo_id']}"
            )

    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "hub_api", lambda token: FakeApi())
    base, ft = tmp_path / "results" / "base", tmp_path / "results" / "ft"  # the fixture's mdqa plus a synthetic task
    write_fixture_results(base, "synthetic_kv", {"smollm2_kv_600 depth 0.50": 2})
    write_fixture_results(ft, "synthetic_kv", {"smollm2_kv_600 depth 0.50": 9})
    card = write_card(inputs_from_folders(base, ft, "me/m", datasets=["me/d"]), tmp_path / "cards2")
    shutil.copy(card, tmp_path / "release" / "model" / "README.md")
    cfg = push_config(tmp_path)

    record = pipeline.stage_push(cfg)
    assert [repo for repo, _ in pushed] == ["me/d", "me/m"] and record["dataset_revision"] == "commit-of-me/d"
    card = ModelCard.load(tmp_path / "release" / "model" / "README.md")
    revisions = {(r.dataset_type, r.dataset_revision) for r in card.data.eval_results}
    # the synthetic results name the dataset commit just pushed; Liu et al.'s files have no Hub revision
    assert revisions == {("me/d", "commit-of-me/d"), ("nelson-liu/lost-in-the-middle", None)}
    assert pushed[1][1].data.eval_results == card.data.eval_results, "the model was pushed with the pinned card"
    assert pipeline.stage_push(cfg)["pushed"], "the pinned card is what validate now vouches for: a rerun pushes"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ValueError, match="HF_HUB_OFFLINE is set"):
        pipeline.stage_push(cfg)
