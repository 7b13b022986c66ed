"""The domain's refusals answer the same HTTP status and JSON shape from every view."""
from http import HTTPStatus

import pytest
from flask import Flask

from api_common.errors import register_error_handlers
from inventory_core.domain.errors import Conflict, DomainError, NotFound, Unprocessable
from inventory_core.service_layer import dead_letters, factory_service, shop_service


@pytest.mark.parametrize("error, status", [
    (shop_service.ItemNotFound(7), 404),
    (factory_service.UnknownFactory(3), 404),
    (dead_letters.DeadLetterNotFound(5), 404),
    (dead_letters.AlreadyRedriven("dead letter 5 was redriven"), 409),
    (shop_service.KeyReused("this key was used for another request"), 422),
    (DomainError("refused"), 400),
])
def test_each_kind_of_refusal_has_one_status(error, status):
    app = Flask(__name__)
    register_error_handlers(app)

    @app.get("/")
    def refuse():
        raise error

    answer = app.test_client().get("/")
    assert answer.status_code == status
    # ...because of its kind, which consumers and the CLI catch too (not a 404 of its own).
    assert isinstance(error, {404: NotFound, 409: Conflict, 422: Unprocessable}.get(
        status, DomainError))
    assert answer.get_json() == {"code": status, "status": HTTPStatus(status).phrase,
                                 "message": str(error)}


def test_not_found_messages_name_what_is_missing():
    assert str(shop_service.ItemNotFound(7)) == "Item 7 does not exist."
    assert issubclass(shop_service.ItemNotFound, NotFound)  # hence 404, above
    assert issubclass(dead_letters.AlreadyRedriven, Conflict)
    assert issubclass(shop_service.KeyReused, Unprocessable)
