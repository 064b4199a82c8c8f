"""The source data every other package reads: Liu et al.'s NQ-Open and JSON key-value files ("Lost in the Middle",
github.com/nelson-liu/lost-in-the-middle), read in place and never copied into the repository.

The bottom floor: these modules import only the standard library, third-party packages and ``infra``. The dataset
builder (its MDQA / needle baselines) and the evaluation sit above them side by side, so both read a question, a
passage, an answer's normalised form and the train / eval split of the questions the same way.

- ``files``: where the files live (a folder or a Hub dataset repo) and the one JSONL reader.
- ``nq_open``: the NQ-Open oracle file (question, answers, gold passage) and the answer normalisation.
- ``nq_halves``: the fixed rule splitting its questions into train / eval halves and replay / val quarters.
- ``nq_distractors``: BM25-ranked answer-free distractor passages for a question.
- ``liu_kv``: the JSON key-value retrieval file's records, subsampled and laid out as Liu et al. do.
"""
