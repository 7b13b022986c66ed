"""flask-smorest's Api, writing the OpenAPI document when it is first read instead of at start.

flask-smorest turns every view's schemas into OpenAPI (apispec, marshmallow introspection, deep
copies) as each blueprint is registered: work every cold start paid for a document only
`GET /openapi.json`, `/docs` and the tests read. Here a blueprint's routes are registered at once
(requests need them), its documentation on the first read of `api.spec`, in registration order,
so the document is exactly what flask-smorest would have written. The spec object itself (apispec's
APISpec, with flask-smorest's responses for every HTTP status: most of what `Api(app)` cost) is
made on that first read too; what the apps add to it goes through `document`."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flask_smorest
from flask_smorest.spec import openapi_cli


class Api(flask_smorest.Api):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._undocumented: list[tuple[flask_smorest.Blueprint, str, Any]] = []
        self._spec: Any = None
        self._spec_options: dict | None = None  # flask-smorest's _init_spec arguments, until read
        self._spec_steps: list[Callable[[Any], None]] = []
        self._making_spec = False
        super().__init__(*args, **kwargs)

    def _init_spec(self, **options: Any) -> None:
        """Called by init_app: keep the arguments; the spec is made on the first read of `spec`.
        `flask openapi` is there at once (a CLI command, cheap)."""
        self._spec_options = options
        self._app.cli.add_command(openapi_cli)

    def document(self, step: Callable[[Any], None]) -> None:
        """`step(spec)` once the spec is made (e.g. a security scheme), in the order given."""
        if self._spec is None:
            self._spec_steps.append(step)
        else:
            step(self._spec)

    def register_converter(self, converter, func) -> None:
        if self._spec is None:  # flask-smorest's _init_spec registers every listed converter
            self._converters.append((converter, func))
        else:
            super().register_converter(converter, func)

    def register_field(self, field, *args) -> None:
        if self._spec is None:  # … and every listed field
            self._fields.append((field, *args))
        else:
            super().register_field(field, *args)

    @property
    def spec(self):
        """The OpenAPI document, with every registered blueprint's views in it."""
        if self._spec_options is not None:
            options, self._spec_options = self._spec_options, None
            # sets self.spec (the setter below), then reads it back to add flask-smorest's
            # responses: the views are documented after that (they refer to those responses)
            self._making_spec = True
            try:
                super()._init_spec(**options)
            finally:
                self._making_spec = False
            while self._spec_steps:
                self._spec_steps.pop(0)(self._spec)
        while self._undocumented and not self._making_spec:
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
        """False while the spec is not made or some registered blueprint's views are not in it."""
        return self._spec is not None and not self._undocumented
