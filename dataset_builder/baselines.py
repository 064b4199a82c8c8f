"""Baseline finetuning data: the factual long-context tasks the paper contrasts with its synthetic data.

Xiong et al. (2024) find that finetuning on their synthetic key-value data keeps general ability, while finetuning
on factual long-context data (multi-document QA, needle-in-a-haystack) costs it (closed-book QA drops). These two
tasks rebuild such data from Liu et al.'s NQ-Open oracle file (``source_file``: 2,000 questions, each with its gold
Wikipedia passage), in the synthetic configs' row schema and token budget, so one training recipe runs on each.

``mdqa``: multi-document QA as Liu et al. pose it, rendered with ``evaluation/tasks/mdqa.yaml``'s prompt and
document templates: the question's gold passage among the BM25-closest other gold passages that hold none of its
answers (``sources/nq_distractors.py`` ranks and places them, the mdqa task renders them), gold at a random
position. Train row 0 of ``smollm2_mdqa_600`` (567 tokens; passages cut here with [...], long lines wrapped)::

    Write a high-quality answer for the given question using only the provided search results (some of which
    might be irrelevant).

    Document [1](Title: Geography of Nigeria) With the Intertropical Convergence Zone (ITCZ) swinging northward
    [...] which can be daily occurrence lasting till September when the monsoons gradually begin retreating [...]
    Document [2](Title: Wind power in the United States) In 2016, Nebraska became the eighteenth state [...]
    Document [3](Title: The Bronx) The Bronx (/brɒŋks/) is the northernmost of the five boroughs [...]
    Document [4](Title: Chinese dragon) There are four major Dragon Kings, representing each of the Four Seas [...]

    Question: the south west wind blows across nigeria between
    Answer:
    -> till September

``niah``: needle in a haystack. The needle is ONE factual sentence: the sentence of the gold passage that holds the
answer (normalised as ``sources.nq_open.normalize_answer`` does; the whole gold passage text when no single
sentence holds it). It is inserted as its own paragraph at a random paragraph boundary of a haystack of real passage
texts (other questions' gold passages holding none of the answers, in random order), each passage one line; no
titles, no document numbers. The prompt wording is ours (``NIAH_INSTRUCTION``; ``NIAH_QUESTION`` is the closed-book
prompt ``sources.nq_open.CLOSED_BOOK_PROMPT``, the question-and-answer tail of Liu et al.'s MDQA prompt). Train row 1
of ``smollm2_niah_600`` (581 tokens, needle at paragraph index 1 of 6; passages cut here with [...], long lines
wrapped)::

    Read the following text and answer the question that comes after it.

    The 2017 NFL season is the 98th and current season in the history of the National Football League (NFL). [...]

    Reading Football Club ownership structure: 75% Owned by Renhe Sports Management Ltd, 100% owned by Xiu Li Dai
    and Yongge Dai.

    In the eight episode series, the marriage of Henry VII and Elizabeth of York effectively ends the Wars of [...]

    A biblical covenant is a religious covenant that is described in the Bible. [...]

    Flynn appeared in many films shot in the New England area. In show business he goes by the name [...]

    British–American relations, also referred to as Anglo-American relations, encompass many complex [...]

    Question: who is the owner of reading football club
    Answer:
    -> Xiu Li Dai

Which questions: the ``train`` half of ``sources/nq_halves.py`` only (every NQ-based evaluation uses the ``eval``
half). ``usable_train_half`` drops a train-half question whose gold passage overlaps an eval-half question's gold
passage (equal up to whitespace, or one inside the other), that has no answer in its gold passage text, or whose
answers leave fewer than MIN_ANSWER_FREE answer-free passages. Rows, distractors and haystack passages come from the
usable questions only, so no row holds an eval-half question or an eval-half gold passage. The train split is the
first ``train_size`` usable questions in file order, the test split the next ``test_size``: disjoint. Measured on
nq-open-oracle-dev (``load_source``): 1,000 train-half questions - 21 overlapping an eval-half gold passage - 0
without an answer in the passage - 1 without answer-free passages (its answer is "S") = 978 usable.

The answer a row teaches is the first NQ answer string that occurs (normalised) in the gold passage text, an answer
the context supports: the first NQ answer for 900 of the 978 usable questions (measured); for the rest the first
answer is a variant the passage does not contain ("David J. Ryder" where it names "David Motl").

Every row is a pure function of (config, source file, split, row index), its ``random.Random`` seeded as
``generate.row_rng`` seeds the KV rows; the same config and file give the same rows byte for byte.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from rank_bm25 import BM25Okapi

from dataset_builder import schema
from dataset_builder.config import BASELINE_TASKS, DEFAULT_SOURCE_FILE, ConfigError, KVConfig
from dataset_builder.generate import MAX_ATTEMPTS, PositionDraw, draw_position, gold_index, row_rng
from dataset_builder.tokens import TokenCounter

# The one import from the evaluation floor, on purpose: MDQA rows are rendered by the evaluation's own mdqa task (its
# prompt and document templates, evaluation/tasks/mdqa.yaml), so a baseline's training prompt is byte for byte the
# prompt a model is scored on. A copy of the templates here could drift from the evaluation's unnoticed.
from evaluation.tasks import TaskConfig, load_task
from sources.nq_distractors import build_distractor_index, choose_distractors, place_gold, rank_distractors
from sources.nq_halves import split_halves
from sources.nq_open import CLOSED_BOOK_PROMPT, NQQuestion, Passage, contains_answer, load_nq_oracle, normalize_answer

REPO_ROOT = Path(__file__).resolve().parents[1]
NIAH_INSTRUCTION = "Read the following text and answer the question that comes after it."
NIAH_QUESTION = CLOSED_BOOK_PROMPT
# The schema's gold_value is an integer; a factual answer has none.
NO_VALUE = -1
# Filling skips a passage that would overshoot the budget and ends at the MAX_SKIPS-th such passage: passages vary
# (train-half gold passages measure 16 to 398 SmolLM2 tokens as document lines, mean 124, by count_texts), so one
# long passage must not end the filling while shorter ones still fit.
MAX_SKIPS = 8
# A question is usable only if at least this many other usable passages hold none of its answers: enough for a
# fixed num_dicts up to 100. On nq-open-oracle-dev every train-half question has at least 484 such passages except
# one, whose only answer is "S" (a letter nearly every passage contains, so no passage can be answer-free).
MIN_ANSWER_FREE = 100
# A sentence ends at . ! or ? (optionally followed by a closing quote or bracket), then whitespace, then anything but
# a lower-case letter; not after an initial ("James P. Flynn", "U.S. Army") or a two-letter abbreviation ("Dr.").
# Other abbreviations split too: the needle is then a shorter span still holding the answer, or the whole passage
# when the split cuts through the answer.
_SENTENCE_BREAK = re.compile(
    r"(?:(?<=[.!?])|(?<=[.!?][\"'”’)\]]))(?<!\b[A-Z]\.)(?<!\b(?:Mr|Ms|Dr|St|Jr|Sr|Mt|No|vs)\.)\s+(?=[^a-z\s])"
)


# ---------------------------------------------------------------- the source file and its train half


def resolve_source(cfg: KVConfig) -> Path:
    """The config's source file: as given if absolute, else from the current directory, else the repository root."""
    path = Path(cfg.source_file)
    candidates = [path] if path.is_absolute() else [Path.cwd() / path, REPO_ROOT / path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = " or ".join(str(c) for c in candidates)
    raise ConfigError(
        f"config field 'source_file': {cfg.source_file} not found (looked for {looked}); point it at Liu et al.'s "
        f"nq-open-oracle-dev.jsonl.gz (github.com/nelson-liu/lost-in-the-middle), e.g. {DEFAULT_SOURCE_FILE}"
    )


def read_questions(path: Path) -> list[NQQuestion]:
    try:
        return load_nq_oracle(path)
    except (OSError, EOFError, ValueError, KeyError, TypeError, IndexError) as err:
        raise ConfigError(
            f"config field 'source_file': {path} is not Liu et al.'s NQ-Open oracle JSONL ({type(err).__name__}: "
            f"{err}); point it at nq-open-oracle-dev.jsonl.gz"
        ) from err


def one_line(text: str) -> str:
    """A passage as one paragraph line, whitespace collapsed: 23 of the file's 2,000 gold passages contain a newline
    (measured), which would otherwise add paragraph breaks that are not boundaries between passages."""
    return " ".join(text.split())


def supported_answer(question: NQQuestion) -> str | None:
    """The first answer string that occurs (normalised) in the gold passage text, or None."""
    text = normalize_answer(question.gold.text)
    return next((a for a in question.answers if normalize_answer(a) and normalize_answer(a) in text), None)


def split_sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_BREAK.split(text) if s.strip()]


