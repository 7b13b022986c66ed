"""Shared helpers of the offline Terraform tests: where terraform/ is and its parsed HCL."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "terraform"


def tf_files() -> list[Path]:
    return sorted(TERRAFORM_DIR.glob("*.tf"))


def parse_terraform() -> dict[str, dict]:
    """Every .tf file parsed with python-hcl2 (v8 API): {file name: dict}.

    Strings come back unquoted; expressions come back as "${...}" strings; nested blocks as lists.
    """
    import hcl2
    from hcl2.utils import SerializationOptions

    options = SerializationOptions(with_comments=False, strip_string_quotes=True,
                                   explicit_blocks=False)
    return {path.name: hcl2.loads(path.read_text(), serialization_options=options)
            for path in tf_files()}


@pytest.fixture(scope="session")
def terraform_hcl() -> dict[str, dict]:
    return parse_terraform()


def blocks(parsed: dict[str, dict], kind: str, type_name: str | None = None):
    """Yield (file, type, name, body) of every `kind` block ("resource", "data", ...)."""
    for file_name, document in parsed.items():
        for entry in document.get(kind, []):
            for block_type, named in entry.items():
                if type_name is not None and block_type != type_name:
                    continue
                for name, body in named.items():
                    yield file_name, block_type, name, body


def as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def single_label_blocks(parsed: dict[str, dict], kind: str) -> dict[str, dict]:
    """{name: body} of every one-label block ("variable", "output")."""
    found = {}
    for document in parsed.values():
        for entry in document.get(kind, []):
            found.update(entry)
    return found
