"""Pure rules, state machines and event schemas: no I/O, no database, no broker, no framework.
Everything here can be tested with plain values."""