def needle_sentence(text: str, answer: str) -> str:
    """The first sentence of ``text`` holding ``answer`` (normalised), else the whole text."""
    target = normalize_answer(answer)
    return next((s for s in split_sentences(text) if target in normalize_answer(s)), text)


@dataclass(frozen=True)
class Source:
    """The usable train-half questions in file order, and what their rows teach."""

    path: Path
    questions: list[NQQuestion]  # rows, distractors and haystack passages come from these only
    answers: list[str]  # the answer each question's row teaches (see supported_answer)
    dropped: dict[str, int]  # train-half questions left out, by reason (see usable_train_half)

    @property
    def train_half(self) -> int:
        return len(self.questions) + sum(self.dropped.values())


def has_answer_free_passages(question: NQQuestion, normalised: list[str], own: int) -> bool:
    """At least MIN_ANSWER_FREE of the ``normalised`` passages (other than number ``own``) hold none of its answers."""
    answers = [a for a in map(normalize_answer, question.answers) if a]
    free = (j for j, text in enumerate(normalised) if j != own and not any(a in text for a in answers))
    return len(list(islice(free, MIN_ANSWER_FREE))) == MIN_ANSWER_FREE


def usable_train_half(questions: list[NQQuestion]) -> tuple[list[NQQuestion], list[str], dict[str, int]]:
    """The train-half questions rows may use (file order), their answers, and how many were dropped for each reason.

    Dropped: a gold passage that overlaps an eval-half question's gold passage: the same text up to whitespace, or
    one inside the other (several questions share a passage, and the file holds near-copies that differ only in
    whitespace or a trailing sentence; their text would carry an eval question's evidence into training); no answer
    string in the gold passage text; fewer than MIN_ANSWER_FREE answer-free passages among the others (counted
    before this last filter).
    """
    try:
        halves = split_halves([q.question for q in questions])
    except ValueError as err:
        raise ConfigError(f"config field 'source_file': {err}") from err
    eval_texts = [one_line(questions[i].gold.text) for i in halves["eval"]]
    eval_blob = "\n".join(eval_texts)  # one-line texts: a text found in the blob lies inside one eval text
    shared = "whose gold passage overlaps an eval-half gold passage"
    dropped = {shared: 0, "without an answer in their gold passage": 0}
    kept: list[tuple[NQQuestion, str]] = []
    for i in halves["train"]:
        q, answer = questions[i], supported_answer(questions[i])
        text = one_line(q.gold.text)
        if text in eval_blob or any(other in text for other in eval_texts):
            dropped[shared] += 1
        elif answer is None:
            dropped["without an answer in their gold passage"] += 1
        else:
            kept.append((q, answer))
    # The same normalisation as contains_answer, computed once per passage instead of once per comparison.
    normalised = [normalize_answer(f"{q.gold.title} {q.gold.text}") for q, _ in kept]
    usable = [(q, a) for j, (q, a) in enumerate(kept) if has_answer_free_passages(q, normalised, j)]
    dropped[f"with fewer than {MIN_ANSWER_FREE} answer-free passages among the others"] = len(kept) - len(usable)
    return [q for q, _ in usable], [a for _, a in usable], dropped


