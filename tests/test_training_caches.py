"""The training scripts' reproducibility seams: the cached indexes the training groups are
retrieved from are keyed by what they depend on (scripts/train_reader.py `index_path`), and
an artefact records the commit it was trained from (scripts/train_cross.py `source_commit`)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))


def _checkout(root: Path) -> Path:
    """A tree holding the indexing code's folders (a few files each) and a sample_corpus."""
    for rel, text in {
        "ingest/chunking.py": "CHUNK = 256\n",
        "ingest/loaders/pdf.py": "HEADINGS = True\n",
        "ragkit/index/embedding.py": "MODEL = 'minilm'\n",
        "ragkit/strict.py": "DUPLICATES = False\n",
        "ragkit/text/stopwords/en.txt": "the\n",
        "ragkit/reader/compose.py": "# not indexing code\n",
        "sample_corpus/leave.md": "# Leave\n25 days.\n",
    }.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _key(repo: Path, corpus: Path) -> str:
    import train_reader as tr

    tr.index_code_digest.cache_clear()
    return tr.index_path(corpus, "x", repo).name


def test_an_index_is_rebuilt_when_the_indexing_code_changes(tmp_path):
    repo = _checkout(tmp_path / "a")
    corpus = tmp_path / "shared" / "handbook"
    corpus.mkdir(parents=True)
    before = _key(repo, corpus)
    assert before.startswith("index-x-")
    # compiled files and code outside the indexing folders do not count
    (repo / "ingest" / "__pycache__").mkdir()
    (repo / "ingest" / "__pycache__" / "chunking.cpython-311.pyc").write_bytes(b"\0")
    (repo / "ragkit" / "reader" / "compose.py").write_text("# changed\n")
    assert _key(repo, corpus) == before
    # a loader, the embedding or front-matter code or the stopword data changed: another index
    for rel in (
        "ingest/loaders/pdf.py",
        "ragkit/index/embedding.py",
        "ragkit/text/stopwords/en.txt",
    ):
        path = repo / rel
        old = path.read_text()
        path.write_text(old + "# changed\n")
        assert _key(repo, corpus) != before, rel
        path.write_text(old)
        assert _key(repo, corpus) == before, rel
    (repo / "ingest" / "new_loader.py").write_text("")
    assert _key(repo, corpus) != before


def test_shared_and_own_corpora_between_checkouts(tmp_path):
    one = _checkout(tmp_path / "one")
    two = tmp_path / "two"
    shutil.copytree(one, two)
    shared = tmp_path / "shared" / "handbook"
    shared.mkdir(parents=True)
    # the same code over the same folder: one index for both checkouts
    assert _key(one, shared) == _key(two, shared)
    # each checkout's own sample_corpus is another folder: its own index (a sync refuses to
    # take files of the same names from a second folder into one index)
    assert _key(one, one / "sample_corpus") != _key(two, two / "sample_corpus")


def test_source_commit_says_which_commit_and_whether_the_tree_differed(tmp_path):
    import train_cross as tc

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    assert tc.source_commit(tmp_path) == "unknown"  # not a repository
    repo = _checkout(tmp_path / "repo")
    env = ["-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "-C", str(repo), "init", "-q"], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True)
    subprocess.run(["git", "-C", str(repo), *env, "commit", "-qm", "x"], check=True)
    head = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert tc.source_commit(repo) == head
    (repo / "untracked.txt").write_text("not part of the training inputs\n")
    assert tc.source_commit(repo) == head
    (repo / "ragkit" / "reader" / "compose.py").write_text("# edited, not committed\n")
    assert tc.source_commit(repo) == head + "+dirty"
