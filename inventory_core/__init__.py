"""The domain library every service and consumer imports; it imports none of them, and no Flask.

Its folders are its layers (as in cosmicpython's "Architecture Patterns with Python"); imports
only point down this list, which `tests/unit/test_layers.py` checks:

    service_layer/  the use cases: each takes a unit of work, runs one transaction, commits once
    adapters/       what talks to the outside: the database (models, migrations, sessions,
                    outbox, idempotency records) and the brokers (SNS, SQS, SES through boto3)
    domain/         pure rules, state machines and event schemas: no I/O, no SQLAlchemy, no boto3

Beside them: `config` (the environment's names, read in one place), `topology` (every topic,
queue and DLQ name, in one place) and `databases` (which wires a database's settings, sessions
and outbox into a unit of work).
"""
