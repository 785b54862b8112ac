"""schema.graphql is exported from the code and keeps the API contract."""

import subprocess
import sys
from pathlib import Path

import pytest

from app.api.schema import export_sdl

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_TOOL = ROOT.parent / "shared" / "tools" / "check_contract.py"


def test_schema_file_matches_the_code():
    assert (ROOT / "schema.graphql").read_text() == export_sdl(), (
        "schema.graphql drifted: run `python -m app export-schema > schema.graphql`"
    )


def test_every_field_has_a_description():
    from graphql import build_schema, GraphQLObjectType, GraphQLInputObjectType, GraphQLInterfaceType

    schema = build_schema(export_sdl())
    missing = []
    for name, type_ in schema.type_map.items():
        if name.startswith("__"):
            continue
        if isinstance(type_, (GraphQLObjectType, GraphQLInputObjectType, GraphQLInterfaceType)):
            for field_name, field in type_.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
    assert missing == []


@pytest.mark.skipif(not CONTRACT_TOOL.exists(), reason="../shared/tools/check_contract.py is not beside the repo")
def test_schema_keeps_the_contract():
    result = subprocess.run(
        [sys.executable, str(CONTRACT_TOOL), str(ROOT / "schema.graphql")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