def load_source(cfg: KVConfig) -> Source:
    path = resolve_source(cfg)
    usable, answers, dropped = usable_train_half(read_questions(path))
    source = Source(path, usable, answers, dropped)
    check_sizes(cfg, source)
    return source


def check_sizes(cfg: KVConfig, source: Source) -> None:
    asked = cfg.train_size + cfg.test_size
    if asked > len(source.questions):
        raise ConfigError(
            f"config field 'train_size/test_size': {cfg.train_size} + {cfg.test_size} = {asked} questions asked, but "
            f"the train half of {source.path.name} has {len(source.questions)} usable questions ({source.train_half} "
            f"minus {', '.join(f'{n} {why}' for why, n in source.dropped.items())}); lower train_size or "
            f"test_size so that they sum to at most {len(source.questions)}"
        )


def question_index(cfg: KVConfig, split: str, index: int) -> int:
    """Train rows take the first train_size usable questions in file order, test rows the next test_size."""
    return index if split == "train" else cfg.train_size + index


# ---------------------------------------------------------------- filling a token budget


def count_lines(passages: list[Passage], line: Callable[[Passage], str], counter: TokenCounter) -> dict[Passage, int]:
    """Each passage's line counted on its own, once per build, in one tokenizer call: the fill estimate's parts."""
    return dict(zip(passages, counter.count_texts([line(p) for p in passages]), strict=True))


