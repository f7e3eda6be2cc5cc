"""Real public compose files (tests/data/compose_corpus, sources named in its files) load as
Compose loads them: the same services `docker compose config --services` lists, or, where
Compose's `config` refuses the file, its reason in one line and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import main
from console.compose import ComposeError, config_services
from console.compose_import import load_compose_stack
from console.model import ComposeSource

CORPUS = Path(__file__).resolve().parents[1] / "data" / "compose_corpus"
FILES = sorted(p for p in CORPUS.glob("*.y*ml"))
# What `docker compose config` (2.40.3) says about these files with no .env beside them:
# two name an env_file that is not in the corpus, one leaves a volume path empty.
REFUSED = {
    "immich-docker-compose.yml": "empty section between colons",
    "mastodon-docker-compose.yml": ".env.production not found",
    "netbox-docker-compose.yml": ".env not found",  # netbox.env or postgres.env, by turns
}


def test_the_corpus_has_at_least_ten_real_files():
    assert len(FILES) >= 10, FILES


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_loads_the_services_compose_lists(path, capsys):
    source = ComposeSource(files=(str(path),))
    if path.name in REFUSED:
        assert main(["--compose", str(path), "validate"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and REFUSED[path.name] in err, err
        assert err.startswith(f"vextrus-console: {path}: ")
        return
    try:
        listed = config_services(source)
    except ComposeError as exc:  # pragma: no cover - the corpus changed: say how
        pytest.fail(f"{path.name}: compose refuses it now: {exc}")
    stack = load_compose_stack(source)
    assert sorted(s.compose_name for s in stack.services) == sorted(listed)
    assert main(["--compose", str(path), "validate"]) == 0
    assert capsys.readouterr().out.startswith(f"{path}: ok: {len(listed)} services")
