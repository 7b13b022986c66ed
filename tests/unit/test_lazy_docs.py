"""The OpenAPI document is written on first read, not at start (a cold start does not pay for
it), and is exactly the document flask-smorest writes at registration."""
from __future__ import annotations

import flask_smorest
import pytest

import api_common.docs
from factory_api import create_app as create_factory_app
from shop_api import create_app as create_shop_app

CONFIG = {"SHOP_DATABASE_URL": "sqlite://", "FACTORY_DATABASE_URL": "sqlite://"}


def _api(app) -> flask_smorest.Api:
    return app.extensions["flask-smorest"]["apis"][""]["ext_obj"]


class EagerApi(flask_smorest.Api):
    """flask-smorest's own Api, which writes the document as it goes; `document` (what the apps
    add to the spec) applied at once."""

    def document(self, step) -> None:
        step(self.spec)


@pytest.mark.parametrize("create_app", [create_shop_app, create_factory_app])
def test_the_document_is_written_when_first_read_and_is_flask_smorests(create_app, monkeypatch):
    app = create_app(dict(CONFIG))
    assert not _api(app).documented  # nothing converted at start
    assert _api(app)._spec is None  # not even the spec made
    client = app.test_client()
    # requests, refusals and errors answer without it (flask-smorest's error handler included)
    assert client.get("/health").status_code == 200 and client.get("/nope").status_code == 404
    assert client.post("/purchases", json={"item_id": "x"}).status_code in (403, 404, 422)
    assert _api(app)._spec is None
    lazy = client.get("/openapi.json").get_json()
    assert _api(app).documented

    monkeypatch.setattr(api_common.docs, "Api", EagerApi)
    eager_app = create_app(dict(CONFIG))
    assert type(_api(eager_app)) is EagerApi
    assert lazy == eager_app.test_client().get("/openapi.json").get_json()
    assert {"/purchases", "/production-orders"} & set(lazy["paths"])
    assert lazy["tags"] and lazy["components"]["securitySchemes"]
