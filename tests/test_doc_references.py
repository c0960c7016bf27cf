"""Code and docs cite only documents that are in the repository."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [*ROOT.glob("src/kernelvis/**/*.py"), *ROOT.glob("tests/**/*.py"), *ROOT.glob("benchmarks/*.py"),
           *ROOT.glob("workflow/**/*.smk"), ROOT / "Snakefile", ROOT / "README.md", *ROOT.glob("docs/*.md"),
           *ROOT.glob("config/*.yaml"), ROOT / "Makefile"]
# The design notes kept outside the repository, by the names they were cited with.
OUTSIDE = re.compile(r"\b(DESIGN|METHODS|REFERENCE)(\.md|\s*§|'s)|\.\./shared/")
DOC_PATH = re.compile(r"\bdocs/[\w./-]+\.(?:md|png)")


def test_no_file_cites_a_document_outside_the_repository():
    citing = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
              for path in SOURCES if path != Path(__file__).resolve()
              for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if OUTSIDE.search(line)]
    assert not citing, "cites a document that is not in the repository:\n" + "\n".join(citing)


def test_every_docs_path_mentioned_exists():
    missing = sorted({f"{path.relative_to(ROOT)}: {match}" for path in SOURCES
                      for match in DOC_PATH.findall(path.read_text(encoding="utf-8"))
                      if not (ROOT / match).exists()})
    assert not missing, "mentions a docs/ file that does not exist:\n" + "\n".join(missing)