def fill_budget(
    candidates: Iterator[Passage], line_tokens: dict[Passage, int], base: int, cfg: KVConfig
) -> tuple[list[Passage], list[int]]:
    """Candidates in order while the estimated example fits max_tokens, with each one's token estimate.

    Estimate = ``base`` (the example with the gold passage / needle alone) + each further passage's line counted on
    its own + 1 for its separator. A candidate that would overshoot is skipped; filling ends at the MAX_SKIPS-th
    skip or when the candidates run out. The caller counts the finished example and drops passages if it overshoots.
    """
    chosen: list[Passage] = []
    costs: list[int] = []
    total, skips = base, 0
    for passage in candidates:
        cost = line_tokens[passage] + 1
        if total + cost > cfg.max_tokens:
            skips += 1
            if skips == MAX_SKIPS:
                break
            continue
        total += cost
        chosen.append(passage)
        costs.append(cost)
    return chosen, costs


@dataclass(frozen=True)
class Example:
    prompt: str
    answer: str
    gold_dict: str  # mdqa: the gold document's number; niah: ""
    gold_index: int
    num_dicts: int
    num_tokens: int


# Renders a prompt from the other passages and the gold's 0-based index; returns (prompt, gold_dict).
Render = Callable[[list[Passage], int], tuple[str, str]]


def fit_example(
    cfg: KVConfig,
    others: list[Passage],
    costs: list[int],
    position: PositionDraw,
    render: Render,
    answer: str,
    counter: TokenCounter,
) -> Example | None:
    """Place the gold at the drawn position among ``others`` and count the example. When filling the budget, drop
    trailing passages worth any overshoot (the per-line estimate can undercount) and recount; None when a fixed
    count does not fit (the caller redraws)."""
    others, costs = list(others), list(costs)
    while True:
        n = len(others) + 1
        index = gold_index(cfg, position, n)
        prompt, gold_dict = render(others, index)
        num_tokens = counter.count_example(prompt, answer)
        if num_tokens <= cfg.max_tokens:
            return Example(prompt, answer, gold_dict, index, n, num_tokens)
        if cfg.num_dicts is not None or not others:
            return None
        overshoot = num_tokens - cfg.max_tokens
        while overshoot > 0 and others:
            others.pop()
            overshoot -= costs.pop()


def take(candidates: Iterator[Passage], k: int, what: str) -> list[Passage]:
    chosen = list(islice(candidates, k))
    if len(chosen) < k:
        raise ConfigError(
            f"config field 'num_dicts': only {len(chosen)} answer-free {what} for one question, {k} needed; "
            "lower num_dicts or set it to null"
        )
    return chosen


# ---------------------------------------------------------------- the two tasks


def mdqa_example(
    cfg: KVConfig,
    task: TaskConfig,
    source: Source,
    bm25: BM25Okapi,
    line_tokens: dict[Passage, int],
    qi: int,
    rng: random.Random,
    row_index: int,
    counter: TokenCounter,
) -> Example | None:
    """Gold passage + BM25-closest answer-free distractors (in rank order), gold at the drawn position."""
    q, answer = source.questions[qi], source.answers[qi]
    position = draw_position(cfg, rng, row_index)

    def render(others: list[Passage], index: int) -> tuple[str, str]:
        return task.render_mdqa_prompt(q.question, place_gold(q.gold, others, index + 1)), str(index + 1)

    if cfg.num_dicts is not None:
        try:
            others = choose_distractors(source.questions, bm25, qi, cfg.num_dicts - 1)
        except ValueError as err:
            raise ConfigError(f"config field 'num_dicts': {err}; lower num_dicts or set it to null") from err
        costs: list[int] = []
    else:
        base = counter.count_example(render([], 0)[0], answer)
        others, costs = fill_budget(rank_distractors(source.questions, bm25, qi), line_tokens, base, cfg)
    return fit_example(cfg, others, costs, position, render, answer, counter)


def haystack(source: Source, qi: int, rng: random.Random) -> Iterator[Passage]:
    """Other usable questions' gold passages in random order, skipping repeats and any holding one of the answers."""
    q = source.questions[qi]
    order = list(range(len(source.questions)))
    rng.shuffle(order)
    seen = {q.gold.text}
    for j in order:
        cand = source.questions[j].gold
        if cand.text in seen or contains_answer(cand, q.answers):
            continue
        seen.add(cand.text)
        yield cand


def render_niah_prompt(question: str, paragraphs: list[str]) -> str:
    return f"{NIAH_INSTRUCTION}\n\n" + "\n\n".join(paragraphs) + "\n\n" + NIAH_QUESTION.format(question=question)


