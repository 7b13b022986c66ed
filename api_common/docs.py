"""flask-smorest's Api, writing the OpenAPI document when it is first read instead of at start.

flask-smorest turns every view's schemas into OpenAPI (apispec, marshmallow introspection, deep
copies) as each blueprint is registered: work every cold start paid for a document only
`GET /openapi.json`, `/docs` and the tests read. Here a blueprint's routes are registered at once
(requests need them), its documentation on the first read of `api.spec`, in registration order,
so the document is exactly what flask-smorest would have written."""
from __future__ import annotations

from typing import Any

import flask_smorest


class Api(flask_smorest.Api):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._undocumented: list[tuple[flask_smorest.Blueprint, str, Any]] = []
        self._spec: Any = None
        super().__init__(*args, **kwargs)

    @property
    def spec(self):
        """The OpenAPI document, with every registered blueprint's views in it."""
        while self._undocumented:
            blp, name, parameters = self._undocumented.pop(0)
            blp.register_views_in_doc(self, self._app, self._spec, name=name,
                                      parameters=parameters)
            self._spec.tag({"name": name, "description": blp.description})
        return self._spec

    @spec.setter
    def spec(self, value) -> None:
        self._spec = value

    def register_blueprint(self, blp, *, parameters=None, **options) -> None:
        """flask-smorest's register_blueprint, its documentation part deferred to `spec`."""
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        self._undocumented.append((blp, name, parameters))

    @property
    def documented(self) -> bool:
        """False while some registered blueprint's views are not in the document yet."""
        return not self._undocumented
