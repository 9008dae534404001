"""Discovery: what gets walked, what is skipped and why, and the access groups of each file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest.discover import ACCESS_FILE, Candidate, discover, groups_for, read_regular_file
from ragkit.errors import ConfigError, UsageError


def write(path: Path, text: str = "Some text.\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def sources(candidates: list[Candidate]) -> list[str]:
    return [candidate.source for candidate in candidates]


def test_walks_sorted_and_reports_unsupported(tmp_path: Path) -> None:
    write(tmp_path / "b.md")
    write(tmp_path / "a" / "z.txt")
    write(tmp_path / "a" / "y.PDF")
    write(tmp_path / "image.png")
    write(tmp_path / ".hidden.md")
    write(tmp_path / ".git" / "config.md")
    write(tmp_path / ACCESS_FILE, "groups: []\n")
    result = discover([tmp_path])
    assert sources(result.candidates) == ["a/y.PDF", "a/z.txt", "b.md"]
    assert all(c.root == tmp_path for c in result.candidates)
    assert result.candidates[0].path == tmp_path / "a" / "y.PDF"
    assert [source for source, _ in result.skipped] == ["image.png"]
    assert result.skipped[0][1].startswith("unsupported file type '.png' (supported: .docx,")


def test_a_file_given_directly(tmp_path: Path) -> None:
    path = write(tmp_path / "docs" / "policy.md")
    result = discover([path])
    assert result.candidates == [Candidate(path, "policy.md", path.parent, ())]


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file or folder"):
        discover([tmp_path / "nope"])


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.pdf"
    with big.open("wb") as handle:
        handle.truncate(200 * 2**20)  # sparse: costs no disk
    result = discover([tmp_path])
    assert result.candidates == []
    assert result.skipped == [
        ("big.pdf", "file is 200.0 MB, over the 100 MB limit; raise it with --max-file-mb")
    ]
    assert sources(discover([tmp_path], max_bytes=300 * 2**20).candidates) == ["big.pdf"]


def test_symlink_loop_broken_link_and_duplicates(tmp_path: Path) -> None:
    write(tmp_path / "docs" / "a.md")
    os.symlink(tmp_path / "docs", tmp_path / "docs" / "loop")  # folder linking to itself
    os.symlink(tmp_path / "missing.md", tmp_path / "docs" / "dangling.md")
    os.symlink(tmp_path / "docs" / "self.md", tmp_path / "docs" / "self.md")  # ELOOP
    os.symlink(tmp_path / "docs" / "a.md", tmp_path / "docs" / "b.md")
    result = discover([tmp_path])
    assert sources(result.candidates) == ["docs/a.md"]
    assert sorted(result.skipped) == [
        ("docs/b.md", "same file as 'docs/a.md' (a symlink)"),
        ("docs/dangling.md", "broken symlink"),
        ("docs/loop", "symlink loop"),
        ("docs/self.md", "symlink loop"),
    ]


def test_links_inside_the_root_are_followed_links_out_of_it_are_not(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside" / "shared.md")
    root = tmp_path / "root"
    write(root / "local.md")
    write(root / "sub" / "inner.md")
    os.symlink(outside, root / "linked.md")
    os.symlink(outside.parent, root / "linked-folder")
    os.symlink(root / "sub", root / "alias")
    os.symlink("/etc/passwd", root / "passwd.txt")
    result = discover([root])
    assert sources(result.candidates) == ["local.md", "sub/inner.md"]
    assert sorted(result.skipped) == [
        ("alias", "symlink to a folder already included"),
        ("linked-folder", f"symlink to a folder outside the ingest root ({outside.parent})"),
        ("linked.md", f"symlink to a file outside the ingest root ({outside})"),
        ("passwd.txt", "symlink to a file outside the ingest root (/etc/passwd)"),
    ]


def test_special_files_are_skipped_not_read(tmp_path: Path) -> None:
    write(tmp_path / "ok.md")
    os.mkfifo(tmp_path / "x.txt")
    os.symlink("/dev/zero", tmp_path / "zero.txt")
    root = tmp_path
    result = discover([root])
    assert sources(result.candidates) == ["ok.md"]
    assert dict(result.skipped) == {
        "x.txt": "a FIFO, not a regular file; not read",
        "zero.txt": "symlink to a file outside the ingest root (/dev/zero)",
    }
    # Given directly, and even a device inside the root, it is never opened.
    assert discover([tmp_path / "x.txt"]).skipped == [
        ("x.txt", "a FIFO, not a regular file; not read")
    ]
    with pytest.raises(OSError, match="not a regular file"):
        read_regular_file(tmp_path / "x.txt", 100)  # a FIFO swapped in later: no hang
    with pytest.raises(OSError, match="over the"):
        read_regular_file(write(tmp_path / "grew.md", "x" * 200), 100)


def test_a_link_never_widens_access(tmp_path: Path) -> None:
    write(tmp_path / "restricted" / ACCESS_FILE, "groups: [managers, hr]\n")
    write(tmp_path / "restricted" / "salaries.md")
    write(tmp_path / "restricted" / "bonus.md")
    write(tmp_path / "public" / "x.md")
    write(tmp_path / "other" / ACCESS_FILE, "groups: [it]\n")
    write(tmp_path / "team" / ACCESS_FILE, "groups: [hr, payroll]\n")
    os.symlink(tmp_path / "restricted" / "salaries.md", tmp_path / "public" / "pay.md")
    os.symlink(tmp_path / "restricted" / "bonus.md", tmp_path / "other" / "bonus.md")
    os.symlink(tmp_path / "restricted" / "salaries.md", tmp_path / "team" / "s.md")
    # Linked from a public folder and from a folder with another group: most restrictive wins.
    result = discover([tmp_path])
    got = {c.source: c.groups for c in result.candidates}
    assert got == {"public/x.md": (), "restricted/salaries.md": ("hr",)}
    reasons = dict(result.skipped)
    assert reasons["public/pay.md"] == "same file as 'restricted/salaries.md' (a symlink)"
    assert "share no group" in reasons["restricted/bonus.md"]  # [it] vs [hr, managers]
    # The target's own rules count even when only the link is ingested.
    only_public = discover([tmp_path / "public"])
    assert {c.source: c.groups for c in only_public.candidates} == {"x.md": ()}


def test_a_link_to_a_hidden_restricted_file_keeps_its_groups(tmp_path: Path) -> None:
    write(tmp_path / ".private" / ACCESS_FILE, "groups: [managers]\n")
    write(tmp_path / ".private" / "plan.md")
    os.symlink(tmp_path / ".private" / "plan.md", tmp_path / "plan.md")
    result = discover([tmp_path])
    assert [(c.source, c.groups) for c in result.candidates] == [("plan.md", ("managers",))]


def test_same_source_from_two_roots_is_skipped(tmp_path: Path) -> None:
    write(tmp_path / "one" / "faq.md")
    write(tmp_path / "two" / "faq.md")
    result = discover([tmp_path / "one", tmp_path / "two"])
    assert sources(result.candidates) == ["faq.md"]
    assert result.skipped[0][0] == "faq.md"
    assert "another input" in result.skipped[0][1]


# ---- access rules ----


def test_access_rules_nest_and_override(tmp_path: Path) -> None:
    write(tmp_path / ACCESS_FILE, 'files:\n  "salary-*.md": [managers]\n')
    write(tmp_path / "hr" / ACCESS_FILE, "groups: [hr]\nfiles:\n  'reviews/*.md': [hr, leads]\n")
    write(tmp_path / "hr" / "open" / ACCESS_FILE, "groups: []\n")
    for name in [
        "handbook.md",
        "salary-2024.md",
        "hr/leave.md",
        "hr/salary-bands.md",
        "hr/reviews/q1.md",
        "hr/reviews/deep/q2.md",
        "hr/open/faq.md",
        "hr/open/salary-faq.md",
    ]:
        write(tmp_path / name)
    result = discover([tmp_path])
    got = {c.source: c.groups for c in result.candidates}
    assert got == {
        "handbook.md": (),
        "salary-2024.md": ("managers",),
        "hr/leave.md": ("hr",),
        # hr's folder-wide rule is deeper than the root's pattern, so it wins
        "hr/salary-bands.md": ("hr",),
        "hr/reviews/q1.md": ("hr", "leads"),
        "hr/reviews/deep/q2.md": ("hr",),  # '*' stays within one folder
        "hr/open/faq.md": (),  # an explicit empty list makes a subtree public again
        "hr/open/salary-faq.md": (),
    }
    assert result.skipped == []
    assert all(groups_for(c) == c.groups for c in result.candidates)


def test_access_rule_double_star_and_rules_above_the_root(tmp_path: Path) -> None:
    write(tmp_path / ACCESS_FILE, "files:\n  'hr/**/secret*.md': [security]\n")
    write(tmp_path / "hr" / "a" / "b" / "secret-plan.md")
    write(tmp_path / "hr" / "public.md")
    # Ingesting only hr/ still applies the rule file in its parent.
    result = discover([tmp_path / "hr"])
    assert {c.source: c.groups for c in result.candidates} == {
        "a/b/secret-plan.md": ("security",),
        "public.md": (),
    }


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("group: [managers]\n", "unknown key"),
        ("groups: {a: b}\n", "'groups' must be a list of group names"),
        ("files: [a]\n", "'files' must map glob patterns"),
        ("groups: [unclosed\n", "cannot read access rules"),
        ("- managers\n", "not a YAML mapping"),
        ("groups: []\ngroups: [managers]\n", "duplicate key 'groups'"),
    ],
)
def test_invalid_access_rules_fail_the_files_they_govern(
    tmp_path: Path, rules: str, message: str
) -> None:
    write(tmp_path / "hr" / ACCESS_FILE, rules)
    write(tmp_path / "hr" / "salary.md")
    write(tmp_path / "public.md")
    result = discover([tmp_path])
    assert sources(result.candidates) == ["public.md"]
    assert [source for source, _ in result.failed] == ["hr/salary.md"]
    assert message in result.failed[0][1] and "access rules cannot be read" in result.failed[0][1]
    with pytest.raises(ConfigError, match=message):
        groups_for(Candidate(tmp_path / "hr" / "salary.md", "salary.md", tmp_path))


def test_ragkitignore_hides_files_and_folders_below_it(tmp_path):
    root = tmp_path / "docs"
    (root / "drafts").mkdir(parents=True)
    (root / "policy.md").write_text("# Policy\n\nText.\n")
    (root / "eval.jsonl").write_text('{"question": "not a document"}\n')
    (root / "drafts" / "wip.md").write_text("# WIP\n")
    (root / "drafts" / "notes.txt").write_text("notes\n")
    (root / ".ragkitignore").write_text("# not policies\neval.jsonl\ndrafts/*.md\n")
    result = discover([root])
    assert [c.source for c in result.candidates] == ["drafts/notes.txt", "policy.md"]
    assert result.skipped == []


@pytest.mark.parametrize(
    "name", [".ragkit-access.yml", "ragkit-access.yaml", ".ragkit_access.yaml"]
)
def test_near_miss_rule_file_names_fail_the_files_below(tmp_path: Path, name: str) -> None:
    write(tmp_path / "hr" / name, "groups: [hr]\n")
    write(tmp_path / "hr" / "salary.md")
    result = discover([tmp_path])
    assert result.candidates == [] and [s for s, _ in result.failed] == ["hr/salary.md"]
    assert f"{name}: access rules must be in a file named exactly" in result.failed[0][1]


def test_hard_links_count_as_paths_too(tmp_path: Path) -> None:
    write(tmp_path / "restricted" / ACCESS_FILE, "groups: [managers]\n")
    salaries = write(tmp_path / "restricted" / "salaries.md")
    write(tmp_path / "public" / "x.md")
    os.link(salaries, tmp_path / "public" / "pay.md")
    result = discover([tmp_path])
    groups = {c.source: c.groups for c in result.candidates}
    assert groups == {"public/pay.md": ("managers",), "public/x.md": ()}
    assert dict(result.skipped) == {
        "restricted/salaries.md": "same file as 'public/pay.md' (a hard link)"
    }
    # Only the public folder given: the other link's rules are unknown, so it is refused.
    only_public = discover([tmp_path / "public"])
    assert [c.source for c in only_public.candidates] == ["x.md"]
    assert "has 2 hard links but only 1" in dict(only_public.skipped)["pay.md"]