def niah_example(
    cfg: KVConfig,
    source: Source,
    line_tokens: dict[Passage, int],
    qi: int,
    rng: random.Random,
    row_index: int,
    counter: TokenCounter,
) -> Example | None:
    """The needle sentence as its own paragraph at the drawn boundary of a haystack of passage texts."""
    q, answer = source.questions[qi], source.answers[qi]
    needle = one_line(needle_sentence(q.gold.text, answer))
    position = draw_position(cfg, rng, row_index)

    def render(others: list[Passage], index: int) -> tuple[str, str]:
        paragraphs = [one_line(p.text) for p in others]
        paragraphs.insert(index, needle)
        return render_niah_prompt(q.question, paragraphs), ""

    candidates = haystack(source, qi, rng)
    if cfg.num_dicts is not None:
        others, costs = take(candidates, cfg.num_dicts - 1, "haystack passages"), []
    else:
        base = counter.count_example(render([], 0)[0], answer)
        others, costs = fill_budget(candidates, line_tokens, base, cfg)
    return fit_example(cfg, others, costs, position, render, answer, counter)


# ---------------------------------------------------------------- rows and splits

# Draws one example for (question index, row rng, row index); None when it does not fit the budget.
DrawExample = Callable[[int, random.Random, int], Example | None]


def example_drawer(cfg: KVConfig, source: Source, counter: TokenCounter) -> DrawExample:
    passages = [q.gold for q in source.questions]
    if cfg.task == "mdqa":
        task, bm25 = load_task("mdqa"), build_distractor_index(source.questions)

        # Estimated as document number 2: a two-digit number can cost a token more, which the recount catches.
        def line(p: Passage) -> str:
            return task.document_template.format(index=2, title=p.title, text=p.text)

        tokens = count_lines(passages, line, counter) if cfg.num_dicts is None else {}
        return lambda qi, rng, row_index: mdqa_example(cfg, task, source, bm25, tokens, qi, rng, row_index, counter)
    tokens = count_lines(passages, lambda p: one_line(p.text), counter) if cfg.num_dicts is None else {}
    return lambda qi, rng, row_index: niah_example(cfg, source, tokens, qi, rng, row_index, counter)


def example_to_row(cfg: KVConfig, split: str, index: int, question: str, ex: Example) -> dict:
    """The KV rows' schema (schema.FEATURES); gold_key is the question, gold_value has no integer to hold."""
    return schema.make_row(
        cfg.name,
        cfg.task,
        split,
        index,
        ex.prompt,
        ex.answer,
        num_tokens=ex.num_tokens,
        gold_key=question,
        gold_value=NO_VALUE,
        gold_dict=ex.gold_dict,
        gold_index=ex.gold_index,
        num_dicts=ex.num_dicts,
    )


def make_baseline_row(cfg: KVConfig, split: str, index: int, source: Source, draw: DrawExample) -> dict:
    """Row ``index`` of ``split``: its question's example, redrawn (up to MAX_ATTEMPTS) until it fits the budget."""
    qi = question_index(cfg, split, index)
    for attempt in range(MAX_ATTEMPTS):
        example = draw(qi, row_rng(cfg, split, index, attempt), index)
        if example is not None:
            return example_to_row(cfg, split, index, source.questions[qi].question, example)
    unit = "documents" if cfg.task == "mdqa" else "paragraphs"
    fix = (
        "raise max_tokens, lower num_dicts, or set num_dicts: null"
        if cfg.num_dicts is not None
        else "raise max_tokens (the gold passage alone does not fit)"
    )
    raise ConfigError(
        f"config '{cfg.name}': {split} row {index} (question {source.questions[qi].question!r}) does not fit "
        f"max_tokens={cfg.max_tokens} ({cfg.num_dicts or 1} {unit}) in {MAX_ATTEMPTS} draws; {fix}"
    )


def build_baseline_splits(
    cfg: KVConfig, counter: TokenCounter, progress: Callable | None = None
) -> dict[str, list[dict]]:
    """All splits of an mdqa or niah config; train and test use disjoint questions, so never share a prompt."""
    if cfg.task not in BASELINE_TASKS:
        raise ValueError(f"task {cfg.task!r} is not a baseline task; generate.build_kv_splits builds it")
    source = load_source(cfg)
    draw = example_drawer(cfg, source, counter)
    splits: dict[str, list[dict]] = {}
    for split, size in cfg.splits.items():
        rows = (make_baseline_row(cfg, split, index, source, draw) for index in range(size))
        splits[split] = list(progress(rows, total=size, desc=f"{cfg.name}/{split}") if progress else rows)
    return splits
