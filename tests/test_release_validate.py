"""Release validation on a tiny fixture: a staged dataset repo that loads, a model repo that generates, cards
that parse — and clear failures when a piece is missing. Also the release plan's last stages on the runner."""

import json
import shutil

import pytest
from fixture_data import liu_kv_rows, write_fixture_results, write_oracle, write_synthetic_dataset
from huggingface_hub import ModelCard
from tiny_model import save_tiny_model

from hub_release import release
from hub_release.release import STAGE_COMMAND, assemble_release, push_release, validate_release
from hub_release.validate import ReleaseValidationError, validate_dataset_repo, validate_model_repo
from infra.model_folder import ModelFolderError
from infra.outputs import mark
from model_cards.card import inputs_from_folders, write_card
from pipeline.plan import Plan
from pipeline.runner import run_plan


@pytest.fixture
def staged(tmp_path):
    dataset = write_synthetic_dataset(tmp_path / "release" / "dataset")
    model = save_tiny_model(tmp_path / "release" / "model")
    base, ft = tmp_path / "results" / "base", tmp_path / "results" / "ft"
    write_fixture_results(base, "mdqa_10docs", {"1": 6, "5": 2, "10": 4})
    write_fixture_results(ft, "mdqa_10docs", {"1": 7, "5": 5, "10": 5})
    cards = write_card(inputs_from_folders(base, ft, "someone/tiny"), tmp_path / "cards").parent
    shutil.copytree(cards, model, ignore=shutil.ignore_patterns(".*"), dirs_exist_ok=True)  # as assemble does
    mark(dataset, STAGE_COMMAND, kind="dataset", hash_files=False)
    mark(model, STAGE_COMMAND, kind="model", hash_files=False)
    return dataset, model


def validated(tmp_path):
    """The ``staged`` fixture's release, once it passed the validate stage (recorded in its model repo's marker)."""
    root = tmp_path / "release"
    validate_release(root)
    assert release.is_validated(root)
    return root


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


def test_push_without_token_prints_plan_and_never_a_token(staged, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    record = push_release(validated(tmp_path), "me/d", "me/m")
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
    (finetuned / "trainer_state.json").write_text('{"global_step": 1}')
    mark(finetuned, "training.sft", kind="model")  # as training leaves its output_dir
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"output_dir: {finetuned}\n")
    plan = Plan(
        datasets=[],
        dataset_dir=str(dataset),
        base_model=str(base),
        models={"base": {}, "finetuned": {"recipe": str(recipe)}},
        data_dir=str(data),
        results_dir=str(tmp_path / "results"),
        card=str(tmp_path / "cards"),
        card_model="finetuned",
        release_dir=str(tmp_path / "release"),
        eval={"synthetic_kv": 1, "mdqa_10docs": 1, "nq_closed": 2},
        batch_size=8,
        model_repo="me/tiny-kv",
        dataset_repo="me/tiny-kv-data",
    )
    stages = ["eval:base", "eval:finetuned", "card", "assemble", "validate", "push"]
    assert run_plan(plan, only=["eval", "card", "assemble", "validate", "push"]) == stages

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
    assert run_plan(plan, only=["eval", "card", "assemble", "validate", "push"]) == ["push"]
    base_results = json.loads((tmp_path / "results" / "base" / "nq_closed.json").read_text())
    assert base_results["eval_setting"]["batch_size"] == 8, "the plan's setting is recorded in every results file"


def test_stage_checks_its_inputs_before_touching_the_staged_release(staged, tmp_path):
    _, model = staged
    before = sorted(p.relative_to(model) for p in model.rglob("*"))
    dataset, root = tmp_path / "release" / "dataset", tmp_path / "release"
    with pytest.raises(ValueError, match="holds no finished model; run the train stage"):
        assemble_release(dataset, tmp_path / "never-trained", tmp_path / "cards", root, model_finished=False)
    assert sorted(p.relative_to(model) for p in model.rglob("*")) == before, "the staged model was not touched"


def test_outputs_of_every_selected_stage_are_checked_before_the_first_runs(tmp_path, monkeypatch):
    from pipeline import stages

    calls = []
    monkeypatch.setattr(stages, "run_step", calls.append)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"output_dir: {tmp_path / 'ft'}\n")
    (tmp_path / "cards_dir").write_text("a file where the cards folder goes")
    plan = Plan(
        models={"base": {}, "finetuned": {"recipe": str(recipe)}},
        eval={"nq_closed": 2},
        batch_size=8,
        datasets=["smollm2_kv_600"],
        dataset_dir=str(tmp_path / "dataset"),
        base_model=str(tmp_path / "base"),
        results_dir=str(tmp_path / "results"),
        card=str(tmp_path / "cards_dir"),
        card_model="finetuned",
    )
    with pytest.raises(ValueError, match="cards_dir is a file"):
        run_plan(plan, only=["dataset", "eval", "card"])
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
    root = validated(tmp_path)

    record = push_release(root, "me/d", "me/m")
    assert [repo for repo, _ in pushed] == ["me/d", "me/m"] and record["dataset_revision"] == "commit-of-me/d"
    card = ModelCard.load(tmp_path / "release" / "model" / "README.md")
    revisions = {(r.dataset_type, r.dataset_revision) for r in card.data.eval_results}
    # the synthetic results name the dataset commit just pushed; Liu et al.'s files have no Hub revision
    assert revisions == {("me/d", "commit-of-me/d"), ("nelson-liu/lost-in-the-middle", None)}
    assert pushed[1][1].data.eval_results == card.data.eval_results, "the model was pushed with the pinned card"
    assert push_release(root, "me/d", "me/m")["pushed"], "the pinned card is what validate vouches for: a rerun pushes"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ValueError, match="HF_HUB_OFFLINE is set"):
        push_release(root, "me/d", "me/m")
    written = [p for p in tmp_path.rglob("*") if p.is_file() and b"hf_secret" in p.read_bytes()]
    assert written == [], "the token is in no file the push or the pin wrote"


def test_push_uploads_only_what_validation_accepted(staged, tmp_path, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    root = tmp_path / "release"
    with pytest.raises(ValueError, match="has not passed validation; run --only validate"):
        push_release(root, "me/d", "me/m")
    validated(tmp_path)
    (root / "model" / "README.md").write_text((root / "model" / "README.md").read_text() + "\nedited after\n")
    assert not release.is_validated(root), "the validate stage is not done any more: it runs again"
    with pytest.raises(ValueError, match="changed since it was validated"):
        push_release(root, "me/d", "me/m")
